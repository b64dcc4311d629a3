import {
  HttpRelaySignaling,
  InPageSignalingHub,
  importIdentityKey,
  type PeerConnectionFactory,
  type Signaling,
  loadSimplePeer,
  simplePeerFactory,
  webrtcUrl,
} from '@raftwire/adapters/webrtc';
import { type Id, formatId, parseId } from '@raftwire/core';
import { type WritableStorage, encodeKvCommand } from '@raftwire/raft';
import {
  DemoMember,
  type MemberReport,
  emptyReport,
  type MessageTrace,
  type RaftEvent,
  type TransportTrace,
} from '../shared/demo-member.js';
import { DemoTime, TICK_MS } from '../shared/demo-time.js';
import type { EntryView } from '../shared/log-view.js';
import { Deliveries, type DeliveryListener, type HeldDelivery } from '../shared/deliveries.js';
import { type LoopbackFilterStats, absentMemberBackoff, loopbackOnlySignaling, routedSignaling } from '../shared/loopback-signaling.js';
import { type MessageInfo, messageSentence } from '../shared/message-info.js';
import { INITIAL_MEMBERS, NODE_MEMBER, type NodeStatus, type PageIdentity, type SessionInfo } from '../shared/session-api.js';
import { ApiFailure, SessionApi } from './api.js';
import type { MemberStorageProvider } from './page-storage.js';

/** Members the page runs at most at once (the Node member not counted). */
export const MAX_PAGE_MEMBERS = 4;
/** Demo milliseconds a proposal or membership change may wait before the page gives up on it. */
export const OPERATION_TIMEOUT_MS = 5000;
const POLL_MS = 250;

/** The page's members of a cluster, kept across a reload. */
export interface SavedMembers {
  members: string[];
  removed: string[];
}

/** One member as the views draw it. */
export interface MemberView extends MemberReport {
  where: 'page' | 'node';
  /** Every link of it is cut. */
  partitioned: boolean;
}

interface PageSlot {
  hex: string;
  id: Id;
  storage: WritableStorage;
  member: DemoMember | undefined;
  removed: boolean;
}

export interface ClusterListener extends DeliveryListener {
  raftEvent(e: RaftEvent): void;
  transportEvent(e: TransportTrace): void;
  /** A message one of the page's members handed to its transport. */
  sent(t: MessageTrace): void;
  /** The path the Node member last used towards `to`. */
  nodePath(to: string, path: string, at: number): void;
  /** The server closed this page's cluster (or went away): the page's members have stopped. */
  lost(reason: string): void;
}

/** What a page member's storage held when the page opened it, before the member started. */
export interface RecoveredLog {
  member: string;
  lastIndex: number;
  term: number;
  commit: number;
}

/** Where a proposal is on its way to commit. */
export interface ProposalProgress {
  /** Log index and term of its entry on the leader (0 until it is there). */
  index: number;
  term: number;
  /** Members whose log holds the entry. */
  storedOn: string[];
  committed: boolean;
}

/** A signal that aborts after `ms` of demo time (paused time does not count). */
function demoTimeout(time: DemoTime, ms: number, what: string): { signal: AbortSignal; cancel: () => void } {
  const ac = new AbortController();
  const h = time.at(time.now() + ms, () => ac.abort(new Error(`${what}: no answer within ${ms / 1000} s of Raft time`)));
  return { signal: ac.signal, cancel: () => time.cancel(h) };
}

function linkKey(a: string, b: string): string {
  return parseId(a) < parseId(b) ? `${a}-${b}` : `${b}-${a}`;
}

/**
 * The page's side of its own demo cluster: the session (cluster ID, token)
 * the server gave it, members 2, 3, 4 … (each a DemoMember with its own
 * Transport and WebRtcLink; in-page signalling among themselves, the
 * cluster's HTTP relay to the Node member 1), the demo time every member runs
 * on, and the {@link Deliveries} every message between members passes.
 */
export class PageCluster {
  readonly time = new DemoTime();
  readonly deliveries = new Deliveries(this.time);
  readonly filter: LoopbackFilterStats = { droppedCandidates: 0 };
  readonly slots = new Map<string, PageSlot>();
  nodeStatus: NodeStatus | undefined;
  /** Links cut, as `a-b` with a < b. A partitioned member is one whose links are all cut. */
  readonly cutLinks = new Set<string>();
  session: SessionInfo | undefined;
  private api: SessionApi | undefined;
  private signaling!: Signaling;
  private factory!: PeerConnectionFactory;
  private poll: ReturnType<typeof setTimeout> | undefined;
  private pollFailures = 0;
  private closed = false;
  /** Members the Node member's status shows as removed, or the page removed. */
  private readonly removedIds = new Set<string>();
  /** Every member's public key, shared by the page's members (live: a member added later appears here). */
  private readonly publicKeys = new Map<Id, CryptoKey>();
  /** The page's members' private keys and relay credentials, by hex ID, as the server handed them out. */
  private readonly privateKeys = new Map<string, CryptoKey>();
  private readonly credentials = new Map<string, string>();

  constructor(
    private readonly listener: ClusterListener,
    private readonly provider: MemberStorageProvider,
    private readonly loopbackOnly: boolean,
  ) {
    this.deliveries.listen(listener);
  }

  get clusterId(): string {
    return this.session?.clusterId ?? '';
  }

  /**
   * Starts the page's members in `session` (a new cluster, or one this page
   * resumes after a reload: its members then recover their logs from storage).
   */
  async start(session: SessionInfo, resumed: SavedMembers | undefined): Promise<RecoveredLog[]> {
    this.session = session;
    this.api = new SessionApi(session.clusterId, session.token);
    const clusterId = parseId(session.clusterId);
    const SimplePeer = await loadSimplePeer();
    this.factory = simplePeerFactory({ SimplePeer, config: { iceServers: [] } });
    await this.learnIdentity(session.identity);
    const hub = new InPageSignalingHub(clusterId);
    const relay = new HttpRelaySignaling({
      baseUrl: session.relayUrl,
      credential: (id) => {
        const c = this.credentials.get(formatId(id));
        if (c === undefined) throw new Error(`the server gave this page no relay credential for member ${formatId(id)}`);
        return c;
      },
    });
    // A stopped member is asked for again at most once per backoff window (not at every redial).
    const routed = absentMemberBackoff(routedSignaling(hub, relay, (to) => to === NODE_MEMBER));
    this.signaling = this.loopbackOnly ? loopbackOnlySignaling(routed, this.filter) : routed;
    this.time.apply(session.time);
    // The initial members bootstrap from this list when their storage is empty (RaftNode ignores it otherwise).
    const peers = INITIAL_MEMBERS.map((h) => ({ id: parseId(h), url: webrtcUrl(parseId(h)) }));
    const pageIds = resumed?.members ?? INITIAL_MEMBERS.filter((h) => h !== NODE_MEMBER);
    for (const h of resumed?.removed ?? []) this.removedIds.add(h);
    const recovered: RecoveredLog[] = [];
    for (const h of pageIds) {
      const storage = await this.provider.open(session.clusterId, h);
      const { hardState } = storage.initialState();
      recovered.push({ member: h, lastIndex: storage.lastIndex(), term: hardState.term, commit: hardState.commit });
      this.slots.set(h, { hex: h, id: parseId(h), storage, member: undefined, removed: this.removedIds.has(h) });
    }
    if (resumed) {
      // The page that cut member 1's links is gone: member 1 starts with every link whole, as the page does.
      await Promise.all(pageIds.map((h) => this.requireApi().post('node/cut', { peer: h, cut: false })));
    }
    await this.pollNode();
    this.schedulePoll();
    await Promise.all(
      pageIds.filter((h) => !this.removedIds.has(h)).map((h) => this.startSlot(h, INITIAL_MEMBERS.includes(h) ? { peers } : {})),
    );
    return recovered;
  }

  /** Imports the keys the server handed this page (over its token): its members' own, and every member's public key. */
  private async learnIdentity(p: PageIdentity): Promise<void> {
    for (const [hex, jwk] of Object.entries(p.publicKeys)) {
      const id = parseId(hex);
      if (!this.publicKeys.has(id)) this.publicKeys.set(id, await importIdentityKey(jwk));
    }
    for (const [hex, keys] of Object.entries(p.members)) {
      if (!this.privateKeys.has(hex)) this.privateKeys.set(hex, await importIdentityKey(keys.privateKey));
      this.credentials.set(hex, keys.credential);
    }
  }

  /** The page's members, for a reload to resume them. */
  saved(): SavedMembers {
    return { members: [...this.slots.keys()], removed: [...this.slots.keys()].filter((h) => this.isRemoved(h)) };
  }

  private startMember(slot: PageSlot, join: { peers?: { id: Id; url: string }[]; knownPeers?: { id: Id; url: string }[] }): DemoMember {
    const privateKey = this.privateKeys.get(slot.hex);
    if (privateKey === undefined) throw new Error(`the server gave this page no identity key for member ${slot.hex}`);
    return new DemoMember({
      id: slot.id,
      identity: { privateKey, publicKeys: this.publicKeys },
      clusterId: parseId(this.clusterId),
      signaling: this.signaling,
      factory: this.factory,
      storage: slot.storage,
      time: this.time,
      ...(join.peers === undefined ? {} : { peers: join.peers }),
      ...(join.knownPeers === undefined ? {} : { knownPeers: join.knownPeers }),
      // Every message to a page member waits here before its RaftNode sees it …
      inbound: (info, deliver) => void this.deliveries.hold(info, deliver),
      // … and a page member's messages to the Node member wait before its transport sends them.
      outbound: (info, send) => {
        if (info.to !== NODE_MEMBER) return false;
        this.deliveries.hold(info, send);
        return true;
      },
      onSend: (t) => this.listener.sent(t),
      onTransportEvent: (e) => this.listener.transportEvent(e),
      onRaftEvent: (e) => {
        if (e.kind === 'member-removed') this.removedIds.add(e.peer);
        this.listener.raftEvent(e);
      },
    });
  }

  private async startSlot(hex: string, join: { peers?: { id: Id; url: string }[]; knownPeers?: { id: Id; url: string }[] }): Promise<void> {
    const slot = this.slots.get(hex);
    if (!slot) throw new Error(`no member ${hex}`);
    const m = this.startMember(slot, join);
    slot.member = m;
    await m.start();
    m.node.on('removed', () => {
      slot.removed = true;
      this.forgetLinks(hex);
    });
    for (const other of this.allIds()) if (other !== hex && this.isCut(hex, other)) m.cutPeer(parseId(other));
  }

  private schedulePoll(): void {
    if (this.closed) return;
    this.poll = setTimeout(() => {
      void this.pollNode().finally(() => this.schedulePoll());
    }, POLL_MS);
  }

  private async pollNode(): Promise<void> {
    const api = this.api;
    if (!api || this.closed) return;
    let st: NodeStatus;
    try {
      st = await api.get<NodeStatus>('status');
    } catch (err) {
      if (err instanceof ApiFailure && (err.code === 'session-unknown' || err.code === 'bad-token')) {
        void this.lose(`The server closed this page's cluster ${this.clusterId}: ${err.message}.`);
      } else if (++this.pollFailures >= 8) {
        void this.lose(`The demo server stopped answering (${err instanceof Error ? err.message : String(err)}).`);
      }
      return;
    }
    this.pollFailures = 0;
    this.applyNodeStatus(st);
  }

  private applyNodeStatus(st: NodeStatus): void {
    this.nodeStatus = st;
    this.nodeSeenAt = this.time.now();
    for (const e of st.transportEvents) this.listener.transportEvent(e);
    for (const e of st.raftEvents) {
      if (e.kind === 'member-removed') this.removedIds.add(e.peer);
      this.listener.raftEvent(e);
    }
    for (const [to, paths] of Object.entries(st.paths))
      for (const [path, at] of Object.entries(paths)) this.listener.nodePath(to, path, at);
    if (st.member.state === 'removed') this.removedIds.add(NODE_MEMBER);
  }

  /** Demo time at which {@link nodeStatus} arrived (its timer is drawn on from there). */
  nodeSeenAt = 0;

  private async lose(reason: string): Promise<void> {
    if (this.closed) return;
    await this.close();
    this.listener.lost(reason);
  }

  /** Hex IDs of every member the view draws, the Node member first (removed ones left out). */
  allIds(): string[] {
    return [NODE_MEMBER, ...this.slots.keys()].filter((h) => !this.isRemoved(h));
  }

  isRemoved(hex: string): boolean {
    if (this.removedIds.has(hex)) return true;
    return this.slots.get(hex)?.removed === true;
  }

  private nodeView(): MemberView {
    const n = this.nodeStatus?.member;
    const base: MemberReport = n ?? emptyReport(NODE_MEMBER, 'starting');
    // Between polls the Node member's timer runs on in the page's demo time.
    const since = base.state === 'running' ? base.sinceTick + (this.time.now() - this.nodeSeenAt) : 0;
    return { ...base, sinceTick: since, where: 'node', partitioned: this.isPartitioned(NODE_MEMBER) };
  }

  /** Every member, including removed ones (their cards say so); before the start, the initial ones as starting. */
  views(withLogs = true): MemberView[] {
    const out: MemberView[] = [this.nodeView()];
    if (this.slots.size === 0) {
      for (const h of INITIAL_MEMBERS.filter((x) => x !== NODE_MEMBER))
        out.push({ ...emptyReport(h, 'starting'), where: 'page', partitioned: false });
      return out;
    }
    for (const [hex, slot] of this.slots) {
      const r: MemberReport = slot.member?.report(withLogs) ?? emptyReport(hex, 'starting');
      const removed = slot.removed || this.removedIds.has(hex);
      out.push({
        ...r,
        state: removed ? 'removed' : r.state,
        role: removed ? 'removed' : r.role,
        where: 'page',
        partitioned: this.isPartitioned(hex),
      });
    }
    return out;
  }

  running(hex: string): DemoMember | undefined {
    const m = this.slots.get(hex)?.member;
    return m?.running ? m : undefined;
  }

  /** Whether member `from`'s transport counts `to` as active (undefined: `from` is not running). */
  linkActive(from: string, to: string): boolean | undefined {
    if (from === NODE_MEMBER) return this.nodeStatus?.member.state === 'running' ? this.nodeStatus.active.includes(to) : undefined;
    const m = this.running(from);
    return m ? m.peerActive(parseId(to)) : undefined;
  }

  /** The leader as some running member sees it ('' when none is known). */
  leader(): string {
    const views = this.views().filter((v) => v.state === 'running');
    const self = views.find((v) => v.role === 'leader');
    return self?.id ?? '';
  }

  /** A running page member to propose through: the leader when it is on the page, else a follower that reaches it. */
  proposer(): DemoMember | undefined {
    const running = [...this.slots.keys()].map((h) => this.running(h)).filter((m): m is DemoMember => m !== undefined);
    const leader = running.find((m) => m.node.status().raftState === 'StateLeader');
    if (leader) return leader;
    const reaches = (m: DemoMember): boolean => {
      const lead = m.node.status().leader;
      return lead !== 0n && !this.isCut(m.hex, formatId(lead));
    };
    return running.find(reaches) ?? running[0];
  }

  /**
   * Where the put of `key` is: on the leader's log, on which members, committed or not.
   * `committedAt` is its index once the proposer saw it committed (the leader's log in this
   * page's view may lag behind: the Node member's arrives with its status).
   */
  progress(key: string, committedAt = 0): ProposalProgress {
    const views = this.views().filter((v) => v.state !== 'removed');
    const leader = views.filter((v) => v.state === 'running' && v.role === 'leader').sort((a, b) => b.term - a.term)[0];
    const isIt = (e: EntryView): boolean => e.kind === 'put' && e.detail.startsWith(`put ${key} =`);
    let found = leader?.log.entries.findLast(isIt);
    for (const v of views) found ??= v.log.entries.find((e) => e.index === committedAt && isIt(e));
    if (!found) return { index: committedAt, term: 0, storedOn: [], committed: committedAt > 0 };
    const f = found;
    const storedOn = views
      .filter((v) => v.log.entries.some((e) => e.index === f.index && e.term === f.term) || v.log.snapshotIndex >= f.index)
      .map((v) => v.id);
    return { index: f.index, term: f.term, storedOn, committed: committedAt > 0 || (leader?.commit ?? 0) >= f.index };
  }

  /**
   * Proposes `key = value` through {@link proposer}; resolves once it is
   * committed and applied there. Gives up after {@link OPERATION_TIMEOUT_MS}
   * of demo time (pausing does not count).
   */
  async propose(key: string, value: string): Promise<{ via: string; index: number }> {
    const m = this.proposer();
    if (!m) throw new Error('no page member is running to propose through');
    const t = demoTimeout(this.time, OPERATION_TIMEOUT_MS, `proposal through member ${m.hex}`);
    try {
      await m.node.propose(encodeKvCommand({ op: 'put', key, value: new TextEncoder().encode(value) }), { signal: t.signal });
    } catch (err) {
      throw t.signal.aborted ? t.signal.reason : err;
    } finally {
      t.cancel();
    }
    // Applied on the proposer: its own log has the entry.
    const e = m.report().log.entries.findLast((x) => x.kind === 'put' && x.detail.startsWith(`put ${key} =`));
    return { via: m.hex, index: e?.index ?? 0 };
  }

  /** Proposes `count` values, `parallel` at a time. */
  async proposeMany(count: number, parallel = 10): Promise<void> {
    let next = 0;
    const stamp = Date.now().toString(36);
    const worker = async (): Promise<void> => {
      while (next < count) {
        const i = next++;
        await this.propose(`k-${stamp}-${i}`, `v${i}`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  }

  private requireApi(): SessionApi {
    if (!this.api) throw new Error('the cluster has not started');
    return this.api;
  }

  /** Stops a member as a crash would; its storage is kept. Resolves with its state afterwards. */
  async kill(hex: string): Promise<MemberReport> {
    if (hex === NODE_MEMBER) {
      const r = await this.requireApi().post<{ member: MemberReport }>('node/kill');
      if (this.nodeStatus) this.nodeStatus = { ...this.nodeStatus, member: r.member, active: [] };
      this.deliveries.drop((i) => i.to === NODE_MEMBER, 'member 1 stopped');
      return r.member;
    }
    const m = this.slots.get(hex)?.member;
    if (!m) throw new Error(`member ${hex} is not running`);
    await m.stop();
    this.deliveries.drop((i) => i.to === hex || (i.from === hex && i.to === NODE_MEMBER), `member ${hex} stopped`);
    return m.report();
  }

  /** Starts a stopped member again from its kept storage. Resolves with its state afterwards. */
  async restart(hex: string): Promise<MemberReport> {
    if (this.isRemoved(hex)) throw new Error(`member ${hex} was removed from the cluster; a removed ID never comes back`);
    if (hex === NODE_MEMBER) {
      const r = await this.requireApi().post<{ member: MemberReport }>('node/restart');
      if (this.nodeStatus) this.nodeStatus = { ...this.nodeStatus, member: r.member };
      for (const other of this.allIds()) if (other !== hex && this.isCut(hex, other)) await this.applyEnd(hex, other);
      return r.member;
    }
    const slot = this.slots.get(hex);
    if (!slot) throw new Error(`no member ${hex}`);
    if (!this.running(hex)) await this.startSlot(hex, {});
    return (slot.member as DemoMember).report();
  }

  /** Whether a–b is cut (directly, or as part of a partition). */
  isCut(a: string, b: string): boolean {
    return this.cutLinks.has(linkKey(a, b));
  }

  isPartitioned(hex: string): boolean {
    const others = this.allIds().filter((o) => o !== hex);
    return others.length > 0 && others.every((o) => this.isCut(hex, o));
  }

  /** Cuts (or heals) the link a–b at both ends; messages on their way along it are lost. */
  async setLinkCut(a: string, b: string, cut: boolean): Promise<void> {
    if (cut) this.cutLinks.add(linkKey(a, b));
    else this.cutLinks.delete(linkKey(a, b));
    if (cut) this.deliveries.drop((i) => (i.from === a && i.to === b) || (i.from === b && i.to === a), `link ${a}–${b} cut`);
    await Promise.all([this.applyEnd(a, b), this.applyEnd(b, a)]);
  }

  /** Cuts (or heals) every link of a member. */
  async setPartitioned(hex: string, on: boolean): Promise<void> {
    await Promise.all(
      this.allIds()
        .filter((o) => o !== hex)
        .map((o) => this.setLinkCut(hex, o, on)),
    );
  }

  private async applyEnd(self: string, peer: string): Promise<void> {
    const cut = this.isCut(self, peer);
    if (self === NODE_MEMBER) {
      await this.requireApi().post('node/cut', { peer, cut });
      return;
    }
    const m = this.running(self);
    if (!m) return;
    if (cut) m.cutPeer(parseId(peer));
    else m.mendPeer(parseId(peer));
  }

  private forgetLinks(hex: string): void {
    for (const k of [...this.cutLinks]) if (k.split('-').includes(hex)) this.cutLinks.delete(k);
  }

  /** Page members that count towards {@link MAX_PAGE_MEMBERS} (not removed). */
  pageMembers(): string[] {
    return [...this.slots.keys()].filter((h) => !this.isRemoved(h));
  }

  /** Why a member cannot be added now ('' when it can). */
  addBlocked(): string {
    if (this.pageMembers().length >= MAX_PAGE_MEMBERS) return `the page runs at most ${MAX_PAGE_MEMBERS} members: remove one first`;
    if (!this.proposer()) return 'no page member is running to propose the change through';
    return '';
  }

  /** Adds a member with a new ID (a removed ID never comes back), then starts it in the page. */
  async addMember(): Promise<string> {
    const blocked = this.addBlocked();
    if (blocked) throw new Error(blocked);
    const m = this.proposer() as DemoMember;
    // A new ID above every one used so far: Raft never lets a removed ID back in.
    let highest = 0n;
    for (const h of [NODE_MEMBER, ...this.slots.keys()]) if (parseId(h) > highest) highest = parseId(h);
    const id = highest + 1n;
    const hex = formatId(id);
    // Its keys first: every member must know its public key before it dials or is dialled.
    await this.learnIdentity(await this.requireApi().post<PageIdentity>('keys', { member: hex }));
    const storage = await this.provider.open(this.clusterId, hex);
    const t = demoTimeout(this.time, OPERATION_TIMEOUT_MS, `adding member ${hex}`);
    let members: { id: Id; url: string }[];
    try {
      members = await m.node.addMember(id, webrtcUrl(id), { signal: t.signal });
    } catch (err) {
      throw t.signal.aborted ? t.signal.reason : err;
    } finally {
      t.cancel();
    }
    this.slots.set(hex, { hex, id, storage, member: undefined, removed: false });
    await this.startSlot(hex, { knownPeers: members });
    return hex;
  }

  /** Removes a member through another running page member; the removed member stops itself once it learns. */
  async removeMember(hex: string): Promise<void> {
    if (this.isRemoved(hex)) throw new Error(`member ${hex} is already removed`);
    const m = [...this.slots.keys()]
      .filter((h) => h !== hex)
      .map((h) => this.running(h))
      .find((x) => x !== undefined);
    if (!m) throw new Error('no other page member is running to propose the change through');
    const t = demoTimeout(this.time, OPERATION_TIMEOUT_MS, `removing member ${hex}`);
    try {
      await m.node.removeMember(parseId(hex), { signal: t.signal });
    } catch (err) {
      throw t.signal.aborted ? t.signal.reason : err;
    } finally {
      t.cancel();
    }
    this.removedIds.add(hex);
    const slot = this.slots.get(hex);
    if (slot) slot.removed = true;
    this.forgetLinks(hex);
  }

  /** Snapshots and compacts a member's log (so a lagging member needs a MsgSnap). */
  async forceSnapshot(hex: string): Promise<number> {
    if (hex === NODE_MEMBER) return (await this.requireApi().post<{ index: number }>('node/snapshot')).index;
    const m = this.running(hex);
    if (!m) throw new Error(`member ${hex} is not running`);
    return m.forceSnapshot();
  }

  private async pushTime(): Promise<void> {
    await this.requireApi().post('time', { ...this.time.state() });
  }

  async setSpeed(factor: number): Promise<void> {
    this.time.setFactor(factor);
    await this.pushTime();
  }

  /** Stops demo time: no tick on any member, no message delivered, until resumed or stepped. */
  async pause(): Promise<void> {
    this.time.pause();
    await this.pushTime();
  }

  async resume(): Promise<void> {
    this.time.resume();
    await this.pushTime();
  }

  /** Delivers the one message due first (time stays paused); undefined when none is on its way. */
  step(): HeldDelivery | undefined {
    return this.deliveries.step();
  }

  /** One tick of every member's clock (time stays paused otherwise): timers run down by one. */
  async tick(): Promise<void> {
    this.time.advance(TICK_MS);
    await this.requireApi().post('tick');
  }

  /** What a step would deliver next. */
  nextDelivery(): MessageInfo | undefined {
    return this.deliveries.list()[0]?.info;
  }

  describeNext(): string {
    const n = this.nextDelivery();
    return n ? messageSentence(n) : '';
  }

  /** Tells the server the page is leaving; usable from `pagehide`. */
  leave(): void {
    this.api?.beacon('leave');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.poll) clearTimeout(this.poll);
    this.deliveries.clear();
    await Promise.all([...this.slots.values()].map((s) => s.member?.stop()));
    this.time.close();
  }
}
