import { ErrorCode, RaftwireError, decodeError } from '../errors.js';
import { type Id, MAX_ID } from '../ids.js';
import { type JsonObject, type JsonValue, goJsonString, parseJsonExact } from './json.js';

/**
 * etcd's membership.Member as JSON: the context of its ConfChange entries
 * and the body of the peer endpoint `GET /members` (a list). The ID is a
 * decimal uint64, read as bigint without precision loss:
 *
 * `{"id":10290735599441857794,"peerURLs":["http://127.0.0.1:47690"]}`
 *
 * Fields are written in Go's order (`id`, `peerURLs`, `isLearner`, `name`,
 * `clientURLs`), the last three only when set, as Go's `omitempty` does.
 */
export interface EtcdMember {
  id: Id;
  peerURLs: string[];
  name: string;
  clientURLs: string[];
  isLearner: boolean;
}

/** Inputs larger than this are refused before parsing (a member list of thousands fits easily). */
export const DEFAULT_MAX_MEMBER_JSON_BYTES = 1024 * 1024;

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

function invalid(message: string): RaftwireError {
  return new RaftwireError(ErrorCode.INVALID_MESSAGE, message);
}

function stringList(v: unknown, field: string): string[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw invalid(`${field} must be an array of strings`);
  return v;
}

function memberJson(m: EtcdMember): string {
  if (typeof m !== 'object' || m === null) throw invalid('member must be an object');
  if (typeof m.id !== 'bigint' || m.id < 0n || m.id > MAX_ID) throw invalid('member.id must be a 64-bit bigint ID');
  const peers = stringList(m.peerURLs, 'member.peerURLs');
  const clients = stringList(m.clientURLs, 'member.clientURLs');
  if (typeof m.name !== 'string') throw invalid('member.name must be a string');
  if (typeof m.isLearner !== 'boolean') throw invalid('member.isLearner must be a boolean');
  let out = `{"id":${m.id},"peerURLs":[${peers.map(goJsonString).join(',')}]`;
  if (m.isLearner) out += ',"isLearner":true';
  if (m.name !== '') out += `,"name":${goJsonString(m.name)}`;
  if (clients.length !== 0) out += `,"clientURLs":[${clients.map(goJsonString).join(',')}]`;
  return `${out}}`;
}

/** The JSON etcd puts in a ConfChange's context (Go's json.Marshal of the Member). */
export function encodeEtcdMember(m: EtcdMember): Uint8Array {
  return textEncoder.encode(memberJson(m));
}

/** The body of `GET /members`: the list as Go's json.Encoder writes it, newline included. */
export function encodeEtcdMemberList(members: readonly EtcdMember[]): Uint8Array {
  if (!Array.isArray(members)) throw invalid('members must be an array');
  return textEncoder.encode(`[${members.map(memberJson).join(',')}]\n`);
}

function text(input: Uint8Array | string, maxBytes: number, what: string): string {
  const size = typeof input === 'string' ? input.length : input instanceof Uint8Array ? input.length : -1;
  if (size < 0) throw decodeError(`${what} must be a string or a Uint8Array`);
  if (size > maxBytes) {
    throw new RaftwireError(ErrorCode.FRAME_TOO_LARGE, `${what} of ${size} bytes is over the cap of ${maxBytes}`);
  }
  return typeof input === 'string' ? input : textDecoder.decode(input);
}

/** Go's decoder matches keys case-insensitively; etcd always writes them exactly, so exact first. */
function field(o: JsonObject, name: string): JsonValue | undefined {
  const exact = o.get(name);
  if (exact !== undefined) return exact;
  const lower = name.toLowerCase();
  let found: JsonValue | undefined;
  for (const [k, v] of o) if (k.toLowerCase() === lower) found = v;
  return found;
}

function readStrings(v: JsonValue | undefined, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw decodeError(`${what} is not an array`);
  return v.map((s) => {
    if (typeof s !== 'string') throw decodeError(`${what} holds a non-string`);
    return s;
  });
}

function readMember(v: JsonValue, what: string): EtcdMember {
  if (!(v instanceof Map)) throw decodeError(`${what} is not an object`);
  const id = field(v, 'id');
  if (id !== undefined && id !== null && (typeof id !== 'bigint' || id < 0n || id > MAX_ID)) {
    throw decodeError(`${what}.id is not a decimal uint64`);
  }
  const name = field(v, 'name');
  if (name !== undefined && name !== null && typeof name !== 'string') throw decodeError(`${what}.name is not a string`);
  const isLearner = field(v, 'isLearner');
  if (isLearner !== undefined && isLearner !== null && typeof isLearner !== 'boolean') {
    throw decodeError(`${what}.isLearner is not a boolean`);
  }
  return {
    id: typeof id === 'bigint' ? id : 0n,
    peerURLs: readStrings(field(v, 'peerURLs'), `${what}.peerURLs`),
    name: typeof name === 'string' ? name : '',
    clientURLs: readStrings(field(v, 'clientURLs'), `${what}.clientURLs`),
    isLearner: isLearner === true,
  };
}

/** Reads a ConfChange context. Unknown keys are ignored, absent ones zero (as Go does). Throws ERR_DECODE or ERR_FRAME_TOO_LARGE. */
export function decodeEtcdMember(input: Uint8Array | string, maxBytes = DEFAULT_MAX_MEMBER_JSON_BYTES): EtcdMember {
  return readMember(parseJsonExact(text(input, maxBytes, 'member JSON')), 'member');
}

/** Reads the body of etcd's `GET /members`. */
export function decodeEtcdMemberList(input: Uint8Array | string, maxBytes = DEFAULT_MAX_MEMBER_JSON_BYTES): EtcdMember[] {
  const v = parseJsonExact(text(input, maxBytes, 'member list JSON'));
  if (v === null) return [];
  if (!Array.isArray(v)) throw decodeError('member list is not an array');
  return v.map((m, i) => readMember(m, `members[${i}]`));
}
