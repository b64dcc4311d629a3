import type { Id } from '@raftwire/core';
import { ErrorCode, RaftwireError } from '@raftwire/core';

/**
 * Single-member configuration change kinds, with etcd's numbers (ConfChangeAddNode,
 * ConfChangeRemoveNode, ConfChangeAddLearnerNode). `AddNode` for a member that is a learner
 * promotes it to a voter, as in etcd.
 */
export const ConfChangeType = { AddNode: 0, RemoveNode: 1, AddLearnerNode: 3 } as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

/** A single-member configuration change, carried as the data of an EntryConfChange entry. */
export interface ConfChange {
  type: ConfChangeType;
  nodeId: Id;
  /** Opaque to Raft; the driver puts the new member's URL here. */
  context: Uint8Array;
}

const MAX_U64 = (1n << 64n) - 1n;

function isConfChangeType(t: unknown): t is ConfChangeType {
  return t === ConfChangeType.AddNode || t === ConfChangeType.RemoveNode || t === ConfChangeType.AddLearnerNode;
}

/** Encodes a conf change: type (1 byte), node ID (8 bytes, big-endian), context. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  if (!isConfChangeType(cc.type)) throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `invalid conf change type ${String(cc.type)}`);
  if (typeof cc.nodeId !== 'bigint' || cc.nodeId <= 0n || cc.nodeId > MAX_U64) {
    throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `invalid conf change node ID ${String(cc.nodeId)}`);
  }
  const out = new Uint8Array(9 + cc.context.length);
  out[0] = cc.type;
  new DataView(out.buffer).setBigUint64(1, cc.nodeId);
  out.set(cc.context, 9);
  return out;
}

/** Decodes {@link encodeConfChange}'s output; throws ERR_CORRUPT on malformed bytes (unknown type, node ID 0). */
export function decodeConfChange(data: Uint8Array): ConfChange {
  if (data.length < 9 || !isConfChangeType(data[0])) throw new RaftwireError(ErrorCode.CORRUPT, 'malformed conf change entry');
  const nodeId = new DataView(data.buffer, data.byteOffset, data.byteLength).getBigUint64(1);
  if (nodeId === 0n) throw new RaftwireError(ErrorCode.CORRUPT, 'conf change for node ID 0');
  return { type: data[0] as ConfChangeType, nodeId, context: data.slice(9) };
}

/**
 * Why a leader refused to append a proposed conf change. The refusal is itself
 * appended, as an EntryNormal in the change's place (etcd appends an empty
 * one), so the member that proposed it learns at once, when that entry
 * applies, instead of waiting for an answer that never comes.
 */
export const ConfChangeRefusal = {
  /** A previous conf change is not applied yet: one at a time. */
  Pending: 1,
  /** Promoting a learner that has not caught up with the leader's log. */
  LearnerNotReady: 2,
} as const;
export type ConfChangeRefusal = (typeof ConfChangeRefusal)[keyof typeof ConfChangeRefusal];

/** First byte of a refused conf change entry; never the first byte of a driver proposal. */
const REFUSED_MARKER = 0xfe;

/** The EntryNormal data standing for a refused conf change: marker, reason, the change's bytes. */
export function encodeRefusedConfChange(reason: ConfChangeRefusal, confChange: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + confChange.length);
  out[0] = REFUSED_MARKER;
  out[1] = reason;
  out.set(confChange, 2);
  return out;
}

/** Decodes {@link encodeRefusedConfChange}; null for any other entry data. */
export function decodeRefusedConfChange(data: Uint8Array): { reason: ConfChangeRefusal; cc: ConfChange } | null {
  if (data.length < 2 || data[0] !== REFUSED_MARKER) return null;
  const reason = data[1];
  if (reason !== ConfChangeRefusal.Pending && reason !== ConfChangeRefusal.LearnerNotReady) return null;
  try {
    return { reason, cc: decodeConfChange(data.subarray(2)) };
  } catch {
    return null;
  }
}
