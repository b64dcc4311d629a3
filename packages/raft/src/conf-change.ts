import type { Id } from '@raftwire/core';
import { ErrorCode, RaftwireError } from '@raftwire/core';

/** Single-member configuration change kinds (etcd's ConfChangeAddNode / ConfChangeRemoveNode). */
export const ConfChangeType = { AddNode: 0, RemoveNode: 1 } as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

/** A single-member configuration change, carried as the data of an EntryConfChange entry. */
export interface ConfChange {
  type: ConfChangeType;
  nodeId: Id;
  /** Opaque to Raft; the driver puts the new member's URL here. */
  context: Uint8Array;
}

const MAX_U64 = (1n << 64n) - 1n;

/** Encodes a conf change: type (1 byte), node ID (8 bytes, big-endian), context. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  if (cc.type !== 0 && cc.type !== 1) throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `invalid conf change type ${String(cc.type)}`);
  if (typeof cc.nodeId !== 'bigint' || cc.nodeId <= 0n || cc.nodeId > MAX_U64) {
    throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `invalid conf change node ID ${String(cc.nodeId)}`);
  }
  const out = new Uint8Array(9 + cc.context.length);
  out[0] = cc.type;
  new DataView(out.buffer).setBigUint64(1, cc.nodeId);
  out.set(cc.context, 9);
  return out;
}

/** Decodes {@link encodeConfChange}'s output; throws ERR_CORRUPT on malformed bytes. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  if (data.length < 9 || (data[0] !== 0 && data[0] !== 1)) throw new RaftwireError(ErrorCode.CORRUPT, 'malformed conf change entry');
  const nodeId = new DataView(data.buffer, data.byteOffset, data.byteLength).getBigUint64(1);
  return { type: data[0] as ConfChangeType, nodeId, context: data.slice(9) };
}
