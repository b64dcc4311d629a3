import { parseArgs } from 'node:util';
import { LOG_LEVELS, type LogFormat, type LogLevel } from './log.js';
import { UsageError } from './usage-error.js';

/** A whole-number flag: `def` when absent, else digits only and within [min, max]; throws {@link UsageError}. */
export function intFlag(flag: string, text: string | undefined, def: number, min: number, max: number): number {
  if (text === undefined) return def;
  if (!/^\d+$/.test(text)) throw new UsageError(`${flag}: ${JSON.stringify(text)} is not a whole number`);
  const n = Number(text);
  if (n < min || n > max) throw new UsageError(`${flag}: ${n} is out of range [${min}, ${max}]`);
  return n;
}

/** `--log-level` (default info) and `--log-format` (default text), checked; throws {@link UsageError}. */
export function logFlags(level = 'info', format = 'text'): { logLevel: LogLevel; logFormat: LogFormat } {
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    throw new UsageError(`--log-level: ${JSON.stringify(level)} is not one of ${LOG_LEVELS.join(', ')}`);
  if (format !== 'text' && format !== 'json') throw new UsageError(`--log-format: ${JSON.stringify(format)} is not text or json`);
  return { logLevel: level as LogLevel, logFormat: format };
}

/** What {@link parseFlags} returns: flag values by name (`string[]` for `multiple`), and positionals. */
export interface ParsedFlags {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/**
 * `util.parseArgs` in strict mode over `options`, with any error (unknown flag, missing value)
 * as a {@link UsageError}.
 */
export function parseFlags(
  argv: readonly string[],
  options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>,
  allowPositionals = false,
): ParsedFlags {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], strict: true, allowPositionals, options });
    return { values: values as ParsedFlags['values'], positionals };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
