import { ErrorCode, RaftwireError, decodeError } from '../errors.js';
import { type Id, MAX_ID } from '../ids.js';
import { PbWriter, idVarintSize, lenFieldSize, uvarintSize } from './protobuf.js';
import { decodeWith } from './raftpb.js';

/**
 * etcd 3.4's membership change records: raftpb.ConfChange (the data of an
 * EntryConfChange entry) and raftpb.ConfChangeV2 (EntryConfChangeV2), as
 * gogoproto marshals them. etcd puts a JSON Member in `context` for AddNode,
 * AddLearnerNode and UpdateNode (see `member.ts`) and nothing for RemoveNode.
 */

/** raftpb.ConfChangeType. */
export const EtcdConfChangeType = {
  AddNode: 0,
  RemoveNode: 1,
  UpdateNode: 2,
  AddLearnerNode: 3,
} as const;
export type EtcdConfChangeType = (typeof EtcdConfChangeType)[keyof typeof EtcdConfChangeType];

/** raftpb.ConfChangeTransition. */
export const EtcdConfChangeTransition = {
  Auto: 0,
  JointImplicit: 1,
  JointExplicit: 2,
} as const;
export type EtcdConfChangeTransition = (typeof EtcdConfChangeTransition)[keyof typeof EtcdConfChangeTransition];

/** raftpb.ConfChange. `id` is etcd's request ID (a uint64), not a member ID. */
export interface EtcdConfChange {
  id: bigint;
  type: EtcdConfChangeType;
  nodeId: Id;
  context: Uint8Array;
}

/** raftpb.ConfChangeSingle. */
export interface EtcdConfChangeSingle {
  type: EtcdConfChangeType;
  nodeId: Id;
}

/** raftpb.ConfChangeV2. */
export interface EtcdConfChangeV2 {
  transition: EtcdConfChangeTransition;
  changes: EtcdConfChangeSingle[];
  context: Uint8Array;
}

const EMPTY: Uint8Array = new Uint8Array(0);

function invalid(message: string): RaftwireError {
  return new RaftwireError(ErrorCode.INVALID_MESSAGE, message);
}

function checkU64(v: unknown, field: string): bigint {
  if (typeof v !== 'bigint' || v < 0n || v > MAX_ID) throw invalid(`${field} must be a 64-bit bigint`);
  return v;
}

function checkType(t: unknown, field: string): number {
  if (t !== 0 && t !== 1 && t !== 2 && t !== 3) throw invalid(`${field} ${String(t)} is not a ConfChangeType`);
  return t;
}

function checkContext(b: unknown, field: string): Uint8Array {
  if (!(b instanceof Uint8Array)) throw invalid(`${field} must be a Uint8Array`);
  return b;
}

/** ConfChange bytes: id, type and node_id always, context when non-empty (etcd's field order). */
export function encodeEtcdConfChange(cc: EtcdConfChange): Uint8Array {
  if (typeof cc !== 'object' || cc === null) throw invalid('confChange must be an object');
  const id = checkU64(cc.id, 'confChange.id');
  const type = checkType(cc.type, 'confChange.type');
  const nodeId = checkU64(cc.nodeId, 'confChange.nodeId');
  const context = checkContext(cc.context, 'confChange.context');
  const size = 1 + idVarintSize(id) + 2 + 1 + idVarintSize(nodeId) + (context.length ? 1 + lenFieldSize(context.length) : 0);
  const w = new PbWriter(new Uint8Array(size));
  w.byte(0x08);
  w.id(id);
  w.byte(0x10);
  w.uint(type);
  w.byte(0x18);
  w.id(nodeId);
  if (context.length) {
    w.byte(0x22);
    w.lenBytes(context);
  }
  return w.finish();
}

function confChangeType(n: number, what: string): EtcdConfChangeType {
  if (n > 3) throw decodeError(`${what} ${n} is not a ConfChangeType`);
  return n as EtcdConfChangeType;
}

export function decodeEtcdConfChange(bytes: Uint8Array): EtcdConfChange {
  return decodeWith(bytes, 'confChange', (r) => {
    const cc: EtcdConfChange = { id: 0n, type: 0, nodeId: 0n, context: EMPTY };
    while (r.pos < r.end) {
      const tag = r.tag('confChange');
      if (tag === 0x08) cc.id = r.id('confChange.id');
      else if (tag === 0x10) cc.type = confChangeType(r.uint('confChange.type'), 'confChange.type');
      else if (tag === 0x18) cc.nodeId = r.id('confChange.nodeId');
      else if (tag === 0x22) cc.context = r.bytes('confChange.context');
      else r.skip(tag, 'confChange');
    }
    return cc;
  });
}

/** ConfChangeV2 bytes: transition always, each change (type and node_id always), context when non-empty. */
export function encodeEtcdConfChangeV2(cc: EtcdConfChangeV2): Uint8Array {
  if (typeof cc !== 'object' || cc === null) throw invalid('confChangeV2 must be an object');
  const t = cc.transition;
  if (t !== 0 && t !== 1 && t !== 2) throw invalid(`confChangeV2.transition ${String(t)} is not a ConfChangeTransition`);
  const changes = cc.changes;
  if (!Array.isArray(changes)) throw invalid('confChangeV2.changes must be an array');
  const context = checkContext(cc.context, 'confChangeV2.context');
  let size = 2 + (context.length ? 1 + lenFieldSize(context.length) : 0);
  for (let i = 0; i < changes.length; i++) {
    const c = changes[i] as EtcdConfChangeSingle;
    if (typeof c !== 'object' || c === null) throw invalid(`confChangeV2.changes[${i}] must be an object`);
    checkType(c.type, `confChangeV2.changes[${i}].type`);
    const inner = 2 + 1 + idVarintSize(checkU64(c.nodeId, `confChangeV2.changes[${i}].nodeId`));
    size += 1 + uvarintSize(inner) + inner;
  }
  const w = new PbWriter(new Uint8Array(size));
  w.byte(0x08);
  w.uint(t);
  for (const c of changes) {
    w.byte(0x12);
    w.uint(2 + 1 + idVarintSize(c.nodeId));
    w.byte(0x08);
    w.uint(c.type);
    w.byte(0x10);
    w.id(c.nodeId);
  }
  if (context.length) {
    w.byte(0x1a);
    w.lenBytes(context);
  }
  return w.finish();
}

export function decodeEtcdConfChangeV2(bytes: Uint8Array): EtcdConfChangeV2 {
  return decodeWith(bytes, 'confChangeV2', (r) => {
    const cc: EtcdConfChangeV2 = { transition: 0, changes: [], context: EMPTY };
    while (r.pos < r.end) {
      const tag = r.tag('confChangeV2');
      if (tag === 0x08) {
        const t = r.uint('confChangeV2.transition');
        if (t > 2) throw decodeError(`confChangeV2.transition ${t} is not a ConfChangeTransition`);
        cc.transition = t as EtcdConfChangeTransition;
      } else if (tag === 0x12) {
        const end = r.lenEnd('confChangeV2.changes[]');
        const outer = r.end;
        r.end = end;
        const c: EtcdConfChangeSingle = { type: 0, nodeId: 0n };
        while (r.pos < end) {
          const t = r.tag('confChangeSingle');
          if (t === 0x08) c.type = confChangeType(r.uint('confChangeSingle.type'), 'confChangeSingle.type');
          else if (t === 0x10) c.nodeId = r.id('confChangeSingle.nodeId');
          else r.skip(t, 'confChangeSingle');
        }
        r.end = outer;
        cc.changes.push(c);
      } else if (tag === 0x1a) {
        cc.context = r.bytes('confChangeV2.context');
      } else {
        r.skip(tag, 'confChangeV2');
      }
    }
    return cc;
  });
}
