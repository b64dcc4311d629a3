/**
 * The CLI's logger: pino-shaped (`{trace,debug,info,warn,error,child}`, each
 * taking `(fields, msg)`), one line per event on a writable stream.
 *
 * Two formats: `text` (the default: `2026-11-21T21:40:00.000Z INFO  raft node
 * started local-member-id=1 applied=0`, easy to read in a terminal where three
 * members interleave) and `json` (pino's shape: `{"level":30,"time":…,
 * "msg":…, …fields}`, for log collectors and `jq`). Field names follow etcd
 * (`local-member-id`, `remote-peer-id`).
 */

/** Log levels, lowest first. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = 'text' | 'json';

/** pino's numeric levels. */
const PINO_LEVEL: Record<Exclude<LogLevel, 'silent'>, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50 };

export type LogFields = Record<string, unknown>;
export type CliLogFn = (obj: LogFields | string, msg?: string) => void;

/** Pino-shaped logger. */
export interface CliLogger {
  trace: CliLogFn;
  debug: CliLogFn;
  info: CliLogFn;
  warn: CliLogFn;
  error: CliLogFn;
  child(bindings: LogFields): CliLogger;
}

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** Where lines go (default process.stderr). */
  write?: (line: string) => void;
  bindings?: LogFields;
}

function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString(16);
  if (v instanceof Error) {
    const o: Record<string, unknown> = { type: v.name, message: v.message };
    if ('code' in v) o.code = (v as { code: unknown }).code;
    return o;
  }
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  return v;
}

function textValue(v: unknown): string {
  const p = plain(v);
  if (typeof p === 'string') return /[\s="]/.test(p) || p === '' ? JSON.stringify(p) : p;
  if (p !== null && typeof p === 'object') {
    if ('message' in p && 'type' in p) return JSON.stringify(`${String(p.type)}: ${String(p.message)}`);
    return JSON.stringify(p, (_k, x: unknown) => plain(x));
  }
  return String(p);
}

/** Creates a logger writing one line per event. */
export function createLogger(options: LoggerOptions): CliLogger {
  const min = LOG_LEVELS.indexOf(options.level);
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const bindings = options.bindings ?? {};
  const fn =
    (level: Exclude<LogLevel, 'silent'>): CliLogFn =>
    (obj, msg) => {
      if (LOG_LEVELS.indexOf(level) < min) return;
      const fields: LogFields = typeof obj === 'string' ? {} : obj;
      const text = typeof obj === 'string' ? obj : (msg ?? '');
      const all = { ...bindings, ...fields };
      if (options.format === 'json') {
        write(`${JSON.stringify({ level: PINO_LEVEL[level], time: Date.now(), msg: text, ...all }, (_k, v: unknown) => plain(v))}\n`);
      } else {
        let line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${text}`;
        for (const [k, v] of Object.entries(all)) if (v !== undefined) line += ` ${k}=${textValue(v)}`;
        write(`${line}\n`);
      }
    };
  return {
    trace: fn('trace'),
    debug: fn('debug'),
    info: fn('info'),
    warn: fn('warn'),
    error: fn('error'),
    child: (b) => createLogger({ ...options, bindings: { ...bindings, ...b } }),
  };
}
