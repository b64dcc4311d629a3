import { type SignalingRelay, createSignalingRelay, nodePeerConnectionFactory } from '@raftwire/adapters/webrtc/node';
import { webrtcUrl } from '@raftwire/adapters/webrtc';
import { type Id, formatId, parseId } from '@raftwire/core';
import { type Member, MemoryStorage } from '@raftwire/raft';
import { DemoMember, type TransportTrace } from '../shared/demo-member.js';
import { loopbackOnlySignaling, type LoopbackFilterStats } from '../shared/loopback-signaling.js';
import { SpeedControl } from '../shared/speed.js';

/** The Node member's ID; the page's members are 2, 3, 4 (and 5, 6 when added). */
export const NODE_MEMBER_ID = 1n;
/** Initial voters of every demo cluster. */
export const INITIAL_MEMBERS: readonly Id[] = [1n, 2n, 3n, 4n];

/** What `/api/node-status` returns. */
export interface NodeMemberStatus {
  id: string;
  clusterId: string;
  state: 'running' | 'stopped';
  role: string;
  term: number;
  commit: number;
  applied: number;
  lastIndex: number;
  leader: string;
  cut: string[];
  active: string[];
  droppedCandidates: number;
  /** Per peer, per path the Node member picked (`streamMsgAppV2`, `streamMsg`, `pipeline`, `snapshot`): Date.now() of its last use. */
  paths: Record<string, Record<string, number>>;
  /** Transport events since the last poll. */
  events: TransportTrace[];
}

/**
 * One demo cluster's server side: its signalling relay and its Node member
 * (RaftNode + Transport + WebRtcLink over node-datachannel bound to
 * 127.0.0.1). A new page load gets a fresh cluster (new cluster ID), since
 * the page's members keep their logs in memory only.
 */
export class ClusterSession {
  readonly clusterId: Id;
  readonly relay: SignalingRelay;
  readonly speed = new SpeedControl();
  claimed = false;
  private member: DemoMember | undefined;
  private storage = new MemoryStorage();
  private readonly paths: Record<string, Record<string, number>> = {};
  private events: TransportTrace[] = [];
  private readonly filter: LoopbackFilterStats = { droppedCandidates: 0 };
  private lastApplied = 0;

  constructor(
    clusterId: Id,
    private readonly loopbackOnly: boolean,
  ) {
    this.clusterId = clusterId;
    this.relay = createSignalingRelay({ clusterId });
  }

  get running(): boolean {
    return this.member !== undefined;
  }

  async startMember(): Promise<void> {
    if (this.member) return;
    const peers: Member[] = INITIAL_MEMBERS.map((id) => ({ id, url: webrtcUrl(id) }));
    const m = new DemoMember({
      id: NODE_MEMBER_ID,
      clusterId: this.clusterId,
      signaling: this.loopbackOnly ? loopbackOnlySignaling(this.relay.hub, this.filter) : this.relay.hub,
      factory: nodePeerConnectionFactory({ stack: 'node-datachannel' }),
      storage: this.storage,
      peers,
      speed: this.speed,
      onSend: (t) => {
        const p = this.paths[t.to] ?? {};
        p[t.path] = Date.now();
        this.paths[t.to] = p;
      },
      onTransportEvent: (e) => {
        if (this.events.length < 500) this.events.push(e);
      },
    });
    this.member = m;
    await m.start();
  }

  async stopMember(): Promise<void> {
    const m = this.member;
    this.member = undefined;
    await m?.stop();
  }

  cut(peerHex: string, cut: boolean): void {
    const m = this.member;
    if (!m) return;
    const peer = parseId(peerHex);
    if (cut) m.cutPeer(peer);
    else m.mendPeer(peer);
  }

  async forceSnapshot(): Promise<number> {
    return this.member ? this.member.forceSnapshot() : 0;
  }

  status(): NodeMemberStatus {
    const m = this.member;
    const events = this.events;
    this.events = [];
    const base = {
      id: formatId(NODE_MEMBER_ID),
      clusterId: formatId(this.clusterId),
      droppedCandidates: this.filter.droppedCandidates,
      paths: structuredClone(this.paths),
      events,
    };
    const st = m?.status();
    if (!m || !st?.started || st.stopped) {
      // Not running (stopped, or not started yet): the last values it had (from its kept storage), as the page shows them.
      const hs = this.storage.initialState().hardState;
      return {
        ...base,
        state: 'stopped',
        role: 'stopped',
        term: hs.term,
        commit: hs.commit,
        applied: st?.applied ?? this.lastApplied,
        lastIndex: this.storage.lastIndex(),
        leader: '0',
        cut: [],
        active: [],
      };
    }
    this.lastApplied = st.applied;
    return {
      ...base,
      state: 'running',
      role: st.raftState.replace(/^State/, '').toLowerCase(),
      term: st.term,
      commit: st.commit,
      applied: st.applied,
      lastIndex: st.lastIndex,
      leader: formatId(st.leader),
      cut: [...m.cut],
      active: m.transport
        .peerIds()
        .filter((p) => m.peerActive(p))
        .map(formatId),
    };
  }

  async close(): Promise<void> {
    await this.stopMember();
    this.relay.close();
  }
}
