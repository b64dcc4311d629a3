import { type ByteWriter, Slab, plainBytes } from '../bytes.js';
import { ErrorCode, RaftwireError, decodeError, isRaftwireError } from '../errors.js';
import {
  type Entry,
  LINK_HEARTBEAT,
  type Message,
  MessageType,
  createMessage,
  isLinkHeartbeat,
  logPosition,
  messagesEqual,
} from '../message.js';
import { MsgAppFrame, type MsgAppLimits, type MsgAppPeers, checkEntryLimits, lastIndex } from '../msgapp-codec.js';
import { BodyReader, ETCD_MAX_FRAME_BYTES, U64LengthPrefixReader, U64Reader, overCap } from './framing.js';
import { PbReader, PbWriter } from './protobuf.js';
import { entrySize, messageSize, readEntry, readMessage, writeEntry, writeMessage } from './raftpb.js';

/**
 * etcd's msgappv2 stream codec, byte for byte:
 *
 * | byte | frame |
 * |------|-------|
 * | `0x00` | link heartbeat |
 * | `0x01` | AppEntries: u64 BE count · count × (u64 BE size · raftpb Entry, carrying its own Index) · u64 BE commit |
 * | `0x02` | u64 BE size · raftpb Message |
 *
 * The state rules are etcd's: AppEntries is used when `index == enc.index &&
 * logTerm == enc.term && term == logTerm`; after it both sides add the entry
 * count to their index; after a full frame both take the message's term and
 * its last entry's index (or its index). Raft's MsgApps on a replicating
 * stream always pass the further checks this encoder adds so that a decoded
 * message is the input field for field (type MsgApp, From/To of the
 * connection, no other field set); anything else goes as a full frame, which
 * etcd reads just the same. State is per connection and starts at zero.
 *
 * AppEntries has no length of its own, so the decoder bounds what it holds
 * by counting: the entry count against `maxEntries`, each entry's size
 * against `maxEntryBytes`, and the frame's running total against `maxFrameBytes`,
 * each checked before the bytes it declares are allocated.
 */

export const DEFAULT_ETCD_MSGAPP_LIMITS: Required<MsgAppLimits> = {
  maxFrameBytes: ETCD_MAX_FRAME_BYTES,
  maxEntries: 1 << 20,
  maxEntryBytes: ETCD_MAX_FRAME_BYTES,
};

const HEARTBEAT_FRAME = Uint8Array.of(MsgAppFrame.LinkHeartbeat);
const EMPTY: Uint8Array = new Uint8Array(0);

/** Only the exact link heartbeat becomes `0x00`; a look-alike with other fields set keeps them in a full frame. */
function isExactLinkHeartbeat(m: Message): boolean {
  return m === LINK_HEARTBEAT || (isLinkHeartbeat(m) && messagesEqual(m, LINK_HEARTBEAT));
}

export class EtcdMsgAppEncoder {
  private term = 0;
  private index = 0;
  private readonly slab = new Slab();

  constructor(private readonly peers: MsgAppPeers) {}

  private fitsAppEntries(m: Message): boolean {
    return (
      m.type === MessageType.MsgApp &&
      m.index === this.index &&
      m.logTerm === this.term &&
      m.term === m.logTerm &&
      m.from === this.peers.from &&
      m.to === this.peers.to &&
      m.vote === 0n &&
      m.snapshot === null &&
      m.reject === false &&
      m.rejectHint === 0 &&
      m.context instanceof Uint8Array &&
      m.context.length === 0 &&
      Array.isArray(m.responses) &&
      m.responses.length === 0 &&
      Array.isArray(m.entries)
    );
  }

  /**
   * Encodes one message as a complete frame. Throws ERR_INVALID_MESSAGE for a
   * message etcd 3.4 cannot carry, and then writes nothing and keeps its state.
   */
  encode(m: Message): Uint8Array {
    if (isExactLinkHeartbeat(m)) return HEARTBEAT_FRAME;
    if (this.fitsAppEntries(m)) {
      const size = appEntriesSize(m);
      const w = new PbWriter(this.slab.alloc(size));
      this.writeAppEntries(w, m);
      return w.finish();
    }
    const size = messageSize(m);
    const w = new PbWriter(this.slab.alloc(9 + size));
    w.byte(MsgAppFrame.Message);
    w.u64(size);
    writeMessage(w, m);
    this.term = m.term;
    this.index = lastIndex(m);
    return w.finish();
  }

  /** Appends the same frame as {@link encode} to `out` (a stream writer's batch); writes nothing if it throws. */
  encodeTo(m: Message, out: ByteWriter): void {
    out.bytes(this.encode(m));
  }

  private writeAppEntries(w: PbWriter, m: Message): void {
    const entries = m.entries;
    w.byte(MsgAppFrame.AppEntries);
    w.u64(entries.length);
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i] as Entry;
      w.u64(entrySize(e));
      writeEntry(w, e);
    }
    w.u64(m.commit);
    this.index += entries.length;
  }
}

/** Frame size of an AppEntries; validates the entries and the commit. */
function appEntriesSize(m: Message): number {
  if (!Number.isSafeInteger(m.commit) || m.commit < 0) {
    throw new RaftwireError(ErrorCode.INVALID_MESSAGE, `commit must be a safe non-negative integer, got ${String(m.commit)}`);
  }
  let size = 1 + 8 + 8;
  for (const e of m.entries) size += 8 + entrySize(e, 'entries[]');
  return size;
}

const Phase = { Type: 0, Count: 1, EntrySize: 2, EntryBody: 3, Commit: 4, Message: 5 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

export class EtcdMsgAppDecoder {
  private term = 0;
  private index = 0;
  private readonly limits: Required<MsgAppLimits>;
  private phase: Phase = Phase.Type;
  private readonly u64 = new U64Reader();
  private readonly entryBody = new BodyReader();
  private readonly message: U64LengthPrefixReader;
  private readonly pb = new PbReader(EMPTY);
  /** AppEntries being read: entries so far, how many are left, bytes the frame has declared so far. */
  private entries: Entry[] = [];
  private left = 0;
  private frameBytes = 0;
  private failed: RaftwireError | null = null;

  constructor(
    private readonly peers: MsgAppPeers,
    limits: MsgAppLimits = {},
  ) {
    this.limits = { ...DEFAULT_ETCD_MSGAPP_LIMITS, ...limits };
    this.message = new U64LengthPrefixReader(this.limits.maxFrameBytes, 'msgappv2 message');
  }

  get idle(): boolean {
    return this.phase === Phase.Type;
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
      chunk = plainBytes(chunk);
      let at = 0;
      while (at < chunk.length) {
        switch (this.phase) {
          case Phase.Type: {
            const t = chunk[at++] as number;
            if (t === MsgAppFrame.LinkHeartbeat) out.push(LINK_HEARTBEAT);
            else if (t === MsgAppFrame.AppEntries) this.phase = Phase.Count;
            else if (t === MsgAppFrame.Message) this.phase = Phase.Message;
            else throw decodeError(`failed to parse type ${t} in msgappv2 stream`);
            break;
          }
          case Phase.Count: {
            at = this.u64.feed(chunk, at);
            if (!this.u64.done) break;
            const n = this.u64.value;
            if (n < 0 || n > this.limits.maxEntries) {
              throw new RaftwireError(
                ErrorCode.TOO_MANY_ENTRIES,
                `frame declares ${n < 0 ? this.u64.text : n} entries, over the cap of ${this.limits.maxEntries}`,
              );
            }
            this.entries = [];
            this.left = n;
            this.frameBytes = 17;
            this.phase = n === 0 ? Phase.Commit : Phase.EntrySize;
            break;
          }
          case Phase.EntrySize: {
            at = this.u64.feed(chunk, at);
            if (!this.u64.done) break;
            const len = this.u64.value;
            if (len < 0 || len > this.limits.maxEntryBytes)
              throw overCap(this.u64, this.limits.maxEntryBytes, 'entry', ErrorCode.ENTRY_TOO_LARGE);
            this.frameBytes += 8 + len;
            if (this.frameBytes > this.limits.maxFrameBytes) {
              throw new RaftwireError(
                ErrorCode.FRAME_TOO_LARGE,
                `AppEntries frame declares over ${this.frameBytes - len} bytes, over the cap of ${this.limits.maxFrameBytes}`,
              );
            }
            at = this.entryBody.start(len, chunk, at);
            this.phase = Phase.EntryBody;
            this.takeEntry();
            break;
          }
          case Phase.EntryBody:
            at = this.entryBody.feed(chunk, at);
            this.takeEntry();
            break;
          case Phase.Commit: {
            at = this.u64.feed(chunk, at);
            if (!this.u64.done) break;
            out.push(this.finishAppEntries(this.u64.value));
            break;
          }
          case Phase.Message: {
            at = this.message.feed(chunk, at);
            const buf = this.message.frameBuf;
            if (buf === null) break;
            out.push(this.decodeFull(buf, this.message.frameStart, this.message.frameEnd));
            this.phase = Phase.Type;
            break;
          }
        }
      }
    } catch (err) {
      this.failed = isRaftwireError(err) ? err : decodeError(`msgappv2 decode failed: ${String(err)}`, err);
      throw this.failed;
    }
    return out;
  }

  /** Call at end of input: throws ERR_TRUNCATED if a frame is incomplete. */
  end(): void {
    if (this.failed) throw this.failed;
    if (!this.idle) throw new RaftwireError(ErrorCode.TRUNCATED, 'msgappv2 stream ended inside a frame');
  }

  /** Decodes the entry the body reader completed, if it did. */
  private takeEntry(): void {
    const body = this.entryBody;
    const buf = body.frameBuf;
    if (buf === null) return;
    const r = this.pb;
    r.buf = buf;
    r.pos = body.frameStart;
    r.end = body.frameEnd;
    this.entries.push(readEntry(r, body.frameEnd));
    r.buf = EMPTY;
    this.left--;
    this.phase = this.left === 0 ? Phase.Commit : Phase.EntrySize;
  }

  private finishAppEntries(commit: number): Message {
    if (commit < 0) throw decodeError(`commit ${this.u64.text} exceeds 2^53-1`);
    logPosition(commit, 'commit');
    const n = this.entries.length;
    logPosition(this.index + n, 'entry index');
    const m = createMessage({
      type: MessageType.MsgApp,
      to: this.peers.to,
      from: this.peers.from,
      term: this.term,
      logTerm: this.term,
      index: this.index,
      entries: this.entries,
      commit,
    });
    this.entries = [];
    this.index += n;
    this.phase = Phase.Type;
    return m;
  }

  private decodeFull(buf: Uint8Array, start: number, end: number): Message {
    const m = readMessage(new PbReader(buf, start, end));
    checkEntryLimits(m, this.limits);
    this.term = m.term;
    this.index = lastIndex(m);
    return m;
  }
}
