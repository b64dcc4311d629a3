import {
  HttpRelaySignaling,
  InPageSignalingHub,
  type PeerConnectionFactory,
  type Signaling,
  loadSimplePeer,
  simplePeerFactory,
  webrtcUrl,
} from '@raftwire/adapters/webrtc';
import { type Id, formatId, parseId } from '@raftwire/core';
import { MemoryStorage, encodeKvCommand } from '@raftwire/raft';
import type { NodeMemberStatus } from '../server/node-member-host.js';
import { DemoMember, type MessageTrace, type TransportTrace } from '../shared/demo-member.js';
import { type LoopbackFilterStats, loopbackOnlySignaling, routedSignaling } from '../shared/loopback-signaling.js';
import { SpeedControl } from '../shared/speed.js';

/** The Node member's hex ID. */
export const NODE_MEMBER = '1';
/** IDs the page may run (initial 2, 3, 4; one more can be added). */
export const PAGE_IDS = ['2', '3', '4', '5'] as const;

/** What the view shows for one member (page or Node). */
export interface MemberView {
  id: string;
  where: 'page' | 'node';
  state: 'running' | 'stopped';
  role: string;
  term: number;
  commit: number;
  applied: number;
  lastIndex: number;
  leader: string;
  removed: boolean;
  partitioned: boolean;
}

interface PageSlot {
  id: Id;
  storage: MemoryStorage;
  member: DemoMember | undefined;
  removed: boolean;
}

export interface ClusterListener {
  message(t: MessageTrace): void;
  /** The path the Node member last used towards `to` (its messages are drawn when they arrive). */
  nodePath(to: string, path: string, at: number): void;
  event(t: TransportTrace): void;
}

/**
 * The page's side of the demo cluster: members 2..5 (each a DemoMember with
 * its own Transport and WebRtcLink, in-page signalling among themselves and
 * the HTTP relay to the Node member 1), plus the Node member's status as
 * polled from the server.
 */
export class PageCluster {
  readonly speed = new SpeedControl();
  readonly filter: LoopbackFilterStats = { droppedCandidates: 0 };
  readonly slots = new Map<string, PageSlot>();
  nodeStatus: NodeMemberStatus | undefined;
  /** Members the user partitioned (all their links cut). */
  readonly partitioned = new Set<string>();
  /** Links the user cut, as `a-b` with a < b. */
  readonly cutLinks = new Set<string>();
  private signaling!: Signaling;
  private factory!: PeerConnectionFactory;
  private poll: ReturnType<typeof setInterval> | undefined;
  clusterId = 0n;

  constructor(
    private readonly listener: ClusterListener,
    private readonly loopbackOnly: boolean,
  ) {}

  async start(): Promise<void> {
    const res = await fetch('/api/session', { method: 'POST' });
    if (!res.ok) throw new Error(`session: HTTP ${res.status}`);
    const s = (await res.json()) as { clusterId: string };
    this.clusterId = parseId(s.clusterId);
    const SimplePeer = await loadSimplePeer();
    this.factory = simplePeerFactory({ SimplePeer, config: { iceServers: [] } });
    const hub = new InPageSignalingHub(this.clusterId);
    const relay = new HttpRelaySignaling({ baseUrl: `${location.origin}/raft-signal` });
    const routed = routedSignaling(hub, relay, (to) => to === NODE_MEMBER);
    this.signaling = this.loopbackOnly ? loopbackOnlySignaling(routed, this.filter) : routed;
    await this.setSpeed(1);
    const peers = ['1', '2', '3', '4'].map((h) => ({ id: parseId(h), url: webrtcUrl(parseId(h)) }));
    for (const h of ['2', '3', '4']) this.slots.set(h, { id: parseId(h), storage: new MemoryStorage(), member: undefined, removed: false });
    await Promise.all(['2', '3', '4'].map((h) => this.startSlot(h, { peers })));
    this.poll = setInterval(() => void this.pollNode(), 300);
  }

  private async startSlot(hex: string, join: { peers?: { id: Id; url: string }[]; knownPeers?: { id: Id; url: string }[] }): Promise<void> {
    const slot = this.slots.get(hex);
    if (!slot) throw new Error(`no member ${hex}`);
    const m = new DemoMember({
      id: slot.id,
      clusterId: this.clusterId,
      signaling: this.signaling,
      factory: this.factory,
      storage: slot.storage,
      speed: this.speed,
      ...(join.peers === undefined ? {} : { peers: join.peers }),
      ...(join.knownPeers === undefined ? {} : { knownPeers: join.knownPeers }),
      onSend: (t) => this.listener.message(t),
      onReceive: (t) => {
        if (t.from === NODE_MEMBER) this.listener.message(t);
      },
      onTransportEvent: (e) => this.listener.event(e),
    });
    slot.member = m;
    await m.start();
    m.node.on('removed', () => {
      slot.removed = true;
    });
    // re-apply cuts that involve this member
    for (const link of this.cutLinks) {
      const [a, b] = link.split('-') as [string, string];
      if (a === hex) m.cutPeer(parseId(b));
      if (b === hex) m.cutPeer(parseId(a));
    }
    if (this.partitioned.has(hex)) for (const other of this.allIds()) if (other !== hex) m.cutPeer(parseId(other));
    for (const p of this.partitioned) if (p !== hex) m.cutPeer(parseId(p));
  }

  private async pollNode(): Promise<void> {
    try {
      const res = await fetch('/api/node-status', { cache: 'no-store' });
      if (!res.ok) return;
      const st = (await res.json()) as NodeMemberStatus;
      if (st.clusterId !== formatId(this.clusterId)) {
        this.nodeStatus = undefined;
        return;
      }
      this.nodeStatus = st;
      for (const e of st.events) this.listener.event(e);
      for (const [to, paths] of Object.entries(st.paths))
        for (const [path, at] of Object.entries(paths)) this.listener.nodePath(to, path, at);
    } catch {
      // the server went away; the view shows the Node member as unknown
    }
  }

  /** Hex IDs of every member the view draws (the Node member first). */
  allIds(): string[] {
    return [NODE_MEMBER, ...this.slots.keys()];
  }

  views(): MemberView[] {
    const out: MemberView[] = [];
    const n = this.nodeStatus;
    out.push({
      id: NODE_MEMBER,
      where: 'node',
      state: n?.state ?? 'stopped',
      role: n?.role ?? 'unknown',
      term: n?.term ?? 0,
      commit: n?.commit ?? 0,
      applied: n?.applied ?? 0,
      lastIndex: n?.lastIndex ?? 0,
      leader: n?.leader ?? '0',
      removed: false,
      partitioned: this.partitioned.has(NODE_MEMBER),
    });
    for (const [hex, slot] of this.slots) {
      const st = slot.member?.status();
      const running = st?.started === true && !st.stopped;
      out.push({
        id: hex,
        where: 'page',
        state: running ? 'running' : 'stopped',
        role: running ? st.raftState.replace(/^State/, '').toLowerCase() : slot.removed ? 'removed' : 'stopped',
        term: st?.term ?? 0,
        commit: st?.commit ?? 0,
        applied: st?.applied ?? 0,
        lastIndex: st?.lastIndex ?? 0,
        leader: st ? formatId(st.leader) : '0',
        removed: slot.removed,
        partitioned: this.partitioned.has(hex),
      });
    }
    return out;
  }

  running(hex: string): DemoMember | undefined {
    const m = this.slots.get(hex)?.member;
    const st = m?.status();
    return st?.started === true && !st.stopped ? m : undefined;
  }

  /** Whether member `from`'s transport counts `to` as active. */
  linkActive(from: string, to: string): boolean | undefined {
    if (from === NODE_MEMBER) return this.nodeStatus?.state === 'running' ? this.nodeStatus.active.includes(to) : undefined;
    const m = this.running(from);
    return m ? m.peerActive(parseId(to)) : undefined;
  }

  /** A running page member to propose through: the leader when it is on the page, else any connected one. */
  proposer(): DemoMember | undefined {
    const running = [...this.slots.keys()].map((h) => this.running(h)).filter((m): m is DemoMember => m !== undefined);
    const leader = running.find((m) => m.node.status().raftState === 'StateLeader');
    if (leader) return leader;
    // A follower forwards the proposal to the leader: pick one whose link to the leader is not cut.
    const reaches = (m: DemoMember): boolean => {
      const lead = m.status()?.leader ?? 0n;
      return lead !== 0n && !this.isCut(m.hex, formatId(lead));
    };
    return running.find(reaches) ?? running[0];
  }

  async propose(key: string, value: string, signal?: AbortSignal): Promise<void> {
    const m = this.proposer();
    if (!m) throw new Error('no running page member to propose through');
    await m.node.propose(encodeKvCommand({ op: 'put', key, value: new TextEncoder().encode(value) }), {
      signal: signal ?? AbortSignal.timeout(15_000),
    });
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

  async kill(hex: string): Promise<void> {
    if (hex === NODE_MEMBER) {
      await fetch('/api/node/kill', { method: 'POST' });
      return;
    }
    await this.slots.get(hex)?.member?.stop();
  }

  async restart(hex: string): Promise<void> {
    if (hex === NODE_MEMBER) {
      await fetch('/api/node/restart', { method: 'POST' });
      return;
    }
    const slot = this.slots.get(hex);
    if (!slot || slot.removed) throw new Error(`member ${hex} cannot restart`);
    if (this.running(hex)) return;
    await this.startSlot(hex, {});
  }

  private async nodeCut(peer: string, cut: boolean): Promise<void> {
    await fetch('/api/node/cut', { method: 'POST', body: JSON.stringify({ peer, cut }) });
  }

  /** Cuts (or heals) the link a–b at both ends. */
  async setLinkCut(a: string, b: string, cut: boolean): Promise<void> {
    const key = a < b ? `${a}-${b}` : `${b}-${a}`;
    if (cut) this.cutLinks.add(key);
    else this.cutLinks.delete(key);
    await this.applyEnd(a, b);
    await this.applyEnd(b, a);
  }

  /** Whether a–b is cut, by the user directly or by a partition. */
  isCut(a: string, b: string): boolean {
    const key = a < b ? `${a}-${b}` : `${b}-${a}`;
    return this.cutLinks.has(key) || this.partitioned.has(a) || this.partitioned.has(b);
  }

  private async applyEnd(self: string, peer: string): Promise<void> {
    const cut = this.isCut(self, peer);
    if (self === NODE_MEMBER) {
      await this.nodeCut(peer, cut);
      return;
    }
    const m = this.running(self);
    if (!m) return;
    if (cut) m.cutPeer(parseId(peer));
    else m.mendPeer(parseId(peer));
  }

  /** Isolates a member from every other member (or heals it). */
  async setPartitioned(hex: string, on: boolean): Promise<void> {
    if (on) this.partitioned.add(hex);
    else this.partitioned.delete(hex);
    for (const other of this.allIds()) {
      if (other === hex) continue;
      await this.applyEnd(hex, other);
      await this.applyEnd(other, hex);
    }
  }

  async addMember(): Promise<string> {
    const hex = PAGE_IDS.find((h) => !this.slots.has(h));
    if (!hex) throw new Error('the page runs at most four members');
    const m = this.proposer();
    if (!m) throw new Error('no running page member');
    const id = parseId(hex);
    const members = await m.node.addMember(id, webrtcUrl(id), { signal: AbortSignal.timeout(15_000) });
    this.slots.set(hex, { id, storage: new MemoryStorage(), member: undefined, removed: false });
    await this.startSlot(hex, { knownPeers: members });
    return hex;
  }

  async removeMember(hex: string): Promise<void> {
    const m = [...this.slots.keys()]
      .filter((h) => h !== hex)
      .map((h) => this.running(h))
      .find((x) => x !== undefined);
    if (!m) throw new Error('no other running page member');
    await m.node.removeMember(parseId(hex), { signal: AbortSignal.timeout(15_000) });
    // The removed member stops itself once it learns of its removal (it applies the change, or a peer answers 410/403).
    const slot = this.slots.get(hex);
    if (slot) slot.removed = true;
  }

  /** Snapshots and compacts the leader's log (so a lagging member needs a MsgSnap). */
  async forceSnapshot(hex: string): Promise<number> {
    if (hex === NODE_MEMBER) {
      const r = (await (await fetch('/api/node/snapshot', { method: 'POST' })).json()) as { index: number };
      return r.index;
    }
    const m = this.running(hex);
    if (!m) throw new Error(`member ${hex} is not running`);
    return m.forceSnapshot();
  }

  async setSpeed(factor: number): Promise<void> {
    this.speed.factor = factor;
    await fetch('/api/speed', { method: 'POST', body: JSON.stringify({ factor }) });
  }

  /** Tells the server the page is leaving (its Node member stops); usable from `pagehide`. */
  leave(): void {
    if (this.clusterId !== 0n) navigator.sendBeacon('/api/session/close', JSON.stringify({ clusterId: formatId(this.clusterId) }));
  }

  async close(): Promise<void> {
    if (this.poll) clearInterval(this.poll);
    await Promise.all([...this.slots.values()].map((s) => s.member?.stop()));
  }
}
