/**
 * The Raft member users embed: {@link RaftNode} with its storage and state
 * machine. The pure state machine (`raft.ts`, `raw-node.ts`) and the
 * driver's parts are internal. Errors are core's `RaftwireError` with the
 * codes of `ErrorCode`, re-exported here.
 */
export {
  type CallOptions,
  RaftNode,
  type RaftNodeEvents,
  type RaftNodeOptions,
  type RaftNodeStatus,
  type SnapshotOptions,
  type StateMachineOption,
  StateNotStarted,
} from './raft-node.js';
export type { Member } from './membership.js';
export { StateType } from './raft.js';
export type { ProgressStatus, RaftStatus } from './raw-node.js';
export { ProgressState } from './progress.js';
export type { RaftTransport, SnapshotBody } from './transport.js';
export { type HardState, MemoryStorage, type Storage, type WritableStorage } from './storage.js';
export { type EntryContent, readEntry } from './entry-content.js';
export { decodeKvCommand, encodeKvCommand, type KvCommand, type KvResult, KvStateMachine } from './kv.js';
export type { ReadableStateMachine, ReadQueryOf, ReadValueOf, ResultOf, StateMachine } from './state-machine.js';
export { RaftMetricName } from './raft-metrics.js';
export { ErrorCode, isRaftwireError, RaftwireError } from '@raftwire/core';
