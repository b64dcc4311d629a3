import { type ByteWriter, Slab, plainBytes } from '../bytes.js';
import { ErrorCode, RaftwireError, decodeError, isRaftwireError } from '../errors.js';
import { tooLarge } from '../framing.js';
import type { Message } from '../message.js';
import { PbReader, PbWriter, readU64, u64Text, writeU64 } from './protobuf.js';
import { messageSize, readMessage, writeMessage } from './raftpb.js';

/**
 * etcd's message stream: every message is an 8-byte big-endian length and
 * the raftpb message. etcd caps a frame at 512 MiB; the cap is configurable
 * lower (a browser tab should not accept half a gigabyte).
 */
export const ETCD_MAX_FRAME_BYTES = 512 * 1024 * 1024;

/** A body larger than this is grown as its bytes arrive, not allocated whole when its length is read. */
const INITIAL_BODY_BYTES = 64 * 1024;

/** Collects a big-endian u64 from bytes split at any boundary. */
export class U64Reader {
  private readonly bytes = new Uint8Array(8);
  private filled = 0;

  get idle(): boolean {
    return this.filled === 0;
  }

  /**
   * Consumes up to the missing bytes from `chunk` at `at`; returns the new
   * position. When the value is complete, `value` holds it (or -1 when it is
   * 2^53 or more) and the reader is ready for the next one.
   */
  feed(chunk: Uint8Array, at: number): number {
    if (this.filled === 0 && chunk.length - at >= 8) {
      this.value = readU64(chunk, at);
      if (this.value < 0) this.text = u64Text(chunk, at);
      this.done = true;
      return at + 8;
    }
    const take = Math.min(8 - this.filled, chunk.length - at);
    this.bytes.set(chunk.subarray(at, at + take), this.filled);
    this.filled += take;
    this.done = this.filled === 8;
    if (this.done) {
      this.filled = 0;
      this.value = readU64(this.bytes, 0);
      if (this.value < 0) this.text = u64Text(this.bytes, 0);
    }
    return at + take;
  }

  /** Set by the `feed` that completed a value. */
  done = false;
  value = 0;
  /** The exact value in decimal when `value` is -1. */
  text = '';
}

/**
 * Collects a body of a known length from chunks split at any boundary. The
 * buffer grows with the bytes that actually arrive, so a peer that declares
 * a large frame and stalls holds no more memory than it sent. A body wholly
 * inside one chunk is a view of it, not a copy.
 */
export class BodyReader {
  private body: Uint8Array | null = null;
  private bodyLength = 0;
  private bodyFilled = 0;
  /** The body completed by the last `feed`, as a range of `frameBuf`. */
  frameBuf: Uint8Array | null = null;
  frameStart = 0;
  frameEnd = 0;

  get idle(): boolean {
    return this.body === null;
  }

  get frame(): Uint8Array | null {
    const b = this.frameBuf;
    if (b === null) return null;
    return this.frameStart === 0 && this.frameEnd === b.length ? b : b.subarray(this.frameStart, this.frameEnd);
  }

  /** Starts a body of `len` bytes (already checked against a cap) at `chunk[at]`; returns the new position. */
  start(len: number, chunk: Uint8Array, at: number): number {
    this.frameBuf = null;
    if (chunk.length - at >= len) {
      this.frameBuf = chunk;
      this.frameStart = at;
      this.frameEnd = at + len;
      return at + len;
    }
    this.body = new Uint8Array(Math.min(len, INITIAL_BODY_BYTES));
    this.bodyLength = len;
    this.bodyFilled = 0;
    return this.feed(chunk, at);
  }

  /** Continues the body started by {@link start}; a completed one is left in `frameBuf`. */
  feed(chunk: Uint8Array, at: number): number {
    this.frameBuf = null;
    const body = this.body;
    if (body === null) return at;
    const take = Math.min(this.bodyLength - this.bodyFilled, chunk.length - at);
    let buf = body;
    if (this.bodyFilled + take > buf.length) {
      buf = new Uint8Array(Math.min(this.bodyLength, Math.max(buf.length * 2, this.bodyFilled + take)));
      buf.set(body.subarray(0, this.bodyFilled));
      this.body = buf;
    }
    buf.set(chunk.subarray(at, at + take), this.bodyFilled);
    this.bodyFilled += take;
    if (this.bodyFilled === this.bodyLength) {
      this.frameBuf = buf;
      this.frameStart = 0;
      this.frameEnd = this.bodyLength;
      this.body = null;
    }
    return at + take;
  }
}

/** Throws the cap error for a declared length (`value` -1 means 2^53 or more, spelt exactly by `text`). */
export function overCap(header: U64Reader, cap: number, what: string, code: ErrorCode = ErrorCode.FRAME_TOO_LARGE): RaftwireError {
  const declared = header.value < 0 ? header.text : header.value;
  return code === ErrorCode.FRAME_TOO_LARGE
    ? tooLarge(declared, cap, what)
    : new RaftwireError(code, `${what} declares ${declared} bytes, over the cap of ${cap}`);
}

/**
 * Reads one u64-length-prefixed body out of chunks split at any byte
 * boundary. The declared length is checked against the cap as soon as the
 * prefix is complete, before anything is allocated for the body.
 */
export class U64LengthPrefixReader {
  private readonly header = new U64Reader();
  private readonly body = new BodyReader();
  frameBuf: Uint8Array | null = null;
  frameStart = 0;
  frameEnd = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly what = 'frame',
  ) {}

  get idle(): boolean {
    return this.body.idle && this.header.idle;
  }

  get frame(): Uint8Array | null {
    const b = this.frameBuf;
    if (b === null) return null;
    return this.frameStart === 0 && this.frameEnd === b.length ? b : b.subarray(this.frameStart, this.frameEnd);
  }

  feed(chunk: Uint8Array, at: number): number {
    const body = this.body;
    if (body.idle) {
      at = this.header.feed(chunk, at);
      if (!this.header.done) {
        this.frameBuf = null;
        return at;
      }
      const len = this.header.value;
      if (len < 0 || len > this.maxBytes) throw overCap(this.header, this.maxBytes, this.what);
      at = body.start(len, chunk, at);
    } else {
      at = body.feed(chunk, at);
    }
    this.frameBuf = body.frameBuf;
    this.frameStart = body.frameStart;
    this.frameEnd = body.frameEnd;
    return at;
  }
}

export interface EtcdFrameLimits {
  /** Cap on one frame's declared length (default and most etcd accepts: 512 MiB). */
  maxFrameBytes?: number;
}

/** u64 BE length · payload. */
export function encodeEtcdFrame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + payload.length);
  writeU64(out, 0, payload.length);
  out.set(payload, 8);
  return out;
}

/**
 * Incremental decoder for a stream of u64-length-prefixed frames, fed at any
 * byte boundary. After an error it stays failed: drop the connection.
 * Frames may be views of the pushed chunks: do not modify a chunk after pushing it.
 */
export class EtcdFrameDecoder {
  private readonly reader: U64LengthPrefixReader;
  private failed: RaftwireError | null = null;

  constructor(limits: EtcdFrameLimits = {}) {
    this.reader = new U64LengthPrefixReader(limits.maxFrameBytes ?? ETCD_MAX_FRAME_BYTES);
  }

  get idle(): boolean {
    return this.reader.idle;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failed) throw this.failed;
    const frames: Uint8Array[] = [];
    try {
      let at = 0;
      while (at < chunk.length) {
        at = this.reader.feed(chunk, at);
        const f = this.reader.frame;
        if (f !== null) frames.push(f);
      }
    } catch (err) {
      this.failed = isRaftwireError(err) ? err : decodeError(String(err), err);
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

/** etcd's messageEncoder: each message as u64 BE length + raftpb, written in one exactly sized buffer. */
export class EtcdMessageStreamEncoder {
  private readonly slab = new Slab();

  /** Throws ERR_INVALID_MESSAGE for a message etcd 3.4 cannot carry. */
  encode(m: Message): Uint8Array {
    const size = messageSize(m);
    const w = new PbWriter(this.slab.alloc(8 + size));
    w.u64(size);
    writeMessage(w, m);
    return w.finish();
  }

  /** Appends the same frame as {@link encode} to `out` (a stream writer's batch); writes nothing if it throws. */
  encodeTo(m: Message, out: ByteWriter): void {
    out.bytes(this.encode(m));
  }
}

/** etcd's messageDecoder, incremental: frames fed at any byte boundary become messages. */
export class EtcdMessageStreamDecoder {
  private readonly reader: U64LengthPrefixReader;
  private failed: RaftwireError | null = null;

  constructor(limits: EtcdFrameLimits = {}) {
    this.reader = new U64LengthPrefixReader(limits.maxFrameBytes ?? ETCD_MAX_FRAME_BYTES, 'message frame');
  }

  get idle(): boolean {
    return this.reader.idle;
  }

  /** Throws RaftwireError only; after an error the decoder stays failed. */
  push(chunk: Uint8Array): Message[] {
    if (this.failed) throw this.failed;
    const out: Message[] = [];
    try {
      let at = 0;
      const reader = this.reader;
      while (at < chunk.length) {
        at = reader.feed(chunk, at);
        const buf = reader.frameBuf;
        if (buf !== null) out.push(readMessage(new PbReader(plainBytes(buf), reader.frameStart, reader.frameEnd)));
      }
    } catch (err) {
      this.failed = isRaftwireError(err) ? err : decodeError(`message stream decode failed: ${String(err)}`, err);
      throw this.failed;
    }
    return out;
  }

  end(): void {
    if (this.failed) throw this.failed;
    if (!this.idle) throw new RaftwireError(ErrorCode.TRUNCATED, 'message stream ended inside a frame');
  }
}
