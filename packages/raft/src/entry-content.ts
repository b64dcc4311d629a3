import { type Entry, EntryType, ErrorCode, type Id, RaftwireError } from '@raftwire/core';
import { ConfChangeType, decodeConfChange } from './conf-change.js';
import { decodeConfContext, decodeProposal } from './driver-codec.js';

/** What a log entry holds, as {@link RaftNode} writes it. */
export type EntryContent =
  /** The empty entry a new leader appends to commit its term. */
  | { kind: 'empty' }
  /** A proposal: the state machine's command (`propose(data)`'s bytes) and the member it was proposed on. */
  | { kind: 'command'; data: Uint8Array; proposer: Id }
  | { kind: 'add-member'; id: Id; url: string }
  | { kind: 'remove-member'; id: Id };

/**
 * Reads what a RaftNode put in a log entry, for tools that show a log (the
 * demo draws each member's). Throws `ERR_CORRUPT` for bytes RaftNode did not write.
 */
export function readEntry(entry: Entry): EntryContent {
  if (entry.type === EntryType.EntryConfChange) {
    const cc = decodeConfChange(entry.data);
    if (cc.type === ConfChangeType.RemoveNode) return { kind: 'remove-member', id: cc.nodeId };
    return { kind: 'add-member', id: cc.nodeId, url: decodeConfContext(cc.context).url };
  }
  if (entry.type !== EntryType.EntryNormal)
    throw new RaftwireError(ErrorCode.CORRUPT, `entry ${entry.index} has type ${entry.type}, which RaftNode never writes`);
  if (entry.data.length === 0) return { kind: 'empty' };
  const env = decodeProposal(entry.data);
  if (!env) throw new RaftwireError(ErrorCode.CORRUPT, `entry ${entry.index} is not a RaftNode proposal`);
  return { kind: 'command', data: env.payload, proposer: env.proposer };
}
