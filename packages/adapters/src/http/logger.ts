/**
 * The adapter logs through core's pino-shaped `Logger` (`{trace,debug,info,warn,error,child}`
 * taking `(obj, msg)`); it is silent unless one is supplied. `HttpLogger` is kept as a name
 * for the same type.
 */
export { type Logger as HttpLogger, silentLogger } from '@raftwire/core';
