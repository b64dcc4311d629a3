import { ByteWriter, varintSize } from './bytes.js';
import { ErrorCode, RaftwireError, decodeError } from './errors.js';

/** Default cap on one frame (etcd's message stream allows 512 MiB; browsers need less). */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** A varint longer than this many bytes is ≥ 2^56: over any cap. */
const MAX_HEADER_BYTES = 8;

/** Length prefix (unsigned LEB128) followed by the payload. */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  const out = new ByteWriter(payload.length + varintSize(payload.length));
  out.varint(payload.length);
  out.bytes(payload);
  return out.finish();
}

export function tooLarge(declared: number | string, cap: number, what = 'frame'): RaftwireError {
  return new RaftwireError(ErrorCode.FRAME_TOO_LARGE, `${what} declares ${declared} bytes, over the cap of ${cap}`);
}

/**
 * Reads one length-prefixed frame out of chunks split at any byte boundary.
 * The declared length is checked against the cap as soon as the prefix is
 * complete, before anything is allocated for the body.
 */
export class LengthPrefixReader {
  private headerValue = 0;
  private headerScale = 1;
  private headerBytes = 0;
  private body: Uint8Array | null = null;
  private bodyFilled = 0;
  /**
   * The frame completed by the last `feed`, as a range of `frameBuf`
   * (no view is allocated until someone asks for `frame`).
   */
  frameBuf: Uint8Array | null = null;
  frameStart = 0;
  frameEnd = 0;

  /** The completed frame as a view, or null. */
  get frame(): Uint8Array | null {
    const b = this.frameBuf;
    if (b === null) return null;
    return this.frameStart === 0 && this.frameEnd === b.length ? b : b.subarray(this.frameStart, this.frameEnd);
  }

  constructor(
    private readonly maxFrameBytes: number,
    private readonly what = 'frame',
  ) {}

  /**
   * The length declared by the prefix {@link feedHeader} just completed, or -1 while it is
   * incomplete. For a caller that reads the body itself.
   */
  declared = -1;

  /**
   * Consumes length-prefix bytes of `chunk` from `at` until the prefix completes or the chunk ends;
   * returns the new position and leaves the length, checked against the cap, in `declared`.
   */
  feedHeader(chunk: Uint8Array, at: number): number {
    this.declared = -1;
    while (at < chunk.length) {
      const b = chunk[at++] as number;
      this.headerValue += (b & 0x7f) * this.headerScale;
      this.headerScale *= 128;
      this.headerBytes++;
      if (b >= 0x80) {
        if (this.headerBytes >= MAX_HEADER_BYTES) throw tooLarge('more than 2^56', this.maxFrameBytes, this.what);
        continue;
      }
      const len = this.headerValue;
      this.headerValue = 0;
      this.headerScale = 1;
      this.headerBytes = 0;
      if (len > this.maxFrameBytes) throw tooLarge(len, this.maxFrameBytes, this.what);
      this.declared = len;
      return at;
    }
    return at;
  }

  /** Lets go of the completed frame (and so of the chunk it may be a view of). */
  release(): void {
    this.frameBuf = null;
  }

  /** True when no partial frame is buffered. */
  get idle(): boolean {
    return this.body === null && this.headerBytes === 0;
  }

  /**
   * Consumes bytes of `chunk` from `at` until one frame completes or the chunk
   * ends; returns the new position. A completed frame is left in `frame`.
   * A frame wholly inside `chunk` is a view of it, not a copy.
   */
  feed(chunk: Uint8Array, at: number): number {
    this.frameBuf = null;
    while (at < chunk.length) {
      if (this.body === null) {
        at = this.feedHeader(chunk, at);
        const len = this.declared;
        if (len === -1) continue;
        if (chunk.length - at >= len) {
          this.frameBuf = chunk;
          this.frameStart = at;
          this.frameEnd = at + len;
          return at + len;
        }
        this.body = new Uint8Array(len);
        this.bodyFilled = 0;
      }
      const take = Math.min(this.body.length - this.bodyFilled, chunk.length - at);
      this.body.set(chunk.subarray(at, at + take), this.bodyFilled);
      this.bodyFilled += take;
      at += take;
      if (this.bodyFilled === this.body.length) {
        this.frameBuf = this.body;
        this.frameStart = 0;
        this.frameEnd = this.body.length;
        this.body = null;
        return at;
      }
    }
    return at;
  }
}

/**
 * Incremental decoder for a stream of length-prefixed frames. Accepts input
 * split at any byte boundary and rejects an oversized declared length before
 * allocating. After an error it stays failed: the connection must be dropped.
 *
 * Frames returned may be views into the chunks passed to `push`: a chunk must
 * not be modified after it is pushed.
 */
export class FrameDecoder {
  private readonly reader: LengthPrefixReader;
  private failed: RaftwireError | null = null;

  constructor(options: { maxFrameBytes?: number } = {}) {
    this.reader = new LengthPrefixReader(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
  }

  get idle(): boolean {
    return this.reader.idle;
  }

  /** Feeds bytes; returns every frame they complete. Throws RaftwireError only. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failed) throw this.failed;
    const frames: Uint8Array[] = [];
    try {
      let at = 0;
      while (at < chunk.length) {
        at = this.reader.feed(chunk, at);
        const frame = this.reader.frame;
        if (frame !== null) frames.push(frame);
      }
    } catch (err) {
      this.failed = err instanceof RaftwireError ? err : decodeError(String(err));
      throw this.failed;
    }
    return frames;
  }

  /** Call at end of input: throws ERR_TRUNCATED if a frame is incomplete. */
  end(): void {
    if (this.failed) throw this.failed;
    if (!this.idle) throw new RaftwireError(ErrorCode.TRUNCATED, 'stream ended inside a frame');
  }
}
