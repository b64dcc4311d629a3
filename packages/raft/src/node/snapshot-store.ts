import { open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Id, Snapshot } from '@raftwire/core';
import { createSnapshot, ErrorCode, RaftwireError } from '@raftwire/core';
import { crc32 } from '../crc32.js';

/** Snapshot files: "RWS2" (voters and learners); "RWS1" files (voters only) are still read. */
const MAGIC = 0x52575332; // "RWS2"
const MAGIC_V1 = 0x52575331; // "RWS1"
const NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

const hex16 = (n: number): string => n.toString(16).padStart(16, '0');

/** Fsyncs a directory so a rename or unlink in it is durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `bytes` to `path` atomically: tmp file, fsync, rename, fsync of the directory. */
export async function writeFileAtomic(dir: string, name: string, bytes: Uint8Array): Promise<void> {
  const tmp = join(dir, `${name}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, name));
  await fsyncDir(dir);
}

/** Encodes a snapshot file: magic, CRC-32 of the body, then index, term, voters, learners and data. */
export function encodeSnapshotFile(s: Snapshot): Uint8Array {
  const { voters, learners } = s.metadata.confState;
  const ids = 24 + (voters.length + learners.length) * 8;
  const body = new Uint8Array(ids + s.data.length);
  const dv = new DataView(body.buffer);
  dv.setBigUint64(0, BigInt(s.metadata.index), true);
  dv.setBigUint64(8, BigInt(s.metadata.term), true);
  dv.setUint32(16, voters.length, true);
  voters.forEach((v, i) => {
    dv.setBigUint64(20 + i * 8, v, true);
  });
  const lo = 20 + voters.length * 8;
  dv.setUint32(lo, learners.length, true);
  learners.forEach((l, i) => {
    dv.setBigUint64(lo + 4 + i * 8, l, true);
  });
  body.set(s.data, ids);
  const out = new Uint8Array(8 + body.length);
  const odv = new DataView(out.buffer);
  odv.setUint32(0, MAGIC, true);
  odv.setUint32(4, crc32(body), true);
  out.set(body, 8);
  return out;
}

/** Decodes a snapshot file (either version); throws ERR_CORRUPT when the checksum or layout is wrong. */
export function decodeSnapshotFile(bytes: Uint8Array): Snapshot {
  const bad = (why: string): RaftwireError => new RaftwireError(ErrorCode.CORRUPT, `snapshot file: ${why}`);
  if (bytes.length < 28) throw bad('too short');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint32(0, true);
  if (magic !== MAGIC && magic !== MAGIC_V1) throw bad('bad magic');
  const body = bytes.subarray(8);
  if (crc32(body) !== dv.getUint32(4, true)) throw bad('checksum mismatch');
  const bdv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const index = Number(bdv.getBigUint64(0, true));
  const term = Number(bdv.getBigUint64(8, true));
  let off = 16;
  const readIds = (what: string): Id[] => {
    if (off + 4 > body.length) throw bad(`${what} count missing`);
    const n = bdv.getUint32(off, true);
    if (off + 4 + n * 8 > body.length) throw bad(`${what} count out of range`);
    const ids: Id[] = [];
    for (let i = 0; i < n; i++) ids.push(bdv.getBigUint64(off + 4 + i * 8, true));
    off += 4 + n * 8;
    return ids;
  };
  const voters = readIds('voter');
  const learners = magic === MAGIC ? readIds('learner') : [];
  return createSnapshot({
    data: body.slice(off),
    metadata: { index, term, confState: { voters, learners, votersOutgoing: [], learnersNext: [], autoLeave: false } },
  });
}

/** Snapshot files in a directory, named `<term>-<index>.snap` in 16-digit hex (etcd's snap naming). */
export class SnapshotStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  static fileName(index: number, term: number): string {
    return `${hex16(term)}-${hex16(index)}.snap`;
  }

  /** Writes a snapshot durably (tmp + fsync + rename + directory fsync). */
  async save(s: Snapshot): Promise<void> {
    await writeFileAtomic(this.dir, SnapshotStore.fileName(s.metadata.index, s.metadata.term), encodeSnapshotFile(s));
  }

  /** Loads the snapshot with this index and term; ERR_CORRUPT if it is missing or damaged. */
  async load(index: number, term: number): Promise<Snapshot> {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(join(this.dir, SnapshotStore.fileName(index, term)));
    } catch (err) {
      throw new RaftwireError(ErrorCode.CORRUPT, `snapshot ${index} (term ${term}) referenced by the WAL is missing`, { cause: err });
    }
    const s = decodeSnapshotFile(bytes);
    if (s.metadata.index !== index || s.metadata.term !== term)
      throw new RaftwireError(ErrorCode.CORRUPT, 'snapshot file name/content mismatch');
    return s;
  }

  /** Removes every snapshot file except `keep`, and any leftover tmp file. */
  async prune(keep: { index: number; term: number } | null): Promise<void> {
    const keepName = keep ? SnapshotStore.fileName(keep.index, keep.term) : null;
    for (const name of await readdir(this.dir)) {
      if (name === keepName) continue;
      if (NAME.test(name) || name.endsWith('.snap.tmp')) await rm(join(this.dir, name), { force: true });
    }
  }
}
