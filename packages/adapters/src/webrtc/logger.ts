/**
 * The adapter logs through core's pino-shaped `Logger` (`(obj, msg)` arguments, `child` for
 * bound fields, etcd's field names); it is silent unless one is supplied.
 */
export { type Logger, silentLogger } from '@raftwire/core';
