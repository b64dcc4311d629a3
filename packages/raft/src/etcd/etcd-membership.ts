import { type ClusterMember, ErrorCode, formatId, type Id, type Logger, normalizePeerUrl, RaftwireError, tryParseId } from '@raftwire/core';
import type { EtcdMember as EtcdMemberJson, EtcdV2Membership } from '@raftwire/core/etcd';
import type { RaftTransport } from '../transport.js';

/** A member of the etcd cluster as this member knows it (etcd's membership.Member). */
export interface EtcdMemberInfo {
  id: Id;
  /** Empty until the member published its attributes. */
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

/** The etcd snapshot this member keeps: the one it was last sent, with its database. */
export interface KeptEtcdSnapshot {
  index: number;
  term: number;
  /** Bytes of its database (0 when the snapshot came without one). */
  databaseBytes: number;
}

/** The transport calls the membership makes (core's Transport has them all). */
export interface EtcdMemberTransport extends RaftTransport {
  updatePeer?(id: Id, urls: string[]): void;
}

/** The format tag of {@link EtcdMembership.encode}'s document. */
const FORMAT = 'raftwire-etcd-member/1';

interface StateDoc {
  format: string;
  members: { id: string; name: string; peerURLs: string[]; clientURLs: string[]; isLearner: boolean }[];
  removed: string[];
  etcdSnapshot: KeptEtcdSnapshot | null;
}

const byId = (a: { id: Id }, b: { id: Id }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const sameUrls = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((u, i) => u === b[i]);

function corrupt(why: string): RaftwireError {
  return new RaftwireError(ErrorCode.CORRUPT, `etcd member state: ${why}`);
}

/**
 * Who is in the etcd cluster, as of the last entry applied here: each member's URLs (so the
 * transport can reach it), its name and client URLs (for `GET /members`), and the removed IDs
 * (streams from them get 410). etcd's raft log holds the changes (ConfChange entries with a JSON
 * Member); its snapshots hold the v2 store. This member keeps the result in its own storage
 * snapshots as a small JSON document ({@link encode}), so a restart does not need etcd's state.
 */
export class EtcdMembership {
  private readonly members = new Map<Id, EtcdMemberInfo>();
  private readonly removed = new Set<Id>();
  /** What the transport was last told, per peer: the URLs it dials. */
  private readonly inTransport = new Map<Id, string[]>();
  etcdSnapshot: KeptEtcdSnapshot | null = null;

  constructor(
    readonly self: Id,
    private readonly logger: Logger,
  ) {}

  has(id: Id): boolean {
    return this.members.has(id);
  }

  isRemoved(id: Id): boolean {
    return this.removed.has(id);
  }

  get(id: Id): EtcdMemberInfo | undefined {
    return this.members.get(id);
  }

  /** Members sorted by ID. */
  list(): EtcdMemberInfo[] {
    return [...this.members.values()].sort(byId);
  }

  /** What `GET /members` lists. */
  clusterMembers(): ClusterMember[] {
    return this.list().map((m) => ({ ...m }));
  }

  /**
   * Takes what a peer's `GET /members` said (at start-up, before the log is replayed): members
   * not known yet are added so the transport can reach them, known ones get names they lacked.
   * Removed IDs stay removed; nothing is deleted (the log decides that).
   */
  learn(members: readonly EtcdMemberInfo[]): void {
    for (const m of members) {
      if (this.removed.has(m.id)) continue;
      const known = this.members.get(m.id);
      if (!known) this.members.set(m.id, { ...m, peerURLs: [...m.peerURLs], clientURLs: [...m.clientURLs] });
      else if (known.name === '' && m.name !== '') this.members.set(m.id, { ...known, name: m.name, clientURLs: [...m.clientURLs] });
    }
  }

  /** Replaces everything with a state document written by {@link encode}. Throws ERR_CORRUPT. */
  restore(data: Uint8Array): void {
    let doc: StateDoc;
    try {
      doc = JSON.parse(new TextDecoder().decode(data)) as StateDoc;
    } catch (err) {
      throw corrupt(`not JSON (${(err as Error).message})`);
    }
    if (doc === null || typeof doc !== 'object' || doc.format !== FORMAT || !Array.isArray(doc.members) || !Array.isArray(doc.removed)) {
      throw corrupt(`not a ${FORMAT} document`);
    }
    this.members.clear();
    this.removed.clear();
    for (const m of doc.members) {
      const id = tryParseId(m.id);
      if (id === undefined) throw corrupt(`bad member ID ${JSON.stringify(m.id)}`);
      this.members.set(id, { id, name: m.name, peerURLs: [...m.peerURLs], clientURLs: [...m.clientURLs], isLearner: m.isLearner });
    }
    for (const r of doc.removed) {
      const id = tryParseId(r);
      if (id === undefined) throw corrupt(`bad removed ID ${JSON.stringify(r)}`);
      this.removed.add(id);
    }
    this.etcdSnapshot = doc.etcdSnapshot ?? null;
  }

  /** The state document for a snapshot at the applied index (members, removed IDs, the kept etcd snapshot). */
  encode(): Uint8Array {
    return this.document(this.list(), [...this.removed], this.etcdSnapshot);
  }

  /**
   * The state document for an etcd snapshot being installed: the members of its v2 store, with
   * names this member already knew kept for those the store has none for.
   */
  documentFor(v2: EtcdV2Membership, kept: KeptEtcdSnapshot): Uint8Array {
    const members = v2.members.map((m) => ({ ...m, name: m.name || (this.members.get(m.id)?.name ?? '') }));
    return this.document(members, v2.removed, kept);
  }

  private document(members: readonly EtcdMemberInfo[], removed: readonly Id[], kept: KeptEtcdSnapshot | null): Uint8Array {
    const doc: StateDoc = {
      format: FORMAT,
      members: members.map((m) => ({
        id: formatId(m.id),
        name: m.name,
        peerURLs: m.peerURLs,
        clientURLs: m.clientURLs,
        isLearner: m.isLearner,
      })),
      removed: [...removed].sort((a, b) => (a < b ? -1 : 1)).map(formatId),
      etcdSnapshot: kept,
    };
    return new TextEncoder().encode(JSON.stringify(doc));
  }

  /** AddNode / AddLearnerNode: the member with its URLs from the ConfChange's JSON context. Returns false for a removed ID. */
  add(id: Id, context: EtcdMemberJson | null, learner: boolean): boolean {
    if (this.removed.has(id)) {
      this.logger.warn({ 'member-id': formatId(id) }, 'ignored adding a removed member');
      return false;
    }
    const known = this.members.get(id);
    this.members.set(id, {
      id,
      name: known?.name ?? context?.name ?? '',
      peerURLs: context?.peerURLs.length ? [...context.peerURLs] : (known?.peerURLs ?? []),
      clientURLs: known?.clientURLs ?? [],
      isLearner: learner,
    });
    return true;
  }

  /** UpdateNode: new peer URLs. */
  update(id: Id, context: EtcdMemberJson | null): void {
    const known = this.members.get(id);
    if (!known || !context) return;
    this.members.set(id, { ...known, peerURLs: [...context.peerURLs] });
  }

  /** RemoveNode: the member is gone for good. */
  remove(id: Id): void {
    this.members.delete(id);
    this.removed.add(id);
  }

  /** This member's own name and client URLs (what it publishes). */
  setSelfAttributes(name: string, clientURLs: readonly string[]): void {
    const known = this.members.get(this.self);
    if (known) this.members.set(this.self, { ...known, name, clientURLs: [...clientURLs] });
  }

  /**
   * Makes the transport's peers the members (this one excepted): adds the new ones, updates
   * changed URLs, removes the rest. A member whose URLs the transport refuses is logged and
   * left out.
   */
  syncTransport(t: EtcdMemberTransport | null): void {
    if (!t) return;
    for (const m of this.members.values()) {
      if (m.id === this.self || m.peerURLs.length === 0) continue;
      let urls: string[];
      try {
        urls = m.peerURLs.map((u) => normalizePeerUrl(u));
      } catch (err) {
        this.logger.warn({ 'remote-peer-id': formatId(m.id), error: (err as Error).message }, 'cannot reach a member: bad peer URL');
        continue;
      }
      const had = this.inTransport.get(m.id);
      if (had !== undefined && sameUrls(had, urls)) continue;
      try {
        if (had === undefined) t.addPeer?.(m.id, urls);
        else t.updatePeer?.(m.id, urls);
        this.inTransport.set(m.id, urls);
      } catch (err) {
        this.logger.warn({ 'remote-peer-id': formatId(m.id), error: (err as Error).message }, 'the transport refused a member');
      }
    }
    for (const id of [...this.inTransport.keys()]) {
      if (this.members.has(id)) continue;
      t.removePeer?.(id);
      this.inTransport.delete(id);
    }
  }
}
