import type { Encoder } from 'cbor-x';
import { plainBytes } from './bytes.js';
import { createCborEncoder } from './cbor-options.js';
import { ErrorCode, RaftwireError, decodeError, isRaftwireError } from './errors.js';
import { type Id, MAX_ID } from './ids.js';
import {
  type ConfState,
  type Entry,
  type EntryType,
  type Message,
  type MessageType,
  type Snapshot,
  isEntryType,
  isMessageType,
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

/** IDs below 2^53 travel as CBOR integers of their natural size; larger ones as uint64. */
function wireId(id: unknown, field: string): number | bigint {
  if (typeof id !== 'bigint' || id < 0n || id > MAX_ID) throw invalid(`${field} must be a 64-bit bigint ID`);
  return id <= 0x1fffffffffffffn ? Number(id) : id;
}

function wireIds(ids: unknown, field: string): (number | bigint)[] {
  if (!Array.isArray(ids)) throw invalid(`${field} must be an array of IDs`);
  return ids.map((id, i) => wireId(id, `${field}[${i}]`));
}

function trim(fields: unknown[], isDefault: (v: unknown, i: number) => boolean): unknown[] {
  let n = fields.length;
  while (n > 0 && isDefault(fields[n - 1], n - 1)) n--;
  fields.length = n;
  return fields;
}

function isEmptyDefault(v: unknown): boolean {
  return v === 0 || v === false || v === null || (Array.isArray(v) && v.length === 0) || (v instanceof Uint8Array && v.length === 0);
}

function wireEntry(e: Entry, field: string): unknown[] {
  if (typeof e !== 'object' || e === null) throw invalid(`${field} must be an Entry`);
  if (!isEntryType(e.type)) throw invalid(`${field}.type ${String(e.type)} is not an EntryType`);
  return trim(
    [checkNum(e.term, `${field}.term`), checkNum(e.index, `${field}.index`), checkBytes(e.data, `${field}.data`), e.type],
    isEmptyDefault,
  );
}

function wireSnapshot(s: Snapshot | null): unknown[] | null {
  if (s === null) return null;
  if (typeof s !== 'object') throw invalid('snapshot must be a Snapshot or null');
  const md = s.metadata;
  const cs = md?.confState;
  if (typeof cs !== 'object' || cs === null) throw invalid('snapshot.metadata.confState is missing');
  return trim(
    [
      checkBytes(s.data, 'snapshot.data'),
      checkNum(md.index, 'snapshot.metadata.index'),
      checkNum(md.term, 'snapshot.metadata.term'),
      wireIds(cs.voters, 'confState.voters'),
      wireIds(cs.learners, 'confState.learners'),
      wireIds(cs.votersOutgoing, 'confState.votersOutgoing'),
      wireIds(cs.learnersNext, 'confState.learnersNext'),
      cs.autoLeave === true,
    ],
    isEmptyDefault,
  );
}

function wireMessage(m: Message, depth: number): unknown[] {
  if (typeof m !== 'object' || m === null) throw invalid('message must be an object');
  if (!isMessageType(m.type)) throw invalid(`type ${String(m.type)} is not a MessageType`);
  if (depth > MAX_RESPONSE_DEPTH) throw invalid(`responses nested deeper than ${MAX_RESPONSE_DEPTH}`);
  if (!Array.isArray(m.entries)) throw invalid('entries must be an array');
  if (!Array.isArray(m.responses)) throw invalid('responses must be an array');
  if (typeof m.reject !== 'boolean') throw invalid('reject must be a boolean');
  return trim(
    [
      m.type,
      wireId(m.to, 'to'),
      wireId(m.from, 'from'),
      checkNum(m.term, 'term'),
      checkNum(m.logTerm, 'logTerm'),
      checkNum(m.index, 'index'),
      m.entries.map((e, i) => wireEntry(e, `entries[${i}]`)),
      checkNum(m.commit, 'commit'),
      wireId(m.vote, 'vote'),
      wireSnapshot(m.snapshot),
      m.reject,
      checkNum(m.rejectHint, 'rejectHint'),
      checkBytes(m.context, 'context'),
      m.responses.map((r) => wireMessage(r, depth + 1)),
    ],
    isEmptyDefault,
  );
}

// ---------------------------------------------------------------- decoding

function num(v: unknown, field: string): number {
  if (v === undefined) return 0;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'bigint') throw decodeError(`${field} ${v} exceeds 2^53-1`);
  throw decodeError(`${field} is not a non-negative safe integer`);
}

function id(v: unknown, field: string): Id {
  if (v === undefined) return 0n;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'bigint' && v >= 0n && v <= MAX_ID) return v;
  throw decodeError(`${field} is not a 64-bit ID`);
}

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
  const type = v[3] === undefined ? 0 : v[3];
  if (!isEntryType(type)) throw decodeError(`${field}.type is not an EntryType`);
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

function readMessage(v: unknown, depth: number): Message {
  if (!Array.isArray(v) || v.length === 0) throw decodeError('message is not a non-empty array');
  if (depth > MAX_RESPONSE_DEPTH) throw decodeError(`responses nested deeper than ${MAX_RESPONSE_DEPTH}`);
  const type = v[0];
  if (!isMessageType(type)) throw decodeError(`unknown message type ${String(type)}`);
  return {
    type: type as MessageType,
    to: id(v[1], 'to'),
    from: id(v[2], 'from'),
    term: num(v[3], 'term'),
    logTerm: num(v[4], 'logTerm'),
    index: num(v[5], 'index'),
    entries: arr(v[6], 'entries').map((e, i) => readEntry(e, `entries[${i}]`)),
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
 */
export class CborMessageCodec implements MessageCodec {
  readonly name = 'cbor';
  private readonly cbor: Encoder = createCborEncoder();

  encode(m: Message): Uint8Array {
    const wire = wireMessage(m, 0);
    try {
      return plainBytes(this.cbor.encode(wire));
    } catch (err) {
      throw invalid(`cannot encode message: ${(err as Error).message}`);
    }
  }

  decode(input: Uint8Array): Message {
    let value: unknown;
    try {
      value = this.cbor.decode(input);
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
