/**
 * Torn WAL tails, made on a stopped member's data directory (the format is
 * FileStorage's: a file header, then records of a checksummed header and a
 * payload; see @raftwire/raft/node's wal-record.ts). Only what a crash can
 * leave is made here: the end of the file cut, never damage before it, which
 * the WAL refuses as corruption.
 *
 * - `cut`: the last record is cut at a random byte. This is what a crash in
 *   the middle of the last write leaves, but that write may already have been
 *   fsynced and acknowledged (votes, entries): it models a disk that lost an
 *   acknowledged write, which Raft cannot always survive when it happens on
 *   several members around the same entry. The first record is never cut:
 *   it is the one a rewrite renames into place only after fsync.
 * - `extra`: a partial record is appended after the last one, what a crash
 *   during a write that was never acknowledged leaves. Recovery must drop
 *   exactly those bytes and nothing else.
 */
import { readFile, truncate, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { scanWal } from '@raftwire/raft/node';

export type TearMode = 'cut' | 'extra';

export interface TearResult {
  mode: TearMode;
  /** WAL size before. */
  bytesBefore: number;
  /** WAL size after. */
  bytesAfter: number;
  records: number;
  /** Why nothing was done (no WAL, a single record, damage already there). */
  skipped?: string;
}

/** Tears the tail of `dataDir`'s WAL; `random` gives numbers in [0, 1). */
export async function tearWalTail(dataDir: string, mode: TearMode, random: () => number): Promise<TearResult> {
  const file = join(dataDir, 'wal.log');
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch {
    return { mode, bytesBefore: 0, bytesAfter: 0, records: 0, skipped: 'no WAL' };
  }
  const scan = scanWal(bytes);
  const base = { mode, bytesBefore: bytes.length, records: scan.batches.length };
  if (scan.damage !== null) return { ...base, bytesAfter: bytes.length, skipped: 'the WAL already has a torn tail' };
  const offsets = scan.offsets;
  const lastStart = offsets[offsets.length - 1];
  if (lastStart === undefined) return { ...base, bytesAfter: bytes.length, skipped: 'empty WAL' };
  const lastLen = bytes.length - lastStart;
  if (mode === 'cut') {
    if (offsets.length < 2) return { ...base, bytesAfter: bytes.length, skipped: 'only the rewrite record' };
    const at = lastStart + 1 + Math.floor(random() * (lastLen - 1));
    await truncate(file, at);
    return { ...base, bytesAfter: at };
  }
  const part = 1 + Math.floor(random() * (lastLen - 1));
  await appendFile(file, bytes.subarray(lastStart, lastStart + part));
  return { ...base, bytesAfter: bytes.length + part };
}
