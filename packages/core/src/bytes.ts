import { decodeError } from './errors.js';

/** Largest value a varint may carry: terms and indexes stay exact doubles. */
export const MAX_VARINT = Number.MAX_SAFE_INTEGER;

/** Bytes a LEB128 varint of `n` takes. */
export function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/**
 * Hands out small byte ranges carved from 64 KiB slabs, like Node's Buffer
 * pool: in V8 a fresh typed array over 64 bytes gets its own off-heap backing
 * store, which costs more than encoding a small frame. A range is never handed
 * out twice; a slab lives as long as any view of it.
 */
export class Slab {
  private buf: Uint8Array;
  private pos = 0;

  constructor(private readonly size = 64 * 1024) {
    this.buf = new Uint8Array(size);
  }

  alloc(n: number): Uint8Array {
    if (n > this.size >>> 3) return new Uint8Array(n);
    if (this.pos + n > this.size) {
      this.buf = new Uint8Array(this.size);
      this.pos = 0;
    }
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos = (this.pos + n + 7) & ~7;
    return out;
  }
}

/** A growable byte buffer; `finish()` returns a view of what was written. */
export class ByteWriter {
  private buf: Uint8Array;
  private pos = 0;

  /**
   * Starts with `initialSize` bytes, taken from `slab` when given (use the exact size then), or
   * writes into `initial` itself when a buffer is given (a reused batch buffer: it is overwritten
   * from the start, and left behind for a fresh one if the writing outgrows it).
   */
  constructor(initial: number | Uint8Array = 256, slab?: Slab) {
    this.buf = typeof initial !== 'number' ? initial : slab ? slab.alloc(initial) : new Uint8Array(initial);
  }

  get length(): number {
    return this.pos;
  }

  /**
   * Makes room for `extra` more bytes at once, so a caller that knows a frame's size can write
   * it with the unchecked `put*` methods (no bounds check per field).
   */
  reserve(extra: number): void {
    this.ensure(extra);
  }

  /** Like {@link byte}, within room made by {@link reserve}. */
  putByte(b: number): void {
    this.buf[this.pos++] = b;
  }

  /** Like {@link varint}, within room made by {@link reserve}. */
  putVarint(n: number): void {
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.pos++] = n;
  }

  /** Like {@link bytes}, within room made by {@link reserve}. */
  putBytes(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  private ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Unsigned LEB128. `n` must be a safe non-negative integer (checked by callers). */
  varint(n: number): void {
    // Only the bytes it needs: a writer sized exactly (slab frames) must not grow for its last varint.
    this.ensure(n < 0x80 ? 1 : varintSize(n));
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.pos++] = n;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** What was written: the buffer itself when it was sized exactly, else a view. */
  finish(): Uint8Array {
    return this.pos === this.buf.length ? this.buf : this.buf.subarray(0, this.pos);
  }
}

/**
 * A cursor over one complete buffer. Every read is bounds-checked and throws
 * a typed decode error on truncation or overflow.
 */
export class ByteReader {
  pos: number;
  end: number;
  private _buf: Uint8Array;
  /**
   * `buf.buffer` and `buf.byteOffset`, read once per buffer: `.buffer` is a call into V8's C++
   * builtins every time (not inlined), which per entry of a 64 B MsgApp was ≈ 2 % of the
   * receiver's CPU (docs/http.md).
   */
  private ab: ArrayBufferLike;
  private abOffset: number;

  /** The buffer read from (point the reader elsewhere with {@link reset}). */
  get buf(): Uint8Array {
    return this._buf;
  }

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this._buf = buf;
    this.pos = start;
    this.end = end;
    this.ab = buf.buffer;
    this.abOffset = buf.byteOffset;
  }

  /** Points the reader at another range (one reader per stream, not one per frame). */
  reset(buf: Uint8Array, start: number, end: number): this {
    if (buf !== this._buf) {
      this._buf = buf;
      this.ab = buf.buffer;
      this.abOffset = buf.byteOffset;
    }
    this.pos = start;
    this.end = end;
    return this;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  byte(): number {
    if (this.pos >= this.end) throw decodeError('unexpected end of frame');
    return this._buf[this.pos++] as number;
  }

  varint(what: string): number {
    // One byte is the common case (types, small terms and lengths).
    const pos = this.pos;
    if (pos < this.end) {
      const b0 = this._buf[pos] as number;
      if (b0 < 0x80) {
        this.pos = pos + 1;
        return b0;
      }
    }
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) throw decodeError(`unexpected end of frame in ${what}`);
      const b = this._buf[this.pos++] as number;
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (result > MAX_VARINT) throw decodeError(`${what} ${result} exceeds 2^53-1`);
        return result;
      }
      scale *= 128;
    }
    throw decodeError(`${what} exceeds 2^53-1`);
  }

  /** The next `n` bytes as a view of the buffer (a plain Uint8Array, even over a Buffer). */
  bytes(n: number): Uint8Array {
    if (n > this.end - this.pos) throw decodeError(`declared ${n} bytes but only ${this.end - this.pos} remain`);
    // The constructor, not subarray(): half the cost (no species lookup), and never a subclass.
    const out = new Uint8Array(this.ab, this.abOffset + this.pos, n);
    this.pos += n;
    return out;
  }
}

/** Returns `b` as a plain Uint8Array (not a Buffer or other subclass), without copying. */
export function plainBytes(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
