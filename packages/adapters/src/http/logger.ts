/**
 * A pino-shaped logger: `{trace,debug,info,warn,error,child}` taking
 * `(obj, msg)`. Adapters are silent unless one is supplied.
 */
export interface HttpLogger {
  trace(obj: Record<string, unknown>, msg?: string): void;
  debug(obj: Record<string, unknown>, msg?: string): void;
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
  error(obj: Record<string, unknown>, msg?: string): void;
  child(bindings: Record<string, unknown>): HttpLogger;
}

const noop = (): void => {};

/** The default logger: drops everything. */
export const silentLogger: HttpLogger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
};
