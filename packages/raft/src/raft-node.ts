import {
  type Clock,
  ErrorCode,
  formatId,
  type Id,
  isId,
  isRaftwireError,
  type Logger,
  type Message,
  type RaftCallbacks,
  type Rand,
  RaftwireError,
  SeededRand,
  type SnapshotStatus,
  silentLogger,
  systemClock,
} from '@raftwire/core';
import { EventEmitter } from 'eventemitter3';
import { Applier } from './apply.js';
import { type ConfChange, ConfChangeType } from './conf-change.js';
import { encodeConfContext, ProposalCodec, type ProposalId } from './driver-codec.js';
import { KvStateMachine } from './kv.js';
import { bootstrapSnapshot, type Member, type MemberChange, Membership, validateMember, validateMemberId } from './membership.js';
import { ProposalBatch } from './proposal-batch.js';
import {
  type AddMemberOptions,
  type CallOptions,
  type RaftNodeEvents,
  type RaftNodeOptions,
  type RaftNodeStatus,
  type SnapshotOptions,
  type StateMachineOption,
  StateNotStarted,
} from './raft-node-options.js';
import { RaftMetrics } from './raft-metrics.js';
import { type RaftStatus, RawNode, type Ready } from './raw-node.js';
import { ReadIndexCoalescer } from './read-index.js';
import { ReadyLoop } from './ready-loop.js';
import type { ReadQueryOf, ReadValueOf, ResultOf, StateMachine } from './state-machine.js';
import { isEmptyHardState, type WritableStorage } from './storage.js';
import { strictReconfigError } from './strict-reconfig.js';
import type { RaftTransport } from './transport.js';
import { Wait, WaitTime } from './wait.js';

export * from './raft-node-options.js';

/**
 * A Raft member: ties a {@link RawNode} to storage, a state machine, a clock
 * and a transport (etcd's raft.Node plus the etcdserver apply loop). The
 * parts live in files named for them: the Ready loop (`ready-loop.ts`),
 * applying committed entries (`apply.ts`), the waiters (`wait.ts`),
 * linearizable reads (`read-index.ts`), members (`membership.ts`) and
 * proposal batching (`proposal-batch.ts`); this class coordinates them.
 *
 * `SM` is the state machine's type (`KvStateMachine` by default): `propose`
 * resolves with what its `apply` returns, `read` takes and returns what its
 * `read` does, and `query` hands it over after a linearizable barrier.
 */
export class RaftNode<SM extends StateMachine = KvStateMachine> extends EventEmitter<RaftNodeEvents> implements RaftCallbacks {
  readonly id: Id;
  readonly stateMachine: SM;
  private readonly opts: RaftNodeOptions<SM>;
  private readonly storage: WritableStorage;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private transport: RaftTransport | null;
  private rn: RawNode | null = null;
  private loop: ReadyLoop | null = null;
  private stopping = false;
  private stopped = false;
  private stopPromise: Promise<void> | null = null;
  private removedSelf = false;
  private seq = 0;
  private readonly rand: Rand;
  /** Random per start: tells this life's proposals from a previous one's. */
  private readonly incarnation: number;
  private readonly applier: Applier<ResultOf<SM>>;
  private readonly metrics: RaftMetrics;
  private readonly membership: Membership;
  private readonly batch: ProposalBatch;
  /** Writes this life's proposal envelopes (proposer, incarnation, sequence, command). */
  private readonly codec: ProposalCodec;
  private readonly reads: ReadIndexCoalescer;
  /** Proposals by sequence, settled with the state machine's result when applied here. */
  /** Each settled waiter updates the pending/failed metrics (no `then` per proposal). */
  private readonly proposals = new Wait<number, ResultOf<SM>>((failed) => this.metrics.settled(failed));
  private readonly confChanges = new Wait<number, Member[]>((failed) => this.metrics.settled(failed));
  /** Reads waiting for this member to apply up to their read index. */
  private readonly appliedWait = new WaitTime();
  /** Counts the times a leader became known; waiting for the next one is waiting for `leaderEpoch + 1`. */
  private readonly leaderWait = new WaitTime();
  private leaderEpoch = 0;

  constructor(opts: RaftNodeOptions<SM> & StateMachineOption<SM>) {
    super();
    if (!isId(opts.id) || opts.id === 0n) throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `invalid member ID ${String(opts.id)}`);
    this.id = opts.id;
    this.opts = opts;
    this.storage = opts.storage;
    this.clock = opts.clock ?? systemClock;
    this.transport = opts.transport ?? null;
    // Without a state machine SM is KvStateMachine (StateMachineOption requires one otherwise).
    this.stateMachine = opts.stateMachine ?? (new KvStateMachine() as StateMachine as SM);
    this.metrics = new RaftMetrics(opts.id, opts.metrics, opts.metricsPrefix);
    this.logger = (opts.logger ?? silentLogger).child({ 'local-member-id': formatId(opts.id) });
    this.rand = opts.rand ?? new SeededRand((Math.random() * 2 ** 32) >>> 0);
    this.incarnation = this.rand.intn(2 ** 32) >>> 0;
    if (opts.peers) {
      const urls = new Set<string>();
      for (const p of opts.peers) {
        const url = validateMember(p.id, p.url);
        if (p.learner === true) throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, 'initial members are voters: add learners later');
        if (urls.has(url)) throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `peer URL ${url} is given for two members`);
        urls.add(url);
      }
      if (new Set(opts.peers.map((p) => p.id)).size !== opts.peers.length) {
        throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, 'peers name a member ID twice');
      }
      if (!opts.peers.some((p) => p.id === opts.id)) {
        throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, 'peers must include this member');
      }
    }
    this.membership = new Membership(this.id, this.transport, this.logger);
    this.applier = new Applier({
      id: this.id,
      incarnation: this.incarnation,
      stateMachine: this.stateMachine as StateMachine<ResultOf<SM>>,
      membership: this.membership,
      storage: this.storage,
      logger: this.logger,
      proposals: this.proposals,
      confChanges: this.confChanges,
      onRemovedSelf: () => {
        this.removedSelf = true;
      },
    });
    this.codec = new ProposalCodec(this.id, this.incarnation);
    this.batch = new ProposalBatch({
      looping: () => this.loop?.busy ?? false,
      kick: () => this.loop?.kick(),
      propose: (envelopes) => this.running().proposeBatch(envelopes),
      dropped: (seqs, envelopes) => this.retryWithNextLeader(seqs, envelopes),
      failed: (seqs, err) => {
        for (const seq of seqs) this.proposals.fail(seq, err);
      },
    });
    this.reads = new ReadIndexCoalescer(this.id, this.incarnation, {
      clock: this.clock,
      retryMs: (opts.tickMs ?? 100) * (opts.electionTicks ?? 10),
      running: () => !this.stopping,
      request: (ctx) => {
        this.running().readIndex(ctx);
        this.loop?.kick();
      },
    });
  }

  /** Attaches the transport (core's Transport is created with this node as its RaftCallbacks). */
  setTransport(t: RaftTransport): void {
    this.transport = t;
    this.membership.setTransport(t);
  }

  /** Recovers from storage (or bootstraps), then starts ticking. */
  async start(options: CallOptions = {}): Promise<void> {
    if (this.stopping) throw new RaftwireError(ErrorCode.STOPPED, 'raft node is stopped');
    if (this.rn) throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, 'already started');
    options.signal?.throwIfAborted();
    const s = this.storage;
    const empty = isEmptyHardState(s.initialState().hardState) && s.lastIndex() === 0 && s.snapshot().metadata.index === 0;
    if (empty && this.opts.peers) {
      const peers = this.opts.peers.map((p) => ({ id: p.id, url: validateMember(p.id, p.url) }));
      const first = bootstrapSnapshot(peers, this.stateMachine.snapshot());
      s.applySnapshot(first);
      s.setHardState({ term: 1, vote: 0n, commit: 1 });
      await s.sync(options.signal);
      this.logger.info({ members: first.metadata.confState.voters.map(formatId) }, 'bootstrapped new cluster');
    }
    const snap = s.snapshot();
    if (snap.metadata.index > 0) this.applier.restoreSnapshot(snap, 'storage');
    const o = this.opts;
    const rn = new RawNode({
      id: this.id,
      storage: s,
      electionTick: o.electionTicks ?? 10,
      heartbeatTick: o.heartbeatTicks ?? 1,
      preVote: o.preVote ?? true,
      checkQuorum: o.checkQuorum ?? true,
      maxSizePerMsg: o.maxSizePerMsg ?? 1024 * 1024,
      maxInflightMsgs: o.maxInflightMsgs ?? 256,
      rand: this.rand,
      logger: o.logger ?? silentLogger,
    });
    this.rn = rn;
    this.loop = new ReadyLoop({
      rn,
      storage: s,
      clock: this.clock,
      tickMs: o.tickMs ?? 100,
      snapshotChunkBytes: o.snapshotChunkBytes ?? 64 * 1024,
      logger: this.logger,
      transport: () => this.transport,
      handler: {
        beforeReady: () => this.batch.flush(),
        hasQueuedWork: () => this.batch.pending,
        leaderChanged: (lead, term) => this.leaderChanged(lead, term),
        apply: (rd) => this.apply(rn, rd),
        applied: (rd) => this.afterApply(rd),
        removedSelf: () => this.removedSelf,
        onRemoved: () => {
          this.emit('removed');
          void this.stop();
        },
        onError: (err) => {
          this.logger.error({ err }, 'raft node failed');
          this.emit('error', err);
          void this.stop();
        },
      },
    });
    this.logger.debug({ applied: this.applier.applied, 'snapshot-index': this.applier.snapshotIndex }, 'raft node started');
    this.loop.kick();
  }

  /** Stops ticking and processing; every pending call rejects with ERR_STOPPED. Idempotent. */
  stop(): Promise<void> {
    if (this.stopPromise) return this.stopPromise;
    this.stopping = true;
    const loopStopped = this.loop?.stop();
    const err = new RaftwireError(ErrorCode.STOPPED, 'raft node stopped');
    this.proposals.rejectAll(err);
    this.confChanges.rejectAll(err);
    this.reads.rejectAll(err);
    this.appliedWait.rejectAll(err);
    this.leaderWait.rejectAll(err);
    this.batch.clear();
    this.stopPromise = (async () => {
      await loopStopped;
      this.stopped = true;
      this.logger.info({}, 'raft node stopped');
      this.emit('stopped');
    })();
    return this.stopPromise;
  }

  /** The RawNode of a running node; throws ERR_STOPPED once stopping, ERR_NOT_STARTED before `start()`. */
  private running(): RawNode {
    if (this.stopping) throw new RaftwireError(ErrorCode.STOPPED, 'raft node is stopped');
    if (!this.rn) throw new RaftwireError(ErrorCode.NOT_STARTED, 'raft node is not started: call start() first');
    return this.rn;
  }

  /**
   * Resolves once no Ready is being handled (persisted, sent, applied). For
   * tests and simulations that drive a ManualClock over real disk I/O: wait
   * for this before advancing simulated time.
   */
  async whenIdle(): Promise<void> {
    await this.loop?.whenIdle();
  }

  /** Starts an election now (tests, leadership hints). */
  campaign(): void {
    this.running().campaign();
    this.loop?.kick();
  }

  /**
   * Proposes a command; resolves with the state machine's result once it is
   * committed and applied here. Waits for a leader while there is none. A
   * proposal lost in a leader change never resolves: pass a signal with a
   * timeout (e.g. `AbortSignal.timeout(5000)`). Aborting stops the wait; the
   * command may still commit (as with etcd, a timed-out write is indeterminate).
   */
  propose(data: Uint8Array, options: CallOptions = {}): Promise<ResultOf<SM>> {
    // Not async: one promise per proposal (its waiter's), no wrapper promises or closures.
    if (!(data instanceof Uint8Array)) {
      return Promise.reject(new RaftwireError(ErrorCode.INVALID_ARGUMENT, 'proposal data must be a Uint8Array'));
    }
    if (this.stopping || !this.rn) {
      try {
        this.running();
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const seq = ++this.seq;
    this.metrics.started();
    const done = this.proposals.register(seq, options.signal);
    // Queued even while no leader is known: stepping the batch then drops it, and it is queued
    // again once a leader is announced (retryWithNextLeader).
    if (this.proposals.isRegistered(seq)) this.batch.enqueue(seq, this.codec.encode(seq, data));
    return done;
  }

  /**
   * Linearizable read barrier (ReadIndex): resolves with an index once the
   * leader confirmed leadership with a quorum heartbeat round and this member
   * applied up to that index. State read after it is linearizable. Reads
   * are coalesced into shared ReadIndex requests (see `read-index.ts`).
   */
  async readIndex(options: CallOptions = {}): Promise<number> {
    this.running();
    const index = await this.reads.read(options.signal);
    if (this.applier.applied < index) await this.appliedWait.wait(index, options.signal);
    return index;
  }

  /**
   * Linearizable read through the state machine's own `read(query)`: for a
   * {@link KvStateMachine}, `read(key)` resolves with the key's value. Throws
   * ERR_INVALID_ARGUMENT when the state machine has no `read`.
   */
  async read(query: ReadQueryOf<SM>, options: CallOptions = {}): Promise<ReadValueOf<SM>> {
    const sm = this.stateMachine as unknown as { read?: (q: ReadQueryOf<SM>) => ReadValueOf<SM> };
    if (typeof sm.read !== 'function') {
      throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, 'read(query) needs a state machine with a read(query) method; use query(fn)');
    }
    if (this.stateMachine instanceof KvStateMachine && typeof query !== 'string') {
      throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, 'key must be a string');
    }
    await this.readIndex(options);
    return sm.read.call(this.stateMachine, query);
  }

  /**
   * Linearizable access to the state machine: resolves with `fn(stateMachine)`
   * run once this member has applied everything committed before the call
   * (the {@link readIndex} barrier). `fn` must only read.
   */
  async query<T>(fn: (stateMachine: SM) => T, options: CallOptions = {}): Promise<T> {
    if (typeof fn !== 'function') throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, 'query(fn) needs a function');
    await this.readIndex(options);
    return fn(this.stateMachine);
  }

  /**
   * Adds a member, a voter or (with `learner: true`) a learner, which receives
   * the log without voting until {@link promoteMember} makes it a voter.
   * Resolves with the member list once the change is applied here.
   *
   * One change at a time, checked before anything is proposed (the same rules
   * run again when the change is applied): ERR_INVALID_URL / ERR_INVALID_ARGUMENT
   * for a bad URL or ID; ERR_CONFLICT for an ID or URL in use, a removed ID,
   * another change still in progress, or (strict reconfiguration, unless
   * `strictReconfigCheck: false`) a voter that would leave the started voters
   * short of a quorum.
   */
  async addMember(id: Id, url: string, options: AddMemberOptions = {}): Promise<Member[]> {
    const norm = validateMember(id, url);
    return this.changeMembership({ kind: 'add', id, url: norm, learner: options.learner === true }, options);
  }

  /**
   * Promotes a learner to a voter; resolves with the member list once applied
   * here. ERR_CONFLICT while the learner's log is behind the leader's (less
   * than 90 % of it, as etcd), while another change is in progress, or when
   * the started voters would be short of a quorum; ERR_MEMBER_NOT_FOUND for an
   * unknown member.
   */
  async promoteMember(id: Id, options: CallOptions = {}): Promise<Member[]> {
    validateMemberId(id);
    return this.changeMembership({ kind: 'promote', id }, options);
  }

  /**
   * Removes a member (voter or learner); resolves with the member list once
   * applied here. ERR_MEMBER_NOT_FOUND for an unknown member; ERR_CONFLICT for
   * the last voter, while another change is in progress, or when the
   * remaining started voters would be short of a quorum.
   */
  async removeMember(id: Id, options: CallOptions = {}): Promise<Member[]> {
    validateMemberId(id);
    return this.changeMembership({ kind: 'remove', id }, options);
  }

  private changeMembership(change: MemberChange, options: CallOptions): Promise<Member[]> {
    const invalid = this.membership.check(change);
    if (invalid) throw invalid;
    // One at a time: refused here when this member's log holds a change not applied yet; a
    // change racing another from elsewhere is refused by the leader, which answers with an
    // entry that fails this call as soon as it applies (never a silent drop).
    if (this.running().hasPendingConfChange()) {
      throw new RaftwireError(ErrorCode.CONFLICT, 'another membership change is in progress; retry once it is applied');
    }
    if (this.opts.strictReconfigCheck !== false) {
      const short = strictReconfigError(change, this.membership.voters(), (v) => this.isStarted(v));
      if (short) throw short;
    }
    const seq = ++this.seq;
    const type =
      change.kind === 'remove'
        ? ConfChangeType.RemoveNode
        : change.kind === 'add' && change.learner
          ? ConfChangeType.AddLearnerNode
          : ConfChangeType.AddNode;
    const url = change.kind === 'add' ? change.url : '';
    const cc: ConfChange = { type, nodeId: change.id, context: encodeConfContext(this.proposalId(seq), url) };
    return this.submit(this.confChanges, seq, options.signal, () => {
      this.running().proposeConfChange(cc);
      this.loop?.kick();
    });
  }

  /** This member, or a member whose peer the transport reaches now (strict reconfiguration's "started"). */
  private isStarted(id: Id): boolean {
    if (id === this.id) return true;
    const since = this.transport?.activeSince;
    return since === undefined ? true : since.call(this.transport, id) > 0;
  }

  /** Current members with their URLs, as of the last applied entry. */
  memberships(): Member[] {
    return this.membership.list();
  }

  /**
   * Takes a snapshot of the applied state now and compacts the log behind
   * it, keeping `catchUpEntries`. Resolves with the snapshot's index once it
   * is durable (the existing one when nothing was applied since).
   */
  async takeSnapshot(options: SnapshotOptions = {}): Promise<number> {
    this.running();
    await this.whenIdle();
    const rn = this.running();
    const a = this.applier;
    if (a.applied > a.snapshotIndex) {
      await a.saveSnapshot(rn, options.catchUpEntries ?? this.opts.snapshotCatchUpEntries ?? 5_000, options.signal);
    }
    return a.snapshotIndex;
  }

  status(): RaftNodeStatus {
    const st = this.rn?.status();
    return {
      id: this.id,
      leader: st?.lead ?? 0n,
      term: st?.term ?? 0,
      commit: st?.commit ?? 0,
      applied: this.applier.applied,
      raftState: st?.raftState ?? StateNotStarted,
      lastIndex: st?.lastIndex ?? 0,
      snapshotIndex: this.applier.snapshotIndex,
      voters: st?.voters ?? [],
      learners: st?.learners ?? [],
      members: this.membership.list(),
      started: this.rn !== null,
      stopped: this.stopped,
      removed: this.removedSelf,
    };
  }

  /** The underlying state machine's status, including per-follower progress on the leader. */
  raftStatus(): RaftStatus {
    return this.running().status();
  }

  // --- RaftCallbacks -------------------------------------------------------

  /** Steps a message from the transport. */
  async process(msg: Message, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const rn = this.running();
    if (this.membership.isRemoved(msg.from)) {
      throw new RaftwireError(ErrorCode.MEMBER_REMOVED, `cannot process message from removed member ${formatId(msg.from)}`);
    }
    if (msg.to !== this.id) {
      throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `message to ${formatId(msg.to)} delivered to ${formatId(this.id)}`);
    }
    rn.step(msg);
    this.loop?.kick();
  }

  isIdRemoved(id: Id): boolean {
    return this.membership.isRemoved(id);
  }

  reportUnreachable(id: Id): void {
    if (!this.rn || this.stopping) return;
    this.rn.reportUnreachable(id);
    this.loop?.kick();
  }

  reportSnapshot(id: Id, status: SnapshotStatus): void {
    if (!this.rn || this.stopping) return;
    this.rn.reportSnapshot(id, status);
    this.loop?.kick();
  }

  /**
   * The transport learned that this member was removed (a peer answered 410
   * or 403): emit `removed` and stop without waiting to apply the change.
   */
  removedFromCluster(): void {
    if (this.stopping) return;
    this.removedSelf = true;
    this.logger.warn({}, 'this member was removed from the cluster; stopping');
    this.emit('removed');
    void this.stop();
  }

  // --- Proposing -------------------------------------------------------------

  private proposalId(seq: number): ProposalId {
    return { proposer: this.id, incarnation: this.incarnation, seq };
  }

  /**
   * Registers the waiter `seq` in `waiters`, then steps the proposal once a
   * leader is known; when it is dropped because leadership is changing,
   * waits for the next leader and steps it again. Resolves when the entry
   * is applied here.
   */
  private async submit<T>(
    waiters: Wait<number, T>,
    seq: number,
    signal: AbortSignal | undefined,
    step: () => void | Promise<void>,
  ): Promise<T> {
    this.metrics.started();
    const done = waiters.register(seq, signal);
    try {
      for (;;) {
        // Skip the wait (and its microtask hop) when a leader is known: the hot path under load.
        if (this.running().lead === 0n) await this.nextLeader(signal);
        this.running();
        try {
          await step();
          break;
        } catch (err) {
          if (!isRaftwireError(err, ErrorCode.PROPOSAL_DROPPED)) throw err;
          await this.nextLeader(signal);
        }
      }
    } catch (err) {
      waiters.fail(seq, err);
      done.catch(() => {});
      throw err;
    }
    return done;
  }

  /**
   * A batch was dropped (no leader to take it): once the next leader is announced, queues again
   * every proposal of it still waited for (one whose signal aborted meanwhile is not stepped).
   */
  private retryWithNextLeader(seqs: number[], envelopes: Uint8Array[]): void {
    this.nextLeader(undefined).then(
      () => {
        if (this.stopping) return;
        for (let i = 0; i < seqs.length; i++) {
          const seq = seqs[i] as number;
          if (this.proposals.isRegistered(seq)) this.batch.enqueue(seq, envelopes[i] as Uint8Array);
        }
      },
      () => {}, // the node stopped: every waiter was rejected already
    );
  }

  /** Resolves when a leader is next announced. */
  private nextLeader(signal: AbortSignal | undefined): Promise<void> {
    return this.leaderWait.wait(this.leaderEpoch + 1, signal);
  }

  // --- Handling Ready (called by the ReadyLoop) -----------------------------

  private leaderChanged(lead: Id, term: number): void {
    this.logger.info({ leader: formatId(lead), term }, 'leader changed');
    this.metrics.leaderChanged(lead);
    this.emit('leader-change', { leader: lead, term });
    if (lead !== 0n) this.leaderWait.trigger(++this.leaderEpoch);
  }

  private apply(rn: RawNode, rd: Ready): void {
    if (rd.hardState) this.metrics.committed(rd.hardState.commit);
    if (rd.snapshot) this.applier.restoreSnapshot(rd.snapshot);
    for (const e of rd.committedEntries) this.applier.applyEntry(rn, e);
    this.reads.onReadStates(rd.readStates);
  }

  private async afterApply(rd: Ready): Promise<void> {
    const a = this.applier;
    if (rd.committedEntries.length > 0 || rd.snapshot) {
      this.metrics.applied(a.applied);
      this.emit('applied', { index: a.applied });
      this.appliedWait.trigger(a.applied);
    }
    if (a.applied - a.snapshotIndex >= (this.opts.snapshotEntries ?? 10_000)) {
      await a.saveSnapshot(this.rn as RawNode, this.opts.snapshotCatchUpEntries ?? 5_000, this.loop?.signal);
    }
  }
}
