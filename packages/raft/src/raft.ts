import type { ConfState, Entry, Id, Logger, Message, Rand, Snapshot } from '@raftwire/core';
import {
  createEntry,
  createMessage,
  EntryType,
  ErrorCode,
  formatId,
  MAX_LOG_POSITION,
  MessageType,
  messageTypeName,
  RaftwireError,
  silentLogger,
} from '@raftwire/core';
import { type ConfChange, ConfChangeRefusal, ConfChangeType, decodeConfChange, encodeRefusedConfChange } from './conf-change.js';
import { invariant } from './invariant.js';
import { Progress, ProgressState } from './progress.js';
import { RaftLog } from './raft-log.js';
import { ReadOnly, type ReadState } from './read-only.js';
import type { HardState, Storage } from './storage.js';

/** No node: etcd's `None`. */
export const NONE: Id = 0n;

/**
 * Context of a rejecting MsgAppResp that says "my log ends before entries I acknowledged"
 * (raftwire's own; an etcd leader ignores it as a stale rejection, as before).
 */
const LOST_ENTRIES = new TextEncoder().encode('raftwire:lost-entries');

function isLostEntries(ctx: Uint8Array): boolean {
  if (ctx.length !== LOST_ENTRIES.length) return false;
  for (let i = 0; i < ctx.length; i++) if (ctx[i] !== LOST_ENTRIES[i]) return false;
  return true;
}

/** A learner may be promoted once its match reaches this fraction of the leader's (etcd's readyPercent). */
export const LEARNER_READY_FRACTION = 0.9;

/** Role of a node (etcd's StateType). */
export const StateType = {
  Follower: 'StateFollower',
  Candidate: 'StateCandidate',
  Leader: 'StateLeader',
  PreCandidate: 'StatePreCandidate',
} as const;
export type StateType = (typeof StateType)[keyof typeof StateType];

/** Volatile state worth reporting (etcd's SoftState). */
export interface SoftState {
  lead: Id;
  raftState: StateType;
}

/** Configuration of a Raft state machine (etcd's raft.Config, the parts that apply here). */
export interface RaftConfig {
  /** This node's ID; non-zero. */
  id: Id;
  /** Ticks without hearing from a leader before a follower campaigns (randomized in [e, 2e)). */
  electionTick: number;
  /** Ticks between leader heartbeats; must be < electionTick. */
  heartbeatTick: number;
  storage: Storage;
  /** Last applied index when restarting (entries up to it are not returned again). */
  applied?: number;
  /** Max bytes of entries per MsgApp. Default 1 MiB. */
  maxSizePerMsg?: number;
  /** Max in-flight MsgApp per follower in Replicate state. Default 256. */
  maxInflightMsgs?: number;
  /** Max bytes of committed entries returned per Ready. Default unlimited. */
  maxCommittedSizePerReady?: number;
  /** Run a pre-vote round before incrementing the term. Default true. */
  preVote?: boolean;
  /** Leader steps down when it has not heard from a quorum for an election timeout. Default true. */
  checkQuorum?: boolean;
  /**
   * Never start an election (no pre-vote either), whatever the timeouts or a MsgHup say: the node
   * votes and replicates but never leads. For a member that cannot serve a leader's duties, such
   * as a raftwire member inside an etcd cluster. Default false.
   */
  neverCampaign?: boolean;
  /** Randomness for election timeouts; inject a seeded source for determinism. */
  rand: Rand;
  logger?: Logger;
}

type VoteResult = 'won' | 'lost' | 'pending';

/** The Raft consensus state machine (etcd's `raft` struct). Pure: no I/O, no timers, no randomness of its own. */
export class Raft {
  readonly id: Id;
  term = 0;
  vote: Id = NONE;
  readonly raftLog: RaftLog;
  state: StateType = StateType.Follower;
  lead: Id = NONE;
  /** Voters and learners with their progress (the leader's flow control state). */
  prs = new Map<Id, Progress>();
  votes = new Map<Id, boolean>();
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  pendingConfIndex = 0;
  pendingReadIndexMessages: Message[] = [];
  private readOnly = new ReadOnly();
  /** Last index at which this follower last logged that entries it acknowledged are missing (logged once per index). */
  private lostEntriesLogged = -1;
  electionElapsed = 0;
  heartbeatElapsed = 0;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly neverCampaign: boolean;
  readonly heartbeatTimeout: number;
  readonly electionTimeout: number;
  randomizedElectionTimeout = 0;
  readonly maxMsgSize: number;
  readonly maxInflight: number;
  readonly maxCommittedSizePerReady: number;
  private readonly rand: Rand;
  readonly logger: Logger;

  constructor(c: RaftConfig) {
    invariant(c.id !== NONE, 'cannot use none as id');
    invariant(c.heartbeatTick > 0, 'heartbeat tick must be greater than 0');
    invariant(c.electionTick > c.heartbeatTick, 'election tick must be greater than heartbeat tick');
    this.id = c.id;
    this.raftLog = new RaftLog(c.storage);
    this.checkQuorum = c.checkQuorum ?? true;
    this.preVote = c.preVote ?? true;
    this.neverCampaign = c.neverCampaign ?? false;
    this.heartbeatTimeout = c.heartbeatTick;
    this.electionTimeout = c.electionTick;
    this.maxMsgSize = c.maxSizePerMsg ?? 1024 * 1024;
    this.maxInflight = c.maxInflightMsgs ?? 256;
    this.maxCommittedSizePerReady = c.maxCommittedSizePerReady ?? Number.POSITIVE_INFINITY;
    this.rand = c.rand;
    this.logger = (c.logger ?? silentLogger).child({ 'local-member-id': formatId(c.id) });
    const { hardState, confState } = c.storage.initialState();
    if (hardState.term > MAX_LOG_POSITION) {
      throw new RaftwireError(
        ErrorCode.CORRUPT,
        `the persisted term ${hardState.term} is above ${MAX_LOG_POSITION} (2^53 - 2^20), the largest term a member accepts: ` +
          'it was adopted from a forged message by an earlier version, and no election can follow it. ' +
          "Recover this member from a healthy member's data (remove it and add it back with empty storage).",
      );
    }
    this.setConfiguration(confState.voters, confState.learners, () => new Progress(1, this.maxInflight));
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) this.loadState(hardState);
    if (c.applied !== undefined && c.applied > 0) this.raftLog.appliedTo(c.applied);
    this.becomeFollower(this.term, NONE);
    this.logger.debug(
      { term: this.term, commit: this.raftLog.committed, applied: this.raftLog.applied, 'last-index': this.raftLog.lastIndex() },
      'newRaft',
    );
  }

  private loadState(hs: HardState): void {
    invariant(
      hs.commit >= this.raftLog.committed && hs.commit <= this.raftLog.lastIndex(),
      `hs.commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
    );
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  hasLeader(): boolean {
    return this.lead !== NONE;
  }

  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  /** Voter IDs, sorted. */
  voters(): Id[] {
    return this.members(false);
  }

  /** Learner IDs, sorted. */
  learners(): Id[] {
    return this.members(true);
  }

  private members(learners: boolean): Id[] {
    const ids: Id[] = [];
    for (const [id, pr] of this.prs) if (pr.isLearner === learners) ids.push(id);
    return ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  private isVoter(id: Id): boolean {
    const pr = this.prs.get(id);
    return pr !== undefined && !pr.isLearner;
  }

  private voterCount(): number {
    let n = 0;
    for (const pr of this.prs.values()) if (!pr.isLearner) n++;
    return n;
  }

  /** Replaces the configuration: every voter and learner gets a fresh progress from `make`. */
  private setConfiguration(voters: readonly Id[], learners: readonly Id[], make: () => Progress): void {
    this.prs = new Map();
    for (const v of voters) this.prs.set(v, make());
    for (const l of learners) {
      if (this.prs.has(l)) continue; // a voter listed as a learner too stays a voter
      const pr = make();
      pr.isLearner = true;
      this.prs.set(l, pr);
    }
  }

  confState(): ConfState {
    return { voters: this.voters(), learners: this.learners(), votersOutgoing: [], learnersNext: [], autoLeave: false };
  }

  /** Majority of the voters (learners never count). */
  private quorum(): number {
    return Math.floor(this.voterCount() / 2) + 1;
  }

  private send(m: Message): void {
    if (m.from === NONE) m.from = this.id;
    const t = m.type;
    if (t === MessageType.MsgVote || t === MessageType.MsgVoteResp || t === MessageType.MsgPreVote || t === MessageType.MsgPreVoteResp) {
      invariant(m.term !== 0, `term should be set when sending ${messageTypeName(t)}`);
    } else {
      invariant(m.term === 0, `term should not be set when sending ${messageTypeName(t)} (was ${m.term})`);
      if (t !== MessageType.MsgProp && t !== MessageType.MsgReadIndex) m.term = this.term;
    }
    this.msgs.push(m);
  }

  /** Sends MsgApp (or MsgSnap) to `to` when there is something to send and flow control allows. */
  sendAppend(to: Id): void {
    this.maybeSendAppend(to, true);
  }

  private maybeSendAppend(to: Id, sendIfEmpty: boolean): boolean {
    const pr = this.prs.get(to);
    if (!pr || pr.isPaused()) return false;
    const term = this.raftLog.termOrNull(pr.next - 1);
    let ents: Entry[] | null = null;
    if (term !== null) {
      try {
        ents = this.raftLog.entries(pr.next, this.maxMsgSize);
      } catch (err) {
        if (!(err instanceof RaftwireError) || err.code !== ErrorCode.COMPACTED) throw err;
        ents = null;
      }
    }
    if (ents !== null && ents.length === 0 && !sendIfEmpty) return false;
    if (term === null || ents === null) {
      // The entries this follower needs were compacted: send the snapshot instead.
      if (!pr.recentActive) {
        this.logger.debug({ 'remote-peer-id': formatId(to) }, 'ignore sending snapshot since it is not recently active');
        return false;
      }
      const snapshot = this.raftLog.snapshot();
      invariant(snapshot.metadata.index > 0, 'need non-empty snapshot');
      this.logger.debug(
        { 'remote-peer-id': formatId(to), 'snapshot-index': snapshot.metadata.index, 'snapshot-term': snapshot.metadata.term },
        'sending snapshot',
      );
      pr.becomeSnapshot(snapshot.metadata.index);
      this.send(createMessage({ type: MessageType.MsgSnap, to, snapshot }));
      return true;
    }
    const m = createMessage({
      type: MessageType.MsgApp,
      to,
      index: pr.next - 1,
      logTerm: term,
      entries: ents,
      commit: this.raftLog.committed,
    });
    const n = ents.length;
    if (n !== 0) {
      if (pr.state === ProgressState.Replicate) {
        const last = (ents[n - 1] as Entry).index;
        pr.optimisticUpdate(last);
        pr.inflights.add(last);
      } else if (pr.state === ProgressState.Probe) {
        pr.probeSent = true;
      } else {
        invariant(false, `sending append in unhandled state ${pr.state}`);
      }
    }
    this.send(m);
    return true;
  }

  private sendHeartbeat(to: Id, ctx: Uint8Array): void {
    const pr = this.prs.get(to);
    const commit = Math.min(pr?.match ?? 0, this.raftLog.committed);
    this.send(createMessage({ type: MessageType.MsgHeartbeat, to, commit, context: ctx }));
  }

  bcastAppend(): void {
    for (const id of this.prs.keys()) if (id !== this.id) this.sendAppend(id);
  }

  private bcastHeartbeat(): void {
    const last = this.readOnly.lastPendingRequestCtx();
    this.bcastHeartbeatWithCtx(last === null ? new Uint8Array(0) : Uint8Array.from(last, (c) => c.charCodeAt(0)));
  }

  private bcastHeartbeatWithCtx(ctx: Uint8Array): void {
    for (const id of this.prs.keys()) if (id !== this.id) this.sendHeartbeat(id, ctx);
  }

  /** Advances the commit index to the voters' quorum match, if that entry is from the current term. */
  maybeCommit(): boolean {
    const matches: number[] = [];
    for (const pr of this.prs.values()) if (!pr.isLearner) matches.push(pr.match);
    matches.sort((a, b) => b - a);
    if (matches.length === 0) return false;
    const mci = matches[this.quorum() - 1] as number;
    return this.raftLog.maybeCommit(mci, this.term);
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.votes.clear();
    const last = this.raftLog.lastIndex();
    for (const [id, old] of this.prs) {
      const pr = new Progress(last + 1, this.maxInflight, old.isLearner);
      // Own entries count only once durable: a new leader's unsynced tail is acked at advance.
      if (id === this.id) pr.match = this.durableLastIndex();
      this.prs.set(id, pr);
    }
    this.pendingConfIndex = 0;
    this.readOnly = new ReadOnly();
  }

  private appendEntry(es: Entry[]): void {
    const li = this.raftLog.lastIndex();
    es.forEach((e, i) => {
      e.term = this.term;
      e.index = li + 1 + i;
    });
    this.raftLog.append(es);
    // The leader's own entries are matched only once fsynced (self-ack at advance), so that the
    // ready loop may send them to followers while they are being synced (thesis §10.2.1).
    this.prs.get(this.id)?.maybeUpdate(this.durableLastIndex());
    this.maybeCommit();
  }

  /** Advances logical time by one tick. */
  tick(): void {
    if (this.state === StateType.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (!this.neverCampaign && this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(createMessage({ type: MessageType.MsgHup, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(createMessage({ type: MessageType.MsgCheckQuorum, from: this.id }));
    }
    if (this.state !== StateType.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(createMessage({ type: MessageType.MsgBeat, from: this.id }));
    }
  }

  becomeFollower(term: number, lead: Id): void {
    this.reset(term);
    this.lead = lead;
    this.state = StateType.Follower;
    this.logger.debug({ term }, `${formatId(this.id)} became follower at term ${term}`);
  }

  private becomeCandidate(): void {
    invariant(this.state !== StateType.Leader, 'invalid transition [leader -> candidate]');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = StateType.Candidate;
    this.logger.debug({ term: this.term }, `${formatId(this.id)} became candidate at term ${this.term}`);
  }

  private becomePreCandidate(): void {
    invariant(this.state !== StateType.Leader, 'invalid transition [leader -> pre-candidate]');
    this.votes.clear();
    this.lead = NONE;
    this.state = StateType.PreCandidate;
    this.logger.debug({ term: this.term }, `${formatId(this.id)} became pre-candidate at term ${this.term}`);
  }

  private becomeLeader(): void {
    invariant(this.state !== StateType.Follower, 'invalid transition [follower -> leader]');
    this.reset(this.term);
    this.lead = this.id;
    this.state = StateType.Leader;
    const self = this.prs.get(this.id);
    if (self) {
      self.becomeReplicate();
      // The leader is always recently active; MsgCheckQuorum preserves this.
      self.recentActive = true;
    }
    // Conf changes in the uncommitted tail may not be applied yet: block new ones until then.
    this.pendingConfIndex = this.raftLog.lastIndex();
    this.appendEntry([createEntry({ type: EntryType.EntryNormal })]);
    this.logger.info({ term: this.term }, `${formatId(this.id)} became leader at term ${this.term}`);
  }

  private hup(preElection: boolean): void {
    if (this.state === StateType.Leader) return;
    if (!this.promotable()) return;
    if (this.neverCampaign) {
      this.logger.info({ term: this.term }, 'not campaigning: this member never leads');
      return;
    }
    // Cannot campaign while conf changes are committed but not applied.
    if (this.raftLog.committed > this.raftLog.applied) {
      const ents = this.raftLog.slice(Math.max(this.raftLog.applied + 1, this.raftLog.firstIndex()), this.raftLog.committed + 1);
      if (ents.some((e) => e.type === EntryType.EntryConfChange)) {
        this.logger.warn({ term: this.term }, 'cannot campaign: pending configuration changes to apply');
        return;
      }
    }
    this.campaign(preElection);
  }

  private campaign(preElection: boolean): void {
    let term: number;
    let voteMsg: MessageType;
    if (preElection) {
      this.becomePreCandidate();
      voteMsg = MessageType.MsgPreVote;
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.MsgVote;
      term = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      if (preElection) this.campaign(false);
      else this.becomeLeader();
      return;
    }
    for (const id of this.voters()) {
      if (id === this.id) continue;
      this.send(createMessage({ type: voteMsg, term, to: id, index: this.raftLog.lastIndex(), logTerm: this.raftLog.lastTerm() }));
    }
  }

  private poll(id: Id, granted: boolean): VoteResult {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    let yes = 0;
    let no = 0;
    for (const [v, pr] of this.prs) {
      if (pr.isLearner) continue; // a learner's vote never counts
      const r = this.votes.get(v);
      if (r === true) yes++;
      else if (r === false) no++;
    }
    const q = this.quorum();
    if (yes >= q) return 'won';
    if (this.voterCount() - no >= q) return 'pending';
    return 'lost';
  }

  /** A node may campaign when it is a voter (not a learner) in its own configuration. */
  promotable(): boolean {
    return this.isVoter(this.id);
  }

  private pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTimeout + this.rand.intn(this.electionTimeout);
  }

  /**
   * Steps the state machine with a message. Throws a `RaftwireError`
   * `ERR_PROPOSAL_DROPPED` when a proposal cannot be accepted.
   */
  step(m: Message): void {
    if (m.term === 0) {
      // local message
    } else if (m.term > this.term) {
      if (m.type === MessageType.MsgVote || m.type === MessageType.MsgPreVote) {
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        if (inLease) {
          // We heard from a leader within the minimum election timeout: ignore (check-quorum lease).
          this.logger.debug(
            { 'remote-peer-id': formatId(m.from), term: this.term, 'msg-term': m.term },
            `ignored ${messageTypeName(m.type)}: lease is not expired`,
          );
          return;
        }
      }
      if (m.type === MessageType.MsgPreVote) {
        // Never change our term in response to a PreVote.
      } else if (m.type === MessageType.MsgPreVoteResp && !m.reject) {
        // A granted pre-vote carries the future term; we bump our term only on a quorum.
      } else if (m.type === MessageType.MsgApp || m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgSnap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgApp)) {
        // A partitioned node with a stale term rejoining: tell it our term so it steps down and
        // stops disrupting (its pre-votes cannot succeed, so it would never learn our term otherwise).
        this.send(createMessage({ type: MessageType.MsgAppResp, to: m.from }));
      } else if (m.type === MessageType.MsgPreVote) {
        this.send(createMessage({ type: MessageType.MsgPreVoteResp, to: m.from, term: this.term, reject: true }));
      }
      return;
    }

    switch (m.type) {
      case MessageType.MsgHup:
        this.hup(this.preVote);
        return;
      case MessageType.MsgVote:
      case MessageType.MsgPreVote: {
        const canVote =
          this.vote === m.from || (this.vote === NONE && this.lead === NONE) || (m.type === MessageType.MsgPreVote && m.term > this.term);
        const respType = m.type === MessageType.MsgVote ? MessageType.MsgVoteResp : MessageType.MsgPreVoteResp;
        if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
          this.logger.debug(
            { term: this.term, 'msg-term': m.term, 'remote-peer-id': formatId(m.from) },
            `${formatId(this.id)} cast ${messageTypeName(m.type)} for ${formatId(m.from)} at term ${m.term}`,
          );
          // Reply with the message's term, not ours: a pre-vote is for a future term.
          this.send(createMessage({ type: respType, to: m.from, term: m.term }));
          if (m.type === MessageType.MsgVote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.send(createMessage({ type: respType, to: m.from, term: this.term, reject: true }));
        }
        return;
      }
      default:
        if (this.state === StateType.Leader) this.stepLeader(m);
        else if (this.state === StateType.Follower) this.stepFollower(m);
        else this.stepCandidate(m);
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.MsgBeat:
        this.bcastHeartbeat();
        return;
      case MessageType.MsgCheckQuorum: {
        const self = this.prs.get(this.id);
        if (self) self.recentActive = true;
        let active = 0;
        for (const pr of this.prs.values()) if (pr.recentActive && !pr.isLearner) active++;
        if (active < this.quorum()) {
          this.logger.warn({ term: this.term }, `${formatId(this.id)} stepped down to follower since quorum is not active`);
          this.becomeFollower(this.term, NONE);
        }
        for (const [id, pr] of this.prs) if (id !== this.id) pr.recentActive = false;
        return;
      }
      case MessageType.MsgProp: {
        invariant(m.entries.length > 0, 'stepped empty MsgProp');
        if (!this.prs.has(this.id)) throw new RaftwireError(ErrorCode.PROPOSAL_DROPPED, 'proposal dropped: leader is not a member');
        const li = this.raftLog.lastIndex();
        const ents = m.entries.map((e, i) => {
          if (e.type === EntryType.EntryConfChange) {
            const refusal = this.confChangeRefusal(e.data);
            if (refusal !== null) {
              this.logger.info(
                { index: li + i + 1, reason: refusal === ConfChangeRefusal.Pending ? 'pending' : 'learner-not-ready' },
                refusal === ConfChangeRefusal.Pending
                  ? 'refusing conf change: a previous one is not yet applied'
                  : 'refusing conf change: the learner has not caught up',
              );
              // In its place, an entry that tells the proposer (etcd appends an empty one).
              return createEntry({ type: EntryType.EntryNormal, data: encodeRefusedConfChange(refusal, e.data) });
            }
            this.pendingConfIndex = li + i + 1;
          }
          return createEntry({ type: e.type, data: e.data });
        });
        this.appendEntry(ents);
        this.bcastAppend();
        return;
      }
      case MessageType.MsgReadIndex: {
        if (this.voterCount() === 1) {
          this.respondToReadIndex(m, this.raftLog.committed);
          return;
        }
        // Reject read-only requests until this leader has committed an entry in its term.
        if (this.raftLog.term(this.raftLog.committed) !== this.term) {
          this.pendingReadIndexMessages.push(m);
          return;
        }
        this.sendReadIndexRound(m);
        return;
      }
    }

    const pr = this.prs.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case MessageType.MsgAppResp: {
        pr.recentActive = true;
        if (m.reject && isLostEntries(m.context)) {
          this.handleLostEntries(m.from, pr, m);
          return;
        }
        if (m.reject) {
          let nextProbeIdx = m.rejectHint;
          if (m.logTerm > 0) nextProbeIdx = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm);
          if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
            if (pr.state === ProgressState.Replicate) pr.becomeProbe();
            this.sendAppend(m.from);
          }
        } else {
          const oldPaused = pr.isPaused();
          if (pr.maybeUpdate(m.index)) {
            if (pr.state === ProgressState.Probe) {
              pr.becomeReplicate();
            } else if (pr.state === ProgressState.Snapshot && pr.match >= pr.pendingSnapshot) {
              pr.becomeProbe();
              pr.becomeReplicate();
            } else if (pr.state === ProgressState.Replicate) {
              pr.inflights.freeLE(m.index);
            }
            if (this.maybeCommit()) {
              this.releasePendingReadIndexMessages();
              this.bcastAppend();
            } else if (oldPaused) {
              this.sendAppend(m.from);
            }
            while (this.maybeSendAppend(m.from, false)) {
              // keep sending while flow control allows
            }
          }
        }
        return;
      }
      case MessageType.MsgHeartbeatResp: {
        pr.recentActive = true;
        pr.probeSent = false;
        if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
        if (pr.match < this.raftLog.lastIndex()) this.sendAppend(m.from);
        if (m.context.length === 0) return;
        const acks = this.readOnly.recvAck(m.from, m.context);
        if (acks === null) return;
        let n = 0;
        for (const id of acks) if (this.isVoter(id)) n++;
        if (n < this.quorum()) return;
        for (const rs of this.readOnly.advance(m)) this.respondToReadIndex(rs.req, rs.index);
        return;
      }
      case MessageType.MsgSnapStatus: {
        if (pr.state !== ProgressState.Snapshot) return;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // Wait for a heartbeat response (or the next MsgAppResp) before probing again.
        pr.probeSent = true;
        this.logger.debug(
          { 'remote-peer-id': formatId(m.from), reject: m.reject },
          m.reject ? 'snapshot failed, resumed sending replication messages' : 'snapshot succeeded, resumed sending replication messages',
        );
        return;
      }
      case MessageType.MsgUnreachable:
        // The transport failed to deliver: stop optimistic streaming and probe.
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        this.logger.debug({ 'remote-peer-id': formatId(m.from) }, 'failed to send message to peer because it is unreachable');
        return;
    }
  }

  private sendReadIndexRound(m: Message): void {
    const ctx = (m.entries[0] as Entry).data;
    this.readOnly.addRequest(this.raftLog.committed, m);
    this.readOnly.recvAck(this.id, ctx);
    this.bcastHeartbeatWithCtx(ctx);
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0) return;
    if (this.raftLog.term(this.raftLog.committed) !== this.term) return;
    const msgs = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of msgs) this.sendReadIndexRound(m);
  }

  private respondToReadIndex(req: Message, index: number): void {
    const ctx = (req.entries[0] as Entry).data;
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index, requestCtx: ctx });
      return;
    }
    this.send(createMessage({ type: MessageType.MsgReadIndexResp, to: req.from, index, entries: req.entries }));
  }

  private stepCandidate(m: Message): void {
    const myVoteResp = this.state === StateType.PreCandidate ? MessageType.MsgPreVoteResp : MessageType.MsgVoteResp;
    switch (m.type) {
      case MessageType.MsgProp:
        throw new RaftwireError(ErrorCode.PROPOSAL_DROPPED, 'no leader: dropping proposal');
      case MessageType.MsgApp:
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case MessageType.MsgHeartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.MsgSnap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case myVoteResp: {
        const res = this.poll(m.from, !m.reject);
        if (res === 'won') {
          if (this.state === StateType.PreCandidate) {
            this.campaign(false);
          } else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (res === 'lost') {
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.MsgProp:
        if (this.lead === NONE) throw new RaftwireError(ErrorCode.PROPOSAL_DROPPED, 'no leader: dropping proposal');
        m.to = this.lead;
        this.send(m);
        return;
      case MessageType.MsgApp:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case MessageType.MsgHeartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.MsgSnap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.MsgReadIndex:
        if (this.lead === NONE) {
          this.logger.info({ term: this.term }, 'no leader: dropping read index');
          return;
        }
        m.to = this.lead;
        this.send(m);
        return;
      case MessageType.MsgReadIndexResp:
        if (m.entries.length !== 1) return;
        this.readStates.push({ index: m.index, requestCtx: (m.entries[0] as Entry).data });
        return;
    }
  }

  private handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      this.send(createMessage({ type: MessageType.MsgAppResp, to: m.from, index: this.raftLog.committed }));
      return;
    }
    const last = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (last !== null) {
      this.send(createMessage({ type: MessageType.MsgAppResp, to: m.from, index: last }));
      return;
    }
    let hintIndex = Math.min(m.index, this.raftLog.lastIndex());
    hintIndex = this.raftLog.findConflictByTerm(hintIndex, m.logTerm);
    const hintTerm = this.raftLog.term(hintIndex);
    this.send(
      createMessage({ type: MessageType.MsgAppResp, to: m.from, index: m.index, reject: true, rejectHint: hintIndex, logTerm: hintTerm }),
    );
  }

  private handleHeartbeat(m: Message): void {
    const last = this.raftLog.lastIndex();
    this.raftLog.commitTo(Math.min(m.commit, last));
    this.send(createMessage({ type: MessageType.MsgHeartbeatResp, to: m.from, context: m.context }));
    // A leader's heartbeat commits no more than it believes this member has (its match), so a
    // commit index past the end of this log means entries it acknowledged are gone (a disk that
    // lost a write). etcd stops here; this member tells the leader instead, which sends them again.
    if (m.commit > last) {
      if (this.lostEntriesLogged !== last) {
        this.lostEntriesLogged = last;
        this.logger.warn(
          { 'from-peer': formatId(m.from), commit: m.commit, 'last-index': last },
          'the leader counts entries this member no longer has; asking it to send them again',
        );
      }
      this.send(
        createMessage({
          type: MessageType.MsgAppResp,
          to: m.from,
          index: m.commit,
          reject: true,
          rejectHint: last,
          logTerm: this.raftLog.term(last),
          context: LOST_ENTRIES,
        }),
      );
    }
  }

  /**
   * A follower reports that its log ends before entries it had acknowledged (see
   * handleHeartbeat): its match comes down to what it still has and it is probed from there.
   * A late, stale report only costs a resend (the follower acknowledges again); match going
   * down never takes back a commit.
   */
  private handleLostEntries(from: Id, pr: Progress, m: Message): void {
    const hint = m.logTerm > 0 ? this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm) : m.rejectHint;
    if (pr.state === ProgressState.Snapshot || hint >= pr.match) return;
    this.logger.warn(
      { 'remote-peer-id': formatId(from), match: pr.match, 'last-index': m.rejectHint },
      'member lost entries it had acknowledged; sending them again',
    );
    pr.match = hint;
    pr.becomeProbe();
    this.sendAppend(from);
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (s === null) return;
    if (this.restore(s)) {
      this.logger.info({ 'snapshot-index': s.metadata.index, 'snapshot-term': s.metadata.term }, 'restored snapshot');
      this.send(createMessage({ type: MessageType.MsgAppResp, to: m.from, index: this.raftLog.lastIndex() }));
    } else {
      this.send(createMessage({ type: MessageType.MsgAppResp, to: m.from, index: this.raftLog.committed }));
    }
  }

  private restore(s: Snapshot): boolean {
    if (s.metadata.index <= this.raftLog.committed) return false;
    if (this.state !== StateType.Follower) {
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    // A member must be in the snapshot's configuration, unless it has no configuration yet (a joining node).
    const cs = s.metadata.confState;
    if (this.prs.size > 0 && !cs.voters.includes(this.id) && !cs.learners.includes(this.id)) {
      this.logger.warn({ 'snapshot-index': s.metadata.index }, 'attempted to restore snapshot but it is not in the ConfState');
      return false;
    }
    if (this.raftLog.matchTerm(s.metadata.index, s.metadata.term)) {
      // Fast-forward commit: the log already has the snapshot's last entry.
      this.raftLog.commitTo(s.metadata.index);
      return false;
    }
    this.raftLog.restore(s);
    this.setConfiguration(cs.voters, cs.learners, () => new Progress(this.raftLog.lastIndex() + 1, this.maxInflight));
    const self = this.prs.get(this.id);
    if (self) self.maybeUpdate(self.next - 1);
    return true;
  }

  /**
   * Applies a committed configuration change (the driver calls this when it
   * applies an EntryConfChange). Returns the new ConfState.
   */
  applyConfChange(cc: ConfChange): ConfState {
    const existing = this.prs.get(cc.nodeId);
    if (cc.type === ConfChangeType.AddNode || cc.type === ConfChangeType.AddLearnerNode) {
      const learner = cc.type === ConfChangeType.AddLearnerNode;
      if (existing === undefined) {
        const pr = new Progress(Math.max(this.raftLog.lastIndex(), 1), this.maxInflight, learner);
        // Treat a new member as active so check-quorum does not step down right away.
        pr.recentActive = true;
        this.prs.set(cc.nodeId, pr);
      } else if (!learner) {
        // AddNode for a learner promotes it; for a voter it changes nothing. (Demoting a voter to
        // a learner is not supported: AddLearnerNode for a voter changes nothing either.)
        existing.isLearner = false;
      }
    } else {
      this.prs.delete(cc.nodeId);
    }
    if (this.state === StateType.Leader) {
      if (!this.prs.has(this.id)) {
        // A removed leader steps down (etcd's StepDownOnRemoval).
        this.becomeFollower(this.term, NONE);
      } else if (this.prs.size > 0) {
        if (this.maybeCommit()) this.bcastAppend();
        else for (const id of this.prs.keys()) if (id !== this.id) this.maybeSendAppend(id, false);
      }
    }
    return this.confState();
  }

  /**
   * Why the leader must not append a proposed conf change, or null: a previous one is not
   * applied yet (one change at a time), or it promotes a learner whose log is behind. A
   * learner is ready when its match reaches 90 % of the leader's (etcd's isLearnerReady).
   * Anything else about the change is checked by the driver, before it is proposed and again
   * when it is applied.
   */
  private confChangeRefusal(data: Uint8Array): ConfChangeRefusal | null {
    if (this.pendingConfIndex > this.raftLog.applied) return ConfChangeRefusal.Pending;
    let cc: ConfChange;
    try {
      cc = decodeConfChange(data);
    } catch {
      return null; // skipped when applied, the same way on every member
    }
    const pr = this.prs.get(cc.nodeId);
    if (cc.type === ConfChangeType.AddNode && pr?.isLearner === true && !this.learnerReady(pr)) return ConfChangeRefusal.LearnerNotReady;
    return null;
  }

  private learnerReady(pr: Progress): boolean {
    const leaderMatch = this.prs.get(this.id)?.match ?? this.raftLog.lastIndex();
    return pr.match >= leaderMatch * LEARNER_READY_FRACTION;
  }

  /**
   * True while a conf change is in the log but not applied yet here (on the
   * leader, also one it has accepted but not yet appended to storage).
   */
  hasPendingConfChange(): boolean {
    if (this.state === StateType.Leader && this.pendingConfIndex > this.raftLog.applied) return true;
    const lo = Math.max(this.raftLog.applied + 1, this.raftLog.firstIndex());
    const hi = this.raftLog.lastIndex();
    if (lo > hi) return false;
    return this.raftLog.slice(lo, hi + 1).some((e) => e.type === EntryType.EntryConfChange);
  }

  /** Called by the driver after it applied and persisted a Ready. */
  advance(entries: readonly Entry[], committed: readonly Entry[], snapshotIndex: number): void {
    const lastCommitted = committed[committed.length - 1];
    const newApplied = lastCommitted ? lastCommitted.index : snapshotIndex;
    if (newApplied > 0) this.raftLog.appliedTo(newApplied);
    const lastEntry = entries[entries.length - 1];
    if (lastEntry) this.raftLog.stableTo(lastEntry.index, lastEntry.term);
    if (snapshotIndex > 0) this.raftLog.stableSnapTo(snapshotIndex);
    if (lastEntry && this.state === StateType.Leader) {
      // Self-ack: the leader's own entries now count towards the quorum.
      const self = this.prs.get(this.id);
      if (self?.maybeUpdate(this.durableLastIndex()) && this.maybeCommit()) {
        this.releasePendingReadIndexMessages();
        this.bcastAppend();
      }
    }
  }

  /** The last index this member has durably (its log less the entries not yet reported stable). */
  durableLastIndex(): number {
    const u = this.raftLog.unstable;
    return u.entries.length > 0 ? u.offset - 1 : this.raftLog.lastIndex();
  }
}
