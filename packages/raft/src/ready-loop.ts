import { type Clock, ErrorCode, every, formatId, type Id, type Logger, type Message, MessageType, RaftwireError } from '@raftwire/core';
import type { RawNode, Ready } from './raw-node.js';
import type { WritableStorage } from './storage.js';
import type { RaftTransport, SnapshotBody } from './transport.js';

/** What the loop hands each Ready to, in order (the application side of etcd's raftNode). */
export interface ReadyHandler {
  /** Runs before each Ready is taken: steps the proposals queued meanwhile, so they go out together. */
  beforeReady(): void;
  /** True while work is queued that the next turn must take (queued proposals). */
  hasQueuedWork(): boolean;
  /** The known leader changed (0n: none known); `term` is the term it was learned in. */
  leaderChanged(lead: Id, term: number): void;
  /** Applies the Ready's snapshot, committed entries and read states (it was persisted and its messages sent). */
  apply(rd: Ready): void;
  /** After `advance`: tells waiters what was applied, snapshots and compacts when due. */
  applied(rd: Ready): Promise<void>;
  /** True once this member applied its own removal: the loop takes no further Ready. */
  removedSelf(): boolean;
  /** The loop ended after this member applied its own removal. */
  onRemoved(): void;
  /** A Ready failed (storage error, ...): the node must stop. */
  onError(err: unknown): void;
}

export interface ReadyLoopOptions {
  rn: RawNode;
  storage: WritableStorage;
  clock: Clock;
  tickMs: number;
  /** Chunk size of a streamed snapshot body. */
  snapshotChunkBytes: number;
  logger: Logger;
  /** The transport attached now (it may be attached later). */
  transport: () => RaftTransport | null;
  handler: ReadyHandler;
}

/**
 * Drives a {@link RawNode} the way etcd's raftNode does: ticks it, and for
 * each Ready writes it to storage, sends the leader's appends while the fsync
 * runs (after it when term or vote changed), applies committed entries
 * meanwhile, sends acknowledgements once synced, then advances. One Ready is handled at a time; `kick()` starts a turn when work
 * arrives (a tick, a received message, a proposal) and the loop is idle.
 */
export class ReadyLoop {
  private readonly rn: RawNode;
  private readonly opts: ReadyLoopOptions;
  private readonly handler: ReadyHandler;
  private readonly ticker: { stop(): void };
  /** Aborts a storage sync under way when the node stops. */
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;
  /** True from the moment a turn starts until it ends (set before `running` can be). */
  private turning = false;
  private stopping = false;
  private lastLeader: Id = 0n;
  /** Term and vote last handed to storage (a change must be durable before anything is sent). */
  private prevTerm: number;
  private prevVote: Id;

  constructor(opts: ReadyLoopOptions) {
    this.opts = opts;
    this.rn = opts.rn;
    this.handler = opts.handler;
    const hs = opts.rn.hardState();
    this.prevTerm = hs.term;
    this.prevVote = hs.vote;
    this.ticker = every(opts.clock, opts.tickMs, () => this.tick());
  }

  /** True while a turn is under way. */
  get busy(): boolean {
    return this.turning;
  }

  /** Aborted when the loop stops; pass it to storage syncs made on the loop's behalf. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Starts a turn unless one is under way (it takes whatever is ready when it gets there). */
  kick(): void {
    if (this.turning || this.stopping) return;
    // Marked before run() is called: a turn whose Ready needs no fsync runs synchronously into
    // apply and send, which can kick again (a finished ReadIndex round, a peer reported
    // unreachable) before run() has returned its promise. That kick must find the turn under
    // way, or a second turn would take the same Ready again.
    this.turning = true;
    this.running = this.run()
      .catch((err: unknown) => this.handler.onError(err))
      .finally(() => {
        this.turning = false;
        this.running = null;
        if (this.handler.removedSelf() && !this.stopping) this.handler.onRemoved();
        else if ((this.rn.hasReady() || this.handler.hasQueuedWork()) && !this.stopping) this.kick();
      });
  }

  /**
   * Resolves once no Ready is being handled (persisted, sent, applied). For
   * tests and simulations that drive a ManualClock over real disk I/O.
   */
  async whenIdle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stops ticking, aborts a sync under way and waits for the turn in progress to end. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.ticker.stop();
    this.abort.abort(new RaftwireError(ErrorCode.STOPPED, 'raft node stopped'));
    try {
      await this.running;
    } catch {
      // already reported
    }
  }

  private tick(): void {
    if (this.stopping) return;
    this.rn.tick();
    this.kick();
  }

  private async run(): Promise<void> {
    const rn = this.rn;
    for (;;) {
      // Proposals that arrived while the previous Ready was being persisted go out together.
      this.handler.beforeReady();
      if (this.stopping || this.handler.removedSelf() || !rn.hasReady()) return;
      await this.handleReady(rn.ready());
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    const { rn, opts } = this;
    const s = opts.storage;
    const term = rn.term;
    // 1. Write the Ready to storage (fsynced below when it must be).
    if (rd.snapshot) s.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) s.append(rd.entries);
    if (rd.hardState) s.setHardState(rd.hardState);
    const sync = rd.mustSync || rd.snapshot !== null;
    // A term or vote change (or a snapshot) is made durable before anything leaves.
    const hsChanged = rd.hardState !== null && (rd.hardState.term !== this.prevTerm || rd.hardState.vote !== this.prevVote);
    if (rd.hardState) {
      this.prevTerm = rd.hardState.term;
      this.prevVote = rd.hardState.vote;
    }
    if (!sync || hsChanged || rd.snapshot) {
      if (sync) await s.sync(this.abort.signal);
      if (this.stopping) return;
      this.send(rd.messages);
      this.leaderChange(rd, term);
      this.handler.apply(rd);
    } else {
      // 2. Pipelined (etcd's raft, thesis §10.2.1): the leader's appends and heartbeats, and
      // forwarded proposals and read requests, go out while the entries are being fsynced;
      // committed entries are applied meanwhile (a quorum has them durably). Acknowledgements
      // (MsgAppResp, votes, ...) wait for the sync; the leader counts its own entries at advance.
      const early: Message[] = [];
      const late: Message[] = [];
      for (const m of rd.messages) (sendsBeforeSync(m.type) ? early : late).push(m);
      const synced = s.sync(this.abort.signal);
      // Observed if the turn ends before it is awaited (apply throwing): reported by the await.
      synced.catch(() => {});
      this.send(early);
      this.leaderChange(rd, term);
      this.handler.apply(rd);
      await synced;
      if (this.stopping) return;
      this.send(late);
    }
    // 3. Advance, then snapshot and compact when due.
    rn.advance(rd);
    await this.handler.applied(rd);
  }

  private leaderChange(rd: Ready, term: number): void {
    if (rd.softState && rd.softState.lead !== this.lastLeader) {
      this.lastLeader = rd.softState.lead;
      this.handler.leaderChanged(rd.softState.lead, term);
    }
  }

  private send(msgs: Message[]): void {
    if (msgs.length === 0) return;
    const { rn, opts } = this;
    const t = opts.transport();
    if (!t) {
      opts.logger.warn({ count: msgs.length }, 'no transport attached: dropping messages');
      return;
    }
    const normal: Message[] = [];
    for (const m of msgs) {
      if (m.type === MessageType.MsgSnap && m.snapshot) {
        // The snapshot bytes travel as a streamed body; the message itself carries none.
        const head: Message = { ...m, snapshot: { ...m.snapshot, data: new Uint8Array(0) } };
        try {
          t.sendSnapshot(head, snapshotBody(m.snapshot.data, opts.snapshotChunkBytes));
        } catch (err) {
          opts.logger.warn({ err, 'remote-peer-id': formatId(m.to) }, 'transport refused snapshot');
          rn.reportSnapshot(m.to, 'failure');
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
      opts.logger.warn({ err, count: normal.length }, 'transport refused messages');
      for (const to of new Set(normal.map((m) => m.to))) rn.reportUnreachable(to);
    }
  }
}

/**
 * Messages that may leave before this member's own entries are durable: they acknowledge nothing
 * of its log (the leader's appends and heartbeats carry entries it will count only once synced).
 */
function sendsBeforeSync(t: MessageType): boolean {
  return t === MessageType.MsgApp || t === MessageType.MsgHeartbeat || t === MessageType.MsgProp || t === MessageType.MsgReadIndex;
}

function snapshotBody(data: Uint8Array, chunk: number): SnapshotBody {
  return {
    size: data.length,
    async *[Symbol.asyncIterator]() {
      for (let off = 0; off < data.length; off += chunk) yield data.subarray(off, Math.min(off + chunk, data.length));
    },
  };
}
