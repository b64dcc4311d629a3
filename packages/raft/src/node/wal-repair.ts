import { copyFile, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir } from './snapshot-store.js';
import { inspectWalBytes, type WalDamage } from './wal-record.js';

/** What {@link repairWal} found and did. */
export interface WalRepairReport {
  /** The WAL file examined. */
  file: string;
  /** Its format version (0 when the file is empty or missing). */
  version: 0 | 1 | 2;
  /** Bytes in the file before any repair. */
  totalBytes: number;
  /** Intact records at the start of the file. */
  records: number;
  /** Bytes of the intact prefix (file header and intact records). */
  validBytes: number;
  /** Null when the WAL is intact. */
  damage: WalDamage | null;
  /** True when the file was cut to its intact prefix (only with `truncate: true`). */
  truncated: boolean;
  /** Where the whole damaged file was copied before it was cut. */
  backup: string | null;
}

/** Options of {@link repairWal}. */
export interface WalRepairOptions {
  /** Cut the WAL to its intact prefix. Without it the WAL is only examined. Default false. */
  truncate?: boolean;
  signal?: AbortSignal;
}

/**
 * Examines the WAL in a stopped member's data directory and, only when asked
 * (`truncate: true`), keeps the intact prefix of records and drops the rest.
 * The whole file is first copied beside it (`wal.log.damaged-<time>`), so the
 * dropped bytes stay available for inspection.
 *
 * Dropping records from a member's WAL can lose writes that were acknowledged
 * if a quorum of members loses them; on one member, Raft brings the dropped
 * entries back from the leader, but the member's vote and term may roll back,
 * which is only safe when the member is started again after the cluster has
 * moved past that term. Recovering the member from scratch (remove it, wipe
 * its data, add it again) is the other way out.
 */
export async function repairWal(dataDir: string, options: WalRepairOptions = {}): Promise<WalRepairReport> {
  options.signal?.throwIfAborted();
  const file = join(dataDir, 'wal.log');
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    bytes = new Uint8Array(0);
  }
  const scan = inspectWalBytes(bytes);
  const report: WalRepairReport = {
    file,
    version: scan.version,
    totalBytes: bytes.length,
    records: scan.batches.length,
    validBytes: scan.validBytes,
    damage: scan.damage,
    truncated: false,
    backup: null,
  };
  if (scan.damage === null || options.truncate !== true) return report;
  options.signal?.throwIfAborted();
  const backup = `${file}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  await copyFile(file, backup);
  const fh = await open(file, 'r+');
  try {
    await fh.truncate(scan.validBytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsyncDir(dataDir);
  return { ...report, truncated: true, backup };
}
