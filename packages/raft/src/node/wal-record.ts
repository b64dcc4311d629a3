import type { Entry } from '@raftwire/core';
import { ErrorCode, isEntryType, RaftwireError } from '@raftwire/core';
import { crc32 } from '../crc32.js';
import type { HardState } from '../storage.js';

/**
 * One WAL record is one durable batch (everything one Ready persists):
 * header = payload length (u32 LE) + CRC-32 of the payload (u32 LE).
 * A batch is acknowledged only after its record is fsynced, so a record is
 * the unit that is either wholly there or a torn tail.
 */
export interface WalBatch {
  /** Snapshot marker: the log starts after this snapshot (written when the WAL is rewritten). */
  snapshot: { index: number; term: number } | null;
  hardState: HardState | null;
  /** Entries; an entry at index i replaces any entry at i or later from earlier records. */
  entries: Entry[];
}

/** Record header: payload length (u32 LE) and CRC-32 (u32 LE). */
export const WAL_HEADER_BYTES = 8;
/** Records above this size are refused on write and treated as damage on read. */
export const MAX_WAL_RECORD_BYTES = 256 * 1024 * 1024;

const FLAG_HARD_STATE = 1;
const FLAG_SNAPSHOT = 2;

function setU64(dv: DataView, off: number, v: number | bigint): void {
  dv.setBigUint64(off, typeof v === 'bigint' ? v : BigInt(v), true);
}

function getSafe(dv: DataView, off: number): number {
  const v = dv.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RaftwireError(ErrorCode.CORRUPT, 'WAL value above 2^53-1');
  return Number(v);
}

/** Encodes a batch as a complete record (header + payload). */
export function encodeWalRecord(b: WalBatch): Uint8Array {
  let size = 1 + 4;
  if (b.hardState) size += 24;
  if (b.snapshot) size += 16;
  for (const e of b.entries) size += 21 + e.data.length;
  if (size > MAX_WAL_RECORD_BYTES) throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `WAL record of ${size} bytes is too large`);
  const out = new Uint8Array(WAL_HEADER_BYTES + size);
  const dv = new DataView(out.buffer);
  let off = WAL_HEADER_BYTES;
  out[off++] = (b.hardState ? FLAG_HARD_STATE : 0) | (b.snapshot ? FLAG_SNAPSHOT : 0);
  if (b.hardState) {
    setU64(dv, off, b.hardState.term);
    setU64(dv, off + 8, b.hardState.vote);
    setU64(dv, off + 16, b.hardState.commit);
    off += 24;
  }
  if (b.snapshot) {
    setU64(dv, off, b.snapshot.index);
    setU64(dv, off + 8, b.snapshot.term);
    off += 16;
  }
  dv.setUint32(off, b.entries.length, true);
  off += 4;
  for (const e of b.entries) {
    setU64(dv, off, e.index);
    setU64(dv, off + 8, e.term);
    out[off + 16] = e.type;
    dv.setUint32(off + 17, e.data.length, true);
    out.set(e.data, off + 21);
    off += 21 + e.data.length;
  }
  dv.setUint32(0, size, true);
  dv.setUint32(4, crc32(out.subarray(WAL_HEADER_BYTES)), true);
  return out;
}

function decodePayload(p: Uint8Array): WalBatch {
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const bad = (): RaftwireError => new RaftwireError(ErrorCode.CORRUPT, 'malformed WAL record');
  if (p.length < 5) throw bad();
  const flags = p[0] as number;
  if (flags > 3) throw bad();
  let off = 1;
  let hardState: HardState | null = null;
  let snapshot: WalBatch['snapshot'] = null;
  if (flags & FLAG_HARD_STATE) {
    if (off + 24 > p.length) throw bad();
    hardState = { term: getSafe(dv, off), vote: dv.getBigUint64(off + 8, true), commit: getSafe(dv, off + 16) };
    off += 24;
  }
  if (flags & FLAG_SNAPSHOT) {
    if (off + 16 > p.length) throw bad();
    snapshot = { index: getSafe(dv, off), term: getSafe(dv, off + 8) };
    off += 16;
  }
  if (off + 4 > p.length) throw bad();
  const count = dv.getUint32(off, true);
  off += 4;
  if (count > (p.length - off) / 21) throw bad();
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    if (off + 21 > p.length) throw bad();
    const type = p[off + 16];
    const len = dv.getUint32(off + 17, true);
    if (!isEntryType(type) || off + 21 + len > p.length) throw bad();
    entries.push({ index: getSafe(dv, off), term: getSafe(dv, off + 8), type, data: p.slice(off + 21, off + 21 + len) });
    off += 21 + len;
  }
  if (off !== p.length) throw bad();
  return { snapshot, hardState, entries };
}

/** What a scan of WAL bytes found. */
export interface WalScan {
  batches: WalBatch[];
  /** Bytes of valid records; anything after is a torn tail to truncate. */
  validBytes: number;
  /** True when bytes after `validBytes` were discarded as a torn write. */
  tornTail: boolean;
}

function tryRecordAt(bytes: Uint8Array, off: number): { batch: WalBatch; end: number } | null {
  if (bytes.length - off < WAL_HEADER_BYTES) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = dv.getUint32(off, true);
  if (len === 0 || len > MAX_WAL_RECORD_BYTES || off + WAL_HEADER_BYTES + len > bytes.length) return null;
  const payload = bytes.subarray(off + WAL_HEADER_BYTES, off + WAL_HEADER_BYTES + len);
  if (crc32(payload) !== dv.getUint32(off + 4, true)) return null;
  try {
    return { batch: decodePayload(payload), end: off + WAL_HEADER_BYTES + len };
  } catch {
    return null;
  }
}

/**
 * Scans WAL bytes. Each record is written only after the previous one was
 * fsynced, so damage can only be in the last write: a record that is cut
 * short or fails its checksum is a torn tail when nothing valid follows it.
 * A damaged record followed by a valid one means acknowledged data was
 * corrupted: that throws ERR_CORRUPT rather than silently dropping it.
 */
export function scanWal(bytes: Uint8Array): WalScan {
  const batches: WalBatch[] = [];
  let off = 0;
  while (off < bytes.length) {
    const rec = tryRecordAt(bytes, off);
    if (!rec) {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (bytes.length - off >= WAL_HEADER_BYTES) {
        const len = dv.getUint32(off, true);
        const next = off + WAL_HEADER_BYTES + len;
        if (len > 0 && next < bytes.length && tryRecordAt(bytes, next)) {
          throw new RaftwireError(ErrorCode.CORRUPT, `WAL record at offset ${off} fails its checksum and is followed by valid records`);
        }
      }
      return { batches, validBytes: off, tornTail: true };
    }
    batches.push(rec.batch);
    off = rec.end;
  }
  return { batches, validBytes: off, tornTail: false };
}
