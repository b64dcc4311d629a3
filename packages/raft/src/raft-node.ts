import type { Entry, Id, Message } from '@raftwire/core';
import { createSnapshot, EntryType, ErrorCode, formatId, MessageType, normalizePeerUrl, RaftwireError } from '@raftwire/core';
import { EventEmitter } from 'eventemitter3';
import { type Clock, systemClock, type TimerHandle } from './clock.js';
import { type ConfChange, ConfChangeType, decodeConfChange } from './conf-change.js';
import {
  decodeConfContext,
  decodeNodeSnapshot,
  decodeProposal,
  encodeConfContext,
  encodeNodeSnapshot,
  encodeProposal,
} from './driver-codec.js';
import { isRaftError, RaftError, RaftErrorCode } from './errors.js';
import { type KvResult, KvStateMachine, type StateMachine } from './kv.js';
import { type Logger, silentLogger } from './logger.js';
import { type Rand, SeededRand } from './rand.js';
import type { StateType } from './raft.js';
import { type RaftStatus, type Ready, RawNode, type SnapshotStatus } from './raw-node.js';
import { isEmptyHardState, type WritableStorage } from './storage.js';
import type { RaftCallbacks, RaftTransport, SnapshotBody } from './transport.js';

/** A cluster member: ID and peer URL. */
export interface Member {
  id: Id;
  url: string;
}

/** Options of {@link RaftNode}. */
export interface RaftNodeOptions<R> {
  /** This member's ID (non-zero). */
  id: Id;
  /**
   * The initial members (including this one) when bootstrapping a new cluster on empty storage.
   * Every initial member must be given the same list. Omit to join an existing cluster (the
   * leader adds this member with {@link RaftNode.addMember} first) or to restart from storage.
   */
  peers?: readonly Member[];
  /** Log storage: `MemoryStorage`, or `FileStorage` from `@raftwire/raft/node` for durability. */
  storage: WritableStorage;
  /** Where messages go; may also be attached later with {@link RaftNode.setTransport}. */
  transport?: RaftTransport;
  /** The replicated state machine; a {@link KvStateMachine} by default. */
  stateMachine?: StateMachine<R>;
  /** Timer source; inject a `ManualClock` for deterministic tests. Default: real timers. */
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
}

/** What {@link RaftNode.status} reports. */
export interface RaftNodeStatus {
  id: Id;
  /** Current leader, 0n when unknown. */
  leader: Id;
  term: number;
  commit: number;
  applied: number;
  raftState: StateType;
  lastIndex: number;
  snapshotIndex: number;
  voters: Id[];
  members: Member[];
  started: boolean;
  stopped: boolean;
  removed: boolean;
}

/** Events of {@link RaftNode}. */
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

interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

const MAX_U64 = (1n << 64n) - 1n;

function abortError(signal: AbortSignal): RaftwireError {
  return new RaftwireError(ErrorCode.ABORTED, 'operation aborted', { cause: signal.reason });
}

/**
 * Ties a {@link RawNode} to storage, a state machine, a clock and a transport
 * (etcd's raft.Node plus the etcdserver apply loop). For each Ready it
 * persists (and fsyncs) first, then sends, then applies, then advances.
 */
export class RaftNode<R = KvResult> extends EventEmitter<RaftNodeEvents> implements RaftCallbacks {
  readonly id: Id;
  readonly stateMachine: StateMachine<R>;
  private readonly opts: RaftNodeOptions<R>;
  private readonly storage: WritableStorage;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private transport: RaftTransport | null;
  private rn: RawNode | null = null;
  private ticker: TimerHandle | null = null;
  private loop: Promise<void> | null = null;
  private started = false;
  private stopping = false;
  private stopped = false;
  private stopPromise: Promise<void> | null = null;
  private removedSelf = false;
  private readonly abort = new AbortController();
  private seq = 0;
  private readSeq = 0;
  private readonly rand: Rand;
  /** Random per start: tells this life's proposals from a previous one's. */
  private readonly incarnation: number;
  private applied = 0;
  private snapshotIndex = 0;
  private lastLeader: Id = 0n;
  private readonly members = new Map<Id, string>();
  private readonly removed = new Set<Id>();
  private readonly transportPeers = new Set<Id>();
  private readonly proposals = new Map<number, Waiter<R>>();
  private readonly confWaiters = new Map<number, Waiter<Member[]>>();
  private readonly readWaiters = new Map<string, Waiter<number>>();
  private appliedWaiters: { index: number; w: Waiter<void> }[] = [];
  /** Proposals waiting to be stepped together as one MsgProp (see {@link RaftNode.propose}); one promise for the batch. */
  private propBatch: { envs: Uint8Array[]; done: Promise<void>; w: Waiter<void> } | null = null;
  private propFlushScheduled = false;
  private leaderWaiters: Waiter<void>[] = [];

  constructor(opts: RaftNodeOptions<R>) {
    super();
    if (typeof opts.id !== 'bigint' || opts.id <= 0n || opts.id > MAX_U64) {
      throw new RaftError(RaftErrorCode.INVALID_ARGUMENT, `invalid member ID ${String(opts.id)}`);
    }
    this.id = opts.id;
    this.opts = opts;
    this.storage = opts.storage;
    this.clock = opts.clock ?? systemClock;
    this.transport = opts.transport ?? null;
    this.stateMachine = opts.stateMachine ?? (new KvStateMachine() as unknown as StateMachine<R>);
    this.logger = (opts.logger ?? silentLogger).child({ 'local-member-id': formatId(opts.id) });
    this.rand = opts.rand ?? new SeededRand((Math.random() * 2 ** 32) >>> 0);
    this.incarnation = this.rand.intn(2 ** 32) >>> 0;
    if (opts.peers) {
      for (const p of opts.peers) validateMember(p.id, p.url);
      if (!opts.peers.some((p) => p.id === opts.id)) {
        throw new RaftError(RaftErrorCode.INVALID_ARGUMENT, 'peers must include this member');
      }
    }
  }

  /** Attaches the transport (core's Transport is created with this node as its RaftCallbacks). */
  setTransport(t: RaftTransport): void {
    this.transport = t;
    for (const [id, url] of this.members) if (id !== this.id) this.syncPeer(id, url);
  }

  /** Recovers from storage (or bootstraps), then starts ticking. */
  async start(options: CallOptions = {}): Promise<void> {
    if (this.started) throw new RaftError(RaftErrorCode.INVALID_ARGUMENT, 'already started');
    options.signal?.throwIfAborted();
    const s = this.storage;
    const empty = isEmptyHardState(s.initialState().hardState) && s.lastIndex() === 0 && s.snapshot().metadata.index === 0;
    if (empty && this.opts.peers) {
      const peers = [...this.opts.peers].sort((a, b) => (a.id < b.id ? -1 : 1));
      const members = new Map(peers.map((p) => [p.id, p.url] as const));
      const data = encodeNodeSnapshot({ members, removed: new Set(), state: this.stateMachine.snapshot() });
      s.applySnapshot(
        createSnapshot({
          data,
          metadata: {
            index: 1,
            term: 1,
            confState: { voters: peers.map((p) => p.id), learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
          },
        }),
      );
      s.setHardState({ term: 1, vote: 0n, commit: 1 });
      await s.sync(options.signal);
      this.logger.info({ members: peers.map((p) => formatId(p.id)) }, 'bootstrapped new cluster');
    }
    const snap = s.snapshot();
    if (snap.metadata.index > 0) this.restoreSnapshot(snap.data, snap.metadata.index);
    this.rn = new RawNode({
      id: this.id,
      storage: s,
      electionTick: this.opts.electionTicks ?? 10,
      heartbeatTick: this.opts.heartbeatTicks ?? 1,
      preVote: this.opts.preVote ?? true,
      checkQuorum: this.opts.checkQuorum ?? true,
      maxSizePerMsg: this.opts.maxSizePerMsg ?? 1024 * 1024,
      maxInflightMsgs: this.opts.maxInflightMsgs ?? 256,
      rand: this.rand,
      logger: this.opts.logger ?? silentLogger,
    });
    this.started = true;
    this.ticker = this.clock.setInterval(() => this.tick(), this.opts.tickMs ?? 100);
    this.logger.info({ applied: this.applied, 'snapshot-index': this.snapshotIndex }, 'raft node started');
    this.kick();
  }

  private tick(): void {
    if (!this.rn || this.stopping) return;
    this.rn.tick();
    this.kick();
  }

  /** Stops ticking and processing; pending calls reject with ERR_STOPPED. Idempotent. */
  stop(): Promise<void> {
    if (this.stopPromise) return this.stopPromise;
    this.stopping = true;
    this.stopPromise = (async () => {
      if (this.ticker !== null) this.clock.clearInterval(this.ticker);
      this.ticker = null;
      this.abort.abort(new RaftwireError(ErrorCode.STOPPED, 'raft node stopped'));
      const err = new RaftwireError(ErrorCode.STOPPED, 'raft node stopped');
      for (const w of this.proposals.values()) w.reject(err);
      for (const w of this.confWaiters.values()) w.reject(err);
      for (const w of this.readWaiters.values()) w.reject(err);
      for (const w of this.pendingReads) w.reject(err);
      this.pendingReads = [];
      if (this.readRound) this.clock.clearInterval(this.readRound.retry);
      for (const { w } of this.appliedWaiters) w.reject(err);
      for (const w of this.leaderWaiters) w.reject(err);
      this.propBatch?.w.reject(err);
      this.propBatch = null;
      this.proposals.clear();
      this.confWaiters.clear();
      this.readWaiters.clear();
      this.appliedWaiters = [];
      this.leaderWaiters = [];
      try {
        await this.loop;
      } catch {
        // already reported
      }
      this.stopped = true;
      this.logger.info({}, 'raft node stopped');
      this.emit('stopped');
    })();
    return this.stopPromise;
  }

  private ensureRunning(): RawNode {
    if (!this.rn || !this.started) throw new RaftwireError(ErrorCode.STOPPED, 'raft node is not started');
    if (this.stopping) throw new RaftwireError(ErrorCode.STOPPED, 'raft node is stopped');
    return this.rn;
  }

  /**
   * Resolves once no Ready is being handled (persisted, sent, applied). For
   * tests and simulations that drive a ManualClock over real disk I/O: wait
   * for this before advancing simulated time.
   */
  async whenIdle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  /** Starts an election now (tests, leadership hints). */
  campaign(): void {
    this.ensureRunning().campaign();
    this.kick();
  }

  private kick(): void {
    if (this.loop || !this.rn || this.stopping) return;
    this.loop = this.runLoop()
      .catch((err: unknown) => {
        this.logger.error({ err }, 'raft node failed');
        this.emit('error', err);
        void this.stop();
      })
      .finally(() => {
        this.loop = null;
        if (this.removedSelf && !this.stopping) {
          this.emit('removed');
          void this.stop();
        } else if ((this.rn?.hasReady() || this.propBatch !== null) && !this.stopping) {
          this.kick();
        }
      });
  }

  private async runLoop(): Promise<void> {
    const rn = this.rn as RawNode;
    for (;;) {
      // Proposals that arrived while the previous Ready was being persisted go out together.
      this.flushProposals();
      if (this.stopping || this.removedSelf || !rn.hasReady()) return;
      await this.handleReady(rn, rn.ready());
    }
  }

  /** Steps every queued proposal as one MsgProp (etcd batches proposals the same way under load). */
  private flushProposals(): void {
    this.propFlushScheduled = false;
    const b = this.propBatch;
    if (!b) return;
    this.propBatch = null;
    const rn = this.rn;
    if (!rn || this.stopping) {
      b.w.reject(new RaftwireError(ErrorCode.STOPPED, 'raft node is stopped'));
      return;
    }
    try {
      rn.proposeBatch(b.envs);
    } catch (err) {
      b.w.reject(err);
      return;
    }
    b.w.resolve();
  }

  /**
   * Queues a proposal; resolves once its batch was stepped (rejects with
   * PROPOSAL_DROPPED when there is no leader to take it). Every proposal of
   * a batch shares one promise.
   */
  private enqueueProposal(env: Uint8Array): Promise<void> {
    let b = this.propBatch;
    if (!b) {
      let w: Waiter<void> | null = null;
      const done = new Promise<void>((resolve, reject) => {
        w = { resolve, reject };
      });
      b = { envs: [], done, w: w as unknown as Waiter<void> };
      this.propBatch = b;
      if (!this.propFlushScheduled && !this.loop) {
        // The running loop flushes at its next turn; otherwise flush after the current task's proposals.
        this.propFlushScheduled = true;
        queueMicrotask(() => {
          if (!this.propFlushScheduled) return;
          this.kick();
          if (this.propBatch && !this.loop) this.flushProposals();
        });
      }
    }
    b.envs.push(env);
    return b.done;
  }

  private async handleReady(rn: RawNode, rd: Ready): Promise<void> {
    const s = this.storage;
    const term = rn.raft.term;
    // 1. Persist, durably when the Ready requires it, before any message that depends on it leaves.
    if (rd.snapshot) s.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) s.append(rd.entries);
    if (rd.hardState) s.setHardState(rd.hardState);
    if (rd.mustSync || rd.snapshot) await s.sync(this.abort.signal);
    if (this.stopping) return;
    // 2. Send.
    this.send(rd.messages);
    // 3. Leader changes.
    if (rd.softState && rd.softState.lead !== this.lastLeader) {
      this.lastLeader = rd.softState.lead;
      this.logger.info({ leader: formatId(rd.softState.lead), term }, 'leader changed');
      this.emit('leader-change', { leader: rd.softState.lead, term });
      if (rd.softState.lead !== 0n) {
        const ws = this.leaderWaiters;
        this.leaderWaiters = [];
        for (const w of ws) w.resolve();
      }
    }
    // 4. Apply.
    if (rd.snapshot) this.restoreSnapshot(rd.snapshot.data, rd.snapshot.metadata.index);
    for (const e of rd.committedEntries) this.applyEntry(rn, e);
    for (const rs of rd.readStates) {
      const key = hex(rs.requestCtx);
      const w = this.readWaiters.get(key);
      if (w) {
        this.readWaiters.delete(key);
        w.resolve(rs.index);
      }
    }
    rn.advance(rd);
    if (rd.committedEntries.length > 0 || rd.snapshot) {
      this.emit('applied', { index: this.applied });
      this.releaseAppliedWaiters();
    }
    // 5. Snapshot and compact.
    await this.maybeSnapshot(rn);
  }

  private send(msgs: Message[]): void {
    if (msgs.length === 0) return;
    const t = this.transport;
    if (!t) {
      this.logger.warn({ count: msgs.length }, 'no transport attached: dropping messages');
      return;
    }
    const normal: Message[] = [];
    for (const m of msgs) {
      if (m.type === MessageType.MsgSnap && m.snapshot) {
        const data = m.snapshot.data;
        const chunk = this.opts.snapshotChunkBytes ?? 64 * 1024;
        const head: Message = { ...m, snapshot: { ...m.snapshot, data: new Uint8Array(0) } };
        try {
          t.sendSnapshot(head, snapshotBody(data, chunk));
        } catch (err) {
          this.logger.warn({ err, 'remote-peer-id': formatId(m.to) }, 'transport refused snapshot');
          this.rn?.reportSnapshot(m.to, 'failure');
        }
      } else {
        normal.push(m);
      }
    }
    if (normal.length === 0) return;
    try {
      t.send(normal);
    } catch (err) {
      // etcd's transport never fails a send; if ours does, treat the peers as unreachable.
      this.logger.warn({ err, count: normal.length }, 'transport refused messages');
      for (const to of new Set(normal.map((m) => m.to))) this.rn?.reportUnreachable(to);
    }
  }

  private restoreSnapshot(data: Uint8Array, index: number): void {
    const ns = decodeNodeSnapshot(data);
    this.stateMachine.restore(ns.state);
    this.members.clear();
    for (const [id, url] of ns.members) this.members.set(id, url);
    this.removed.clear();
    for (const id of ns.removed) this.removed.add(id);
    for (const id of [...this.transportPeers]) {
      if (!this.members.has(id)) {
        this.transportPeers.delete(id);
        this.transport?.removePeer?.(id);
      }
    }
    for (const [id, url] of this.members) if (id !== this.id) this.syncPeer(id, url);
    this.applied = index;
    this.snapshotIndex = index;
    this.logger.info({ 'snapshot-index': index, members: this.members.size }, 'applied snapshot');
  }

  private syncPeer(id: Id, url: string): void {
    if (this.transportPeers.has(id) || !this.transport) return;
    this.transportPeers.add(id);
    this.transport.addPeer?.(id, [url]);
  }

  private applyEntry(rn: RawNode, e: Entry): void {
    if (e.index <= this.applied) return;
    if (e.type === EntryType.EntryConfChange) {
      const cc = decodeConfChange(e.data);
      const ctx = decodeConfContext(cc.context);
      let ok = true;
      if (cc.type === ConfChangeType.AddNode && this.removed.has(cc.nodeId)) {
        ok = false; // a removed ID never comes back (etcd)
        rn.applyConfChange({ ...cc, type: ConfChangeType.RemoveNode });
      } else {
        rn.applyConfChange(cc);
      }
      if (ok && cc.type === ConfChangeType.AddNode) {
        this.members.set(cc.nodeId, ctx.url);
        if (cc.nodeId !== this.id) this.syncPeer(cc.nodeId, ctx.url);
      } else if (ok) {
        this.members.delete(cc.nodeId);
        this.removed.add(cc.nodeId);
        if (this.transportPeers.delete(cc.nodeId)) this.transport?.removePeer?.(cc.nodeId);
        if (cc.nodeId === this.id) this.removedSelf = true;
      }
      this.logger.info(
        { type: cc.type === ConfChangeType.AddNode ? 'add' : 'remove', member: formatId(cc.nodeId), ok },
        'applied conf change',
      );
      if (ctx.proposer === this.id && ctx.incarnation === this.incarnation) {
        const w = this.confWaiters.get(ctx.seq);
        this.confWaiters.delete(ctx.seq);
        if (ok) w?.resolve(this.memberList());
        else w?.reject(new RaftError(RaftErrorCode.INVALID_ARGUMENT, `member ${formatId(cc.nodeId)} was removed and cannot be re-added`));
      }
    } else {
      const env = decodeProposal(e.data);
      if (env) {
        let result: R | undefined;
        let error: unknown = null;
        try {
          result = this.stateMachine.apply(env.payload, e.index);
        } catch (err) {
          // A bad command fails deterministically on every member; it must not stop the node.
          error = err;
        }
        if (env.proposer === this.id && env.incarnation === this.incarnation) {
          const w = this.proposals.get(env.seq);
          this.proposals.delete(env.seq);
          if (error !== null) w?.reject(error);
          else w?.resolve(result as R);
        }
      }
    }
    this.applied = e.index;
  }

  private releaseAppliedWaiters(): void {
    if (this.appliedWaiters.length === 0) return;
    const keep: typeof this.appliedWaiters = [];
    for (const x of this.appliedWaiters) {
      if (x.index <= this.applied) x.w.resolve();
      else keep.push(x);
    }
    this.appliedWaiters = keep;
  }

  private async maybeSnapshot(rn: RawNode): Promise<void> {
    const every = this.opts.snapshotEntries ?? 10_000;
    if (this.applied - this.snapshotIndex < every) return;
    const data = encodeNodeSnapshot({ members: this.members, removed: this.removed, state: this.stateMachine.snapshot() });
    this.storage.createSnapshot(this.applied, rn.raft.confState(), data);
    this.snapshotIndex = this.applied;
    const compactTo = this.applied - (this.opts.snapshotCatchUpEntries ?? 5_000);
    if (compactTo >= this.storage.firstIndex()) this.storage.compact(compactTo);
    await this.storage.sync(this.abort.signal);
    this.logger.info({ 'snapshot-index': this.applied, 'compact-index': compactTo }, 'saved snapshot and compacted log');
  }

  private memberList(): Member[] {
    return [...this.members].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([id, url]) => ({ id, url }));
  }

  /** Current members with their URLs, as of the last applied entry. */
  memberships(): Member[] {
    return this.memberList();
  }

  private wait<T>(register: (w: Waiter<T>) => void, unregister: () => void, signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortError(signal));
        return;
      }
      const onAbort = (): void => {
        unregister();
        reject(abortError(signal as AbortSignal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      register({
        resolve: (v) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(v);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
    });
  }

  private waitForLeader(signal?: AbortSignal): Promise<void> {
    if (this.ensureRunning().raft.lead !== 0n) return Promise.resolve();
    let me: Waiter<void> | null = null;
    return this.wait<void>(
      (w) => {
        me = w;
        this.leaderWaiters.push(w);
      },
      () => {
        this.leaderWaiters = this.leaderWaiters.filter((x) => x !== me);
      },
      signal,
    );
  }

  /** Steps a local proposal, waiting for a leader while there is none. */
  private async submit(signal: AbortSignal | undefined, step: (rn: RawNode) => void): Promise<void> {
    for (;;) {
      await this.waitForLeader(signal);
      const rn = this.ensureRunning();
      try {
        step(rn);
        this.kick();
        return;
      } catch (err) {
        if (!isRaftError(err, RaftErrorCode.PROPOSAL_DROPPED)) throw err;
        // Leadership is changing: wait for the next leader and try again.
        await this.waitForLeaderChange(signal);
      }
    }
  }

  private waitForLeaderChange(signal?: AbortSignal): Promise<void> {
    let me: Waiter<void> | null = null;
    return this.wait<void>(
      (w) => {
        me = w;
        this.leaderWaiters.push(w);
      },
      () => {
        this.leaderWaiters = this.leaderWaiters.filter((x) => x !== me);
      },
      signal,
    );
  }

  /**
   * Proposes a command; resolves with the state machine's result once it is
   * committed and applied here. Waits for a leader while there is none. A
   * proposal lost in a leader change never resolves: pass a signal with a
   * timeout (e.g. `AbortSignal.timeout(5000)`). Aborting stops the wait; the
   * command may still commit (as with etcd, a timed-out write is indeterminate).
   */
  async propose(data: Uint8Array, options: CallOptions = {}): Promise<R> {
    if (!(data instanceof Uint8Array)) throw new RaftError(RaftErrorCode.INVALID_ARGUMENT, 'proposal data must be a Uint8Array');
    this.ensureRunning();
    const seq = ++this.seq;
    const env = encodeProposal({ proposer: this.id, incarnation: this.incarnation, seq }, data);
    const done = this.wait<R>(
      (w) => this.proposals.set(seq, w),
      () => this.proposals.delete(seq),
      options.signal,
    );
    try {
      for (;;) {
        // Skip the wait (and its microtask hop) when a leader is known: the hot path under load.
        if (this.ensureRunning().raft.lead === 0n) await this.waitForLeader(options.signal);
        this.ensureRunning();
        try {
          await this.enqueueProposal(env);
          break;
        } catch (err) {
          if (!isRaftError(err, RaftErrorCode.PROPOSAL_DROPPED)) throw err;
          // Leadership is changing: wait for the next leader and try again.
          await this.waitForLeaderChange(options.signal);
        }
      }
    } catch (err) {
      this.proposals.delete(seq);
      done.catch(() => {});
      throw err;
    }
    return done;
  }

  /**
   * Linearizable read barrier (ReadIndex): resolves with an index once the
   * leader confirmed leadership with a quorum heartbeat round and this member
   * applied up to that index. State read after it is linearizable.
   *
   * Reads are coalesced as etcd does: while one ReadIndex request is in
   * flight, newly arriving reads wait for the next one, which serves them all
   * (it is issued after each of them began, so each stays linearizable).
   */
  async readIndex(options: CallOptions = {}): Promise<number> {
    this.ensureRunning();
    let me: Waiter<number> | null = null;
    const got = this.wait<number>(
      (w) => {
        me = w;
        this.pendingReads.push(w);
      },
      () => {
        this.pendingReads = this.pendingReads.filter((x) => x !== me);
        this.readRound?.waiters.delete(me as Waiter<number>);
      },
      options.signal,
    );
    if (!this.readRound) this.startReadRound();
    const index = await got;
    if (this.applied < index) {
      await this.wait<void>(
        (w) => this.appliedWaiters.push({ index, w }),
        () => {
          this.appliedWaiters = this.appliedWaiters.filter((x) => x.index !== index);
        },
        options.signal,
      );
    }
    return index;
  }

  /** Reads waiting for the next ReadIndex request. */
  private pendingReads: Waiter<number>[] = [];
  /** The ReadIndex request in flight and the reads it serves. */
  private readRound: { waiters: Set<Waiter<number>>; retry: TimerHandle } | null = null;

  /** Issues one ReadIndex request for every pending read. */
  private startReadRound(): void {
    if (this.readRound || this.pendingReads.length === 0 || this.stopping) return;
    const waiters = new Set(this.pendingReads);
    this.pendingReads = [];
    const ctx = new Uint8Array(20);
    const dv = new DataView(ctx.buffer);
    dv.setBigUint64(0, this.id);
    dv.setUint32(8, this.incarnation);
    dv.setBigUint64(12, BigInt(++this.readSeq));
    const key = hex(ctx);
    const finish = (fn: (w: Waiter<number>) => void): void => {
      if (this.readRound !== round) return;
      this.clock.clearInterval(round.retry);
      this.readRound = null;
      this.readWaiters.delete(key);
      for (const w of waiters) fn(w);
      this.startReadRound();
    };
    const issue = (): void => {
      if (this.stopping || this.readRound !== round) return;
      (this.rn as RawNode).readIndex(ctx);
      this.kick();
    };
    // A request dropped (no leader, lost message) is re-issued every election timeout.
    const round = { waiters, retry: this.clock.setInterval(issue, (this.opts.tickMs ?? 100) * (this.opts.electionTicks ?? 10)) };
    this.readRound = round;
    this.readWaiters.set(key, {
      resolve: (index) => finish((w) => w.resolve(index)),
      reject: (err) => finish((w) => w.reject(err)),
    });
    issue();
  }

  /** Linearizable get from a {@link KvStateMachine}. */
  async read(key: string, options: CallOptions = {}): Promise<Uint8Array | undefined> {
    const sm = this.stateMachine;
    if (!(sm instanceof KvStateMachine)) throw new RaftError(RaftErrorCode.INVALID_ARGUMENT, 'read(key) needs a KvStateMachine');
    if (typeof key !== 'string') throw new RaftError(RaftErrorCode.INVALID_ARGUMENT, 'key must be a string');
    await this.readIndex(options);
    return sm.get(key);
  }

  private async changeMembership(cc: Omit<ConfChange, 'context'>, url: string, options: CallOptions): Promise<Member[]> {
    this.ensureRunning();
    const seq = ++this.seq;
    const change: ConfChange = { ...cc, context: encodeConfContext({ proposer: this.id, incarnation: this.incarnation, seq }, url) };
    const done = this.wait<Member[]>(
      (w) => this.confWaiters.set(seq, w),
      () => this.confWaiters.delete(seq),
      options.signal,
    );
    try {
      await this.submit(options.signal, (rn) => rn.proposeConfChange(change));
    } catch (err) {
      this.confWaiters.delete(seq);
      done.catch(() => {});
      throw err;
    }
    return done;
  }

  /**
   * Adds a voting member (one at a time). Resolves with the member list once
   * the change is applied here. A change proposed while another is pending
   * is ignored by the leader and never resolves: pass a signal with a timeout.
   */
  async addMember(id: Id, url: string, options: CallOptions = {}): Promise<Member[]> {
    validateMember(id, url);
    if (this.members.has(id)) throw new RaftError(RaftErrorCode.INVALID_ARGUMENT, `member ${formatId(id)} exists`);
    if (this.removed.has(id)) throw new RaftError(RaftErrorCode.INVALID_ARGUMENT, `member ${formatId(id)} was removed`);
    return this.changeMembership({ type: ConfChangeType.AddNode, nodeId: id }, url, options);
  }

  /** Removes a member; resolves with the member list once applied here. */
  async removeMember(id: Id, options: CallOptions = {}): Promise<Member[]> {
    validateMemberId(id);
    if (!this.members.has(id)) throw new RaftError(RaftErrorCode.INVALID_ARGUMENT, `member ${formatId(id)} not found`);
    return this.changeMembership({ type: ConfChangeType.RemoveNode, nodeId: id }, '', options);
  }

  status(): RaftNodeStatus {
    const st = this.rn?.status();
    return {
      id: this.id,
      leader: st?.lead ?? 0n,
      term: st?.term ?? 0,
      commit: st?.commit ?? 0,
      applied: this.applied,
      raftState: st?.raftState ?? 'StateFollower',
      lastIndex: st?.lastIndex ?? 0,
      snapshotIndex: this.snapshotIndex,
      voters: st?.voters ?? [],
      members: this.memberList(),
      started: this.started,
      stopped: this.stopped,
      removed: this.removedSelf,
    };
  }

  /** The underlying state machine's status, including per-follower progress on the leader. */
  raftStatus(): RaftStatus {
    return this.ensureRunning().status();
  }

  // --- RaftCallbacks -------------------------------------------------------

  /** Steps a message from the transport. */
  async process(msg: Message, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const rn = this.ensureRunning();
    if (this.removed.has(msg.from)) {
      throw new RaftwireError(ErrorCode.MEMBER_REMOVED, `cannot process message from removed member ${formatId(msg.from)}`);
    }
    if (msg.to !== this.id) {
      throw new RaftError(RaftErrorCode.INVALID_ARGUMENT, `message to ${formatId(msg.to)} delivered to ${formatId(this.id)}`);
    }
    rn.step(msg);
    this.kick();
  }

  isIdRemoved(id: Id): boolean {
    return this.removed.has(id);
  }

  reportUnreachable(id: Id): void {
    if (!this.rn || this.stopping) return;
    this.rn.reportUnreachable(id);
    this.kick();
  }

  reportSnapshot(id: Id, status: SnapshotStatus): void {
    if (!this.rn || this.stopping) return;
    this.rn.reportSnapshot(id, status);
    this.kick();
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
}

function validateMemberId(id: Id): void {
  if (typeof id !== 'bigint' || id <= 0n || id > MAX_U64)
    throw new RaftError(RaftErrorCode.INVALID_ARGUMENT, `invalid member ID ${String(id)}`);
}

/**
 * A member's URL is checked by the transport's own peer-URL rules (ERR_INVALID_URL: scheme,
 * host, a port for http/https, no path or credentials, bounded length), so a URL the
 * transport would refuse when the change is applied is refused before it is proposed.
 */
function validateMember(id: Id, url: string): void {
  validateMemberId(id);
  normalizePeerUrl(url);
}

function hex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i] as number).toString(16).padStart(2, '0');
  return s;
}

function snapshotBody(data: Uint8Array, chunk: number): SnapshotBody {
  return {
    size: data.length,
    async *[Symbol.asyncIterator]() {
      for (let off = 0; off < data.length; off += chunk) yield data.subarray(off, Math.min(off + chunk, data.length));
    },
  };
}
