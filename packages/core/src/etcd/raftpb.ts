import { Slab, plainBytes } from '../bytes.js';
import { ErrorCode, RaftwireError, decodeError, isRaftwireError } from '../errors.js';
import { type Id, MAX_ID } from '../ids.js';
import type { MessageCodec } from '../message-codec.js';
import {
  type ConfState,
  type Entry,
  type EntryType,
  type Message,
  type MessageType,
  type Snapshot,
  createMessage,
  logPosition,
  messageTypeName,
} from '../message.js';
import { PbReader, PbWriter, idVarintSize, lenFieldSize, uvarintSize } from './protobuf.js';

/**
 * etcd 3.4's raftpb (proto2, marshalled by gogoproto) for the native message
 * model. The encoder writes exactly what etcd writes: every non-nullable
 * field even when zero, in field-number order, `snapshot` always (an empty
 * one for `snapshot: null`), and the nullable byte fields (`Entry.Data`,
 * `Snapshot.data`, `Message.context`) only when non-empty, as etcd does for a
 * nil slice. The decoder accepts any valid protobuf of the schema (fields in
 * any order, absent fields zero, packed or unpacked ID lists, unknown fields
 * skipped) and gives `snapshot: null` for an all-zero snapshot.
 *
 * Only MessageType 0–18 exist in etcd 3.4, and its Message has neither `vote`
 * nor `responses`: encoding a message that needs them is ERR_INVALID_MESSAGE,
 * never a silent loss. Decoded byte fields are views of the input.
 */

/** The highest MessageType etcd 3.4 knows (MsgPreVoteResp). */
export const ETCD_MAX_MESSAGE_TYPE = 18;

/** raftpb.HardState. */
export interface EtcdHardState {
  term: number;
  vote: Id;
  commit: number;
}

// Tags (field number · 8 + wire type) of the schema.
const T = {
  entryType: 0x08,
  entryTerm: 0x10,
  entryIndex: 0x18,
  entryData: 0x22,
  csVoters: 0x08,
  csVotersPacked: 0x0a,
  csLearners: 0x10,
  csLearnersPacked: 0x12,
  csVotersOutgoing: 0x18,
  csVotersOutgoingPacked: 0x1a,
  csLearnersNext: 0x20,
  csLearnersNextPacked: 0x22,
  csAutoLeave: 0x28,
  mdConfState: 0x0a,
  mdIndex: 0x10,
  mdTerm: 0x18,
  snapData: 0x0a,
  snapMetadata: 0x12,
  msgType: 0x08,
  msgTo: 0x10,
  msgFrom: 0x18,
  msgTerm: 0x20,
  msgLogTerm: 0x28,
  msgIndex: 0x30,
  msgEntries: 0x3a,
  msgCommit: 0x40,
  msgSnapshot: 0x4a,
  msgReject: 0x50,
  msgRejectHint: 0x58,
  msgContext: 0x62,
  hsTerm: 0x08,
  hsVote: 0x10,
  hsCommit: 0x18,
} as const;

/** `snapshot` field of a message without one: tag, length 10, empty metadata with an empty ConfState. */
const EMPTY_SNAPSHOT_FIELD = Uint8Array.of(0x4a, 0x0a, 0x12, 0x08, 0x0a, 0x02, 0x28, 0x00, 0x10, 0x00, 0x18, 0x00);

const EMPTY: Uint8Array = new Uint8Array(0);
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

// ---------------------------------------------------------------- sizing (validates)

function invalid(message: string): RaftwireError {
  return new RaftwireError(ErrorCode.INVALID_MESSAGE, message);
}

/** Size of a varint field holding a term, index or enum; throws ERR_INVALID_MESSAGE for anything but a safe non-negative integer. */
function numField(n: unknown, field: string): number {
  if (typeof n !== 'number' || !(n >= 0 && n <= MAX_SAFE) || Math.floor(n) !== n) {
    throw invalid(`${field} must be a safe non-negative integer, got ${String(n)}`);
  }
  return 1 + uvarintSize(n);
}

function idField(id: unknown, field: string): number {
  if (typeof id !== 'bigint' || id < 0n || id > MAX_ID) throw invalid(`${field} must be a 64-bit bigint ID`);
  return 1 + idVarintSize(id);
}

/** Size of a nullable bytes field: nothing when empty. */
function bytesField(b: unknown, field: string): number {
  if (!(b instanceof Uint8Array)) throw invalid(`${field} must be a Uint8Array`);
  return b.length === 0 ? 0 : 1 + lenFieldSize(b.length);
}

function idsSize(v: unknown, field: string): number {
  if (!Array.isArray(v)) throw invalid(`${field} must be an array of IDs`);
  let n = 0;
  for (let i = 0; i < v.length; i++) n += idField(v[i], field);
  return n;
}

/** Size of an Entry's encoding (not counting its tag and length). Validates it. */
export function entrySize(e: Entry, field = 'entry'): number {
  if (typeof e !== 'object' || e === null) throw invalid(`${field} must be an Entry`);
  if (e.type !== 0 && e.type !== 1 && e.type !== 2) throw invalid(`${field}.type ${String(e.type)} is not an EntryType`);
  return (
    numField(e.type, field) + numField(e.term, `${field}.term`) + numField(e.index, `${field}.index`) + bytesField(e.data, `${field}.data`)
  );
}

export function confStateSize(cs: ConfState): number {
  if (typeof cs !== 'object' || cs === null) throw invalid('confState is missing');
  if (typeof cs.autoLeave !== 'boolean') throw invalid('confState.autoLeave must be a boolean');
  return (
    idsSize(cs.voters, 'confState.voters') +
    idsSize(cs.learners, 'confState.learners') +
    idsSize(cs.votersOutgoing, 'confState.votersOutgoing') +
    idsSize(cs.learnersNext, 'confState.learnersNext') +
    2
  );
}

function metadataSize(s: Snapshot): number {
  const md = s.metadata;
  if (typeof md !== 'object' || md === null) throw invalid('snapshot.metadata is missing');
  return (
    1 +
    lenFieldSize(confStateSize(md.confState)) +
    numField(md.index, 'snapshot.metadata.index') +
    numField(md.term, 'snapshot.metadata.term')
  );
}

export function snapshotSize(s: Snapshot): number {
  if (typeof s !== 'object' || s === null) throw invalid('snapshot must be a Snapshot or null');
  return bytesField(s.data, 'snapshot.data') + 1 + lenFieldSize(metadataSize(s));
}

/**
 * Size of a message's encoding. Validates every field first, so a bad
 * message never leaves half an encoding behind.
 */
export function messageSize(m: Message): number {
  if (typeof m !== 'object' || m === null) throw invalid('message must be an object');
  const t = m.type;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t > ETCD_MAX_MESSAGE_TYPE) {
    throw invalid(`${messageTypeName(t)} has no etcd 3.4 encoding (raftpb knows MessageType 0-${ETCD_MAX_MESSAGE_TYPE})`);
  }
  if (m.vote !== 0n) throw invalid(`vote ${String(m.vote)} has no field in etcd 3.4's raftpb.Message`);
  if (!Array.isArray(m.responses)) throw invalid('responses must be an array');
  if (m.responses.length !== 0) throw invalid("responses have no field in etcd 3.4's raftpb.Message");
  if (typeof m.reject !== 'boolean') throw invalid('reject must be a boolean');
  let n =
    1 +
    uvarintSize(t) +
    idField(m.to, 'to') +
    idField(m.from, 'from') +
    numField(m.term, 'term') +
    numField(m.logTerm, 'logTerm') +
    numField(m.index, 'index') +
    numField(m.commit, 'commit') +
    2 +
    numField(m.rejectHint, 'rejectHint') +
    bytesField(m.context, 'context');
  const entries = m.entries;
  if (!Array.isArray(entries)) throw invalid('entries must be an array');
  for (let i = 0; i < entries.length; i++) n += 1 + lenFieldSize(entrySize(entries[i] as Entry, 'entries[]'));
  n += m.snapshot === null ? EMPTY_SNAPSHOT_FIELD.length : 1 + lenFieldSize(snapshotSize(m.snapshot));
  return n;
}

// ---------------------------------------------------------------- writing (validated values)

/** Writes an Entry without its tag and length; `e` must have been sized by {@link entrySize}. */
export function writeEntry(w: PbWriter, e: Entry): void {
  w.byte(T.entryType);
  w.uint(e.type);
  w.byte(T.entryTerm);
  w.uint(e.term);
  w.byte(T.entryIndex);
  w.uint(e.index);
  if (e.data.length !== 0) {
    w.byte(T.entryData);
    w.lenBytes(e.data);
  }
}

function writeIds(w: PbWriter, tag: number, ids: readonly Id[]): void {
  for (let i = 0; i < ids.length; i++) {
    w.byte(tag);
    w.id(ids[i] as Id);
  }
}

export function writeConfState(w: PbWriter, cs: ConfState): void {
  writeIds(w, T.csVoters, cs.voters);
  writeIds(w, T.csLearners, cs.learners);
  writeIds(w, T.csVotersOutgoing, cs.votersOutgoing);
  writeIds(w, T.csLearnersNext, cs.learnersNext);
  w.byte(T.csAutoLeave);
  w.bool(cs.autoLeave);
}

export function writeSnapshot(w: PbWriter, s: Snapshot): void {
  if (s.data.length !== 0) {
    w.byte(T.snapData);
    w.lenBytes(s.data);
  }
  const md = s.metadata;
  w.byte(T.snapMetadata);
  w.uint(metadataSize(s));
  w.byte(T.mdConfState);
  w.uint(confStateSize(md.confState));
  writeConfState(w, md.confState);
  w.byte(T.mdIndex);
  w.uint(md.index);
  w.byte(T.mdTerm);
  w.uint(md.term);
}

/** Writes a message sized by {@link messageSize}. */
export function writeMessage(w: PbWriter, m: Message): void {
  w.byte(T.msgType);
  w.uint(m.type);
  w.byte(T.msgTo);
  w.id(m.to);
  w.byte(T.msgFrom);
  w.id(m.from);
  w.byte(T.msgTerm);
  w.uint(m.term);
  w.byte(T.msgLogTerm);
  w.uint(m.logTerm);
  w.byte(T.msgIndex);
  w.uint(m.index);
  const entries = m.entries;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as Entry;
    w.byte(T.msgEntries);
    w.uint(entrySize(e));
    writeEntry(w, e);
  }
  w.byte(T.msgCommit);
  w.uint(m.commit);
  if (m.snapshot === null) {
    w.raw(EMPTY_SNAPSHOT_FIELD);
  } else {
    w.byte(T.msgSnapshot);
    w.uint(snapshotSize(m.snapshot));
    writeSnapshot(w, m.snapshot);
  }
  w.byte(T.msgReject);
  w.bool(m.reject);
  w.byte(T.msgRejectHint);
  w.uint(m.rejectHint);
  if (m.context.length !== 0) {
    w.byte(T.msgContext);
    w.lenBytes(m.context);
  }
}

// ---------------------------------------------------------------- reading

/** Reads an Entry from `r.pos` to `end`. */
export function readEntry(r: PbReader, end: number): Entry {
  const outer = r.end;
  r.end = end;
  let type = 0;
  let term = 0;
  let index = 0;
  let data = EMPTY;
  while (r.pos < end) {
    const tag = r.tag('entry');
    switch (tag) {
      case T.entryType:
        type = r.uint('entry type');
        break;
      case T.entryTerm:
        term = logPosition(r.uint('entry term'), 'entry term');
        break;
      case T.entryIndex:
        index = logPosition(r.uint('entry index'), 'entry index');
        break;
      case T.entryData:
        data = r.bytes('entry data');
        break;
      default:
        r.skip(tag, 'entry');
    }
  }
  r.end = outer;
  if (type > 2) throw decodeError(`entry type ${type} is not an EntryType`);
  return { type: type as EntryType, term, index, data };
}

/** Appends a varint ID, or a packed run of them, to `list` (created on first use). */
function readIds(r: PbReader, list: Id[] | null, packed: boolean, what: string): Id[] {
  const out = list ?? [];
  if (!packed) {
    out.push(r.id(what));
    return out;
  }
  const end = r.lenEnd(what);
  const outer = r.end;
  r.end = end;
  while (r.pos < end) out.push(r.id(what));
  r.end = outer;
  return out;
}

export function readConfState(r: PbReader, end: number): ConfState {
  const outer = r.end;
  r.end = end;
  let voters: Id[] | null = null;
  let learners: Id[] | null = null;
  let votersOutgoing: Id[] | null = null;
  let learnersNext: Id[] | null = null;
  let autoLeave = false;
  while (r.pos < end) {
    const tag = r.tag('confState');
    switch (tag) {
      case T.csVoters:
      case T.csVotersPacked:
        voters = readIds(r, voters, tag === T.csVotersPacked, 'confState.voters');
        break;
      case T.csLearners:
      case T.csLearnersPacked:
        learners = readIds(r, learners, tag === T.csLearnersPacked, 'confState.learners');
        break;
      case T.csVotersOutgoing:
      case T.csVotersOutgoingPacked:
        votersOutgoing = readIds(r, votersOutgoing, tag === T.csVotersOutgoingPacked, 'confState.votersOutgoing');
        break;
      case T.csLearnersNext:
      case T.csLearnersNextPacked:
        learnersNext = readIds(r, learnersNext, tag === T.csLearnersNextPacked, 'confState.learnersNext');
        break;
      case T.csAutoLeave:
        autoLeave = r.bool('confState.autoLeave');
        break;
      default:
        r.skip(tag, 'confState');
    }
  }
  r.end = outer;
  return {
    voters: voters ?? [],
    learners: learners ?? [],
    votersOutgoing: votersOutgoing ?? [],
    learnersNext: learnersNext ?? [],
    autoLeave,
  };
}

const EMPTY_CONF_STATE: Readonly<ConfState> = Object.freeze({
  voters: [],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
});

function readMetadata(r: PbReader, end: number, into: { confState: ConfState; index: number; term: number }): void {
  const outer = r.end;
  r.end = end;
  while (r.pos < end) {
    const tag = r.tag('snapshot.metadata');
    switch (tag) {
      case T.mdConfState:
        into.confState = readConfState(r, r.lenEnd('confState'));
        break;
      case T.mdIndex:
        into.index = logPosition(r.uint('snapshot.metadata.index'), 'snapshot.metadata.index');
        break;
      case T.mdTerm:
        into.term = logPosition(r.uint('snapshot.metadata.term'), 'snapshot.metadata.term');
        break;
      default:
        r.skip(tag, 'snapshot.metadata');
    }
  }
  r.end = outer;
}

export function readSnapshot(r: PbReader, end: number): Snapshot {
  const outer = r.end;
  r.end = end;
  let data = EMPTY;
  const metadata = { confState: EMPTY_CONF_STATE as ConfState, index: 0, term: 0 };
  while (r.pos < end) {
    const tag = r.tag('snapshot');
    switch (tag) {
      case T.snapData:
        data = r.bytes('snapshot data');
        break;
      case T.snapMetadata:
        readMetadata(r, r.lenEnd('snapshot.metadata'), metadata);
        break;
      default:
        r.skip(tag, 'snapshot');
    }
  }
  r.end = outer;
  if (metadata.confState === EMPTY_CONF_STATE)
    metadata.confState = { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
  return { data, metadata };
}

function isEmptySnapshot(s: Snapshot): boolean {
  const md = s.metadata;
  const cs = md.confState;
  return (
    s.data.length === 0 &&
    md.index === 0 &&
    md.term === 0 &&
    cs.voters.length === 0 &&
    cs.learners.length === 0 &&
    cs.votersOutgoing.length === 0 &&
    cs.learnersNext.length === 0 &&
    !cs.autoLeave
  );
}

/** Reads a message from `r.pos` to `r.end`. */
export function readMessage(r: PbReader): Message {
  const m = createMessage({ type: 0 });
  let type = 0;
  while (r.pos < r.end) {
    const tag = r.tag('message');
    switch (tag) {
      case T.msgType:
        type = r.uint('type');
        break;
      case T.msgTo:
        m.to = r.id('to');
        break;
      case T.msgFrom:
        m.from = r.id('from');
        break;
      case T.msgTerm:
        m.term = logPosition(r.uint('term'), 'term');
        break;
      case T.msgLogTerm:
        m.logTerm = logPosition(r.uint('logTerm'), 'logTerm');
        break;
      case T.msgIndex:
        m.index = logPosition(r.uint('index'), 'index');
        break;
      case T.msgEntries:
        m.entries.push(readEntry(r, r.lenEnd('entry')));
        break;
      case T.msgCommit:
        m.commit = logPosition(r.uint('commit'), 'commit');
        break;
      case T.msgSnapshot: {
        const s = readSnapshot(r, r.lenEnd('snapshot'));
        m.snapshot = isEmptySnapshot(s) ? null : s;
        break;
      }
      case T.msgReject:
        m.reject = r.bool('reject');
        break;
      case T.msgRejectHint:
        m.rejectHint = logPosition(r.uint('rejectHint'), 'rejectHint');
        break;
      case T.msgContext:
        m.context = r.bytes('context');
        break;
      default:
        r.skip(tag, 'message');
    }
  }
  if (type > ETCD_MAX_MESSAGE_TYPE) throw decodeError(`unknown message type ${type}`);
  m.type = type as MessageType;
  return m;
}

/** Runs a decode, turning anything unexpected into ERR_DECODE. */
export function decodeWith<T>(input: Uint8Array, what: string, read: (r: PbReader) => T): T {
  if (!(input instanceof Uint8Array)) throw decodeError(`${what} input must be a Uint8Array`);
  try {
    return read(new PbReader(plainBytes(input)));
  } catch (err) {
    if (isRaftwireError(err)) throw err;
    throw decodeError(`malformed ${what}: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

// ---------------------------------------------------------------- the codec and the pure functions

/**
 * The etcd 3.4 message codec: raftpb protobuf exactly as etcd's gogoproto
 * code marshals it. Plugs into the same {@link MessageCodec} seam as the
 * native CBOR codec; throws ERR_INVALID_MESSAGE on encode, ERR_DECODE on decode.
 */
export class EtcdMessageCodec implements MessageCodec {
  readonly name = 'etcd-raftpb';
  private readonly slab = new Slab();

  encode(m: Message): Uint8Array {
    const size = messageSize(m);
    const w = new PbWriter(this.slab.alloc(size));
    writeMessage(w, m);
    return w.finish();
  }

  decode(input: Uint8Array): Message {
    return decodeWith(input, 'raft message', readMessage);
  }
}

export const etcdMessageCodec: MessageCodec = new EtcdMessageCodec();

/** raftpb.Entry bytes, as etcd stores and sends one entry (msgappv2 AppEntries, WAL). */
export function encodeEtcdEntry(e: Entry): Uint8Array {
  const w = new PbWriter(new Uint8Array(entrySize(e)));
  writeEntry(w, e);
  return w.finish();
}

export function decodeEtcdEntry(bytes: Uint8Array): Entry {
  return decodeWith(bytes, 'entry', (r) => readEntry(r, r.end));
}

/** raftpb.Snapshot bytes (data and metadata), as in a MsgSnap or etcd's snap files. */
export function encodeEtcdSnapshot(s: Snapshot): Uint8Array {
  const w = new PbWriter(new Uint8Array(snapshotSize(s)));
  writeSnapshot(w, s);
  return w.finish();
}

/** Decodes raftpb.Snapshot bytes; always a Snapshot (an empty one for empty input). */
export function decodeEtcdSnapshot(bytes: Uint8Array): Snapshot {
  return decodeWith(bytes, 'snapshot', (r) => readSnapshot(r, r.end));
}

/** raftpb.ConfState bytes. */
export function encodeEtcdConfState(cs: ConfState): Uint8Array {
  const w = new PbWriter(new Uint8Array(confStateSize(cs)));
  writeConfState(w, cs);
  return w.finish();
}

export function decodeEtcdConfState(bytes: Uint8Array): ConfState {
  return decodeWith(bytes, 'confState', (r) => readConfState(r, r.end));
}

/** raftpb.HardState bytes: term, vote, commit, all three always written. */
export function encodeEtcdHardState(hs: EtcdHardState): Uint8Array {
  if (typeof hs !== 'object' || hs === null) throw invalid('hardState must be an object');
  const w = new PbWriter(
    new Uint8Array(numField(hs.term, 'hardState.term') + idField(hs.vote, 'hardState.vote') + numField(hs.commit, 'hardState.commit')),
  );
  w.byte(T.hsTerm);
  w.uint(hs.term);
  w.byte(T.hsVote);
  w.id(hs.vote);
  w.byte(T.hsCommit);
  w.uint(hs.commit);
  return w.finish();
}

export function decodeEtcdHardState(bytes: Uint8Array): EtcdHardState {
  return decodeWith(bytes, 'hardState', (r) => {
    const hs: EtcdHardState = { term: 0, vote: 0n, commit: 0 };
    while (r.pos < r.end) {
      const tag = r.tag('hardState');
      if (tag === T.hsTerm) hs.term = r.uint('hardState.term');
      else if (tag === T.hsVote) hs.vote = r.id('hardState.vote');
      else if (tag === T.hsCommit) hs.commit = r.uint('hardState.commit');
      else r.skip(tag, 'hardState');
    }
    return hs;
  });
}
