import { decodeError } from '../errors.js';
import type { Id } from '../ids.js';

/**
 * Protobuf wire primitives for the etcd profile: a writer over an exactly
 * sized buffer and a bounds-checked reader. Terms and indexes are JS numbers
 * (a value over 2^53-1 is a decode error, never a rounding); IDs are bigint.
 */

export const WireType = { Varint: 0, Fixed64: 1, Len: 2, StartGroup: 3, EndGroup: 4, Fixed32: 5 } as const;

/** Unknown groups nested deeper than this are a decode error. */
const MAX_GROUP_DEPTH = 32;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const MAX_SAFE_BIG = BigInt(MAX_SAFE);
const TWO_28 = 2 ** 28;

/** Member IDs are often small: skip the BigInt conversion for them. */
const SMALL_IDS: readonly Id[] = Array.from({ length: 256 }, (_, i) => BigInt(i));

/** Bytes the varint of a safe non-negative integer takes. */
export function uvarintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  if (n < 0x800000000) return 5;
  if (n < 0x40000000000) return 6;
  if (n < 0x2000000000000) return 7;
  return 8; // n < 2^56 holds for every safe integer
}

/** Bytes the varint of a 64-bit ID takes. */
export function idVarintSize(id: Id): number {
  if (id <= MAX_SAFE_BIG) return uvarintSize(Number(id));
  return id < 1n << 56n ? 8 : id < 1n << 63n ? 9 : 10;
}

/** Bytes a length-delimited field of `len` bytes takes after its tag. */
export function lenFieldSize(len: number): number {
  return uvarintSize(len) + len;
}

/**
 * Writes into a buffer that the caller sized exactly (every tag the raftpb
 * schema uses is one byte). `finish` checks the size was right, so a sizing
 * mistake is an error, never a silently short frame.
 */
export class PbWriter {
  buf: Uint8Array;
  pos: number;

  constructor(buf: Uint8Array, pos = 0) {
    this.buf = buf;
    this.pos = pos;
  }

  byte(b: number): void {
    this.buf[this.pos++] = b;
  }

  /** Varint of a safe non-negative integer. */
  uint(n: number): void {
    const buf = this.buf;
    let pos = this.pos;
    if (n < 0x80000000) {
      while (n >= 0x80) {
        buf[pos++] = (n & 0x7f) | 0x80;
        n >>>= 7;
      }
    } else {
      while (n >= 0x80) {
        buf[pos++] = (n % 128) | 0x80;
        n = Math.floor(n / 128);
      }
    }
    buf[pos++] = n;
    this.pos = pos;
  }

  /** Varint of a 64-bit ID. */
  id(id: Id): void {
    if (id <= MAX_SAFE_BIG) {
      this.uint(Number(id));
      return;
    }
    // 28 low bits as a number, the rest (at most 36 bits) as a number too.
    let lo = Number(id & 0xfffffffn);
    let hi = Number(id >> 28n);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < 4; i++) {
      buf[pos++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    while (hi >= 0x80) {
      buf[pos++] = (hi % 128) | 0x80;
      hi = Math.floor(hi / 128);
    }
    buf[pos++] = hi;
    this.pos = pos;
  }

  bool(v: boolean): void {
    this.buf[this.pos++] = v ? 1 : 0;
  }

  /** Length varint then the bytes. */
  lenBytes(b: Uint8Array): void {
    this.uint(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  raw(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Big-endian u64 of a safe non-negative integer (etcd's frame lengths, counts and commit). */
  u64(n: number): void {
    writeU64(this.buf, this.pos, n);
    this.pos += 8;
  }

  finish(): Uint8Array {
    if (this.pos !== this.buf.length) throw new Error(`protobuf writer sized ${this.buf.length} bytes but wrote ${this.pos}`);
    return this.buf;
  }
}

/** Writes `n` (a safe non-negative integer) as a big-endian u64 at `at`. */
export function writeU64(buf: Uint8Array, at: number, n: number): void {
  const hi = Math.floor(n / 0x100000000);
  const lo = n >>> 0;
  buf[at] = hi >>> 24;
  buf[at + 1] = (hi >>> 16) & 0xff;
  buf[at + 2] = (hi >>> 8) & 0xff;
  buf[at + 3] = hi & 0xff;
  buf[at + 4] = lo >>> 24;
  buf[at + 5] = (lo >>> 16) & 0xff;
  buf[at + 6] = (lo >>> 8) & 0xff;
  buf[at + 7] = lo & 0xff;
}

/**
 * A cursor over one complete protobuf message (a range of `buf`). Every read
 * is bounds-checked and throws only ERR_DECODE.
 */
export class PbReader {
  buf: Uint8Array;
  pos: number;
  end: number;

  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  /** A varint as a number; ERR_DECODE when it is 2^53 or more (`what` names the field). */
  uint(what: string): number {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    if (pos >= end) throw eof(what);
    let b = buf[pos++] as number;
    if (b < 0x80) {
      this.pos = pos;
      return b;
    }
    let result = b & 0x7f;
    let scale = 128;
    for (let i = 1; ; i++) {
      if (pos >= end) throw eof(what);
      b = buf[pos++] as number;
      result += (b & 0x7f) * scale;
      if (b < 0x80) break;
      if (i === 9) throw decodeError(`${what}: varint longer than 10 bytes`);
      scale *= 128;
    }
    this.pos = pos;
    if (result > MAX_SAFE) throw decodeError(`${what} exceeds 2^53-1`);
    return result;
  }

  /** A varint as a 64-bit ID; ERR_DECODE when it does not fit in 64 bits. */
  id(what: string): Id {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    let lo = 0;
    let shift = 0;
    for (let i = 0; i < 4; i++) {
      if (pos >= end) throw eof(what);
      const b = buf[pos++] as number;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return lo < 256 ? (SMALL_IDS[lo] as Id) : BigInt(lo);
      }
      shift += 7;
    }
    let hi = 0;
    let scale = 1;
    for (let i = 4; i < 10; i++) {
      if (pos >= end) throw eof(what);
      const b = buf[pos++] as number;
      hi += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (i === 9 && b > 1) throw decodeError(`${what} does not fit in 64 bits`);
        this.pos = pos;
        const v = hi * TWO_28 + lo;
        return v <= MAX_SAFE ? BigInt(v) : (BigInt(hi) << 28n) | BigInt(lo);
      }
      scale *= 128;
    }
    throw decodeError(`${what}: varint longer than 10 bytes`);
  }

  /** A bool: any varint, non-zero is true (as Go reads it). */
  bool(what: string): boolean {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    let any = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) throw eof(what);
      const b = buf[pos++] as number;
      any |= b & 0x7f;
      if (b < 0x80) {
        if (i === 9 && b > 1) throw decodeError(`${what} does not fit in 64 bits`);
        this.pos = pos;
        return any !== 0;
      }
    }
    throw decodeError(`${what}: varint longer than 10 bytes`);
  }

  /** A length prefix, checked against the bytes left; returns the end of the field. */
  lenEnd(what: string): number {
    const n = this.uint(`${what} length`);
    if (n > this.end - this.pos) throw decodeError(`${what} declares ${n} bytes but only ${this.end - this.pos} remain`);
    return this.pos + n;
  }

  /** A length-delimited byte string, as a view of the input. */
  bytes(what: string): Uint8Array {
    const to = this.lenEnd(what);
    const out = this.buf.subarray(this.pos, to);
    this.pos = to;
    return out;
  }

  /**
   * A field tag: returns `field * 8 + wireType`, so callers switch on one
   * number (e.g. 0x08 is field 1 as a varint). Field 0 is a decode error.
   */
  tag(what: string): number {
    const t = this.uint(`${what} tag`);
    if (t < 8) throw decodeError(`${what}: illegal field number 0 (wire type ${t & 7})`);
    return t;
  }

  /** Skips the value of an unknown field whose tag was just read. */
  skip(tag: number, what: string, depth = 0): void {
    const wt = tag % 8;
    switch (wt) {
      case WireType.Varint:
        this.bool(what);
        return;
      case WireType.Fixed64:
        this.advance(8, what);
        return;
      case WireType.Len:
        this.pos = this.lenEnd(what);
        return;
      case WireType.Fixed32:
        this.advance(4, what);
        return;
      case WireType.StartGroup: {
        if (depth >= MAX_GROUP_DEPTH) throw decodeError(`${what}: groups nested deeper than ${MAX_GROUP_DEPTH}`);
        const field = Math.floor(tag / 8);
        for (;;) {
          const inner = this.tag(what);
          if (inner % 8 === WireType.EndGroup) {
            if (Math.floor(inner / 8) !== field) throw decodeError(`${what}: group ${field} ends with field ${Math.floor(inner / 8)}`);
            return;
          }
          this.skip(inner, what, depth + 1);
        }
      }
      case WireType.EndGroup:
        throw decodeError(`${what}: end of group without a start`);
      default:
        throw decodeError(`${what}: illegal wire type ${wt}`);
    }
  }

  private advance(n: number, what: string): void {
    if (n > this.end - this.pos) throw eof(what);
    this.pos += n;
  }
}

function eof(what: string): Error {
  return decodeError(`unexpected end of input in ${what}`);
}

/** Reads a big-endian u64 at `at`: a number, or -1 when it is 2^53 or more. */
export function readU64(buf: Uint8Array, at: number): number {
  const hi = (buf[at] as number) * 0x1000000 + (((buf[at + 1] as number) << 16) | ((buf[at + 2] as number) << 8) | (buf[at + 3] as number));
  const lo =
    (((buf[at + 4] as number) << 24) | ((buf[at + 5] as number) << 16) | ((buf[at + 6] as number) << 8) | (buf[at + 7] as number)) >>> 0;
  if (hi >= 0x200000) return -1;
  return hi * 0x100000000 + lo;
}

/** The exact value of a big-endian u64 at `at`, for error messages. */
export function u64Text(buf: Uint8Array, at: number): string {
  let v = 0n;
  for (let i = 0; i < 8; i++) v = (v << 8n) | BigInt(buf[at + i] as number);
  return v.toString();
}
