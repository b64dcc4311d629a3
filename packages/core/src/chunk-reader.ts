import { closeIterator } from './body.js';
import { ErrorCode, RaftwireError, decodeError } from './errors.js';
import { tooLarge } from './framing.js';

/** Shared empty buffer: a spent chunk is dropped, not kept alive as a zero-length view of its ArrayBuffer. */
const EMPTY = new Uint8Array(0);

/** The rest of `b` after `n` bytes, or EMPTY when nothing is left (so `b`'s buffer can be collected). */
function after(b: Uint8Array, n: number): Uint8Array {
  return n >= b.length ? EMPTY : b.subarray(n);
}

/**
 * Reads a request body piece by piece: a few bytes, a varint, an exact
 * length, then the rest as a stream of a known size.
 */
export class ChunkReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private buf: Uint8Array = EMPTY;
  private ended = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    while (this.buf.length === 0) {
      if (this.ended) return false;
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        return false;
      }
      this.buf = r.value;
    }
    return true;
  }

  /** Unsigned LEB128 of at most 8 bytes; ERR_TRUNCATED at end of input. */
  async varint(what: string): Promise<number> {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (!(await this.fill())) throw new RaftwireError(ErrorCode.TRUNCATED, `body ended inside ${what}`);
      const b = this.buf[0] as number;
      this.buf = after(this.buf, 1);
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(value)) throw decodeError(`${what} exceeds 2^53-1`);
        return value;
      }
      scale *= 128;
    }
    throw decodeError(`${what} exceeds 2^53-1`);
  }

  /** Exactly `n` bytes (n already checked against a cap). */
  async exact(n: number, what: string): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      if (!(await this.fill())) throw new RaftwireError(ErrorCode.TRUNCATED, `body ended inside ${what}`);
      const take = Math.min(n - at, this.buf.length);
      out.set(this.buf.subarray(0, take), at);
      this.buf = after(this.buf, take);
      at += take;
    }
    return out;
  }

  /** A length-prefixed frame of at most `cap` bytes. */
  async frame(cap: number, what: string): Promise<Uint8Array> {
    const n = await this.varint(`${what} length`);
    if (n > cap) throw tooLarge(n, cap, what);
    return this.exact(n, what);
  }

  /**
   * The next `size` bytes as chunks; throws ERR_SNAPSHOT_SIZE when the input
   * ends first. `consumed` counts what was taken.
   */
  rest(size: number): AsyncIterable<Uint8Array> & { readonly consumed: number } {
    let consumed = 0;
    let finished = false;
    const self = this;
    // A plain iterator, not an async generator: a snapshot body is thousands of chunks a second,
    // and each generator step costs promises and a resumption on top of the source's own.
    const iterator: AsyncIterator<Uint8Array> = {
      async next(): Promise<IteratorResult<Uint8Array>> {
        if (finished || consumed >= size) {
          finished = true;
          return { done: true, value: undefined };
        }
        if (self.buf.length === 0 && !(await self.fill())) {
          finished = true;
          throw new RaftwireError(ErrorCode.SNAPSHOT_SIZE, `snapshot body ended after ${consumed} of ${size} bytes`);
        }
        const take = Math.min(size - consumed, self.buf.length);
        const chunk = take === self.buf.length ? self.buf : self.buf.subarray(0, take);
        self.buf = after(self.buf, take);
        consumed += take;
        return { done: false, value: chunk };
      },
      async return(): Promise<IteratorResult<Uint8Array>> {
        finished = true;
        return { done: true, value: undefined };
      },
    };
    return {
      get consumed() {
        return consumed;
      },
      [Symbol.asyncIterator]: () => iterator,
    };
  }

  /**
   * Every byte left, as chunks, to the end of the input: for a body whose size the wire does not
   * declare. Throws ERR_FRAME_TOO_LARGE once more than `cap` bytes arrived. `consumed` counts
   * what was taken.
   */
  restToEnd(cap: number): AsyncIterable<Uint8Array> & { readonly consumed: number } {
    let consumed = 0;
    const self = this;
    return {
      get consumed() {
        return consumed;
      },
      async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
        while (await self.fill()) {
          const chunk = self.buf;
          self.buf = EMPTY;
          if (consumed + chunk.length > cap) throw tooLarge(`more than ${cap}`, cap, 'snapshot body');
          consumed += chunk.length;
          yield chunk;
        }
      },
    };
  }

  /** True when no byte is left (the input ended). */
  async atEnd(): Promise<boolean> {
    return !(await this.fill());
  }

  /** Throws when any byte is left. */
  async expectEnd(what: string): Promise<void> {
    if (await this.fill()) throw new RaftwireError(ErrorCode.SNAPSHOT_SIZE, `${what}: more bytes than declared`);
  }

  /** Stops reading the source (best effort: the source's `return()` is called, not awaited). */
  close(): void {
    if (!this.ended) {
      this.ended = true;
      closeIterator(this.it);
    }
  }
}
