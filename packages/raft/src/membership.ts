import {
  createSnapshot,
  ErrorCode,
  formatId,
  type Id,
  isId,
  type Logger,
  normalizePeerUrl,
  RaftwireError,
  type Snapshot,
} from '@raftwire/core';
import { ConfChangeType, decodeConfChange } from './conf-change.js';
import { decodeConfContext, decodeNodeSnapshot, encodeNodeSnapshot, type ProposalId } from './driver-codec.js';
import type { RawNode } from './raw-node.js';
import type { RaftTransport } from './transport.js';

/** A cluster member: ID and peer URL. */
export interface Member {
  id: Id;
  url: string;
}

/** What applying one conf-change entry did. */
export interface ConfChangeOutcome {
  /** False when the change was refused (a removed ID is never added back, as in etcd). */
  ok: boolean;
  nodeId: Id;
  /** Who proposed it, to settle the proposer's waiter. */
  proposal: ProposalId;
  /** This member applied its own removal. */
  removedSelf: boolean;
}

/** Throws ERR_INVALID_ARGUMENT unless `id` is a non-zero 64-bit ID and `url` a non-empty string of at most 2048 characters. */
export function validateMemberId(id: Id): void {
  if (!isId(id) || id === 0n) throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `invalid member ID ${String(id)}`);
}

/**
 * A member's URL is checked by the transport's own peer-URL rules (ERR_INVALID_URL: scheme,
 * host, a port for http/https, no path or credentials, bounded length), so a URL the
 * transport would refuse when the change is applied is refused before it is proposed.
 */
export function validateMember(id: Id, url: string): void {
  validateMemberId(id);
  normalizePeerUrl(url);
}

/**
 * The first snapshot of a new cluster (index 1, term 1): every initial
 * member is a voter, and the state machine starts from `state`. Every
 * initial member writes the same one.
 */
export function bootstrapSnapshot(peers: readonly Member[], state: Uint8Array): Snapshot {
  const sorted = [...peers].sort((a, b) => (a.id < b.id ? -1 : 1));
  const data = encodeNodeSnapshot({ members: new Map(sorted.map((p) => [p.id, p.url] as const)), removed: new Set(), state });
  const voters = sorted.map((p) => p.id);
  return createSnapshot({
    data,
    metadata: { index: 1, term: 1, confState: { voters, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } },
  });
}

/**
 * The cluster's members as of the last applied entry (etcd's membership
 * store): applies conf changes, restores members from a snapshot, and keeps
 * the transport's peers in step with them.
 */
export class Membership {
  private readonly members = new Map<Id, string>();
  /** IDs removed from the cluster; a removed ID never comes back. */
  private readonly removed = new Set<Id>();
  /** Members handed to the transport as peers. */
  private readonly transportPeers = new Set<Id>();

  constructor(
    private readonly self: Id,
    private transport: RaftTransport | null,
    private readonly logger: Logger,
  ) {}

  /** Attaches the transport and adds every known member to it as a peer. */
  setTransport(t: RaftTransport): void {
    this.transport = t;
    for (const [id, url] of this.members) if (id !== this.self) this.syncPeer(id, url);
  }

  has(id: Id): boolean {
    return this.members.has(id);
  }

  isRemoved(id: Id): boolean {
    return this.removed.has(id);
  }

  get size(): number {
    return this.members.size;
  }

  /** Members sorted by ID. */
  list(): Member[] {
    return [...this.members].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([id, url]) => ({ id, url }));
  }

  /** A driver snapshot of the members with the state machine's bytes. */
  snapshotData(state: Uint8Array): Uint8Array {
    return encodeNodeSnapshot({ members: this.members, removed: this.removed, state });
  }

  /**
   * Restores from a driver snapshot: hands its state machine bytes to
   * `restoreState`, then replaces the members, removing transport peers that
   * are no longer members and adding the new ones.
   */
  restoreSnapshot(data: Uint8Array, restoreState: (state: Uint8Array) => void): void {
    const ns = decodeNodeSnapshot(data);
    restoreState(ns.state);
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
    for (const [id, url] of this.members) if (id !== this.self) this.syncPeer(id, url);
  }

  /** Applies a committed conf-change entry to Raft and to the members. */
  applyConfChange(rn: RawNode, data: Uint8Array): ConfChangeOutcome {
    const cc = decodeConfChange(data);
    const ctx = decodeConfContext(cc.context);
    let ok = true;
    if (cc.type === ConfChangeType.AddNode && this.removed.has(cc.nodeId)) {
      ok = false; // a removed ID never comes back (etcd)
      rn.applyConfChange({ ...cc, type: ConfChangeType.RemoveNode });
    } else {
      rn.applyConfChange(cc);
    }
    let removedSelf = false;
    if (ok && cc.type === ConfChangeType.AddNode) {
      this.members.set(cc.nodeId, ctx.url);
      if (cc.nodeId !== this.self) this.syncPeer(cc.nodeId, ctx.url);
    } else if (ok) {
      this.members.delete(cc.nodeId);
      this.removed.add(cc.nodeId);
      if (this.transportPeers.delete(cc.nodeId)) this.transport?.removePeer?.(cc.nodeId);
      removedSelf = cc.nodeId === this.self;
    }
    this.logger.info(
      { type: cc.type === ConfChangeType.AddNode ? 'add' : 'remove', member: formatId(cc.nodeId), ok },
      'applied conf change',
    );
    return { ok, nodeId: cc.nodeId, proposal: ctx, removedSelf };
  }

  private syncPeer(id: Id, url: string): void {
    if (this.transportPeers.has(id) || !this.transport) return;
    this.transportPeers.add(id);
    this.transport.addPeer?.(id, [url]);
  }
}
