import type { BufferSizes, Id, Limits, Logger, Metrics, Timeouts, Transport } from '@raftwire/core';
import type { KvStateMachine, RaftNode, RaftNodeOptions, StateMachine, StateMachineOption } from '@raftwire/raft';

/** Default cluster ID (the ASCII bytes of "raftwire"); every member of a cluster must use the same. */
export const DEFAULT_CLUSTER_ID = 0x7261667477697265n;

/** A member of the initial cluster: its ID and the peer URL it serves. */
export interface PeerSpec {
  id: Id;
  url: string;
}

/** Raft tuning handed to `RaftNode` unchanged (see `RaftNodeOptions`). */
export type MemberRaftOptions = Partial<
  Pick<
    RaftNodeOptions,
    | 'tickMs'
    | 'electionTicks'
    | 'heartbeatTicks'
    | 'preVote'
    | 'checkQuorum'
    | 'maxSizePerMsg'
    | 'maxInflightMsgs'
    | 'snapshotEntries'
    | 'snapshotCatchUpEntries'
    | 'snapshotChunkBytes'
    | 'clock'
    | 'rand'
  >
>;

/** Transport tuning handed to core's `Transport` unchanged (see `TransportOptions`). */
export interface MemberTransportOptions {
  timeouts?: Partial<Timeouts>;
  buffers?: Partial<BufferSizes>;
  limits?: Partial<Limits>;
}

/** What every one-call member takes, whatever its link. `SM` is the state machine's type. */
export interface MemberBaseOptions<SM extends StateMachine = KvStateMachine> {
  /** This member's ID (non-zero). */
  id: Id;
  /** Default {@link DEFAULT_CLUSTER_ID}. */
  clusterId?: Id;
  /**
   * Join an existing cluster instead of bootstrapping one: add this member on a running member
   * first (`node.addMember(id, url)`), then start it with `join: true` and the members to contact
   * as `peers`. Default false.
   */
  join?: boolean;
  /** The replicated state machine; a `KvStateMachine` by default. */
  stateMachine?: SM;
  /**
   * Where logs go. Default: core's console logger at `info` (one readable line per event).
   * Pass `silentLogger` from `@raftwire/core` for none.
   */
  logger?: Logger;
  /** Where the transport's `etcd_network_*` and the node's `etcd_server_*` metrics go. Default: nowhere. */
  metrics?: Metrics;
  raft?: MemberRaftOptions;
  transport?: MemberTransportOptions;
  /** Aborts the start (listening, recovering storage, joining signalling). */
  signal?: AbortSignal;
}

/** `stateMachine` is required unless the state machine is the default `KvStateMachine`. */
export type MemberStateMachineOption<SM extends StateMachine> = StateMachineOption<SM>;

/** Why a member stopped. */
export type MemberStopped =
  /** `close()` was called. */
  | { reason: 'closed' }
  /** The cluster removed this member (a conf change applied here, or a peer said so). */
  | { reason: 'removed' }
  /** The raft node failed (storage error, ...): `error` says why. */
  | { reason: 'failed'; error: unknown };

/** A running member: its raft node, its transport, and one way to stop both. */
export interface RaftMember<SM extends StateMachine = KvStateMachine> {
  readonly id: Id;
  /** The peer URL this member advertises (`http://127.0.0.1:40123`, `webrtc://1`). */
  readonly url: string;
  readonly node: RaftNode<SM>;
  readonly transport: Transport;
  /**
   * Resolves once the member has stopped, with the reason: closed by {@link close}, removed from
   * the cluster, or failed. Removal and failure stop the member by themselves (everything is
   * closed by the time this resolves).
   */
  readonly stopped: Promise<MemberStopped>;
  /**
   * Stops the node, then the transport, then the server, link and storage, and resolves when all
   * are done. Idempotent: every call returns the same promise. `signal` cuts the wait for
   * requests in flight short (connections are destroyed).
   */
  close(options?: { signal?: AbortSignal }): Promise<void>;
}
