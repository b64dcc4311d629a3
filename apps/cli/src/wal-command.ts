import { parseArgs } from 'node:util';
import { repairWal, type WalRepairReport } from '@raftwire/raft/node';
import { UsageError } from './usage-error.js';

/** Exit code of `raftwire wal repair` when the WAL is damaged and was left as it is. */
export const EXIT_WAL_DAMAGED = 4;

const USAGE = 'usage: raftwire wal repair --data-dir <dir> [--truncate]';

/**
 * `raftwire wal repair --data-dir D [--truncate]`: examines a stopped member's
 * WAL and says what is wrong with it; only with `--truncate` does it cut the
 * WAL to its intact records (after copying the whole file beside it).
 * Returns the exit code: 0 intact or repaired, 4 damaged and left as it is.
 */
export async function runWalCommand(argv: readonly string[], write: (line: string) => void): Promise<number> {
  if (argv[0] !== 'repair') throw new UsageError(`unknown wal command ${JSON.stringify(argv[0] ?? '')}; ${USAGE}`);
  let values: { 'data-dir'?: string; truncate?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv.slice(1),
      strict: true,
      allowPositionals: false,
      options: { 'data-dir': { type: 'string' }, truncate: { type: 'boolean' } },
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}; ${USAGE}`);
  }
  const dir = values['data-dir'];
  if (dir === undefined || dir === '') throw new UsageError(`--data-dir is required; ${USAGE}`);
  const r = await repairWal(dir, { truncate: values.truncate === true });
  for (const line of describeRepair(r)) write(line);
  return r.damage === null || r.truncated ? 0 : EXIT_WAL_DAMAGED;
}

function describeRepair(r: WalRepairReport): string[] {
  const head = `${r.file}: format version ${r.version}, ${r.totalBytes} bytes, ${r.records} intact record(s) in the first ${r.validBytes} bytes`;
  if (r.damage === null) return [head, 'the WAL is intact; nothing to do'];
  const kind = r.damage.torn ? 'a torn tail (the last write, cut short by a crash)' : 'corruption';
  const lines = [head, `damage at byte offset ${r.damage.offset}: ${r.damage.reason} — ${kind}`];
  const lost = r.totalBytes - r.validBytes;
  if (r.truncated) {
    lines.push(`cut the WAL to ${r.validBytes} bytes (${lost} bytes dropped); the whole damaged file is kept at ${r.backup}`);
  } else {
    lines.push(`nothing changed. --truncate keeps the ${r.records} intact record(s) and drops the ${lost} bytes after them`);
    if (!r.damage.torn) {
      lines.push(
        'records after the damage may have been acknowledged: truncating is safe for this member only while the rest of ' +
          'the cluster still has them (it catches up from the leader); otherwise remove the member and add it again with empty data',
      );
    }
  }
  if (r.records === 0) lines.push('warning: no intact record: the member would start as if new (its vote and term are lost)');
  return lines;
}
