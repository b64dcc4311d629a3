import type { Encoder } from 'cbor-x';
import { plainBytes } from './bytes.js';
import { createCborEncoder, createScratchCborDecoder } from './cbor-options.js';
import { CborWriter } from './cbor-writer.js';
import { ErrorCode, RaftwireError, decodeError, isRaftwireError } from './errors.js';
import { type Id, MAX_ID } from './ids.js';
import {
  type ConfState,
  type Entry,
  type EntryType,
  type Message,
  type MessageType,
  type Snapshot,
  isMessageType,
  logPosition,
} from './message.js';

/**
 * Encodes and decodes one raft message. The native profile is CBOR; an etcd
 * profile (protobuf raftpb) plugs into the same seam.
 */
export interface MessageCodec {
  readonly name: string;
  encode(m: Message): Uint8Array;
  /** Throws only RaftwireError (code ERR_DECODE). */
  decode(bytes: Uint8Array): Message;
}

/** Nested `responses` deeper than this are rejected (raft uses one level). */
export const MAX_RESPONSE_DEPTH = 2;

/**
 * Frames up to this size are decoded from a reused scratch buffer (see
 * createScratchCborDecoder); larger ones in place, where the fixed cost of a
 * fresh source is small next to copying every byte string out of the scratch.
 */
const SCRATCH_BYTES = 2048;

/** cbor-x's decode takes an `end` offset that its typings leave out. */
type DecodeTo = (this: Encoder, source: Uint8Array, end: number) => unknown;

const EMPTY = new Uint8Array(0);

// ---------------------------------------------------------------- encoding

function invalid(message: string): RaftwireError {
  return new RaftwireError(ErrorCode.INVALID_MESSAGE, message);
}

function checkNum(n: unknown, field: string): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw invalid(`${field} must be a safe non-negative integer, got ${String(n)}`);
  }
  return n;
}

function checkBytes(b: unknown, field: string): Uint8Array {
  if (!(b instanceof Uint8Array)) throw invalid(`${field} must be a Uint8Array`);
  return b;
}

function checkId(id: unknown, field: string): bigint {
  if (typeof id !== 'bigint' || id < 0n || id > MAX_ID) throw invalid(`${field} must be a 64-bit bigint ID`);
  return id;
}

function checkIds(v: unknown, field: string): bigint[] {
  if (!Array.isArray(v)) throw invalid(`${field} must be an array of IDs`);
  for (let i = 0; i < v.length; i++) checkId(v[i], `${field}[${i}]`);
  return v as bigint[];
}

/**
 * Validates a message (recursively) before a single byte is written, so a
 * bad message never leaves half an encoding behind.
 */
function validate(m: Message, depth: number): void {
  if (typeof m !== 'object' || m === null) throw invalid('message must be an object');
  if (!isMessageType(m.type)) throw invalid(`type ${String(m.type)} is not a MessageType`);
  if (depth > MAX_RESPONSE_DEPTH) throw invalid(`responses nested deeper than ${MAX_RESPONSE_DEPTH}`);
  checkId(m.to, 'to');
  checkId(m.from, 'from');
  checkId(m.vote, 'vote');
  checkNum(m.term, 'term');
  checkNum(m.logTerm, 'logTerm');
  checkNum(m.index, 'index');
  checkNum(m.commit, 'commit');
  checkNum(m.rejectHint, 'rejectHint');
  checkBytes(m.context, 'context');
  if (typeof m.reject !== 'boolean') throw invalid('reject must be a boolean');
  const entries = m.entries;
  if (!Array.isArray(entries)) throw invalid('entries must be an array');
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as Entry;
    if (typeof e !== 'object' || e === null) throw invalid(`entries[${i}] must be an Entry`);
    if (e.type !== 0 && e.type !== 1 && e.type !== 2) throw invalid(`entries[${i}].type ${String(e.type)} is not an EntryType`);
    checkNum(e.term, `entries[${i}].term`);
    checkNum(e.index, `entries[${i}].index`);
    checkBytes(e.data, `entries[${i}].data`);
  }
  const s = m.snapshot;
  if (s !== null) {
    if (typeof s !== 'object') throw invalid('snapshot must be a Snapshot or null');
    const md = s.metadata;
    const cs = md?.confState;
    if (typeof cs !== 'object' || cs === null) throw invalid('snapshot.metadata.confState is missing');
    checkBytes(s.data, 'snapshot.data');
    checkNum(md.index, 'snapshot.metadata.index');
    checkNum(md.term, 'snapshot.metadata.term');
    checkIds(cs.voters, 'confState.voters');
    checkIds(cs.learners, 'confState.learners');
    checkIds(cs.votersOutgoing, 'confState.votersOutgoing');
    checkIds(cs.learnersNext, 'confState.learnersNext');
    if (typeof cs.autoLeave !== 'boolean') throw invalid('confState.autoLeave must be a boolean');
  }
  const responses = m.responses;
  if (!Array.isArray(responses)) throw invalid('responses must be an array');
  for (const r of responses) validate(r, depth + 1);
}

function writeIds(w: CborWriter, ids: readonly bigint[]): void {
  w.array(ids.length);
  for (const id of ids) w.bigUint(id);
}

function writeEntry(w: CborWriter, e: Entry): void {
  // [term, index, data, type] without trailing zero fields
  const n = e.type !== 0 ? 4 : e.data.length !== 0 ? 3 : e.index !== 0 ? 2 : e.term !== 0 ? 1 : 0;
  w.array(n);
  if (n > 0) w.uint(e.term);
  if (n > 1) w.uint(e.index);
  if (n > 2) w.bytes(e.data);
  if (n > 3) w.uint(e.type);
}

function writeSnapshot(w: CborWriter, s: Snapshot): void {
  // [data, index, term, voters, learners, votersOutgoing, learnersNext, autoLeave] without trailing zero fields
  const md = s.metadata;
  const cs = md.confState;
  const n = cs.autoLeave
    ? 8
    : cs.learnersNext.length
      ? 7
      : cs.votersOutgoing.length
        ? 6
        : cs.learners.length
          ? 5
          : cs.voters.length
            ? 4
            : md.term
              ? 3
              : md.index
                ? 2
                : s.data.length
                  ? 1
                  : 0;
  w.array(n);
  if (n > 0) w.bytes(s.data);
  if (n > 1) w.uint(md.index);
  if (n > 2) w.uint(md.term);
  if (n > 3) writeIds(w, cs.voters);
  if (n > 4) writeIds(w, cs.learners);
  if (n > 5) writeIds(w, cs.votersOutgoing);
  if (n > 6) writeIds(w, cs.learnersNext);
  if (n > 7) w.bool(cs.autoLeave);
}

/** Writes a validated message: raftpb's fields in order, trailing zero fields left off. */
function writeMessage(w: CborWriter, m: Message): void {
  const n =
    m.responses.length !== 0
      ? 14
      : m.context.length !== 0
        ? 13
        : m.rejectHint !== 0
          ? 12
          : m.reject
            ? 11
            : m.snapshot !== null
              ? 10
              : m.vote !== 0n
                ? 9
                : m.commit !== 0
                  ? 8
                  : m.entries.length !== 0
                    ? 7
                    : m.index !== 0
                      ? 6
                      : m.logTerm !== 0
                        ? 5
                        : m.term !== 0
                          ? 4
                          : m.from !== 0n
                            ? 3
                            : m.to !== 0n
                              ? 2
                              : 1;
  w.array(n);
  w.uint(m.type);
  if (n > 1) w.bigUint(m.to);
  if (n > 2) w.bigUint(m.from);
  if (n > 3) w.uint(m.term);
  if (n > 4) w.uint(m.logTerm);
  if (n > 5) w.uint(m.index);
  if (n > 6) {
    w.array(m.entries.length);
    for (const e of m.entries) writeEntry(w, e);
  }
  if (n > 7) w.uint(m.commit);
  if (n > 8) w.bigUint(m.vote);
  if (n > 9) {
    if (m.snapshot === null) w.nil();
    else writeSnapshot(w, m.snapshot);
  }
  if (n > 10) w.bool(m.reject);
  if (n > 11) w.uint(m.rejectHint);
  if (n > 12) w.bytes(m.context);
  if (n > 13) {
    w.array(m.responses.length);
    for (const r of m.responses) writeMessage(w, r);
  }
}

// ---------------------------------------------------------------- decoding

/** A term or index field (every numeric field of the schema is one), bounded by MAX_LOG_POSITION. */
function num(v: unknown, field: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return logPosition(v, field);
  if (v === undefined) return 0;
  if (typeof v === 'bigint') {
    // cbor-x reads every uint64 head as bigint; terms and indexes from 2^32 up arrive so.
    if (v >= 0n && v <= MAX_SAFE_BIGINT) return logPosition(Number(v), field);
    throw decodeError(`${field} ${v} exceeds 2^53-1`);
  }
  throw decodeError(`${field} is not a non-negative safe integer`);
}

function id(v: unknown, field: string): Id {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v < SMALL_IDS.length ? (SMALL_IDS[v] as Id) : BigInt(v);
  if (v === undefined) return 0n;
  if (typeof v === 'bigint' && v >= 0n && v <= MAX_ID) return v;
  throw decodeError(`${field} is not a 64-bit ID`);
}

const MAX_SAFE_BIGINT = BigInt(Number.MAX_SAFE_INTEGER);

/** Member IDs are often small: skip the BigInt conversion for them. */
const SMALL_IDS: readonly Id[] = Array.from({ length: 256 }, (_, i) => BigInt(i));

function ids(v: unknown, field: string): Id[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw decodeError(`${field} is not an array`);
  return v.map((x, i) => id(x, `${field}[${i}]`));
}

function bytes(v: unknown, field: string): Uint8Array {
  if (v === undefined) return EMPTY;
  if (v instanceof Uint8Array) return plainBytes(v);
  throw decodeError(`${field} is not a byte string`);
}

function bool(v: unknown, field: string): boolean {
  if (v === undefined) return false;
  if (typeof v === 'boolean') return v;
  throw decodeError(`${field} is not a boolean`);
}

function arr(v: unknown, field: string): unknown[] {
  if (v === undefined) return [];
  if (Array.isArray(v)) return v;
  throw decodeError(`${field} is not an array`);
}

function readEntry(v: unknown, field: string): Entry {
  if (!Array.isArray(v)) throw decodeError(`${field} is not an entry`);
  const type = v.length < 4 ? 0 : v[3];
  if (type !== 0 && type !== 1 && type !== 2) throw decodeError(`${field}.type is not an EntryType`);
  return {
    type: type as EntryType,
    term: num(v[0], `${field}.term`),
    index: num(v[1], `${field}.index`),
    data: bytes(v[2], `${field}.data`),
  };
}

function readSnapshot(v: unknown): Snapshot | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v)) throw decodeError('snapshot is not an array');
  const confState: ConfState = {
    voters: ids(v[3], 'confState.voters'),
    learners: ids(v[4], 'confState.learners'),
    votersOutgoing: ids(v[5], 'confState.votersOutgoing'),
    learnersNext: ids(v[6], 'confState.learnersNext'),
    autoLeave: bool(v[7], 'confState.autoLeave'),
  };
  return {
    data: bytes(v[0], 'snapshot.data'),
    metadata: { confState, index: num(v[1], 'snapshot.metadata.index'), term: num(v[2], 'snapshot.metadata.term') },
  };
}

function readEntries(v: unknown): Entry[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw decodeError('entries is not an array');
  const out: Entry[] = new Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = readEntry(v[i], 'entries[]');
  return out;
}

function readMessage(v: unknown, depth: number): Message {
  if (!Array.isArray(v) || v.length === 0) throw decodeError('message is not a non-empty array');
  if (depth > MAX_RESPONSE_DEPTH) throw decodeError(`responses nested deeper than ${MAX_RESPONSE_DEPTH}`);
  const type = v[0];
  if (!isMessageType(type)) throw decodeError(`unknown message type ${String(type)}`);
  if (v.length <= 8) {
    // Common shape (heartbeats, votes, appends): no tail fields.
    return {
      type: type as MessageType,
      to: id(v[1], 'to'),
      from: id(v[2], 'from'),
      term: num(v[3], 'term'),
      logTerm: num(v[4], 'logTerm'),
      index: num(v[5], 'index'),
      entries: readEntries(v[6]),
      commit: num(v[7], 'commit'),
      vote: 0n,
      snapshot: null,
      reject: false,
      rejectHint: 0,
      context: EMPTY,
      responses: [],
    };
  }
  return {
    type: type as MessageType,
    to: id(v[1], 'to'),
    from: id(v[2], 'from'),
    term: num(v[3], 'term'),
    logTerm: num(v[4], 'logTerm'),
    index: num(v[5], 'index'),
    entries: readEntries(v[6]),
    commit: num(v[7], 'commit'),
    vote: id(v[8], 'vote'),
    snapshot: readSnapshot(v[9]),
    reject: bool(v[10], 'reject'),
    rejectHint: num(v[11], 'rejectHint'),
    context: bytes(v[12], 'context'),
    responses: arr(v[13], 'responses').map((r) => readMessage(r, depth + 1)),
  };
}

/**
 * The native message codec: a CBOR array of raftpb's fields in field order,
 * with trailing zero-valued fields left off. Fields beyond the known ones are
 * ignored, so a newer peer may append fields.
 *
 * Decoding is cbor-x with the options pinned in `cbor-options.ts`. Encoding
 * is a schema-specific writer ({@link CborWriter}) that emits the same bytes
 * as cbor-x wherever cbor-x is canonical, and smallest-form uint64 heads where
 * cbor-x would write a float (integers from 2^32 up). It is about twice as
 * fast as going through cbor-x's generic encoder.
 */
export class CborMessageCodec implements MessageCodec {
  readonly name = 'cbor';
  private readonly cbor: Encoder = createCborEncoder();
  private readonly scratchCbor: Encoder = createScratchCborDecoder();
  private readonly scratch = new Uint8Array(SCRATCH_BYTES);
  private readonly writer = new CborWriter();

  encode(m: Message): Uint8Array {
    validate(m, 0);
    const w = this.writer;
    w.reset();
    writeMessage(w, m);
    return w.finish();
  }

  decode(input: Uint8Array): Message {
    let value: unknown;
    try {
      if (input.length <= SCRATCH_BYTES) {
        // cbor-x bounds every read by `end` and fails if a read ran past it,
        // so stale bytes after `end` in the scratch can never be decoded.
        this.scratch.set(input);
        value = (this.scratchCbor.decode as DecodeTo).call(this.scratchCbor, this.scratch, input.length);
      } else {
        value = this.cbor.decode(input);
      }
    } catch (err) {
      if (isRaftwireError(err)) throw err;
      throw decodeError(`malformed CBOR: ${err instanceof Error ? err.message : String(err)}`, err);
    }
    try {
      return readMessage(value, 0);
    } catch (err) {
      if (isRaftwireError(err)) throw err;
      throw decodeError(`malformed message: ${err instanceof Error ? err.message : String(err)}`, err);
    }
  }
}

export const cborMessageCodec: MessageCodec = new CborMessageCodec();
