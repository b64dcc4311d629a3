import type { Entry } from '@raftwire/core';
import { ErrorCode, isEntryType, RaftwireError } from '@raftwire/core';
import { crc32 } from '../crc32.js';
import type { HardState } from '../storage.js';

/**
 * The WAL file format, version 2.
 *
 * The file starts with an 8-byte header: magic `RWAL`, version (u16 LE, 2), flags (u16, 0).
 * Then one record per durable batch (everything one Ready persists), each with a 16-byte
 * header:
 *
 * | bytes | field |
 * | --- | --- |
 * | 0–3 | payload length (u32 LE) |
 * | 4 | record type (1: batch) |
 * | 5–7 | reserved, zero |
 * | 8–11 | header CRC-32: of bytes 0–7 |
 * | 12–15 | record CRC-32: of bytes 0–7 and the payload |
 *
 * The header checksum makes the length trustworthy before it is used: a damaged length can
 * no longer pass for a record cut short by the end of the file. A batch is acknowledged only
 * after its record is fsynced and nothing is written after a record until it is, so a crash
 * can only damage the last record, and only in two ways: cut short (the file ends inside it)
 * or never written (zeros: the file grew but the data did not reach the disk). That is a
 * torn tail, truncated on open. Any other damage, anywhere, is corruption: the WAL refuses
 * to open ({@link WalCorruptionError}, naming the file and the byte offset) rather than drop
 * records that were acknowledged.
 *
 * Version 1 files (no file header; records of payload length and payload CRC only) are read
 * and rewritten as version 2 when they are intact. A damaged version 1 file is refused: that
 * format cannot tell a torn tail from a corrupted length, so only the repair command
 * (`repairWal`, `raftwire wal repair`) may cut it, when asked to.
 */
export interface WalBatch {
  /** Snapshot marker: the log starts after this snapshot (written when the WAL is rewritten). */
  snapshot: { index: number; term: number } | null;
  hardState: HardState | null;
  /** Entries; an entry at index i replaces any entry at i or later from earlier records. */
  entries: Entry[];
}

const MAGIC = Uint8Array.of(0x52, 0x57, 0x41, 0x4c); // "RWAL"
export const WAL_VERSION = 2;
/** File header: magic, version, flags. */
export const WAL_FILE_HEADER_BYTES = 8;
/** Record header (version 2). */
export const WAL_HEADER_BYTES = 16;
/** Record header of version 1 files: payload length and payload CRC-32. */
const V1_HEADER_BYTES = 8;
const RECORD_BATCH = 1;
/** Records above this size are refused on write and treated as damage on read. */
export const MAX_WAL_RECORD_BYTES = 256 * 1024 * 1024;
/** Disk sector size assumed when telling a never-written (zero-filled) tail from damage. */
const SECTOR = 512;

const FLAG_HARD_STATE = 1;
const FLAG_SNAPSHOT = 2;

/**
 * The WAL holds damage that is not a torn tail: records that may have been acknowledged would
 * be lost by going on. `offset` is the byte offset in `file` of the first damaged record.
 */
export class WalCorruptionError extends RaftwireError {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
    message: string,
  ) {
    super(ErrorCode.CORRUPT, message);
  }
}

/** The file header that starts every version 2 WAL. */
export function walFileHeader(): Uint8Array {
  const h = new Uint8Array(WAL_FILE_HEADER_BYTES);
  h.set(MAGIC);
  new DataView(h.buffer).setUint16(4, WAL_VERSION, true);
  return h;
}

function setU64(dv: DataView, off: number, v: number | bigint): void {
  dv.setBigUint64(off, typeof v === 'bigint' ? v : BigInt(v), true);
}

function getSafe(dv: DataView, off: number): number {
  const v = dv.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RaftwireError(ErrorCode.CORRUPT, 'WAL value above 2^53-1');
  return Number(v);
}

function payloadSize(b: WalBatch): number {
  let size = 1 + 4;
  if (b.hardState) size += 24;
  if (b.snapshot) size += 16;
  for (const e of b.entries) size += 21 + e.data.length;
  if (size > MAX_WAL_RECORD_BYTES) throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `WAL record of ${size} bytes is too large`);
  return size;
}

function writePayload(b: WalBatch, out: Uint8Array, start: number): void {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let off = start;
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
}

/** Encodes a batch as a complete version 2 record (header + payload). */
export function encodeWalRecord(b: WalBatch): Uint8Array {
  const size = payloadSize(b);
  const out = new Uint8Array(WAL_HEADER_BYTES + size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, size, true);
  out[4] = RECORD_BATCH;
  writePayload(b, out, WAL_HEADER_BYTES);
  const head = out.subarray(0, 8);
  dv.setUint32(8, crc32(head), true);
  dv.setUint32(12, crc32(out.subarray(WAL_HEADER_BYTES), crc32(head)), true);
  return out;
}

/** Encodes a batch in the version 1 layout (kept to test reading old files). */
export function encodeWalRecordV1(b: WalBatch): Uint8Array {
  const size = payloadSize(b);
  const out = new Uint8Array(V1_HEADER_BYTES + size);
  writePayload(b, out, V1_HEADER_BYTES);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, size, true);
  dv.setUint32(4, crc32(out.subarray(V1_HEADER_BYTES)), true);
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

/** Where and why a scan stopped before the end of the bytes. */
export interface WalDamage {
  /** Byte offset of the record (or file header) that is damaged or incomplete. */
  offset: number;
  /** What is wrong, for a person. */
  reason: string;
  /** A torn tail (cut short or never written, nothing after it) rather than corruption. */
  torn: boolean;
}

/** What a scan of WAL bytes found. */
export interface WalScan {
  /** 1 for the old format (no file header), 2 for the current one; 0 for an empty file. */
  version: 0 | 1 | 2;
  /** The records that are intact, in order, up to the first damage. */
  batches: WalBatch[];
  /** Byte offset of each batch's record. */
  offsets: number[];
  /** Bytes of the intact prefix (file header and intact records). */
  validBytes: number;
  /** Null when every byte belongs to an intact record. */
  damage: WalDamage | null;
}

function allZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/**
 * True when the bytes from some sector boundary at or after `start` to the end are zeros (at
 * least a record header's worth): the signature of a write that never reached the disk.
 */
function zeroFilledTail(bytes: Uint8Array, start: number): boolean {
  let z = bytes.length;
  while (z > start && bytes[z - 1] === 0) z--;
  const boundary = Math.ceil(Math.max(z, start) / SECTOR) * SECTOR;
  return z === start || (boundary <= bytes.length - WAL_HEADER_BYTES && boundary >= z);
}

/**
 * Scans WAL bytes (either version) without throwing: the intact records and,
 * if it stopped early, where and why, and whether that is a torn tail.
 */
export function inspectWalBytes(bytes: Uint8Array): WalScan {
  if (bytes.length === 0) return { version: 0, batches: [], offsets: [], validBytes: 0, damage: null };
  const header = walFileHeader();
  const headLen = Math.min(bytes.length, WAL_FILE_HEADER_BYTES);
  const startsLikeV2 = bytes.subarray(0, Math.min(headLen, MAGIC.length)).every((b, i) => b === MAGIC[i]);
  // A damaged magic with the rest of the header intact (a version 1 file has its first record's
  // CRC in bytes 4–7: 0x00000002 by chance once in 2^32).
  if (!startsLikeV2 && headLen === WAL_FILE_HEADER_BYTES && bytes.subarray(4, 8).every((b, i) => b === header[4 + i])) {
    return {
      version: 2,
      batches: [],
      offsets: [],
      validBytes: 0,
      damage: { offset: 0, reason: 'the file header is damaged', torn: false },
    };
  }
  if (startsLikeV2) {
    if (bytes.length < WAL_FILE_HEADER_BYTES) {
      const torn = bytes.every((b, i) => b === header[i]);
      const reason = torn ? 'the file header is cut short' : 'the file header is damaged';
      return { version: 2, batches: [], offsets: [], validBytes: 0, damage: { offset: 0, reason, torn } };
    }
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const version = dv.getUint16(4, true);
    const flags = dv.getUint16(6, true);
    if (version !== WAL_VERSION || flags !== 0) {
      const reason = `unknown WAL version ${version} (flags ${flags}); this build reads versions 1 and 2`;
      return { version: 2, batches: [], offsets: [], validBytes: 0, damage: { offset: 0, reason, torn: false } };
    }
    return scanV2(bytes);
  }
  return scanV1(bytes);
}

function scanV2(bytes: Uint8Array): WalScan {
  const batches: WalBatch[] = [];
  const offsets: number[] = [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stop = (offset: number, reason: string, torn: boolean): WalScan => ({
    version: 2,
    batches,
    offsets,
    validBytes: offset,
    damage: { offset, reason, torn },
  });
  let off = WAL_FILE_HEADER_BYTES;
  while (off < bytes.length) {
    const rest = bytes.length - off;
    if (rest < WAL_HEADER_BYTES) return stop(off, `the last record's header is cut short (${rest} of ${WAL_HEADER_BYTES} bytes)`, true);
    const head = bytes.subarray(off, off + 8);
    if (crc32(head) !== dv.getUint32(off + 8, true)) {
      if (allZero(bytes.subarray(off))) return stop(off, `${rest} zero bytes that were never written`, true);
      return stop(off, 'record header checksum mismatch', false);
    }
    const len = dv.getUint32(off, true);
    const type = bytes[off + 4];
    if (
      type !== RECORD_BATCH ||
      bytes[off + 5] !== 0 ||
      bytes[off + 6] !== 0 ||
      bytes[off + 7] !== 0 ||
      len === 0 ||
      len > MAX_WAL_RECORD_BYTES
    ) {
      return stop(off, `record header is valid but not one this build writes (type ${type}, length ${len})`, false);
    }
    const end = off + WAL_HEADER_BYTES + len;
    if (end > bytes.length) {
      return stop(off, `the last record is cut short (${bytes.length - off - WAL_HEADER_BYTES} of ${len} payload bytes)`, true);
    }
    const payload = bytes.subarray(off + WAL_HEADER_BYTES, end);
    if (crc32(payload, crc32(head)) !== dv.getUint32(off + 12, true)) {
      if (end === bytes.length && zeroFilledTail(bytes, off)) {
        return stop(off, 'the last record was never wholly written (it ends in zeros)', true);
      }
      return stop(off, 'record checksum mismatch', false);
    }
    let batch: WalBatch;
    try {
      batch = decodePayload(payload);
    } catch {
      return stop(off, 'record passes its checksums but its payload is malformed', false);
    }
    batches.push(batch);
    offsets.push(off);
    off = end;
  }
  return { version: 2, batches, offsets, validBytes: off, damage: null };
}

/**
 * Version 1: the length is not checksummed, so a record that fails can be a torn tail or a
 * corrupted length; the scan reports the first failure and never calls it torn.
 */
function scanV1(bytes: Uint8Array): WalScan {
  const batches: WalBatch[] = [];
  const offsets: number[] = [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  while (off < bytes.length) {
    const fail = (reason: string): WalScan => ({
      version: 1,
      batches,
      offsets,
      validBytes: off,
      damage: { offset: off, reason, torn: false },
    });
    if (bytes.length - off < V1_HEADER_BYTES) return fail('the last record header is incomplete');
    const len = dv.getUint32(off, true);
    if (len === 0 || len > MAX_WAL_RECORD_BYTES) return fail(`record length ${len} is invalid`);
    if (off + V1_HEADER_BYTES + len > bytes.length) return fail(`record length ${len} runs past the end of the file`);
    const payload = bytes.subarray(off + V1_HEADER_BYTES, off + V1_HEADER_BYTES + len);
    if (crc32(payload) !== dv.getUint32(off + 4, true)) return fail('record checksum mismatch');
    let batch: WalBatch;
    try {
      batch = decodePayload(payload);
    } catch {
      return fail('record passes its checksum but its payload is malformed');
    }
    batches.push(batch);
    offsets.push(off);
    off += V1_HEADER_BYTES + len;
  }
  return { version: 1, batches, offsets, validBytes: off, damage: null };
}

/**
 * Scans WAL bytes for opening: the intact records, with a torn tail to truncate; throws
 * {@link WalCorruptionError} (naming `file` and the offset) for anything else.
 */
export function scanWal(bytes: Uint8Array, file = 'wal.log'): WalScan {
  const scan = inspectWalBytes(bytes);
  const d = scan.damage;
  if (d === null || d.torn) return scan;
  const after = bytes.length - d.offset;
  const repair =
    "Examine it with `raftwire wal repair --data-dir <the member's data directory>` (it cuts the WAL to its intact " +
    "prefix only when given --truncate), or recover this member from a healthy member's data.";
  const message =
    scan.version === 1
      ? `WAL ${file} (version 1 format) is damaged at byte offset ${d.offset}: ${d.reason}. That format cannot tell a ` +
        `torn write from corruption, so nothing is dropped automatically (${after} bytes from that offset). ${repair}`
      : `WAL ${file} is corrupt at byte offset ${d.offset}: ${d.reason} (${after} bytes from there to the end of the ` +
        `file). Refusing to start: records after a damaged one may have been acknowledged. ${repair}`;
  throw new WalCorruptionError(file, d.offset, d.reason, message);
}
