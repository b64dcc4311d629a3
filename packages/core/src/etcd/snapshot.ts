import { raceAbort, throwIfAborted } from '../abort.js';
import { plainBytes } from '../bytes.js';
import { ErrorCode, RaftwireError, decodeError, isRaftwireError } from '../errors.js';
import { type Message, MessageType, messageTypeName } from '../message.js';
import { ETCD_MAX_FRAME_BYTES, U64LengthPrefixReader } from './framing.js';
import { PbReader, PbWriter } from './protobuf.js';
import { messageSize, readMessage, writeMessage } from './raftpb.js';

/**
 * etcd's POST /raft/snapshot body: u64 BE length · raftpb MsgSnap (its
 * `snapshot.data` is etcd's v2 store as JSON), then the v3 database bytes to
 * the end of the request. There is no size field: the body ends where the
 * request ends, so the reader caps it instead.
 */

export interface EtcdSnapshotLimits {
  /** Cap on the MsgSnap envelope (etcd accepts any; default 512 MiB). */
  maxEnvelopeBytes?: number;
  /** Cap on the database bytes after it (etcd has none; default 8 GiB, etcd's largest recommended backend quota). */
  maxBodyBytes?: number;
}

export const DEFAULT_ETCD_SNAPSHOT_LIMITS: Required<EtcdSnapshotLimits> = {
  maxEnvelopeBytes: ETCD_MAX_FRAME_BYTES,
  maxBodyBytes: 8 * 1024 * 1024 * 1024,
};

/** The bytes that open a snapshot request: u64 BE length and the MsgSnap. Throws ERR_INVALID_MESSAGE for anything but a MsgSnap. */
export function encodeEtcdSnapshotEnvelope(m: Message): Uint8Array {
  if (typeof m !== 'object' || m === null || m.type !== MessageType.MsgSnap) {
    throw new RaftwireError(ErrorCode.INVALID_MESSAGE, 'a snapshot envelope needs a MsgSnap');
  }
  const size = messageSize(m);
  const w = new PbWriter(new Uint8Array(8 + size));
  w.u64(size);
  writeMessage(w, m);
  return w.finish();
}

/**
 * The whole request body, streamed: the envelope, then the database chunks
 * as they come (never buffered). `size`, when given, is checked: a database
 * shorter or longer than it fails with ERR_SNAPSHOT_SIZE instead of sending
 * a snapshot etcd would take as complete.
 */
export async function* etcdSnapshotBody(
  m: Message,
  db: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: { size?: number; signal?: AbortSignal } = {},
): AsyncGenerator<Uint8Array> {
  const { size, signal } = options;
  if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) {
    throw new RaftwireError(ErrorCode.INVALID_MESSAGE, `invalid snapshot size ${size}`);
  }
  throwIfAborted(signal);
  yield encodeEtcdSnapshotEnvelope(m);
  let sent = 0;
  const it = Symbol.asyncIterator in db ? db[Symbol.asyncIterator]() : db[Symbol.iterator]();
  try {
    for (;;) {
      const r = await raceAbort(Promise.resolve(it.next()), signal);
      if (r.done) break;
      sent += r.value.length;
      if (size !== undefined && sent > size)
        throw new RaftwireError(ErrorCode.SNAPSHOT_SIZE, `snapshot database is longer than the declared ${size} bytes`);
      yield r.value;
    }
  } finally {
    void Promise.resolve(it.return?.()).catch(() => {});
  }
  if (size !== undefined && sent < size)
    throw new RaftwireError(ErrorCode.SNAPSHOT_SIZE, `snapshot database ended after ${sent} of ${size} bytes`);
}

/**
 * Incremental reader of a snapshot request body, fed at any byte boundary:
 * first the MsgSnap (`message` once the envelope is complete), then every
 * database byte handed back by `push` as it arrives, counted against the cap.
 * It does not check the message type: etcd's handler answers a non-MsgSnap
 * with its own 400, and so should the caller.
 */
export class EtcdSnapshotDecoder {
  private readonly limits: Required<EtcdSnapshotLimits>;
  private readonly envelope: U64LengthPrefixReader;
  private msg: Message | null = null;
  private received = 0;
  private failed: RaftwireError | null = null;

  constructor(limits: EtcdSnapshotLimits = {}) {
    this.limits = { ...DEFAULT_ETCD_SNAPSHOT_LIMITS, ...limits };
    this.envelope = new U64LengthPrefixReader(this.limits.maxEnvelopeBytes, 'snapshot envelope');
  }

  /** The MsgSnap, once its envelope is complete. */
  get message(): Message | null {
    return this.msg;
  }

  /** Database bytes received so far. */
  get bodyBytes(): number {
    return this.received;
  }

  /**
   * Feeds request bytes; returns the database bytes among them (a view of
   * `chunk`, possibly empty). Throws RaftwireError only, and stays failed.
   */
  push(chunk: Uint8Array): Uint8Array {
    if (this.failed) throw this.failed;
    try {
      chunk = plainBytes(chunk);
      let at = 0;
      if (this.msg === null) {
        while (at < chunk.length && this.msg === null) {
          at = this.envelope.feed(chunk, at);
          const buf = this.envelope.frameBuf;
          if (buf !== null) this.msg = readMessage(new PbReader(buf, this.envelope.frameStart, this.envelope.frameEnd));
        }
        if (this.msg === null) return chunk.subarray(at);
      }
      const n = chunk.length - at;
      if (this.received + n > this.limits.maxBodyBytes) {
        throw new RaftwireError(ErrorCode.FRAME_TOO_LARGE, `snapshot database is over the cap of ${this.limits.maxBodyBytes} bytes`);
      }
      this.received += n;
      return at === 0 ? chunk : chunk.subarray(at);
    } catch (err) {
      this.failed = isRaftwireError(err) ? err : decodeError(`snapshot decode failed: ${String(err)}`, err);
      throw this.failed;
    }
  }

  /** Call at the end of the request: throws ERR_TRUNCATED if the envelope is incomplete. */
  end(): void {
    if (this.failed) throw this.failed;
    if (this.msg === null) throw new RaftwireError(ErrorCode.TRUNCATED, 'snapshot request ended inside the envelope');
  }
}

/** A snapshot request once its envelope is read: the MsgSnap and the database still to come. */
export interface EtcdSnapshotRequest {
  message: Message;
  /**
   * The database bytes to the end of the request; iterate once. `consumed`
   * counts what was taken; `close()` stops reading the request (call it when
   * the body is not read to its end).
   */
  body: AsyncIterable<Uint8Array> & { readonly consumed: number; close(): Promise<void> };
}

/**
 * Reads the envelope of a snapshot request from `source` and hands back the
 * MsgSnap with the rest of the body as a stream (never buffered). Throws
 * ERR_TRUNCATED when the request ends inside the envelope, ERR_INVALID_MESSAGE
 * when the envelope holds another message type (and stops reading), ERR_DECODE /
 * ERR_FRAME_TOO_LARGE for a bad one, ERR_ABORTED when `signal` aborts.
 */
export async function readEtcdSnapshot(
  source: AsyncIterable<Uint8Array>,
  options: EtcdSnapshotLimits & { signal?: AbortSignal } = {},
): Promise<EtcdSnapshotRequest> {
  const { signal, ...limits } = options;
  const dec = new EtcdSnapshotDecoder(limits);
  const it = source[Symbol.asyncIterator]();
  let first: Uint8Array;
  try {
    for (;;) {
      const r = await raceAbort(it.next(), signal);
      if (r.done) throw new RaftwireError(ErrorCode.TRUNCATED, 'snapshot request ended inside the envelope');
      const rest = dec.push(r.value);
      if (dec.message !== null) {
        first = rest;
        break;
      }
    }
    const type = (dec.message as Message).type;
    if (type !== MessageType.MsgSnap) {
      throw new RaftwireError(ErrorCode.INVALID_MESSAGE, `a snapshot request carries a MsgSnap, not ${messageTypeName(type)}`);
    }
  } catch (err) {
    void Promise.resolve(it.return?.()).catch(() => {});
    throw err;
  }
  const message = dec.message as Message;
  let consumed = 0;
  let started = false;
  const close = async (): Promise<void> => {
    await it.return?.();
  };
  const body = {
    get consumed() {
      return consumed;
    },
    close,
    async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
      if (started) throw new RaftwireError(ErrorCode.INVALID_MESSAGE, 'a snapshot body can be read once');
      started = true;
      try {
        if (first.length > 0) {
          consumed += first.length;
          yield first;
        }
        for (;;) {
          const r = await raceAbort(it.next(), signal);
          if (r.done) return;
          const bytes = dec.push(r.value);
          if (bytes.length === 0) continue;
          consumed += bytes.length;
          yield bytes;
        }
      } finally {
        void close().catch(() => {});
      }
    },
  };
  return { message, body };
}
