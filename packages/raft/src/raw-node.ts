import type { ConfState, Entry, Id, Message, SnapshotStatus, Snapshot } from '@raftwire/core';
import { createEntry, createMessage, EntryType, ErrorCode, isRaftwireError, MAX_LOG_POSITION, MessageType } from '@raftwire/core';
import { type ConfChange, encodeConfChange } from './conf-change.js';
import { NONE, Raft, type RaftConfig, type SoftState, StateType } from './raft.js';
import type { ReadState } from './read-only.js';
import { emptyHardState, type HardState, hardStatesEqual, isEmptyHardState } from './storage.js';
import type { ProgressState } from './progress.js';

/**
 * Everything the application must do after stepping (etcd's Ready): persist
 * `hardState`, `entries` and `snapshot` (durably when `mustSync`), then send
 * `messages`, then apply `snapshot` and `committedEntries`, then call
 * {@link RawNode.advance}.
 */
export interface Ready {
  /** Changed soft state (leader, role), or null. */
  softState: SoftState | null;
  /** Changed hard state to persist, or null. */
  hardState: HardState | null;
  /** Read-index results: reads at `index` after applying up to it are linearizable. */
  readStates: ReadState[];
  /** Entries to persist before sending messages. */
  entries: Entry[];
  /** Snapshot to persist and apply, or null. */
  snapshot: Snapshot | null;
  /** Committed entries to apply (already persisted or in `entries`). */
  committedEntries: Entry[];
  /** Messages to send after persisting. */
  messages: Message[];
  /** True when hardState term/vote or entries changed: the write must be fsynced. */
  mustSync: boolean;
}

/** Per-follower flow-control view, as etcd's Status.Progress. */
export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
  recentActive: boolean;
  inflight: number;
  pendingSnapshot: number;
  isLearner: boolean;
}

/** A snapshot of the node's Raft status. */
export interface RaftStatus {
  id: Id;
  term: number;
  vote: Id;
  commit: number;
  applied: number;
  lead: Id;
  raftState: StateType;
  lastIndex: number;
  voters: Id[];
  learners: Id[];
  progress: Map<Id, ProgressStatus>;
  /**
   * Ticks since the election timer was last reset: a follower resets it when it hears from the
   * leader or grants a vote; a leader counts it towards its check-quorum interval.
   */
  electionElapsed: number;
  /**
   * Ticks at which a follower or candidate campaigns (randomized in [electionTick, 2·electionTick)
   * at every reset); a leader's check-quorum interval is electionTick.
   */
  electionTimeout: number;
}

const LOCAL_MSGS: ReadonlySet<number> = new Set([
  MessageType.MsgHup,
  MessageType.MsgBeat,
  MessageType.MsgUnreachable,
  MessageType.MsgSnapStatus,
  MessageType.MsgCheckQuorum,
]);

const RESPONSE_MSGS: ReadonlySet<number> = new Set([
  MessageType.MsgAppResp,
  MessageType.MsgVoteResp,
  MessageType.MsgHeartbeatResp,
  MessageType.MsgUnreachable,
  MessageType.MsgPreVoteResp,
]);

/**
 * A thread-unsafe, I/O-free Raft node (etcd's RawNode): feed it ticks and
 * messages, drain {@link Ready}s, and {@link advance} after handling each.
 */
export class RawNode {
  private readonly raft: Raft;
  private prevSoftSt: SoftState;
  private prevHardSt: HardState;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoftSt = this.raft.softState();
    this.prevHardSt = this.raft.hardState();
  }

  /** The current HardState (term, vote, commit). */
  hardState(): HardState {
    return this.raft.hardState();
  }

  /** The current term. */
  get term(): number {
    return this.raft.term;
  }

  /** The known leader, {@link NONE} (0n) when none is known. */
  get lead(): Id {
    return this.raft.lead;
  }

  /** The current configuration: voters, learners (and the empty joint-consensus fields). */
  confState(): ConfState {
    return this.raft.confState();
  }

  /** True while a conf change is in the log (or accepted by this leader) but not yet applied. */
  hasPendingConfChange(): boolean {
    return this.raft.hasPendingConfChange();
  }

  /** Advances the logical clock by one tick. */
  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (MsgHup). */
  campaign(): void {
    this.raft.step(createMessage({ type: MessageType.MsgHup }));
  }

  /** Proposes data to be appended to the log; throws ERR_PROPOSAL_DROPPED if it cannot be. */
  propose(data: Uint8Array): void {
    this.raft.step(createMessage({ type: MessageType.MsgProp, from: this.raft.id, entries: [createEntry({ data })] }));
  }

  /**
   * Proposes several entries as one MsgProp: the leader appends them together
   * and replicates them in one MsgApp per follower (a follower forwards them
   * to the leader as one message). All are accepted or all are dropped.
   */
  proposeBatch(data: readonly Uint8Array[]): void {
    if (data.length === 0) return;
    const entries: Entry[] = [];
    for (const d of data) entries.push({ type: EntryType.EntryNormal, term: 0, index: 0, data: d });
    this.raft.step(createMessage({ type: MessageType.MsgProp, from: this.raft.id, entries }));
  }

  /** Proposes a single-member configuration change. */
  proposeConfChange(cc: ConfChange): void {
    const data = encodeConfChange(cc);
    this.raft.step(
      createMessage({ type: MessageType.MsgProp, from: this.raft.id, entries: [createEntry({ type: EntryType.EntryConfChange, data })] }),
    );
  }

  /** Applies a committed conf change; call when applying its entry. */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /**
   * Steps a message received from a peer. Local message types, responses
   * from unknown peers (etcd returns ErrStepLocalMsg / ErrStepPeerNotFound)
   * and messages whose term is above MAX_LOG_POSITION (their successor term
   * could not be represented) are ignored; returns false then.
   */
  step(m: Message): boolean {
    if (LOCAL_MSGS.has(m.type) || m.term > MAX_LOG_POSITION) return false;
    if (RESPONSE_MSGS.has(m.type) && !this.raft.prs.has(m.from)) return false;
    try {
      this.raft.step(m);
    } catch (err) {
      // A proposal forwarded to a node that lost leadership is dropped, as etcd's transport ignores the error.
      if (isRaftwireError(err, ErrorCode.PROPOSAL_DROPPED)) return false;
      throw err;
    }
    return true;
  }

  /**
   * Requests a read index; the result arrives as a ReadState with the same
   * `ctx` in a later Ready. `ctx` must be unique per request.
   */
  readIndex(ctx: Uint8Array): void {
    this.raft.step(createMessage({ type: MessageType.MsgReadIndex, entries: [createEntry({ data: ctx })] }));
  }

  /** The transport could not deliver to `id`: a follower in Replicate falls back to Probe. */
  reportUnreachable(id: Id): void {
    this.raft.step(createMessage({ type: MessageType.MsgUnreachable, from: id }));
  }

  /** The transport finished (or failed) sending a snapshot to `id`. */
  reportSnapshot(id: Id, status: SnapshotStatus): void {
    this.raft.step(createMessage({ type: MessageType.MsgSnapStatus, from: id, reject: status === 'failure' }));
  }

  hasReady(): boolean {
    const r = this.raft;
    const ss = r.softState();
    if (ss.lead !== this.prevSoftSt.lead || ss.raftState !== this.prevSoftSt.raftState) return true;
    const hs = r.hardState();
    if (!isEmptyHardState(hs) && !hardStatesEqual(hs, this.prevHardSt)) return true;
    if (r.raftLog.unstable.snapshot !== null) return true;
    if (r.msgs.length > 0 || r.raftLog.unstableEntries().length > 0 || r.raftLog.hasNextCommittedEnts()) return true;
    return r.readStates.length > 0;
  }

  /** Returns the pending work and takes ownership of its messages and read states. */
  ready(): Ready {
    const r = this.raft;
    const ss = r.softState();
    const hs = r.hardState();
    const entries = [...r.raftLog.unstableEntries()];
    const rd: Ready = {
      softState: ss.lead !== this.prevSoftSt.lead || ss.raftState !== this.prevSoftSt.raftState ? ss : null,
      hardState: hardStatesEqual(hs, this.prevHardSt) ? null : hs,
      readStates: r.readStates,
      entries,
      snapshot: r.raftLog.unstable.snapshot,
      committedEntries: r.raftLog.nextCommittedEnts(r.maxCommittedSizePerReady),
      messages: r.msgs,
      mustSync: hs.term !== this.prevHardSt.term || hs.vote !== this.prevHardSt.vote || entries.length > 0,
    };
    if (rd.softState) this.prevSoftSt = rd.softState;
    r.readStates = [];
    r.msgs = [];
    return rd;
  }

  /** Tells Raft the Ready was persisted and applied. */
  advance(rd: Ready): void {
    if (rd.hardState !== null) this.prevHardSt = rd.hardState;
    this.raft.advance(rd.entries, rd.committedEntries, rd.snapshot?.metadata.index ?? 0);
  }

  status(): RaftStatus {
    const r = this.raft;
    const progress = new Map<Id, ProgressStatus>();
    if (r.lead === r.id) {
      for (const [id, pr] of r.prs) {
        progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          recentActive: pr.recentActive,
          inflight: pr.inflights.count(),
          pendingSnapshot: pr.pendingSnapshot,
          isLearner: pr.isLearner,
        });
      }
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.raftLog.committed,
      applied: r.raftLog.applied,
      lead: r.lead,
      raftState: r.state,
      lastIndex: r.raftLog.lastIndex(),
      voters: r.voters(),
      learners: r.learners(),
      progress,
      electionElapsed: r.electionElapsed,
      electionTimeout: r.state === StateType.Leader ? r.electionTimeout : r.randomizedElectionTimeout,
    };
  }
}

export { emptyHardState, NONE };
