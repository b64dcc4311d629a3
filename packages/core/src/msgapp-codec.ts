import { ByteReader, ByteWriter, MAX_VARINT, Slab, varintSize } from './bytes.js';
import { ErrorCode, RaftwireError, decodeError, isRaftwireError } from './errors.js';
import { DEFAULT_MAX_FRAME_BYTES, LengthPrefixReader } from './framing.js';
import type { Id } from './ids.js';
import {
  type Entry,
  type EntryType,
  LINK_HEARTBEAT,
  type Message,
  MessageType,
  isEntryType,
  isLinkHeartbeat,
  logPosition,
  messagesEqual,
} from './message.js';
import { type MessageCodec, cborMessageCodec } from './message-codec.js';

/**
 * msgapp stream codec, after etcd's msgappv2. Frames:
 *
 * | byte | frame |
 * |------|-------|
 * | `0x00` | link heartbeat (1 byte) |
 * | `0x01` | AppEntries: varint body length · varint n · n × (varint type · varint term · varint data length · data) · varint commit |
 * | `0x02` | full message: varint body length · encoded message |
 *
 * AppEntries is etcd's rule (`index == enc.index && logTerm == enc.term &&
 * term == logTerm`) plus what makes the decoded message exactly the input:
 * entries numbered consecutively from `index + 1` (so their indexes are not
 * sent), From/To equal to the connection's, and no other field set.
 * Encoder and decoder state is per connection and starts at zero.
 */
export const MsgAppFrame = { LinkHeartbeat: 0x00, AppEntries: 0x01, Message: 0x02 } as const;

export interface MsgAppLimits {
  /** Cap on one frame's body. */
  maxFrameBytes?: number;
  /** Cap on entries in one frame. */
  maxEntries?: number;
  /** Cap on one entry's data. */
  maxEntryBytes?: number;
}

export const DEFAULT_MSGAPP_LIMITS: Required<MsgAppLimits> = {
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxEntries: 1 << 20,
  maxEntryBytes: DEFAULT_MAX_FRAME_BYTES,
};

/** The two ends of a connection: `from` writes, `to` reads. */
export interface MsgAppPeers {
  from: Id;
  to: Id;
}

const HEARTBEAT_FRAME = Uint8Array.of(MsgAppFrame.LinkHeartbeat);
/** Shared zero-length context: a zero-length view cannot be written through. */
const EMPTY = new Uint8Array(0);
/**
 * The empty `responses` of every decoded AppEntries message: one frozen array, not a fresh one per
 * message (docs/codecs.md). Typed as Message's mutable array; mutating it throws a TypeError.
 */
const EMPTY_RESPONSES: Message[] = Object.freeze([]) as unknown as Message[];
/** The decoder's placeholder between frames (never handed out: every frame makes its own array). */
const EMPTY_ENTRIES: Entry[] = Object.freeze([]) as unknown as Entry[];

/** The index of a message's last entry, or its `index` when it carries none: where AppEntries goes on. */
export function lastIndex(m: Message): number {
  const last = m.entries[m.entries.length - 1];
  return last === undefined ? m.index : last.index;
}

/** Holds a fully decoded message to a msgapp stream's entry caps. Throws ERR_TOO_MANY_ENTRIES or ERR_ENTRY_TOO_LARGE. */
export function checkEntryLimits(m: Message, limits: Required<MsgAppLimits>): void {
  if (m.entries.length > limits.maxEntries) {
    throw new RaftwireError(ErrorCode.TOO_MANY_ENTRIES, `message has ${m.entries.length} entries, over the cap of ${limits.maxEntries}`);
  }
  for (const e of m.entries) {
    if (e.data.length > limits.maxEntryBytes) {
      throw new RaftwireError(ErrorCode.ENTRY_TOO_LARGE, `entry of ${e.data.length} bytes, over the cap of ${limits.maxEntryBytes}`);
    }
  }
}

export class MsgAppEncoder {
  private term = 0;
  private index = 0;
  private readonly slab = new Slab();

  constructor(
    private readonly peers: MsgAppPeers,
    private readonly codec: MessageCodec = cborMessageCodec,
  ) {}

  /** Whether `m` can go as an AppEntries frame given the current state. */
  private fitsAppEntries(m: Message): boolean {
    if (
      m.type !== MessageType.MsgApp ||
      m.index !== this.index ||
      m.logTerm !== this.term ||
      m.term !== m.logTerm ||
      m.from !== this.peers.from ||
      m.to !== this.peers.to ||
      m.vote !== 0n ||
      m.snapshot !== null ||
      m.reject ||
      m.rejectHint !== 0 ||
      m.context.length !== 0 ||
      m.responses.length !== 0
    ) {
      return false;
    }
    for (let i = 0; i < m.entries.length; i++) {
      const e = m.entries[i] as Entry;
      if (e.index !== m.index + i + 1) return false;
      if (!isEntryType(e.type) || !Number.isSafeInteger(e.term) || e.term < 0 || !(e.data instanceof Uint8Array)) {
        return false;
      }
    }
    return Number.isSafeInteger(m.commit) && m.commit >= 0;
  }

  /** Encodes one message as a complete frame. Throws ERR_INVALID_MESSAGE for a bad message. */
  encode(m: Message): Uint8Array {
    if (isExactLinkHeartbeat(m)) return HEARTBEAT_FRAME;
    if (this.fitsAppEntries(m)) {
      const body = appEntriesBodySize(m);
      const out = new ByteWriter(1 + varintSize(body) + body, this.slab);
      this.writeAppEntries(m, body, out);
      return out.finish();
    }
    const payload = this.codec.encode(m);
    const out = new ByteWriter(1 + varintSize(payload.length) + payload.length, this.slab);
    this.writeFull(m, payload, out);
    return out.finish();
  }

  /**
   * Appends the same frame as {@link encode} to `out` (a stream writer's
   * batch, so frames are not allocated one by one and then copied together).
   * Writes nothing and keeps the state when it throws.
   */
  encodeTo(m: Message, out: ByteWriter): void {
    if (isExactLinkHeartbeat(m)) {
      out.byte(MsgAppFrame.LinkHeartbeat);
      return;
    }
    if (this.fitsAppEntries(m)) {
      this.writeAppEntries(m, appEntriesBodySize(m), out);
      return;
    }
    this.writeFull(m, this.codec.encode(m), out);
  }

  private writeAppEntries(m: Message, body: number, out: ByteWriter): void {
    // The frame's size is known: room for all of it at once, then unchecked writes.
    out.reserve(1 + varintSize(body) + body);
    out.putByte(MsgAppFrame.AppEntries);
    out.putVarint(body);
    const entries = m.entries;
    out.putVarint(entries.length);
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i] as Entry;
      out.putVarint(e.type);
      out.putVarint(e.term);
      out.putVarint(e.data.length);
      out.putBytes(e.data);
    }
    out.putVarint(m.commit);
    this.index += entries.length;
  }

  private writeFull(m: Message, payload: Uint8Array, out: ByteWriter): void {
    out.byte(MsgAppFrame.Message);
    out.varint(payload.length);
    out.bytes(payload);
    this.term = m.term;
    this.index = lastIndex(m);
  }
}

/** Only the exact link heartbeat becomes 0x00; a message that merely looks like one (From = To = 0, other fields set) keeps its fields in a full frame. */
function isExactLinkHeartbeat(m: Message): boolean {
  return m === LINK_HEARTBEAT || (isLinkHeartbeat(m) && messagesEqual(m, LINK_HEARTBEAT));
}

function appEntriesBodySize(m: Message): number {
  const entries = m.entries;
  let body = varintSize(entries.length) + varintSize(m.commit);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as Entry;
    body += varintSize(e.type) + varintSize(e.term) + varintSize(e.data.length) + e.data.length;
  }
  return body;
}

/** Fields of an AppEntries body, in wire order: what a body split across chunks is waiting for. */
const Field = { Count: 0, Type: 1, Term: 2, Length: 3, Data: 4, Commit: 5 } as const;
const FIELD_NAMES = ['entry count', 'entry type', 'entry term', 'entry length', 'entry data', 'commit'] as const;
/** An entry's three header varints take at most this many bytes (a longer varint is an error). */
const ENTRY_HEADER_MAX = 24;

export class MsgAppDecoder {
  private term = 0;
  private index = 0;
  private readonly limits: Required<MsgAppLimits>;
  private readonly body: LengthPrefixReader;
  /** Frame type whose body is being read, or -1 between frames. */
  private frameType = -1;
  private failed: RaftwireError | null = null;
  /** One reader for every AppEntries body of this stream. */
  private readonly reader = new ByteReader(EMPTY);

  // An AppEntries body that did not arrive in one chunk, decoded as its bytes come: entry `data`
  // are views of the chunk holding them, and only an entry that straddles two chunks is copied.
  /** True while such a body is being decoded (its length prefix is read). */
  private streaming = false;
  /** Body bytes not yet read. */
  private left = 0;
  /** The field being read (Field). */
  private field: number = Field.Count;
  /** A varint begun in an earlier chunk: value so far, scale of the next byte, bytes read. */
  private vValue = 0;
  private vScale = 1;
  private vBytes = 0;
  /** Entries declared, and the index in `entries` of the next one. */
  private count = 0;
  private next = 0;
  private entries: Entry[] = EMPTY_ENTRIES;
  private entryType: EntryType = 0;
  private entryTerm = 0;
  /** The data being read: its length, its copy once it straddles a chunk boundary, how much is in. */
  private dataLength = 0;
  private straddle: Uint8Array = EMPTY;
  private straddleFilled = 0;
  /** The chunk {@link viewOf} last cut a view of, its buffer and offset (let go after every push). */
  private viewChunk: Uint8Array = EMPTY;
  private viewBuffer: ArrayBufferLike = EMPTY.buffer;
  private viewOffset = 0;

  constructor(
    private readonly peers: MsgAppPeers,
    private readonly codec: MessageCodec = cborMessageCodec,
    limits: MsgAppLimits = {},
  ) {
    this.limits = { ...DEFAULT_MSGAPP_LIMITS, ...limits };
    this.body = new LengthPrefixReader(this.limits.maxFrameBytes, 'msgapp frame');
  }

  get idle(): boolean {
    return this.frameType === -1;
  }

  /**
   * Feeds bytes split at any boundary; returns the messages they complete,
   * link heartbeats included (as {@link LINK_HEARTBEAT}). Throws RaftwireError
   * only; after an error the decoder stays failed.
   */
  push(chunk: Uint8Array): Message[] {
    const out: Message[] = [];
    this.decode(chunk, out, null);
    return out;
  }

  /**
   * Like {@link push}, handing each message to `sink` as it is decoded instead of returning an
   * array (a stream reader's hot path: no array per chunk). An error thrown by `sink` is rethrown
   * as it is, and leaves the decoder failed (the rest of the chunk is not decoded).
   */
  pushTo(chunk: Uint8Array, sink: (m: Message) => void): void {
    this.decode(chunk, null, sink);
  }

  private decode(chunk: Uint8Array, out: Message[] | null, sink: ((m: Message) => void) | null): void {
    if (this.failed) throw this.failed;
    let m: Message | undefined;
    /** True while `sink` runs: what it throws is not a decode error. */
    let inSink = false;
    try {
      let at = 0;
      while (at < chunk.length) {
        m = undefined;
        if (this.frameType === -1) {
          const t = chunk[at++] as number;
          if (t === MsgAppFrame.LinkHeartbeat) {
            m = LINK_HEARTBEAT;
          } else if (t !== MsgAppFrame.AppEntries && t !== MsgAppFrame.Message) {
            throw decodeError(`failed to parse type ${t} in msgapp stream`);
          } else {
            this.frameType = t;
          }
        }
        if (m === undefined) {
          const body = this.body;
          if (this.frameType === MsgAppFrame.AppEntries) {
            if (!this.streaming) {
              at = body.feedHeader(chunk, at);
              const len = body.declared;
              if (len === -1) break;
              if (chunk.length - at >= len) {
                // The whole body is in this chunk: decoded in place.
                m = this.decodeAppEntries(this.reader.reset(chunk, at, at + len));
                at += len;
              } else {
                this.beginStreaming(len);
              }
            }
            if (m === undefined) {
              at = this.streamAppEntries(chunk, at);
              if (this.streaming) break;
              m = this.finishAppEntries();
            }
          } else {
            at = body.feed(chunk, at);
            const frame = body.frame;
            if (frame === null) break;
            m = this.decodeFull(frame);
          }
          this.frameType = -1;
        }
        if (out !== null) {
          out.push(m);
        } else {
          inSink = true;
          (sink as (m: Message) => void)(m);
          inSink = false;
        }
      }
    } catch (err) {
      this.entries = EMPTY_ENTRIES;
      this.straddle = EMPTY;
      if (inSink) {
        // Thrown by the sink: the chunk's remaining bytes are lost with it.
        this.failed = decodeError('msgapp stream abandoned: a delivery threw', err);
        throw err;
      }
      this.failed = isRaftwireError(err) ? err : decodeError(`msgapp decode failed: ${String(err)}`, err);
      throw this.failed;
    } finally {
      // Neither the reader nor the frame reader may keep the last chunk alive.
      this.reader.reset(EMPTY, 0, 0);
      this.viewChunk = EMPTY;
      this.viewBuffer = EMPTY.buffer;
      this.body.release();
    }
  }

  /** Call at end of input: throws ERR_TRUNCATED if a frame is incomplete. */
  end(): void {
    if (this.failed) throw this.failed;
    if (!this.idle) throw new RaftwireError(ErrorCode.TRUNCATED, 'msgapp stream ended inside a frame');
  }

  private decodeAppEntries(r: ByteReader): Message {
    const n = r.varint('entry count');
    this.checkCount(n, r.remaining);
    const entries: Entry[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const type = r.varint('entry type');
      if (!isEntryType(type)) throw decodeError(`entry type ${type} is not an EntryType`);
      const term = logPosition(r.varint('entry term'), 'entry term');
      const len = r.varint('entry length');
      this.checkEntryLength(len, r.remaining);
      entries[i] = { type, term, index: this.index + i + 1, data: len === 0 ? EMPTY : r.bytes(len) };
    }
    const commit = logPosition(r.varint('commit'), 'commit');
    return this.appEntriesMessage(entries, commit, r.remaining);
  }

  private checkCount(n: number, remaining: number): void {
    if (n > this.limits.maxEntries) {
      throw new RaftwireError(ErrorCode.TOO_MANY_ENTRIES, `frame declares ${n} entries, over the cap of ${this.limits.maxEntries}`);
    }
    // Every entry takes at least 3 bytes: a count the body cannot hold is a lie.
    if (n * 3 > remaining) throw decodeError(`frame declares ${n} entries but holds ${remaining} bytes`);
  }

  private checkEntryLength(len: number, remaining: number): void {
    if (len > this.limits.maxEntryBytes) {
      throw new RaftwireError(ErrorCode.ENTRY_TOO_LARGE, `entry declares ${len} bytes, over the cap of ${this.limits.maxEntryBytes}`);
    }
    if (len > remaining) throw decodeError(`declared ${len} bytes but only ${remaining} remain`);
  }

  /** The decoded AppEntries message, once its commit is read with `trailing` body bytes after it. */
  private appEntriesMessage(entries: Entry[], commit: number, trailing: number): Message {
    if (trailing !== 0) throw decodeError(`${trailing} trailing bytes after AppEntries`);
    const n = entries.length;
    logPosition(this.index + n, 'entry index');
    const m: Message = {
      type: MessageType.MsgApp,
      to: this.peers.to,
      from: this.peers.from,
      term: this.term,
      logTerm: this.term,
      index: this.index,
      entries,
      commit,
      vote: 0n,
      snapshot: null,
      reject: false,
      rejectHint: 0,
      context: EMPTY,
      responses: EMPTY_RESPONSES,
    };
    this.index += n;
    return m;
  }

  private beginStreaming(len: number): void {
    this.streaming = true;
    this.left = len;
    this.field = Field.Count;
    this.vValue = 0;
    this.vScale = 1;
    this.vBytes = 0;
  }

  /** The AppEntries message whose body {@link streamAppEntries} just finished. */
  private finishAppEntries(): Message {
    const entries = this.entries;
    this.entries = EMPTY_ENTRIES;
    return this.appEntriesMessage(entries, this.vValue, this.left);
  }

  /** A view of `len` bytes of `chunk` at `at`, its buffer and offset read once per chunk (ByteReader's note). */
  private viewOf(chunk: Uint8Array, at: number, len: number): Uint8Array {
    if (chunk !== this.viewChunk) {
      this.viewChunk = chunk;
      this.viewBuffer = chunk.buffer;
      this.viewOffset = chunk.byteOffset;
    }
    return new Uint8Array(this.viewBuffer, this.viewOffset + at, len);
  }

  /**
   * Decodes the body being streamed from `chunk` at `at` on; returns where it stopped (the end of
   * the chunk, or the end of the body, with `streaming` cleared and the commit in `vValue`). The
   * same checks as {@link decodeAppEntries}, in the same order, each as soon as its bytes are in.
   */
  private streamAppEntries(chunk: Uint8Array, at: number): number {
    const r = this.reader;
    for (;;) {
      if (this.field === Field.Data) {
        const len = this.dataLength;
        if (at >= chunk.length) return at;
        if (this.straddleFilled === 0 && chunk.length - at >= len) {
          // The data begins with this chunk and lies wholly in it: a view after all.
          this.left -= len;
          this.addEntry(this.viewOf(chunk, at, len));
          at += len;
        } else {
          if (this.straddleFilled === 0) this.straddle = new Uint8Array(len);
          const s = this.straddle;
          const take = Math.min(len - this.straddleFilled, chunk.length - at);
          s.set(take === chunk.length && at === 0 ? chunk : chunk.subarray(at, at + take), this.straddleFilled);
          this.straddleFilled += take;
          this.left -= take;
          at += take;
          if (this.straddleFilled < len) return at;
          this.straddle = EMPTY;
          this.addEntry(s);
        }
      }
      if (this.field === Field.Type && this.vBytes === 0) {
        // Whole entry headers in this chunk: read in place, data as views of the chunk.
        const end = Math.min(chunk.length, at + this.left);
        r.reset(chunk, at, end);
        while (this.field === Field.Type && r.remaining >= ENTRY_HEADER_MAX) {
          const type = r.varint('entry type');
          if (!isEntryType(type)) throw decodeError(`entry type ${type} is not an EntryType`);
          this.entryTerm = logPosition(r.varint('entry term'), 'entry term');
          this.entryType = type;
          const len = r.varint('entry length');
          this.checkEntryLength(len, this.left - (r.pos - at));
          if (len > r.remaining) {
            this.beginStraddle(len);
            break;
          }
          this.addEntry(len === 0 ? EMPTY : r.bytes(len));
        }
        this.left -= r.pos - at;
        at = r.pos;
        r.reset(EMPTY, 0, 0);
        // (addEntry and beginStraddle moved the field on: not the one narrowed above)
        if ((this.field as number) === Field.Data) continue;
      }
      if (this.left === 0) {
        if (this.field === Field.Commit && this.vBytes === -1) {
          this.streaming = false;
          return at;
        }
        throw decodeError(`unexpected end of frame in ${FIELD_NAMES[this.field]}`);
      }
      if (this.field === Field.Commit && this.vBytes === -1) {
        // The commit is read and body bytes are left over: the same error as in place.
        this.streaming = false;
        return at;
      }
      if (at >= chunk.length) return at;
      // One byte of a field near a chunk boundary.
      const b = chunk[at++] as number;
      this.left--;
      this.vValue += (b & 0x7f) * this.vScale;
      if (b >= 0x80) {
        this.vScale *= 128;
        if (++this.vBytes === 8) throw decodeError(`${FIELD_NAMES[this.field]} exceeds 2^53-1`);
        continue;
      }
      const v = this.vValue;
      if (v > MAX_VARINT) throw decodeError(`${FIELD_NAMES[this.field]} ${v} exceeds 2^53-1`);
      this.vValue = 0;
      this.vScale = 1;
      this.vBytes = 0;
      at = this.fieldRead(v, chunk, at);
    }
  }

  /** A field's varint is complete; returns the position after anything it took from the chunk. */
  private fieldRead(v: number, chunk: Uint8Array, at: number): number {
    switch (this.field) {
      case Field.Count:
        this.checkCount(v, this.left);
        this.count = v;
        this.next = 0;
        this.entries = new Array(v);
        this.field = v === 0 ? Field.Commit : Field.Type;
        return at;
      case Field.Type:
        if (!isEntryType(v)) throw decodeError(`entry type ${v} is not an EntryType`);
        this.entryType = v;
        this.field = Field.Term;
        return at;
      case Field.Term:
        this.entryTerm = logPosition(v, 'entry term');
        this.field = Field.Length;
        return at;
      case Field.Length: {
        this.checkEntryLength(v, this.left);
        if (v === 0) {
          this.addEntry(EMPTY);
          return at;
        }
        if (chunk.length - at >= v) {
          this.left -= v;
          this.addEntry(this.viewOf(chunk, at, v));
          return at + v;
        }
        this.beginStraddle(v);
        return at;
      }
      default:
        // Commit: kept in vValue, marked read with vBytes = -1.
        this.vValue = logPosition(v, 'commit');
        this.vBytes = -1;
        return at;
    }
  }

  /** The data of `len` bytes does not lie in this chunk: it is read from the next ones. */
  private beginStraddle(len: number): void {
    this.dataLength = len;
    this.straddleFilled = 0;
    this.field = Field.Data;
  }

  private addEntry(data: Uint8Array): void {
    const i = this.next++;
    this.entries[i] = { type: this.entryType, term: this.entryTerm, index: this.index + i + 1, data };
    this.field = i + 1 < this.count ? Field.Type : Field.Commit;
  }

  private decodeFull(frame: Uint8Array): Message {
    const m = this.codec.decode(frame);
    checkEntryLimits(m, this.limits);
    this.term = m.term;
    this.index = lastIndex(m);
    return m;
  }
}
