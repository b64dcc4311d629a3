const MAX_U32 = 0xffffffff;
const TWO_32 = 0x100000000;

/** Size of the slabs encoded messages are carved from. */
const SLAB_BYTES = 64 * 1024;

/**
 * A minimal CBOR writer for the message schema: unsigned integers in their
 * smallest head form (uint64 `0x1b` from 2^32 up, never a float), byte
 * strings, arrays, booleans and null. Output is standard CBOR that cbor-x
 * (and any RFC 8949 decoder) reads; wherever cbor-x's own encoder is
 * canonical, the bytes are identical to it (a property test checks this).
 *
 * Messages are written straight into an append-only slab and handed out as
 * views of it, the way Node's Buffer pool works: allocating a fresh typed
 * array per message costs more than encoding it. A range once handed out is
 * never written again, so outputs never alias each other; a slab lives as
 * long as any view of it.
 */
export class CborWriter {
  private buf = new Uint8Array(SLAB_BYTES);
  private view = new DataView(this.buf.buffer);
  /** Where the message being written starts. */
  private start = 0;
  private pos = 0;

  /** Drops a partly written message (nothing is handed out). */
  reset(): void {
    this.pos = this.start;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    // Move the message being written to a fresh slab big enough for it.
    const written = this.pos - this.start;
    let size = SLAB_BYTES;
    while (size < (written + n) * 2) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(this.start, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
    this.start = 0;
    this.pos = written;
  }

  /** Major type + argument; `n` is a safe non-negative integer. */
  head(major: number, n: number): void {
    this.ensure(9);
    const m = major << 5;
    const b = this.buf;
    if (n < 24) {
      b[this.pos++] = m | n;
    } else if (n < 0x100) {
      b[this.pos++] = m | 24;
      b[this.pos++] = n;
    } else if (n < 0x10000) {
      b[this.pos++] = m | 25;
      b[this.pos++] = n >>> 8;
      b[this.pos++] = n & 0xff;
    } else if (n <= MAX_U32) {
      b[this.pos++] = m | 26;
      this.view.setUint32(this.pos, n);
      this.pos += 4;
    } else {
      b[this.pos++] = m | 27;
      this.view.setUint32(this.pos, Math.floor(n / TWO_32));
      this.view.setUint32(this.pos + 4, n % TWO_32);
      this.pos += 8;
    }
  }

  uint(n: number): void {
    this.head(0, n);
  }

  /** A 64-bit ID (already range-checked). */
  bigUint(v: bigint): void {
    if (v <= 0xffffffffn) {
      this.head(0, Number(v));
      return;
    }
    this.ensure(9);
    this.buf[this.pos++] = 0x1b;
    this.view.setBigUint64(this.pos, v);
    this.pos += 8;
  }

  bytes(b: Uint8Array): void {
    this.head(2, b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  array(n: number): void {
    this.head(4, n);
  }

  bool(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 0xf5 : 0xf4;
  }

  nil(): void {
    this.ensure(1);
    this.buf[this.pos++] = 0xf6;
  }

  /** The message written since the last finish, as a view nobody else will write to. */
  finish(): Uint8Array {
    const out = this.buf.subarray(this.start, this.pos);
    // Keep the next message 8-byte aligned; start a new slab when this one is nearly full.
    this.pos = (this.pos + 7) & ~7;
    if (this.pos >= this.buf.length - 64) {
      this.buf = new Uint8Array(SLAB_BYTES);
      this.view = new DataView(this.buf.buffer);
      this.pos = 0;
    }
    this.start = this.pos;
    return out;
  }
}
