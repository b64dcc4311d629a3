import { ErrorCode, RaftwireError } from './errors.js';
import type { LogFields, LogFn, LogLevel, Logger } from './logger.js';

/**
 * A {@link Logger} that writes one line per event: readable text by default
 * (`2026-11-21T21:40:00.000Z INFO  leader changed local-member-id=1 leader=2 term=3`),
 * or pino's JSON shape (`{"level":30,"time":…,"msg":…,…fields}`) for log
 * collectors. Runs anywhere (Node, Deno, Bun, workers, browsers): it writes
 * through `console` unless given a `write` function.
 *
 * Values are made readable the same way in both formats: bigints (member and
 * cluster IDs) as lowercase hex, errors as `{type, message, code}`, byte arrays
 * as their length.
 */

/** Every level, lowest first, plus `silent` (nothing is written). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;
export type ConsoleLogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = 'text' | 'json';

export interface ConsoleLoggerOptions {
  /** Lowest level written. Default `info`. */
  level?: ConsoleLogLevel;
  /** Default `text`. */
  format?: LogFormat;
  /**
   * Receives each line (no trailing newline) with its level. Default: the
   * console method of the level (`console.debug` for trace and debug,
   * `console.info`, `console.warn`, `console.error`).
   */
  write?: (line: string, level: LogLevel) => void;
  /** Fields added to every line (a child's bindings are added to these). */
  bindings?: LogFields;
  /** Milliseconds since the epoch, for the timestamp. Default `Date.now`. */
  now?: () => number;
}

/** pino's numeric levels. */
const PINO_LEVEL: Readonly<Record<LogLevel, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50 };

function consoleWrite(line: string, level: LogLevel): void {
  const c = globalThis.console;
  if (level === 'error') c.error(line);
  else if (level === 'warn') c.warn(line);
  else if (level === 'info') c.info(line);
  else c.debug(line);
}

/** A value as it appears in a line: IDs in hex, errors by type, message and code, bytes by length. */
export function plainLogValue(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString(16);
  if (v instanceof Error) {
    const o: Record<string, unknown> = { type: v.name, message: v.message };
    const code = (v as { code?: unknown }).code;
    if (code !== undefined) o.code = code;
    return o;
  }
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  return v;
}

const jsonReplacer = (_k: string, v: unknown): unknown => plainLogValue(v);

function textValue(v: unknown): string {
  const p = plainLogValue(v);
  if (typeof p === 'string') return /[\s="]/.test(p) || p === '' ? JSON.stringify(p) : p;
  if (p !== null && typeof p === 'object') {
    if (v instanceof Error) {
      const e = p as { type: string; message: string; code?: unknown };
      return JSON.stringify(`${e.type}${e.code === undefined ? '' : ` ${String(e.code)}`}: ${e.message}`);
    }
    return JSON.stringify(p, jsonReplacer);
  }
  return String(p);
}

/** One line of text: time, level, message, then `key=value` per field. */
export function formatTextLine(time: number, level: LogLevel, msg: string, fields: LogFields): string {
  let line = `${new Date(time).toISOString()} ${level.toUpperCase().padEnd(5)} ${msg}`;
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${textValue(v)}`;
  return line;
}

/** One line of pino-shaped JSON. */
export function formatJsonLine(time: number, level: LogLevel, msg: string, fields: LogFields): string {
  return JSON.stringify({ level: PINO_LEVEL[level], time, msg, ...fields }, jsonReplacer);
}

/** Creates a logger that writes one line per event at `level` and above. */
export function createConsoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `log level must be one of ${LOG_LEVELS.join(', ')}, not ${JSON.stringify(level)}`);
  }
  if (options.format !== undefined && options.format !== 'text' && options.format !== 'json') {
    throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `log format must be text or json, not ${JSON.stringify(options.format)}`);
  }
  const min = LOG_LEVELS.indexOf(level);
  const write = options.write ?? consoleWrite;
  const now = options.now ?? Date.now;
  const format = options.format === 'json' ? formatJsonLine : formatTextLine;
  const make = (bindings: LogFields): Logger => {
    const fn = (lv: LogLevel): LogFn =>
      LOG_LEVELS.indexOf(lv) < min
        ? () => {}
        : (obj, msg) => {
            write(format(now(), lv, msg ?? '', { ...bindings, ...obj }), lv);
          };
    return {
      trace: fn('trace'),
      debug: fn('debug'),
      info: fn('info'),
      warn: fn('warn'),
      error: fn('error'),
      child: (b) => make({ ...bindings, ...b }),
    };
  };
  return make(options.bindings ?? {});
}
