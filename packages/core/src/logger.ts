/**
 * A pino-shaped logger: every method takes a fields object and a message.
 * Field names follow etcd (`local-member-id`, `remote-peer-id`, ...).
 * The transport is silent unless a logger is given.
 */
export type LogFields = Record<string, unknown>;

export type LogFn = (obj: LogFields, msg?: string) => void;

export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: LogFields): Logger;
}

const noop: LogFn = () => {};

/** Discards everything. */
export const silentLogger: Logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
};

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export interface LogRecord {
  level: LogLevel;
  msg: string;
  fields: LogFields;
}

/** A logger that keeps every record in memory (tests, the demo's log panel). */
export class MemoryLogger implements Logger {
  constructor(
    readonly records: LogRecord[] = [],
    private readonly bindings: LogFields = {},
  ) {}

  private log(level: LogLevel): LogFn {
    return (obj, msg) => {
      this.records.push({ level, msg: msg ?? '', fields: { ...this.bindings, ...obj } });
    };
  }

  trace = this.log('trace');
  debug = this.log('debug');
  info = this.log('info');
  warn = this.log('warn');
  error = this.log('error');

  child(bindings: LogFields): Logger {
    return new MemoryLogger(this.records, { ...this.bindings, ...bindings });
  }

  /** Records whose message contains `text`. */
  find(text: string, level?: LogLevel): LogRecord[] {
    return this.records.filter((r) => r.msg.includes(text) && (level === undefined || r.level === level));
  }
}
