import type { PeerConnectionFactory, Signaling } from '@raftwire/adapters/webrtc';
import { WebRtcLink, webrtcUrl } from '@raftwire/adapters/webrtc';
import { type Id, type Message, MessageType, type TransportEvents, Transport, formatId, messageTypeName } from '@raftwire/core';
import type { SnapshotStatus } from '@raftwire/core';
import { type Member, type MemoryStorage, RaftNode, type RaftNodeStatus, type RaftTransport } from '@raftwire/raft';
import type { SpeedControl } from './speed.js';

/** One Raft message seen by the demo, as it left (or, for a remote sender, reached) a member. */
export interface MessageTrace {
  from: string;
  to: string;
  type: string;
  /** Transport path: `streamMsgAppV2`, `streamMsg`, `pipeline`, `snapshot`, or '' when seen by the receiver. */
  path: string;
  /** Entries carried (MsgApp). */
  entries: number;
  /** Milliseconds the demo holds it before handing it to the transport. */
  delayMs: number;
}

/** A transport event, flattened for the event log. */
export interface TransportTrace {
  member: string;
  event: keyof TransportEvents;
  peer: string;
  detail: string;
}

export interface DemoMemberOptions {
  id: Id;
  clusterId: Id;
  signaling: Signaling;
  factory: PeerConnectionFactory;
  /** Kept by the caller across kill/restart, so a restarted member recovers its log. */
  storage: MemoryStorage;
  /** Initial members when bootstrapping a new cluster. */
  peers?: readonly Member[];
  /** Members to dial when joining an existing cluster (this member was added by addMember). */
  knownPeers?: readonly Member[];
  speed: SpeedControl;
  /** Messages this member sends. */
  onSend?: (t: MessageTrace) => void;
  /** Messages this member receives (used for senders the page does not observe itself). */
  onReceive?: (t: MessageTrace) => void;
  onTransportEvent?: (t: TransportTrace) => void;
}

/** Snapshots are taken after this many applied entries (small, so the demo shows compaction). */
export const SNAPSHOT_ENTRIES = 500;

/**
 * One Raft member of the demo: a RaftNode (MemoryStorage, KvStateMachine),
 * its Transport, and a WebRtcLink. Outgoing messages pass through a thin
 * RaftTransport wrapper that records them (and delays them when time is
 * slowed) before the real Transport sends them.
 */
export class DemoMember {
  readonly id: Id;
  readonly hex: string;
  node!: RaftNode;
  transport!: Transport;
  link!: WebRtcLink;
  private stopped = false;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  /** Peers this member's transport currently cuts (both directions of that link are cut by the caller). */
  readonly cut = new Set<string>();

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
    });
    const node = new RaftNode({
      id: o.id,
      storage: o.storage,
      clock: o.speed.clock,
      snapshotEntries: SNAPSHOT_ENTRIES,
      snapshotCatchUpEntries: 100,
      ...(o.peers === undefined ? {} : { peers: o.peers }),
    });
    this.node = node;
    const callbacks = {
      process: (msg: Message, signal?: AbortSignal) => {
        o.onReceive?.(this.trace(msg, 'in'));
        return node.process(msg, signal);
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
    transport.start();
    for (const p of o.knownPeers ?? []) if (p.id !== o.id) transport.addPeer(p.id, [p.url]);
    await node.start();
  }

  private trace(m: Message, dir: 'in' | 'out'): MessageTrace {
    // The receiving side cannot tell which path carried a message: '' (the sender's trace says).
    let path = '';
    if (m.type === MessageType.MsgSnap) path = 'snapshot';
    else if (dir === 'out') path = this.transport.get(m.to)?.pick(m) ?? 'pipeline';
    return {
      from: formatId(m.from),
      to: formatId(m.to),
      type: messageTypeName(m.type),
      path,
      entries: m.entries.length,
      delayMs: this.opts.speed.delayMs(),
    };
  }

  private wrapTransport(t: Transport): RaftTransport {
    const later = (fn: () => void): void => {
      const d = this.opts.speed.delayMs();
      if (d <= 0) {
        fn();
        return;
      }
      const h = setTimeout(() => {
        this.timers.delete(h);
        if (!this.stopped) fn();
      }, d);
      this.timers.add(h);
    };
    return {
      send: (msgs) => {
        for (const m of msgs) {
          this.opts.onSend?.(this.trace(m, 'out'));
          // A cut peer is paused in the transport, which drops the message without an event: report it here.
          if (this.cut.has(formatId(m.to))) {
            this.opts.onTransportEvent?.({
              member: this.hex,
              event: 'message:dropped',
              peer: formatId(m.to),
              detail: `${messageTypeName(m.type)} (link cut)`,
            });
          }
        }
        later(() => t.send(msgs));
      },
      sendSnapshot: (msg, body) => {
        this.opts.onSend?.(this.trace(msg, 'out'));
        later(() => void t.sendSnapshot(msg, body));
      },
      addPeer: (id, urls) => t.addPeer(id, urls),
      removePeer: (id) => t.removePeer(id),
    };
  }

  private forwardEvents(t: Transport): void {
    const emit = (event: keyof TransportEvents, peer: Id, detail: string): void =>
      this.opts.onTransportEvent?.({ member: this.hex, event, peer: formatId(peer), detail });
    t.on('peer:active', (e) => emit('peer:active', e.id, ''));
    t.on('peer:inactive', (e) => emit('peer:inactive', e.id, e.reason));
    t.on('message:dropped', (e) => emit('message:dropped', e.to, `${messageTypeName(e.type)} (${e.reason})`));
    t.on('removed', (e) => emit('removed', e.by, e.error.message));
    t.on('stream:attached', (e) => emit('stream:attached', e.id, `${e.type} ${e.direction}`));
    t.on('stream:closed', (e) => emit('stream:closed', e.id, `${e.type} ${e.direction}: ${e.reason}`));
    t.on('snapshot:progress', (e) => emit('snapshot:progress', e.to, `${e.sent}/${e.total} bytes`));
    t.on('snapshot:done', (e) => emit('snapshot:done', e.to, `${e.bytes} bytes in ${e.durationMs} ms`));
    t.on('snapshot:failed', (e) => emit('snapshot:failed', e.to, e.error.message));
  }

  /** The node's status; undefined until `start` has created it. */
  status(): RaftNodeStatus | undefined {
    return (this.node as RaftNode | undefined)?.status();
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
    for (const h of this.timers) clearTimeout(h);
    this.timers.clear();
    await this.node?.stop();
    await this.transport?.stop();
    await this.link?.close();
  }
}
