import {
  type ClusterMember,
  type Clock,
  type Entry,
  EntryType,
  ErrorCode,
  formatId,
  type Id,
  isId,
  isRaftwireError,
  type Logger,
  type Message,
  MessageType,
  type RaftCallbacks,
  RaftwireError,
  type Rand,
  SeededRand,
  type SnapshotStatus,
  silentLogger,
  systemClock,
} from '@raftwire/core';
import {
  decodeEtcdConfChange,
  decodeEtcdConfChangeV2,
  decodeEtcdMember,
  decodeEtcdV2Membership,
  type EtcdMember as EtcdMemberJson,
  EtcdConfChangeType,
  encodeEtcdSnapshot,
} from '@raftwire/core/etcd';
import { EventEmitter } from 'eventemitter3';
import { ConfChangeType } from '../conf-change.js';
import { type RaftStatus, RawNode, type Ready } from '../raw-node.js';
import { ReadyLoop } from '../ready-loop.js';
import type { WritableStorage } from '../storage.js';
import { AttributePublisher } from './attribute-publisher.js';
import { type EtcdMemberInfo, EtcdMembership, type EtcdMemberTransport, type KeptEtcdSnapshot } from './etcd-membership.js';
import type { EtcdSnapshotStore } from './snapshot-store.js';

/** Options of {@link EtcdMember}. */
export interface EtcdMemberOptions {
  /** The ID `etcdctl member add` printed. */
  id: Id;
  /** The name published in etcd's member list. */
  name: string;
  /** Client URLs published (none by default: this member serves no etcd clients). */
  clientURLs?: readonly string[];
  /** Raft log and hard state (FileStorage for durability); entries are kept opaque. */
  storage: WritableStorage;
  /** Where etcd's snapshots (database and record) go. */
  snapshots: EtcdSnapshotStore;
  /** Core's Transport with the `etcd-3.4` profile (or attach it later with {@link EtcdMember.setTransport}). */
  transport?: EtcdMemberTransport;
  /** Members a peer's `GET /members` listed, so they can be reached before the log is replayed. */
  members?: readonly EtcdMemberInfo[];
  clock?: Clock;
  /** ms per raft tick; etcd's heartbeat interval (default 100). */
  tickMs?: number;
  /** Ticks of etcd's election timeout (default 10: 1 s at 100 ms ticks). Used for the vote lease only: this member never campaigns. */
  electionTicks?: number;
  /** Compact the log behind a state snapshot every this many applied entries (default 10 000). */
  compactEntries?: number;
  /** One publish attempt waits this long for its entry (default 7000: etcd's request timeout at the default election timeout). */
  publishTimeoutMs?: number;
  rand?: Rand;
  logger?: Logger;
}

/** Events of {@link EtcdMember}. */
export interface EtcdMemberEvents {
  /** This member appears in the cluster's configuration (first seen in this life). */
  joined: (e: { index: number; voters: number; learner: boolean }) => void;
  /** An etcd snapshot's database was stored. */
  'snapshot-received': (e: { index: number; bytes: number }) => void;
  /** Applied up to the commit index the leader announced. */
  'caught-up': (e: { index: number }) => void;
  /** The attributes entry committed: `etcdctl member list` shows this member started. */
  published: (e: { index: number }) => void;
  /** This member was removed from the cluster; it stops itself. */
  removed: () => void;
  stopped: () => void;
  error: (err: unknown) => void;
}

/** What {@link EtcdMember.status} reports. */
export interface EtcdMemberStatus {
  id: Id;
  leader: Id;
  term: number;
  commit: number;
  applied: number;
  lastIndex: number;
  /** Index of the last state snapshot (received from etcd or taken at a compaction). */
  snapshotIndex: number;
  voters: Id[];
  members: EtcdMemberInfo[];
  published: boolean;
  caughtUp: boolean;
  removed: boolean;
}

const EMPTY = new Uint8Array(0);

/**
 * A raft-only member of an etcd 3.4 cluster: added with `etcdctl member add`, it votes and
 * replicates etcd's log, so its vote and its acknowledgements count for etcd's quorum, but it
 * never leads (it cannot serve what an etcd leader must: leases, compaction, cluster-version
 * updates), so it never campaigns and ignores MsgTimeoutNow.
 *
 * etcd's entries are kept opaque and durable (storage syncs before any acknowledgement leaves);
 * etcd's snapshots are streamed to the {@link EtcdSnapshotStore}. Only the membership is read out of
 * etcd's data: ConfChange / ConfChangeV2 entries (with their JSON Member context) and the v2 store
 * of a snapshot, to keep the transport's peers right. The log's committed prefix is compacted
 * behind a state snapshot holding that membership. It publishes its attributes as etcd does.
 */
export class EtcdMember extends EventEmitter<EtcdMemberEvents> implements RaftCallbacks {
  readonly id: Id;
  private readonly o: EtcdMemberOptions;
  private readonly storage: WritableStorage;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly membership: EtcdMembership;
  private readonly publisher: AttributePublisher;
  private transport: EtcdMemberTransport | null;
  private rn: RawNode | null = null;
  private loop: ReadyLoop | null = null;
  private stopping = false;
  private stopPromise: Promise<void> | null = null;
  private removedSelf = false;
  private applied = 0;
  private snapshotIndex = 0;
  private leaderCommit = 0;
  private caughtUp = false;
  private joined = false;
  /** The kept etcd snapshot changed: older ones can be deleted once the change is durable. */
  private pruneDue = false;
  /** Databases stored by `receiveSnapshot`, waiting for their MsgSnap to be installed. */
  private readonly received = new Map<number, KeptEtcdSnapshot>();

  constructor(opts: EtcdMemberOptions) {
    super();
    if (!isId(opts.id) || opts.id === 0n) throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `invalid member ID ${String(opts.id)}`);
    if (typeof opts.name !== 'string' || opts.name === '') throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, 'a member needs a name');
    this.id = opts.id;
    this.o = opts;
    this.storage = opts.storage;
    this.clock = opts.clock ?? systemClock;
    this.logger = (opts.logger ?? silentLogger).child({ 'local-member-id': formatId(opts.id) });
    this.transport = opts.transport ?? null;
    this.membership = new EtcdMembership(this.id, this.logger);
    this.publisher = new AttributePublisher({
      id: this.id,
      attributes: { name: opts.name, clientURLs: [...(opts.clientURLs ?? [])] },
      clock: this.clock,
      timeoutMs: opts.publishTimeoutMs ?? 7000,
      logger: this.logger,
      ready: () => this.rn !== null && !this.stopping && this.rn.lead !== 0n && this.inConfiguration(),
      propose: (data) => {
        try {
          this.rn?.propose(data);
        } catch (err) {
          if (isRaftwireError(err, ErrorCode.PROPOSAL_DROPPED)) return false;
          throw err;
        }
        this.loop?.kick();
        return true;
      },
    });
  }

  setTransport(t: EtcdMemberTransport): void {
    this.transport = t;
    this.membership.syncTransport(t);
  }

  /** Recovers from storage (a first start has none) and starts following. */
  async start(): Promise<void> {
    if (this.stopping) throw new RaftwireError(ErrorCode.STOPPED, 'etcd member is stopped');
    if (this.rn) throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, 'already started');
    const snap = this.storage.snapshot();
    if (snap.metadata.index > 0) {
      this.membership.restore(snap.data);
      this.applied = snap.metadata.index;
      this.snapshotIndex = snap.metadata.index;
    }
    this.membership.learn(this.o.members ?? []);
    if (this.membership.isRemoved(this.id)) {
      this.logger.warn({}, 'this member was removed from the cluster');
      this.removedSelf = true;
      this.emit('removed');
      void this.stop();
      return;
    }
    this.membership.setSelfAttributes(this.o.name, this.o.clientURLs ?? []);
    const tickMs = this.o.tickMs ?? 100;
    const rn = new RawNode({
      id: this.id,
      storage: this.storage,
      electionTick: this.o.electionTicks ?? 10,
      heartbeatTick: 1,
      // etcd 3.4's defaults: check-quorum on (so votes respect the leader lease), pre-vote off.
      checkQuorum: true,
      preVote: false,
      neverCampaign: true,
      rand: this.o.rand ?? new SeededRand((Math.random() * 2 ** 32) >>> 0),
      logger: this.o.logger ?? silentLogger,
    });
    this.rn = rn;
    this.loop = new ReadyLoop({
      rn,
      storage: this.storage,
      clock: this.clock,
      tickMs,
      snapshotChunkBytes: 64 * 1024,
      logger: this.logger,
      transport: () => this.transport,
      handler: {
        beforeReady: () => {},
        hasQueuedWork: () => false,
        leaderChanged: (lead, term) => {
          this.logger.info({ leader: formatId(lead), term }, lead === 0n ? 'lost the leader' : 'following leader');
          this.publisher.kick();
        },
        apply: (rd) => this.apply(rn, rd),
        applied: () => this.afterApply(rn),
        removedSelf: () => this.removedSelf,
        onRemoved: () => this.removedFromCluster(),
        onError: (err) => {
          this.logger.error({ err }, 'etcd member failed');
          this.emit('error', err);
          void this.stop();
        },
      },
    });
    this.membership.syncTransport(this.transport);
    await this.o.snapshots.prune(this.keptSnapshots());
    if (this.inConfiguration()) this.noteJoined(true);
    this.logger.info(
      { applied: this.applied, 'snapshot-index': this.snapshotIndex, members: this.membership.list().map((m) => formatId(m.id)) },
      snap.metadata.index > 0 ? 'restarted from the data directory' : 'started; waiting for the leader to send a snapshot',
    );
    this.loop.kick();
  }

  /** Stops following; idempotent. */
  stop(): Promise<void> {
    if (this.stopPromise) return this.stopPromise;
    this.stopping = true;
    this.publisher.stop();
    const loopStopped = this.loop?.stop();
    this.stopPromise = (async () => {
      await loopStopped;
      this.logger.info({}, 'etcd member stopped');
      this.emit('stopped');
    })();
    return this.stopPromise;
  }

  /** The transport learned that this member was removed (410 or 403 from a peer), or it applied its own removal. */
  removedFromCluster(): void {
    if (this.stopPromise) return;
    this.removedSelf = true;
    this.logger.warn({}, 'removed from the cluster');
    this.emit('removed');
    void this.stop();
  }

  /** What `GET /members` lists: the members as of the last applied entry. */
  members(): ClusterMember[] {
    return this.membership.clusterMembers();
  }

  status(): EtcdMemberStatus {
    const st: RaftStatus | undefined = this.rn?.status();
    return {
      id: this.id,
      leader: st?.lead ?? 0n,
      term: st?.term ?? 0,
      commit: st?.commit ?? 0,
      applied: this.applied,
      lastIndex: st?.lastIndex ?? 0,
      snapshotIndex: this.snapshotIndex,
      voters: st?.voters ?? [],
      members: this.membership.list(),
      published: this.publisher.published,
      caughtUp: this.caughtUp,
      removed: this.removedSelf,
    };
  }

  /** Resolves when no Ready is being handled (tests driving a ManualClock). */
  async whenIdle(): Promise<void> {
    await this.loop?.whenIdle();
  }

  // --- RaftCallbacks ---------------------------------------------------------

  async process(msg: Message, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const rn = this.rn;
    if (!rn || this.stopping) throw new RaftwireError(ErrorCode.STOPPED, 'etcd member is not running');
    if (this.membership.isRemoved(msg.from)) {
      throw new RaftwireError(ErrorCode.MEMBER_REMOVED, `cannot process message from removed member ${formatId(msg.from)}`);
    }
    if (msg.type === MessageType.MsgTimeoutNow) {
      // An etcd leader stopping hands leadership over; this member cannot lead, so the transfer times out and etcd elects normally.
      this.logger.info({ from: formatId(msg.from), term: msg.term }, 'ignored MsgTimeoutNow: this member never leads');
      return;
    }
    let m = msg;
    if (msg.type === MessageType.MsgSnap && msg.snapshot !== null) m = this.withStateDocument(msg);
    else if (msg.type === MessageType.MsgApp && msg.commit > this.leaderCommit) this.leaderCommit = msg.commit;
    rn.step(m);
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

  /** Streams an etcd snapshot's database to the snapshot store; the MsgSnap is processed after this resolves. */
  async receiveSnapshot(msg: Message, body: AsyncIterable<Uint8Array>, _size: number, signal: AbortSignal): Promise<void> {
    const s = msg.snapshot;
    if (s === null) throw new RaftwireError(ErrorCode.INVALID_MESSAGE, 'a MsgSnap without a snapshot');
    const { index, term } = s.metadata;
    this.logger.info({ from: formatId(msg.from), index, term }, 'receiving a snapshot from the leader');
    const bytes = await this.o.snapshots.saveDatabase(index, body, signal);
    await this.o.snapshots.saveRecord(index, term, encodeEtcdSnapshot(s), signal);
    this.received.set(index, { index, term, databaseBytes: bytes });
    this.logger.info({ index, term, bytes }, `snapshot received ${bytes} bytes`);
    this.emit('snapshot-received', { index, bytes });
  }

  // --- Applying -------------------------------------------------------------

  /** The MsgSnap with its v2 store replaced by this member's state document (the database stays in the store). */
  private withStateDocument(msg: Message): Message {
    const s = msg.snapshot as NonNullable<Message['snapshot']>;
    const { index, term } = s.metadata;
    const v2 = decodeEtcdV2Membership(s.data);
    const kept = this.received.get(index) ?? { index, term, databaseBytes: 0 };
    if (kept.databaseBytes === 0) this.logger.warn({ index }, 'snapshot came without a database');
    return { ...msg, snapshot: { ...s, data: this.membership.documentFor(v2, kept) } };
  }

  private apply(rn: RawNode, rd: Ready): void {
    let changed = false;
    if (rd.snapshot) {
      this.membership.restore(rd.snapshot.data);
      this.applied = rd.snapshot.metadata.index;
      this.snapshotIndex = this.applied;
      this.received.delete(this.applied);
      this.pruneDue = true;
      changed = true;
      this.logger.info(
        { index: this.applied, voters: rd.snapshot.metadata.confState.voters.map(formatId), members: this.membership.list().length },
        'installed the snapshot',
      );
      if (this.membership.isRemoved(this.id)) this.removedSelf = true;
    }
    for (const e of rd.committedEntries) {
      if (e.index <= this.applied) continue;
      if (e.type === EntryType.EntryConfChange || e.type === EntryType.EntryConfChangeV2) {
        this.applyConfChange(rn, e);
        changed = true;
      } else if (this.publisher.committed(e)) {
        this.emit('published', { index: e.index });
      }
      this.applied = e.index;
    }
    if (changed) {
      this.membership.syncTransport(this.transport);
      if (this.inConfiguration()) this.noteJoined(false);
      this.publisher.kick();
    }
  }

  private applyConfChange(rn: RawNode, e: Entry): void {
    if (e.type === EntryType.EntryConfChange) {
      const cc = decodeEtcdConfChange(e.data);
      this.applyOne(rn, cc.type, cc.nodeId, cc.context, e.index);
      return;
    }
    const v2 = decodeEtcdConfChangeV2(e.data);
    if (v2.changes.length > 1) {
      this.logger.warn({ index: e.index, changes: v2.changes.length }, 'joint configuration change: applied as its final configuration');
    }
    for (const c of v2.changes) this.applyOne(rn, c.type, c.nodeId, v2.context, e.index);
  }

  /** One membership change: the raft configuration (voters), the member list, the transport's peers. */
  private applyOne(rn: RawNode, type: EtcdConfChangeType, nodeId: Id, context: Uint8Array, index: number): void {
    const member = memberContext(context, nodeId);
    const hex = formatId(nodeId);
    switch (type) {
      case EtcdConfChangeType.AddNode:
        if (this.membership.add(nodeId, member, false)) {
          rn.applyConfChange({ type: ConfChangeType.AddNode, nodeId, context: EMPTY });
          this.logger.info({ index, 'member-id': hex, 'peer-urls': member?.peerURLs ?? [] }, 'added member');
        }
        return;
      case EtcdConfChangeType.AddLearnerNode:
        // A learner does not vote: it is no voter in the raft configuration (its promotion is an AddNode).
        if (this.membership.add(nodeId, member, true)) {
          if (rn.confState().voters.includes(nodeId)) rn.applyConfChange({ type: ConfChangeType.RemoveNode, nodeId, context: EMPTY });
          this.logger.info({ index, 'member-id': hex, 'peer-urls': member?.peerURLs ?? [] }, 'added learner');
        }
        return;
      case EtcdConfChangeType.UpdateNode:
        this.membership.update(nodeId, member);
        this.logger.info({ index, 'member-id': hex, 'peer-urls': member?.peerURLs ?? [] }, 'updated member');
        return;
      case EtcdConfChangeType.RemoveNode:
        this.membership.remove(nodeId);
        rn.applyConfChange({ type: ConfChangeType.RemoveNode, nodeId, context: EMPTY });
        this.logger.info({ index, 'member-id': hex }, 'removed member');
        if (nodeId === this.id) this.removedSelf = true;
        return;
    }
  }

  private async afterApply(rn: RawNode): Promise<void> {
    if (!this.caughtUp && this.leaderCommit > 0 && this.applied >= this.leaderCommit) {
      this.caughtUp = true;
      this.logger.info({ index: this.applied }, `caught up at index ${this.applied}`);
      this.emit('caught-up', { index: this.applied });
    }
    if (this.applied - this.snapshotIndex >= (this.o.compactEntries ?? 10_000)) {
      // The committed prefix goes behind a snapshot of what this member needs of it: the membership.
      this.storage.createSnapshot(this.applied, rn.confState(), this.membership.encode());
      this.storage.compact(this.applied);
      this.snapshotIndex = this.applied;
      await this.storage.sync(this.loop?.signal);
      this.logger.info({ index: this.applied }, `compacted the log up to index ${this.applied}`);
    }
    if (this.pruneDue) {
      this.pruneDue = false;
      await this.o.snapshots.prune(this.keptSnapshots());
    }
  }

  private keptSnapshots(): Set<number> {
    const keep = new Set(this.received.keys());
    if (this.membership.etcdSnapshot) keep.add(this.membership.etcdSnapshot.index);
    return keep;
  }

  /**
   * This member is in the configuration raft applied here: a voter, or a learner the log or a
   * snapshot named (what a peer's member list said does not count).
   */
  private inConfiguration(): boolean {
    if (this.rn?.confState().voters.includes(this.id)) return true;
    return this.applied > 0 && this.membership.get(this.id)?.isLearner === true;
  }

  private noteJoined(restarted: boolean): void {
    if (this.joined) return;
    this.joined = true;
    const learner = this.membership.get(this.id)?.isLearner === true;
    const voters = this.rn?.confState().voters.length ?? 0;
    this.logger.info(
      { index: this.applied, voters, learner },
      restarted ? 'member of the cluster' : `joined the cluster as a ${learner ? 'learner' : 'voter'}`,
    );
    this.emit('joined', { index: this.applied, voters, learner });
  }
}

/** The JSON Member of a ConfChange's context when it names `nodeId` (etcd writes one for every change but RemoveNode). */
function memberContext(context: Uint8Array, nodeId: Id): EtcdMemberJson | null {
  if (context.length === 0) return null;
  try {
    const m = decodeEtcdMember(context);
    return m.id === nodeId || m.id === 0n ? m : null;
  } catch {
    return null;
  }
}
