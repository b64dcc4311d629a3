import { ErrorCode, RaftwireError, decodeError } from '../errors.js';
import { type Id, tryParseId } from '../ids.js';
import { type JsonObject, type JsonValue, parseJsonExact } from './json.js';
import type { EtcdMember } from './member.js';

/**
 * The membership recorded in etcd 3.4's v2 store, as a MsgSnap carries it in `snapshot.data`
 * (the store's JSON: `{"Root":{"Path":"/","Children":{"0":{…"members":{…}}}}}`). Each member is a
 * directory `/0/members/<hex id>` with `raftAttributes` (`{"peerURLs":[…],"isLearner":true}`) and,
 * once it published, `attributes` (`{"name":…,"clientURLs":[…]}`); removed members are keys of
 * `/0/removed_members`. This is where a member that joins by snapshot learns its peers' URLs.
 */
export interface EtcdV2Membership {
  /** Members sorted by ID. */
  members: EtcdMember[];
  removed: Id[];
}

/** The v2 store JSON is refused above this size before parsing (etcd's own is kilobytes to a few MiB). */
export const DEFAULT_MAX_V2_STORE_BYTES = 64 * 1024 * 1024;

function child(node: JsonValue | undefined, key: string): JsonObject | undefined {
  if (!(node instanceof Map)) return undefined;
  const children = node.get('Children');
  if (!(children instanceof Map)) return undefined;
  const c = children.get(key);
  return c instanceof Map ? c : undefined;
}

function children(node: JsonObject | undefined): [string, JsonObject][] {
  const c = node?.get('Children');
  if (!(c instanceof Map)) return [];
  return [...c].filter((e): e is [string, JsonObject] => e[1] instanceof Map);
}

/** The JSON object stored as a node's string Value, or an empty map when there is none. */
function valueJson(node: JsonObject | undefined, what: string): JsonObject {
  const v = node?.get('Value');
  if (typeof v !== 'string' || v === '') return new Map();
  const parsed = parseJsonExact(v);
  if (!(parsed instanceof Map)) throw decodeError(`${what} is not a JSON object`);
  return parsed;
}

function strings(v: JsonValue | undefined, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw decodeError(`${what} is not a list of strings`);
  return v as string[];
}

/** Reads the members out of a v2 store snapshot. Throws ERR_DECODE for malformed JSON, ERR_FRAME_TOO_LARGE over `maxBytes`. */
export function decodeEtcdV2Membership(data: Uint8Array, maxBytes = DEFAULT_MAX_V2_STORE_BYTES): EtcdV2Membership {
  if (data.length > maxBytes) {
    throw new RaftwireError(ErrorCode.FRAME_TOO_LARGE, `v2 store of ${data.length} bytes is over the cap of ${maxBytes}`);
  }
  const doc = parseJsonExact(new TextDecoder().decode(data));
  if (!(doc instanceof Map) || !(doc.get('Root') instanceof Map)) throw decodeError('v2 store has no Root');
  const zero = child(doc.get('Root'), '0');
  const members: EtcdMember[] = [];
  for (const [key, node] of children(child(zero, 'members'))) {
    const id = tryParseId(key);
    if (id === undefined) throw decodeError(`v2 store member key ${JSON.stringify(key.slice(0, 40))} is not a hex ID`);
    const raft = valueJson(child(node, 'raftAttributes'), `raftAttributes of ${key}`);
    const attrs = valueJson(child(node, 'attributes'), `attributes of ${key}`);
    const name = attrs.get('name');
    members.push({
      id,
      peerURLs: strings(raft.get('peerURLs'), `peerURLs of ${key}`),
      name: typeof name === 'string' ? name : '',
      clientURLs: strings(attrs.get('clientURLs'), `clientURLs of ${key}`),
      isLearner: raft.get('isLearner') === true,
    });
  }
  const removed: Id[] = [];
  for (const [key] of children(child(zero, 'removed_members'))) {
    const id = tryParseId(key);
    if (id !== undefined) removed.push(id);
  }
  members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { members, removed };
}
