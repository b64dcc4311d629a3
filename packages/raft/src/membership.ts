import {
  type ConfState,
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
import { type ConfChange, ConfChangeType, decodeConfChange } from './conf-change.js';
import { decodeConfContext, decodeNodeSnapshot, encodeNodeSnapshot, type ProposalId } from './driver-codec.js';
import type { RawNode } from './raw-node.js';
import type { RaftTransport } from './transport.js';

/** A cluster member: ID, peer URL, and whether it is a learner (non-voting). */
export interface Member {
  id: Id;
  url: string;
  /** A learner receives the log but does not vote; promote it once it has caught up. Default false. */
  learner?: boolean;
}

/** A membership change as the driver sees it (a conf change and its context's URL). */
export type MemberChange =
  | { kind: 'add'; id: Id; url: string; learner: boolean }
  | { kind: 'promote'; id: Id }
  | { kind: 'remove'; id: Id };

/** What applying one conf-change entry did. */
export interface ConfChangeOutcome {
  /** The change, or null when the entry could not be decoded. */
  change: MemberChange | null;
  /** Why it was skipped (invalid against the members it was applied to), or null when applied. */
  error: RaftwireError | null;
  /** Who proposed it, to settle the proposer's waiter. */
  proposal: ProposalId;
  /** This member applied its own removal. */
  removedSelf: boolean;
}

/** Throws ERR_INVALID_ARGUMENT unless `id` is a non-zero 64-bit ID. */
export function validateMemberId(id: Id): void {
  if (!isId(id) || id === 0n) throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `invalid member ID ${String(id)}`);
}

/**
 * Validates a member and returns its URL in normal form. The URL is checked by the
 * transport's own peer-URL rules (`normalizePeerUrl`, ERR_INVALID_URL: scheme, host, a port
 * for http/https, no path or credentials, at most 512 characters), so a URL the transport
 * would refuse is refused before it is proposed; the same function runs again when the
 * change is applied.
 */
export function validateMember(id: Id, url: string): string {
  validateMemberId(id);
  return normalizePeerUrl(url);
}

/** The change a conf change stands for, given the members it applies to. */
export function memberChangeOf(cc: ConfChange, url: string, isLearner: (id: Id) => boolean): MemberChange {
  if (cc.type === ConfChangeType.RemoveNode) return { kind: 'remove', id: cc.nodeId };
  if (cc.type === ConfChangeType.AddNode && isLearner(cc.nodeId) && url === '') return { kind: 'promote', id: cc.nodeId };
  return { kind: 'add', id: cc.nodeId, url, learner: cc.type === ConfChangeType.AddLearnerNode };
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

const conflict = (message: string): RaftwireError => new RaftwireError(ErrorCode.CONFLICT, message);

/**
 * The cluster's members as of the last applied entry (etcd's membership
 * store): checks and applies conf changes, restores members from a snapshot,
 * and keeps the transport's peers in step with them.
 *
 * A change is checked by {@link Membership.check} twice, with the same rules:
 * before it is proposed (the caller gets the error) and when its committed
 * entry is applied (an invalid entry — one written by an older version, or
 * proposed against members that changed meanwhile — is logged and skipped).
 * The check depends only on the entry and the members, which every member has
 * the same at that index, so every member skips the same entries and the
 * state machines never diverge; nothing a committed entry says can stop the
 * apply loop.
 */
export class Membership {
  private readonly members = new Map<Id, { url: string; learner: boolean }>();
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
    for (const [id, m] of this.members) if (id !== this.self) this.syncPeer(id, m.url);
  }

  has(id: Id): boolean {
    return this.members.has(id);
  }

  isLearner(id: Id): boolean {
    return this.members.get(id)?.learner === true;
  }

  isRemoved(id: Id): boolean {
    return this.removed.has(id);
  }

  get size(): number {
    return this.members.size;
  }

  /** Voting members' IDs, sorted. */
  voters(): Id[] {
    return this.list()
      .filter((m) => m.learner !== true)
      .map((m) => m.id);
  }

  /** Members sorted by ID. */
  list(): Member[] {
    return [...this.members].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([id, m]) => ({ id, url: m.url, learner: m.learner }));
  }

  /**
   * Why `change` cannot be applied to the current members, or null. The same
   * rules before proposing and when applying: IDs non-zero, never a removed
   * one, never one in use; URLs valid in normal form and not another member's;
   * a promotion is of a learner; a removal is of a member and never of the
   * last voter.
   */
  check(change: MemberChange): RaftwireError | null {
    const { id } = change;
    if (!isId(id) || id === 0n) return new RaftwireError(ErrorCode.INVALID_ARGUMENT, `invalid member ID ${String(id)}`);
    const m = this.members.get(id);
    if (change.kind === 'add') {
      let url: string;
      try {
        url = normalizePeerUrl(change.url);
      } catch (err) {
        return err as RaftwireError;
      }
      if (url !== change.url) {
        return new RaftwireError(
          ErrorCode.INVALID_URL,
          `peer URL ${JSON.stringify(change.url.slice(0, 80))} is not in normal form (${url})`,
        );
      }
      if (this.removed.has(id)) return conflict(`member ${formatId(id)} was removed and cannot be re-added`);
      if (m !== undefined) return conflict(`member ${formatId(id)} exists`);
      for (const [other, om] of this.members) {
        if (om.url === url) return conflict(`peer URL ${url} is already member ${formatId(other)}'s`);
      }
      return null;
    }
    if (m === undefined) return new RaftwireError(ErrorCode.MEMBER_NOT_FOUND, `member ${formatId(id)} not found`);
    if (change.kind === 'promote') {
      return m.learner ? null : conflict(`member ${formatId(id)} is already a voter`);
    }
    if (!m.learner && this.voters().length === 1) return conflict(`member ${formatId(id)} is the last voter and cannot be removed`);
    return null;
  }

  /** A driver snapshot of the members with the state machine's bytes. */
  snapshotData(state: Uint8Array): Uint8Array {
    const urls = new Map<Id, string>();
    for (const [id, m] of this.members) urls.set(id, m.url);
    return encodeNodeSnapshot({ members: urls, removed: this.removed, state });
  }

  /**
   * Restores from a snapshot: hands its state machine bytes to
   * `restoreState`, then replaces the members (learners are the snapshot's
   * ConfState learners), removing transport peers that are no longer members
   * and adding the new ones.
   */
  restoreSnapshot(data: Uint8Array, confState: ConfState, restoreState: (state: Uint8Array) => void): void {
    const ns = decodeNodeSnapshot(data);
    restoreState(ns.state);
    const learners = new Set(confState.learners);
    this.members.clear();
    for (const [id, url] of ns.members) this.members.set(id, { url, learner: learners.has(id) });
    this.removed.clear();
    for (const id of ns.removed) this.removed.add(id);
    for (const id of [...this.transportPeers]) {
      if (!this.members.has(id)) {
        this.transportPeers.delete(id);
        this.transport?.removePeer?.(id);
      }
    }
    for (const [id, m] of this.members) if (id !== this.self) this.syncPeer(id, m.url);
  }

  /**
   * Applies a committed conf-change entry to Raft and to the members, or
   * skips it (logged, Raft untouched) when it is malformed or fails
   * {@link check}.
   */
  applyConfChange(rn: RawNode, data: Uint8Array): ConfChangeOutcome {
    let cc: ConfChange;
    try {
      cc = decodeConfChange(data);
    } catch (err) {
      this.logger.warn({ error: (err as Error).message, bytes: data.length }, 'skipped a conf change entry that cannot be decoded');
      return { change: null, error: err as RaftwireError, proposal: { proposer: 0n, incarnation: 0, seq: 0 }, removedSelf: false };
    }
    const ctx = decodeConfContext(cc.context);
    const change = memberChangeOf(cc, ctx.url, (id) => this.isLearner(id));
    const error = this.check(change);
    if (error !== null) {
      this.logger.warn({ ...describe(change), error: error.message }, 'skipped an invalid conf change');
      return { change, error, proposal: ctx, removedSelf: false };
    }
    rn.applyConfChange(cc);
    let removedSelf = false;
    if (change.kind === 'add') {
      this.members.set(change.id, { url: change.url, learner: change.learner });
      if (change.id !== this.self) this.syncPeer(change.id, change.url);
    } else if (change.kind === 'promote') {
      const m = this.members.get(change.id) as { url: string; learner: boolean };
      m.learner = false;
    } else {
      this.members.delete(change.id);
      this.removed.add(change.id);
      if (this.transportPeers.delete(change.id)) this.guard('remove peer', change.id, () => this.transport?.removePeer?.(change.id));
      removedSelf = change.id === this.self;
    }
    // The one line per membership change (the API that proposed it logs at debug only).
    const voters = [...this.members].filter(([, m]) => !m.learner).map(([id]) => formatId(id));
    this.logger.info({ ...describe(change), voters }, membershipLine(change));
    return { change, error: null, proposal: ctx, removedSelf };
  }

  private syncPeer(id: Id, url: string): void {
    if (this.transportPeers.has(id) || !this.transport) return;
    this.transportPeers.add(id);
    const t = this.transport;
    this.guard('add peer', id, () => t.addPeer?.(id, [url]));
  }

  /**
   * Runs a transport call made on behalf of an applied change. The change is
   * part of the replicated state whatever the local transport thinks of it
   * (one configured with fewer URL schemes, one stopping): a refusal here is
   * this member's own problem, logged, never a reason to stop applying.
   */
  private guard(what: string, id: Id, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger.error({ member: formatId(id), error: err instanceof Error ? err.message : String(err) }, `transport refused to ${what}`);
    }
  }
}

/** A readable summary of an applied membership change: `removed member 3`. */
function membershipLine(c: MemberChange): string {
  const id = formatId(c.id);
  if (c.kind === 'add') return c.learner ? `added learner ${id} (${c.url.slice(0, 100)})` : `added member ${id} (${c.url.slice(0, 100)})`;
  if (c.kind === 'promote') return `promoted learner ${id} to voter`;
  return `removed member ${id}`;
}

function describe(c: MemberChange): Record<string, unknown> {
  return c.kind === 'add'
    ? { type: c.learner ? 'add-learner' : 'add', member: formatId(c.id), 'peer-url': c.url.slice(0, 100) }
    : { type: c.kind, member: formatId(c.id) };
}
