import type { Clock, Id, Logger, Metrics, Rand } from '@raftwire/core';
import type { KvStateMachine } from './kv.js';
import type { StateMachine } from './state-machine.js';
import type { Member } from './membership.js';
import type { StateType } from './raft.js';
import type { WritableStorage } from './storage.js';
import type { RaftTransport } from './transport.js';

/**
 * Options of `RaftNode`. `SM` is the state machine's type; it may be left out
 * only for the default `KvStateMachine` (see {@link StateMachineOption}).
 */
export interface RaftNodeOptions<SM extends StateMachine = KvStateMachine> {
  /** This member's ID (non-zero). */
  id: Id;
  /**
   * The initial members (including this one) when bootstrapping a new cluster on empty storage.
   * Every initial member must be given the same list. Omit to join an existing cluster (the
   * leader adds this member with `RaftNode.addMember` first) or to restart from storage.
   */
  peers?: readonly Member[];
  /** Log storage: `MemoryStorage`, or `FileStorage` from `@raftwire/raft/node` for durability. */
  storage: WritableStorage;
  /** Where messages go; may also be attached later with `RaftNode.setTransport`. */
  transport?: RaftTransport;
  /** The replicated state machine; a `KvStateMachine` by default. */
  stateMachine?: SM;
  /** Timer source; inject core's `ManualClock` (`@raftwire/core/testing`) for deterministic tests. Default: real timers. */
  clock?: Clock;
  /** Milliseconds per Raft tick. Default 100. */
  tickMs?: number;
  /** Ticks before a follower campaigns (randomized up to twice this). Default 10. */
  electionTicks?: number;
  /** Ticks between heartbeats. Default 1. */
  heartbeatTicks?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  maxSizePerMsg?: number;
  maxInflightMsgs?: number;
  /** Take a snapshot and compact after this many applied entries. Default 10 000. */
  snapshotEntries?: number;
  /** Entries kept behind a snapshot so slow followers catch up without one. Default 5 000 (etcd). */
  snapshotCatchUpEntries?: number;
  /** Chunk size of a streamed snapshot body. Default 64 KiB. */
  snapshotChunkBytes?: number;
  /** Randomness for election timeouts; seed it for reproducible runs. */
  rand?: Rand;
  logger?: Logger;
  /**
   * Refuse a membership change that would leave the started voters short of a quorum
   * (etcd's `--strict-reconfig-check`). Default true.
   */
  strictReconfigCheck?: boolean;
  /** Where the `etcd_server_*` metrics go (`RaftMetricName`). Default: nowhere. */
  metrics?: Metrics;
  /** Metric name prefix. Default `etcd`. */
  metricsPrefix?: string;
}

/** `stateMachine` is required unless the state machine is the default `KvStateMachine`. */
export type StateMachineOption<SM extends StateMachine> = KvStateMachine extends SM ? unknown : { stateMachine: SM };

/** `raftState` of a node whose `start()` has not run: it has no Raft role yet. */
export const StateNotStarted = 'StateNotStarted';

/** What `RaftNode.status()` reports. */
export interface RaftNodeStatus {
  id: Id;
  /** Current leader, 0n when unknown. */
  leader: Id;
  term: number;
  commit: number;
  applied: number;
  /** The Raft role, or {@link StateNotStarted} before `start()`; after `stop()`, the last role. */
  raftState: StateType | typeof StateNotStarted;
  lastIndex: number;
  snapshotIndex: number;
  voters: Id[];
  /** Non-voting members (they receive the log; promote them once caught up). */
  learners: Id[];
  /** Every member, with `learner` set. */
  members: Member[];
  started: boolean;
  stopped: boolean;
  removed: boolean;
}

/** Events of `RaftNode`. */
export interface RaftNodeEvents {
  /** The known leader changed (0n: none known). */
  'leader-change': (e: { leader: Id; term: number }) => void;
  /** Entries up to `index` were applied. */
  applied: (e: { index: number }) => void;
  /** This member was removed from the cluster; the node stops itself. */
  removed: () => void;
  /** The node stopped. */
  stopped: () => void;
  /** A fatal error (e.g. storage failure) stopped the node. */
  error: (err: unknown) => void;
}

/** Options of calls that can wait. */
export interface CallOptions {
  signal?: AbortSignal;
}

/** Options of `RaftNode.addMember`. */
export interface AddMemberOptions extends CallOptions {
  /** Add a learner: it receives the log but does not vote until promoted. Default false (a voter). */
  learner?: boolean;
}

/** Options of `RaftNode.takeSnapshot`. */
export interface SnapshotOptions extends CallOptions {
  /** Entries kept behind the snapshot; default `snapshotCatchUpEntries`. 0 compacts up to it. */
  catchUpEntries?: number;
}
