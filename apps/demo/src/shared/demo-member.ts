import type { PeerConnectionFactory, Signaling, WebRtcIdentity } from '@raftwire/adapters/webrtc';
import { WebRtcLink, webrtcUrl } from '@raftwire/adapters/webrtc';
import {
  ErrorCode,
  type Id,
  type Message,
  MessageType,
  RaftwireError,
  type SnapshotStatus,
  Transport,
  type TransportEvents,
  formatId,
  messageTypeName,
} from '@raftwire/core';
import { type Member, RaftNode, type RaftTransport, type WritableStorage } from '@raftwire/raft';
import { type DemoClock, type DemoTime, TICK_MS } from './demo-time.js';
import { type LogView, describeEntry, logView } from './log-view.js';
import { type MessageInfo, messageInfo } from './message-info.js';

/** A message as it reached this member's transport: which path the transport picked for it. */
export interface MessageTrace {
  from: string;
  to: string;
  type: string;
  /** Transport path: `streamMsgAppV2`, `streamMsg`, `pipeline` or `snapshot`. */
  path: string;
}

/** A transport event, flattened for the event log. */
export interface TransportTrace {
  /** Date.now() when it happened (page and server share the machine's clock). */
  at: number;
  member: string;
  event: keyof TransportEvents;
  peer: string;
  detail: string;
}

/** What Raft did, in words: the events panel's lines. */
export type RaftEventKind =
  | 'pre-candidate'
  | 'candidate'
  | 'vote'
  | 'leader'
  | 'stepped-down'
  | 'committed'
  | 'member-added'
  | 'member-removed'
  | 'snapshot-sent'
  | 'removed';

export interface RaftEvent {
  /** Date.now() when it happened (page and server share the machine's clock). */
  at: number;
  member: string;
  kind: RaftEventKind;
  term: number;
  /** The last log index the event is about (committed, member changes), else 0. */
  index: number;
  /** The other member it is about (voted for, added, removed, sent a snapshot to), else ''. */
  peer: string;
  text: string;
}

/** One member as the views show it (the page's own, and the Node member's over HTTP). */
export interface MemberReport {
  id: string;
  state: 'starting' | 'running' | 'stopped' | 'removed';
  /** `leader`, `follower`, `candidate`, `precandidate`, or the state when not running. */
  role: string;
  term: number;
  commit: number;
  applied: number;
  lastIndex: number;
  leader: string;
  /** Whom it voted for in its current term ('0': nobody yet). */
  vote: string;
  /** Ticks since the election timer was reset, and the timeout it counts to. */
  electionElapsed: number;
  electionTimeout: number;
  /** Demo milliseconds since the member's last tick (for drawing its timer between ticks). */
  sinceTick: number;
  log: LogView;
}

export interface DemoMemberOptions {
  id: Id;
  clusterId: Id;
  signaling: Signaling;
  factory: PeerConnectionFactory;
  /** This member's signing key and its peers' public keys (a live map: members added later appear in it). */
  identity: WebRtcIdentity;
  /** Kept by the caller across kill/restart, so a restarted member recovers its log. */
  storage: WritableStorage;
  /** Initial members when bootstrapping a new cluster. */
  peers?: readonly Member[];
  /** Members to dial when joining an existing cluster (this member was added by addMember). */
  knownPeers?: readonly Member[];
  time: DemoTime;
  /** Takes each message on its way to this member's RaftNode; `deliver` steps it. Default: straight in. */
  inbound?: (info: MessageInfo, deliver: () => void) => void;
  /**
   * Takes each message this member sends before its transport does; `send` hands
   * it to the transport. Return false to let it go straight through.
   */
  outbound?: (info: MessageInfo, send: () => void) => boolean;
  /** Messages this member's transport was handed, with the path it picked. */
  onSend?: (t: MessageTrace) => void;
  onTransportEvent?: (t: TransportTrace) => void;
  onRaftEvent?: (e: RaftEvent) => void;
}

/** A member the views know nothing of yet, or one that is down: `state`, everything else empty. */
export function emptyReport(id: string, state: MemberReport['state']): MemberReport {
  return {
    id,
    state,
    role: state,
    term: 0,
    commit: 0,
    applied: 0,
    lastIndex: 0,
    leader: '0',
    vote: '0',
    electionElapsed: 0,
    electionTimeout: 0,
    sinceTick: 0,
    log: { firstIndex: 1, lastIndex: 0, snapshotIndex: 0, commit: 0, applied: 0, entries: [] },
  };
}

/** Snapshots are taken after this many applied entries (small, so the demo shows compaction). */
export const SNAPSHOT_ENTRIES = 500;
/** Entries a member's report carries. */
export const LOG_TAIL = 40;

function roleOf(raftState: string): string {
  return raftState.replace(/^State/, '').toLowerCase();
}

/**
 * One Raft member of the demo: a RaftNode (the caller's storage, a
 * KvStateMachine, the demo's clock), its Transport, and a WebRtcLink.
 * Messages pass through the caller's inbound/outbound hooks (the page holds
 * them there to draw, slow, pause and step them) and are told as Raft events.
 */
export class DemoMember {
  readonly id: Id;
  readonly hex: string;
  node!: RaftNode;
  transport!: Transport;
  link!: WebRtcLink;
  private clock!: DemoClock;
  private stopped = false;
  /** Peers this member's transport currently cuts (both directions of that link are cut by the caller). */
  readonly cut = new Set<string>();
  /** Terms this member asked (pre-)votes for, so each election is told once. */
  private readonly campaigned = new Set<string>();
  /** Highest index already told as committed by this member. */
  private told = 0;
  private wasLeader = false;

  constructor(private readonly opts: DemoMemberOptions) {
    this.id = opts.id;
    this.hex = formatId(opts.id);
  }

  async start(): Promise<void> {
    const o = this.opts;
    this.link = await WebRtcLink.create({
      localId: o.id,
      clusterId: o.clusterId,
      signaling: o.signaling,
      peerConnectionFactory: o.factory,
      identity: o.identity,
    });
    this.clock = o.time.clock();
    const node = new RaftNode({
      id: o.id,
      storage: o.storage,
      clock: this.clock,
      tickMs: TICK_MS,
      snapshotEntries: SNAPSHOT_ENTRIES,
      snapshotCatchUpEntries: 100,
      ...(o.peers === undefined ? {} : { peers: o.peers }),
    });
    this.node = node;
    this.told = o.storage.initialState().hardState.commit;
    const callbacks = {
      process: (msg: Message) => {
        // The checks node.process makes at once, so the transport still answers a removed member 403.
        if (node.isIdRemoved(msg.from)) {
          throw new RaftwireError(ErrorCode.MEMBER_REMOVED, `cannot process message from removed member ${formatId(msg.from)}`);
        }
        const deliver = (): void => {
          if (this.stopped) return;
          node.process(msg).catch(() => {
            // stopped meanwhile: the message is lost with the member, as in a crash
          });
        };
        if (o.inbound) o.inbound(messageInfo(msg), deliver);
        else deliver();
      },
      isIdRemoved: (id: Id) => node.isIdRemoved(id),
      reportUnreachable: (id: Id) => node.reportUnreachable(id),
      reportSnapshot: (id: Id, status: SnapshotStatus) => node.reportSnapshot(id, status),
    };
    const transport = new Transport({ id: o.id, clusterId: o.clusterId, urls: [webrtcUrl(o.id)], link: this.link, raft: callbacks });
    this.transport = transport;
    this.link.setHandler(transport.handler);
    this.forwardEvents(transport);
    node.setTransport(this.wrapTransport(transport));
    transport.on('removed', () => node.removedFromCluster());
    this.watchRaft(node);
    transport.start();
    for (const p of o.knownPeers ?? []) if (p.id !== o.id) transport.addPeer(p.id, [p.url]);
    await node.start();
  }

  private raftEvent(kind: RaftEventKind, term: number, index: number, text: string, peer = ''): void {
    this.opts.onRaftEvent?.({ at: Date.now(), member: this.hex, kind, term, index, peer, text });
  }

  private watchRaft(node: RaftNode): void {
    node.on('leader-change', ({ leader, term }) => {
      if (leader === this.id) {
        this.wasLeader = true;
        this.raftEvent('leader', term, 0, `member ${this.hex} became leader in term ${term}`);
      } else if (this.wasLeader) {
        this.wasLeader = false;
        this.raftEvent('stepped-down', term, 0, `member ${this.hex} is no longer leader (term ${term})`);
      }
    });
    node.on('applied', ({ index }) => this.tellCommitted(index));
    node.on('removed', () => this.raftEvent('removed', node.status().term, 0, `member ${this.hex} learned it was removed and stopped`));
  }

  /** The leader tells what got committed: each value, and membership changes. */
  private tellCommitted(index: number): void {
    const node = this.node;
    const from = this.told + 1;
    this.told = Math.max(this.told, index);
    if (index < from || node.status().raftState !== 'StateLeader') return;
    const storage = this.opts.storage;
    const lo = Math.max(from, storage.firstIndex());
    if (lo > index) return;
    let views: ReturnType<typeof describeEntry>[];
    try {
      views = storage.entries(lo, index + 1).map(describeEntry);
    } catch {
      return; // compacted meanwhile
    }
    const term = node.status().term;
    for (const v of views) {
      const who = v.text.slice(1);
      if (v.kind === 'add')
        this.raftEvent('member-added', term, v.index, `member ${who} was added to the cluster (entry ${v.index} committed)`, who);
      if (v.kind === 'remove')
        this.raftEvent('member-removed', term, v.index, `member ${who} was removed from the cluster (entry ${v.index} committed)`, who);
    }
    const first = views[0];
    if (!first) return;
    if (views.length === 1) {
      this.raftEvent('committed', term, index, `entry ${index} committed (term ${first.term}): ${first.detail}`);
      return;
    }
    const puts = views.filter((v) => v.kind === 'put' || v.kind === 'delete').length;
    const what = [
      puts > 0 ? `${puts} value${puts === 1 ? '' : 's'}` : '',
      views.some((v) => v.kind === 'noop') ? 'a new leader’s empty entry' : '',
    ]
      .filter(Boolean)
      .join(' and ');
    this.raftEvent('committed', term, index, `entries ${first.index}–${index} committed${what ? `: ${what}` : ''}`);
  }

  /** Messages this member sends tell the election: a (pre-)vote request, a vote granted. */
  private tellSent(m: Message): void {
    const key = `${m.type}:${m.term}`;
    if (m.type === MessageType.MsgPreVote && !this.campaigned.has(key)) {
      this.campaigned.add(key);
      this.raftEvent(
        'pre-candidate',
        m.term,
        0,
        `member ${this.hex}'s election timer ran out: it asks whether it could win term ${m.term} (pre-vote)`,
      );
    } else if (m.type === MessageType.MsgVote && !this.campaigned.has(key)) {
      this.campaigned.add(key);
      this.raftEvent('candidate', m.term, 0, `member ${this.hex} became candidate in term ${m.term} and asks for votes`);
    } else if (m.type === MessageType.MsgVoteResp && !m.reject) {
      this.raftEvent('vote', m.term, 0, `member ${this.hex} voted for member ${formatId(m.to)} in term ${m.term}`, formatId(m.to));
    }
  }

  private wrapTransport(t: Transport): RaftTransport {
    const handOver = (m: Message): void => {
      this.opts.onSend?.({ from: this.hex, to: formatId(m.to), type: messageTypeName(m.type), path: t.get(m.to)?.pick(m) ?? 'pipeline' });
      // A cut peer is paused in the transport, which drops the message without an event: report it here.
      if (this.cut.has(formatId(m.to))) {
        this.opts.onTransportEvent?.({
          at: Date.now(),
          member: this.hex,
          event: 'message:dropped',
          peer: formatId(m.to),
          detail: `${messageTypeName(m.type)} (link cut)`,
        });
      }
      t.send([m]);
    };
    return {
      send: (msgs) => {
        const now: Message[] = [];
        for (const m of msgs) {
          this.tellSent(m);
          const held = this.opts.outbound?.(messageInfo(m), () => {
            if (!this.stopped) handOver(m);
          });
          if (!held) now.push(m);
        }
        for (const m of now) handOver(m);
      },
      sendSnapshot: (msg, body) => {
        const send = (): void => {
          if (this.stopped) return;
          this.opts.onSend?.({ from: this.hex, to: formatId(msg.to), type: 'MsgSnap', path: 'snapshot' });
          void t.sendSnapshot(msg, body);
        };
        if (!this.opts.outbound?.(messageInfo(msg), send)) send();
      },
      addPeer: (id, urls) => t.addPeer(id, urls),
      removePeer: (id) => t.removePeer(id),
    };
  }

  private forwardEvents(t: Transport): void {
    const emit = (event: keyof TransportEvents, peer: Id, detail: string): void =>
      this.opts.onTransportEvent?.({ at: Date.now(), member: this.hex, event, peer: formatId(peer), detail });
    t.on('peer:active', (e) => emit('peer:active', e.id, ''));
    t.on('peer:inactive', (e) => emit('peer:inactive', e.id, e.reason));
    t.on('message:dropped', (e) => emit('message:dropped', e.to, `${messageTypeName(e.type)} (${e.reason})`));
    t.on('removed', (e) => emit('removed', e.by, e.error.message));
    t.on('stream:attached', (e) => emit('stream:attached', e.id, `${e.type} ${e.direction}`));
    t.on('stream:closed', (e) => emit('stream:closed', e.id, `${e.type} ${e.direction}: ${e.reason}`));
    t.on('snapshot:progress', (e) => emit('snapshot:progress', e.to, `${e.sent}/${e.total} bytes`));
    t.on('snapshot:done', (e) => {
      emit('snapshot:done', e.to, `${e.bytes} bytes in ${e.durationMs} ms`);
      const to = formatId(e.to);
      this.raftEvent(
        'snapshot-sent',
        this.node.status().term,
        0,
        `member ${this.hex} sent a snapshot to member ${to} (${e.bytes} bytes)`,
        to,
      );
    });
    t.on('snapshot:failed', (e) => emit('snapshot:failed', e.to, e.error.message));
  }

  /** Whether the node runs (started, not stopped). */
  get running(): boolean {
    const st = (this.node as RaftNode | undefined)?.status();
    return st?.started === true && !st.stopped;
  }

  /** This member as the views show it. */
  report(withLog = true): MemberReport {
    const node = this.node as RaftNode | undefined;
    const st = node?.status();
    const storage = this.opts.storage;
    const hs = storage.initialState().hardState;
    const running = st?.started === true && !st.stopped;
    const state: MemberReport['state'] = st?.removed
      ? 'removed'
      : running
        ? 'running'
        : st?.stopped || this.stopped
          ? 'stopped'
          : 'starting';
    let elapsed = 0;
    let timeout = 0;
    let vote = hs.vote;
    if (running && node) {
      const rs = node.raftStatus();
      elapsed = rs.electionElapsed;
      timeout = rs.electionTimeout;
      vote = rs.vote;
    }
    const commit = running ? (st?.commit ?? 0) : hs.commit;
    const applied = st?.applied ?? 0;
    return {
      id: this.hex,
      state,
      role: running ? roleOf(st.raftState) : state,
      term: running ? st.term : hs.term,
      commit,
      applied,
      lastIndex: storage.lastIndex(),
      leader: running ? formatId(st.leader) : '0',
      vote: formatId(vote),
      electionElapsed: elapsed,
      electionTimeout: timeout,
      sinceTick: running ? (this.clock.sinceLast(TICK_MS) ?? 0) : 0,
      log: withLog ? logView(storage, commit, applied, LOG_TAIL) : emptyReport(this.hex, state).log,
    };
  }

  /** Whether the transport counts `peer` as active. */
  peerActive(peer: Id): boolean {
    return this.transport.activeSince(peer) !== 0;
  }

  /** Drops all traffic to and from `peer` on this member (one end of a link). */
  cutPeer(peer: Id): void {
    this.cut.add(formatId(peer));
    this.transport.cutPeer(peer);
  }

  mendPeer(peer: Id): void {
    this.cut.delete(formatId(peer));
    this.transport.mendPeer(peer);
  }

  /**
   * Takes a snapshot of the applied state now and compacts the log up to it,
   * so a follower that is behind must be sent a MsgSnap.
   */
  async forceSnapshot(): Promise<number> {
    return this.node.takeSnapshot({ catchUpEntries: 0 });
  }

  /** Stops the node, the transport and the link (a crash: storage is kept by the caller). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await (this.node as RaftNode | undefined)?.stop();
    await (this.transport as Transport | undefined)?.stop();
    await (this.link as WebRtcLink | undefined)?.close();
  }
}
