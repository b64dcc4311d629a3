import { ErrorCode, RaftwireError } from '../errors.js';
import { type Id, MAX_ID, formatId } from '../ids.js';
import { goJsonString } from './json.js';
import { PbWriter, idVarintSize, lenFieldSize } from './protobuf.js';
import { decodeWith } from './raftpb.js';

/**
 * etcd 3.4's `etcdserverpb.Request`: a v2 store request, proposed through raft as the data of an
 * EntryNormal entry. A member publishes its name and client URLs with one (etcdserver's
 * `publish()`: `PUT /0/members/<hex id>/attributes`, the value etcd's `membership.Attributes` as
 * JSON), which is what turns an added member from `unstarted` to started in `etcdctl member list`.
 *
 * The encoder writes what gogoproto's generated `Request.MarshalTo` writes: every field in number
 * order, the non-nullable ones even when zero, `PrevExist` and `Refresh` only when set.
 */
export interface EtcdRequest {
  /** etcd's request ID (see {@link EtcdRequestIdGenerator}). */
  id: bigint;
  method: string;
  path: string;
  val: string;
  dir: boolean;
  prevValue: string;
  prevIndex: bigint;
  prevExist: boolean | null;
  /** int64 (ns since the epoch, 0 for none). */
  expiration: bigint;
  wait: boolean;
  since: bigint;
  recursive: boolean;
  sorted: boolean;
  quorum: boolean;
  /** int64. */
  time: bigint;
  stream: boolean;
  refresh: boolean | null;
}

/** A request with every field zero except those given. */
export function createEtcdRequest(init: Partial<EtcdRequest> = {}): EtcdRequest {
  return {
    id: 0n,
    method: '',
    path: '',
    val: '',
    dir: false,
    prevValue: '',
    prevIndex: 0n,
    prevExist: null,
    expiration: 0n,
    wait: false,
    since: 0n,
    recursive: false,
    sorted: false,
    quorum: false,
    time: 0n,
    stream: false,
    refresh: null,
    ...init,
  };
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

function invalid(message: string): RaftwireError {
  return new RaftwireError(ErrorCode.INVALID_MESSAGE, message);
}

function u64(v: unknown, field: string): bigint {
  if (typeof v !== 'bigint' || v < 0n || v > MAX_ID) throw invalid(`request.${field} must be a uint64 bigint`);
  return v;
}

/** int64 as protobuf writes it: two's complement in a uint64 varint. */
function i64(v: unknown, field: string): bigint {
  if (typeof v !== 'bigint' || v < INT64_MIN || v > INT64_MAX) throw invalid(`request.${field} must be an int64 bigint`);
  return v < 0n ? v + (1n << 64n) : v;
}

function str(v: unknown, field: string): Uint8Array {
  if (typeof v !== 'string') throw invalid(`request.${field} must be a string`);
  return textEncoder.encode(v);
}

function bool(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw invalid(`request.${field} must be a boolean`);
  return v;
}

function optBool(v: unknown, field: string): boolean | null {
  return v === null ? null : bool(v, field);
}

/** The Request's bytes, as etcd marshals it. Throws ERR_INVALID_MESSAGE for a bad field. */
export function encodeEtcdRequest(r: EtcdRequest): Uint8Array {
  if (typeof r !== 'object' || r === null) throw invalid('request must be an object');
  const id = u64(r.id, 'id');
  const method = str(r.method, 'method');
  const path = str(r.path, 'path');
  const val = str(r.val, 'val');
  const dir = bool(r.dir, 'dir');
  const prevValue = str(r.prevValue, 'prevValue');
  const prevIndex = u64(r.prevIndex, 'prevIndex');
  const prevExist = optBool(r.prevExist, 'prevExist');
  const expiration = i64(r.expiration, 'expiration');
  const wait = bool(r.wait, 'wait');
  const since = u64(r.since, 'since');
  const recursive = bool(r.recursive, 'recursive');
  const sorted = bool(r.sorted, 'sorted');
  const quorum = bool(r.quorum, 'quorum');
  const time = i64(r.time, 'time');
  const stream = bool(r.stream, 'stream');
  const refresh = optBool(r.refresh, 'refresh');
  const size =
    1 +
    idVarintSize(id) +
    1 +
    lenFieldSize(method.length) +
    1 +
    lenFieldSize(path.length) +
    1 +
    lenFieldSize(val.length) +
    2 + // Dir
    1 +
    lenFieldSize(prevValue.length) +
    1 +
    idVarintSize(prevIndex) +
    (prevExist === null ? 0 : 2) +
    1 +
    idVarintSize(expiration) +
    2 + // Wait
    1 +
    idVarintSize(since) +
    2 +
    2 +
    2 + // Recursive, Sorted, Quorum
    1 +
    idVarintSize(time) +
    3 + // Stream: a two-byte tag
    (refresh === null ? 0 : 3);
  const w = new PbWriter(new Uint8Array(size));
  w.byte(0x08);
  w.id(id);
  w.byte(0x12);
  w.lenBytes(method);
  w.byte(0x1a);
  w.lenBytes(path);
  w.byte(0x22);
  w.lenBytes(val);
  w.byte(0x28);
  w.bool(dir);
  w.byte(0x32);
  w.lenBytes(prevValue);
  w.byte(0x38);
  w.id(prevIndex);
  if (prevExist !== null) {
    w.byte(0x40);
    w.bool(prevExist);
  }
  w.byte(0x48);
  w.id(expiration);
  w.byte(0x50);
  w.bool(wait);
  w.byte(0x58);
  w.id(since);
  w.byte(0x60);
  w.bool(recursive);
  w.byte(0x68);
  w.bool(sorted);
  w.byte(0x70);
  w.bool(quorum);
  w.byte(0x78);
  w.id(time);
  w.byte(0x80);
  w.byte(0x01);
  w.bool(stream);
  if (refresh !== null) {
    w.byte(0x88);
    w.byte(0x01);
    w.bool(refresh);
  }
  return w.finish();
}

const toInt64 = (u: bigint): bigint => (u > INT64_MAX ? u - (1n << 64n) : u);

/** Reads Request bytes (any valid protobuf of the schema). Throws ERR_DECODE only. */
export function decodeEtcdRequest(bytes: Uint8Array): EtcdRequest {
  return decodeWith(bytes, 'request', (r) => {
    const q = createEtcdRequest();
    const s = (what: string): string => textDecoder.decode(r.bytes(what));
    while (r.pos < r.end) {
      const tag = r.tag('request');
      switch (tag) {
        case 0x08:
          q.id = r.id('request.id');
          break;
        case 0x12:
          q.method = s('request.method');
          break;
        case 0x1a:
          q.path = s('request.path');
          break;
        case 0x22:
          q.val = s('request.val');
          break;
        case 0x28:
          q.dir = r.bool('request.dir');
          break;
        case 0x32:
          q.prevValue = s('request.prevValue');
          break;
        case 0x38:
          q.prevIndex = r.id('request.prevIndex');
          break;
        case 0x40:
          q.prevExist = r.bool('request.prevExist');
          break;
        case 0x48:
          q.expiration = toInt64(r.id('request.expiration'));
          break;
        case 0x50:
          q.wait = r.bool('request.wait');
          break;
        case 0x58:
          q.since = r.id('request.since');
          break;
        case 0x60:
          q.recursive = r.bool('request.recursive');
          break;
        case 0x68:
          q.sorted = r.bool('request.sorted');
          break;
        case 0x70:
          q.quorum = r.bool('request.quorum');
          break;
        case 0x78:
          q.time = toInt64(r.id('request.time'));
          break;
        case 0x80:
          q.stream = r.bool('request.stream');
          break;
        case 0x88:
          q.refresh = r.bool('request.refresh');
          break;
        default:
          r.skip(tag, 'request');
      }
    }
    return q;
  });
}

/** etcd's `membership.Attributes`: what a member publishes about itself. */
export interface EtcdAttributes {
  name: string;
  clientURLs: readonly string[];
}

/** The JSON Go's `json.Marshal` writes for Attributes (both fields `omitempty`): `{"name":"rw1"}`. */
export function encodeEtcdAttributes(a: EtcdAttributes): string {
  if (typeof a.name !== 'string' || !Array.isArray(a.clientURLs) || !a.clientURLs.every((u) => typeof u === 'string')) {
    throw invalid('attributes need a string name and an array of string clientURLs');
  }
  const parts: string[] = [];
  if (a.name !== '') parts.push(`"name":${goJsonString(a.name)}`);
  if (a.clientURLs.length > 0) parts.push(`"clientURLs":[${a.clientURLs.map(goJsonString).join(',')}]`);
  return `{${parts.join(',')}}`;
}

/** The v2 store path of a member's attributes: `/0/members/<hex id>/attributes` (membership.MemberAttributesStorePath). */
export function etcdMemberAttributesPath(id: Id): string {
  return `/0/members/${formatId(id)}/attributes`;
}

/** The request etcd's `publish()` proposes for `attributes` of member `id`. */
export function etcdPublishRequest(id: Id, attributes: EtcdAttributes, requestId: bigint): EtcdRequest {
  return createEtcdRequest({ id: requestId, method: 'PUT', path: etcdMemberAttributesPath(id), val: encodeEtcdAttributes(attributes) });
}

/**
 * etcd's `idutil.Generator`: request IDs unique across members and restarts. The top 2 bytes are
 * the low 16 bits of the member ID, the next 5 the start time in ms, the last one a counter that
 * may carry into the time (as etcd's does).
 */
export class EtcdRequestIdGenerator {
  private readonly prefix: bigint;
  private suffix: bigint;

  constructor(memberId: Id, nowMs: number) {
    this.prefix = (memberId & 0xffffn) << 48n;
    this.suffix = (BigInt(Math.floor(nowMs)) & ((1n << 40n) - 1n)) << 8n;
  }

  next(): bigint {
    this.suffix = (this.suffix + 1n) & ((1n << 48n) - 1n);
    return this.prefix | this.suffix;
  }
}
