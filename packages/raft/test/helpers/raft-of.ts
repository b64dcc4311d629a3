import type { Raft } from '../../src/raft.js';
import type { RawNode } from '../../src/raw-node.js';

/**
 * The state machine inside a RawNode, for tests that check Raft's internals
 * (log, progress, read-only queue) as etcd's own tests do from inside their
 * package. Not part of any public API.
 */
export function raftOf(rn: RawNode): Raft {
  return (rn as unknown as { raft: Raft }).raft;
}
