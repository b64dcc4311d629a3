/**
 * The CLI's logger: core's console logger (`createConsoleLogger`), one line per
 * event on stderr.
 *
 * Two formats: `text` (the default: `2026-11-21T21:40:00.000Z INFO  raft node
 * started local-member-id=1 applied=0`, easy to read in a terminal where three
 * members interleave) and `json` (pino's shape: `{"level":30,"time":…,
 * "msg":…, …fields}`, for log collectors and `jq`). Field names follow etcd
 * (`local-member-id`, `remote-peer-id`).
 */
import { type ConsoleLogLevel, LOG_LEVELS, type LogFields, type LogFormat, type Logger, createConsoleLogger } from '@raftwire/core';

export { LOG_LEVELS, type LogFormat };
export type LogLevel = ConsoleLogLevel;

/** The CLI's logger is core's pino-shaped Logger. */
export type CliLogger = Logger;

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** Where lines go, each ending in a newline (default process.stderr). */
  write?: (line: string) => void;
  bindings?: LogFields;
}

/** Creates a logger writing one line per event. */
export function createLogger(options: LoggerOptions): CliLogger {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  return createConsoleLogger({
    level: options.level,
    format: options.format,
    write: (line) => write(`${line}\n`),
    ...(options.bindings === undefined ? {} : { bindings: options.bindings }),
  });
}
