import { ByteReader, ByteWriter, Slab, varintSize } from './bytes.js';
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
    if (this.failed) throw this.failed;
    const out: Message[] = [];
    try {
      let at = 0;
      while (at < chunk.length) {
        if (this.frameType === -1) {
          const t = chunk[at++] as number;
          if (t === MsgAppFrame.LinkHeartbeat) {
            out.push(LINK_HEARTBEAT);
            continue;
          }
          if (t !== MsgAppFrame.AppEntries && t !== MsgAppFrame.Message) {
            throw decodeError(`failed to parse type ${t} in msgapp stream`);
          }
          this.frameType = t;
        }
        const body = this.body;
        at = body.feed(chunk, at);
        const buf = body.frameBuf;
        if (buf === null) break;
        if (this.frameType === MsgAppFrame.AppEntries) {
          out.push(this.decodeAppEntries(this.reader.reset(buf, body.frameStart, body.frameEnd)));
        } else {
          out.push(this.decodeFull(body.frame as Uint8Array));
        }
        this.frameType = -1;
      }
    } catch (err) {
      this.failed = isRaftwireError(err) ? err : decodeError(`msgapp decode failed: ${String(err)}`, err);
      throw this.failed;
    } finally {
      // The reader must not keep the last chunk (or a copied frame of up to maxFrameBytes) alive.
      this.reader.reset(EMPTY, 0, 0);
    }
    return out;
  }

  /** Call at end of input: throws ERR_TRUNCATED if a frame is incomplete. */
  end(): void {
    if (this.failed) throw this.failed;
    if (!this.idle) throw new RaftwireError(ErrorCode.TRUNCATED, 'msgapp stream ended inside a frame');
  }

  private decodeAppEntries(r: ByteReader): Message {
    const n = r.varint('entry count');
    if (n > this.limits.maxEntries) {
      throw new RaftwireError(ErrorCode.TOO_MANY_ENTRIES, `frame declares ${n} entries, over the cap of ${this.limits.maxEntries}`);
    }
    // Every entry takes at least 3 bytes: a count the body cannot hold is a lie.
    if (n * 3 > r.remaining) throw decodeError(`frame declares ${n} entries but holds ${r.remaining} bytes`);
    const entries: Entry[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const type = r.varint('entry type');
      if (!isEntryType(type)) throw decodeError(`entry type ${type} is not an EntryType`);
      const term = logPosition(r.varint('entry term'), 'entry term');
      const len = r.varint('entry length');
      if (len > this.limits.maxEntryBytes) {
        throw new RaftwireError(ErrorCode.ENTRY_TOO_LARGE, `entry declares ${len} bytes, over the cap of ${this.limits.maxEntryBytes}`);
      }
      entries[i] = { type: type as EntryType, term, index: this.index + i + 1, data: r.bytes(len) };
    }
    const commit = logPosition(r.varint('commit'), 'commit');
    if (r.remaining !== 0) throw decodeError(`${r.remaining} trailing bytes after AppEntries`);
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
      responses: [],
    };
    this.index += n;
    return m;
  }

  private decodeFull(frame: Uint8Array): Message {
    const m = this.codec.decode(frame);
    checkEntryLimits(m, this.limits);
    this.term = m.term;
    this.index = lastIndex(m);
    return m;
  }
}
