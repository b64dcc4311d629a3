/**
 * Seeded simulation of a Raft cluster at the state-machine level: N RawNodes
 * with durable MemoryStorage, an in-test network that delays, drops,
 * reorders and partitions Message objects, crashes that lose everything not
 * persisted, restarts from storage, log compaction with snapshots, reads, and
 * single-member membership changes (voters and learners: added, promoted,
 * removed). Safety invariants are checked after every step, and each time a
 * leader advances its commit index: a quorum of its voters, never counting a
 * learner, holds the entry.
 */
import type { Entry, Id, Message, Snapshot } from '@raftwire/core';
import { createSnapshot, EntryType, ErrorCode, isRaftwireError, MessageType, SeededRand } from '@raftwire/core';
import { ConfChangeType, decodeConfChange } from '../../src/conf-change.js';
import { StateType } from '../../src/raft.js';
import { RawNode } from '../../src/raw-node.js';
import { MemoryStorage } from '../../src/storage.js';
import { raftOf } from '../helpers/raft-of.js';

export interface SimOptions {
  seed: number;
  nodes: number;
  steps: number;
  dropRate: number;
  maxDelay: number;
  crashRate: number;
  partitionRate: number;
  proposeRate: number;
  readRate: number;
  compactEvery: number;
  confChangeRate: number;
  /**
   * Pipelined Readys (the ready loop's early send): the leader's appends and heartbeats and
   * forwarded proposals leave before the Ready is persisted, and a crash may strike in between.
   */
  earlySend: boolean;
}

export function randomOptions(seed: number, steps = 250): SimOptions {
  const r = new SeededRand(seed ^ 0x5bd1e995);
  return {
    seed,
    nodes: r.chance(0.5) ? 3 : 5,
    steps,
    dropRate: r.chance(0.3) ? 0 : r.next() * 0.25,
    maxDelay: 1 + r.intn(4),
    crashRate: r.chance(0.3) ? 0 : r.next() * 0.01,
    partitionRate: r.chance(0.3) ? 0 : r.next() * 0.03,
    proposeRate: 0.2 + r.next() * 0.6,
    readRate: r.next() * 0.1,
    compactEvery: r.chance(0.5) ? 0 : 3 + r.intn(20),
    confChangeRate: r.chance(0.6) ? 0 : r.next() * 0.02,
    earlySend: r.chance(0.4),
  };
}

/** Cumulative FNV-1a over applied entries: the whole "state" of the simulated app. */
function fold(h: number, e: Entry): number {
  h = Math.imul(h ^ e.index, 16777619) >>> 0;
  for (let i = 0; i < e.data.length; i++) h = Math.imul(h ^ (e.data[i] as number), 16777619) >>> 0;
  return h;
}

const INITIAL_HASH = 2166136261;

function encodeState(hash: number, index: number): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setUint32(0, hash);
  v.setFloat64(4, index);
  return b;
}

function decodeState(b: Uint8Array): { hash: number; index: number } {
  if (b.length === 0) return { hash: INITIAL_HASH, index: 0 };
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { hash: v.getUint32(0), index: v.getFloat64(4) };
}

interface InFlight {
  at: number;
  msg: Message;
  lost: boolean;
}

interface SimNode {
  id: Id;
  storage: MemoryStorage;
  rn: RawNode | null;
  hash: number;
  applied: number;
  downUntil: number;
  pendingReads: Map<string, number>;
  removed: boolean;
}

export class SafetyViolation extends Error {}

export class SimCluster {
  readonly opts: SimOptions;
  readonly rand: SeededRand;
  readonly nodes = new Map<Id, SimNode>();
  now = 0;
  private net: InFlight[] = [];
  private partition: Map<Id, number> | null = null;
  private partitionUntil = 0;
  private proposalSeq = 0;
  private readSeq = 0;
  /** term → leader id (election safety). */
  readonly leaders = new Map<number, Id>();
  /** index → hash of the applied entry (state machine safety). */
  readonly appliedAt = new Map<number, number>();
  /** index → state hash after applying it. */
  readonly stateAt = new Map<number, number>();
  /** (index:term) → [data hash, previous term] (log matching). */
  private readonly logIndex = new Map<string, string>();
  /** index → {term of entry, term of the leader that committed it} (leader completeness). */
  readonly committed = new Map<number, { entryTerm: number; commitTerm: number }>();
  readsCompleted = 0;
  crashesBeforePersist = 0;
  confChangesApplied = 0;
  /** Log indexes of the applied conf changes that added a learner / promoted one. */
  readonly learnerAdds = new Set<number>();
  readonly learnerPromotions = new Set<number>();
  /** Commit advances checked against the voters' storage. */
  commitChecks = 0;
  /** Per leader (id:term), the commit index last checked. */
  private readonly checkedCommit = new Map<string, number>();
  maxCommit = 0;
  private allIds: Id[];

  constructor(opts: SimOptions) {
    this.opts = opts;
    this.rand = new SeededRand(opts.seed);
    this.allIds = [];
    const voters: Id[] = [];
    for (let i = 1; i <= opts.nodes; i++) voters.push(BigInt(i));
    // One spare ID that membership changes may add.
    this.allIds = [...voters, BigInt(opts.nodes + 1)];
    for (const id of this.allIds) {
      const storage = new MemoryStorage();
      if (voters.includes(id)) {
        storage.applySnapshot(
          createSnapshot({
            data: encodeState(INITIAL_HASH, 1),
            metadata: { index: 1, term: 1, confState: { voters, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } },
          }),
        );
        storage.setHardState({ term: 1, vote: 0n, commit: 1 });
      }
      this.nodes.set(id, { id, storage, rn: null, hash: INITIAL_HASH, applied: 0, downUntil: 0, pendingReads: new Map(), removed: false });
      this.start(id);
    }
    this.stateAt.set(1, INITIAL_HASH);
  }

  private fail(what: string): never {
    throw new SafetyViolation(`${what} (seed=${this.opts.seed}, step=${this.now}, opts=${JSON.stringify(this.opts)})`);
  }

  private start(id: Id): void {
    const n = this.nodes.get(id) as SimNode;
    const snap = n.storage.snapshot();
    const st = decodeState(snap.data);
    n.hash = st.hash;
    n.applied = snap.metadata.index;
    n.pendingReads.clear();
    n.rn = new RawNode({
      id,
      storage: n.storage,
      electionTick: 10,
      heartbeatTick: 1,
      maxInflightMsgs: 4,
      maxSizePerMsg: 64,
      rand: new SeededRand(this.rand.intn(2 ** 31) + Number(id)),
    });
  }

  node(id: Id): SimNode {
    return this.nodes.get(id) as SimNode;
  }

  leader(): SimNode | null {
    let best: SimNode | null = null;
    for (const n of this.nodes.values()) {
      if (n.rn && raftOf(n.rn).state === StateType.Leader && (!best || n.rn.term > (best.rn?.term ?? 0))) best = n;
    }
    return best;
  }

  private connected(a: Id, b: Id): boolean {
    if (!this.partition) return true;
    return this.partition.get(a) === this.partition.get(b);
  }

  private handleReady(n: SimNode): void {
    const rn = n.rn;
    if (!rn) return;
    // Before this Ready is applied, the configuration is the one the commit was computed with.
    this.checkCommitQuorum(n);
    while (rn.hasReady()) {
      const rd = rn.ready();
      let rest = rd.messages;
      const prev = n.storage.initialState().hardState;
      const termOrVote = rd.hardState !== null && (rd.hardState.term !== prev.term || rd.hardState.vote !== prev.vote);
      if (this.opts.earlySend && rd.snapshot === null && !termOrVote && rd.entries.length > 0) {
        // What the ready loop sends while its fsync runs; then a crash may lose the write.
        const early = (t: MessageType) =>
          t === MessageType.MsgApp || t === MessageType.MsgHeartbeat || t === MessageType.MsgProp || t === MessageType.MsgReadIndex;
        for (const m of rd.messages) if (early(m.type)) this.deliverLater(m);
        rest = rd.messages.filter((m) => !early(m.type));
        if (this.rand.chance(this.opts.crashRate)) {
          n.rn = null;
          n.downUntil = this.now + 1 + this.rand.intn(40);
          this.crashesBeforePersist++;
          return;
        }
      }
      // Persist before sending the rest (etcd's Ready contract).
      if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
      n.storage.append(rd.entries);
      if (rd.hardState) n.storage.setHardState(rd.hardState);
      for (const m of rest) {
        if (m.type === MessageType.MsgSnap) this.deliverLater({ ...m, snapshot: m.snapshot as Snapshot });
        else this.deliverLater(m);
      }
      if (rd.snapshot) {
        const st = decodeState(rd.snapshot.data);
        const want = this.stateAt.get(rd.snapshot.metadata.index);
        if (want !== undefined && want !== st.hash)
          this.fail(`node ${n.id} restored snapshot ${rd.snapshot.metadata.index} with a different state`);
        n.hash = st.hash;
        n.applied = rd.snapshot.metadata.index;
      }
      for (const e of rd.committedEntries) this.apply(n, e);
      for (const rs of rd.readStates) {
        const key = new TextDecoder().decode(rs.requestCtx);
        const floor = n.pendingReads.get(key);
        if (floor === undefined) continue;
        n.pendingReads.delete(key);
        if (rs.index < floor) this.fail(`node ${n.id} read index ${rs.index} < commit ${floor} known when the read began`);
        this.readsCompleted++;
      }
      rn.advance(rd);
      if (this.opts.compactEvery > 0 && n.applied - n.storage.firstIndex() >= this.opts.compactEvery) {
        n.storage.createSnapshot(n.applied, rn.confState(), encodeState(n.hash, n.applied));
        n.storage.compact(n.applied);
      }
      if (n.rn !== rn) return;
    }
  }

  private apply(n: SimNode, e: Entry): void {
    if (e.index !== n.applied + 1) this.fail(`node ${n.id} applied ${e.index} after ${n.applied}`);
    const eh = fold(INITIAL_HASH, e);
    const prev = this.appliedAt.get(e.index);
    if (prev !== undefined && prev !== eh) this.fail(`state machine safety: node ${n.id} applied a different entry at ${e.index}`);
    this.appliedAt.set(e.index, eh);
    n.hash = fold(n.hash, e);
    n.applied = e.index;
    const ps = this.stateAt.get(e.index);
    if (ps !== undefined && ps !== n.hash) this.fail(`state machine safety: node ${n.id} state differs after ${e.index}`);
    this.stateAt.set(e.index, n.hash);
    if (e.type === EntryType.EntryConfChange && n.rn) {
      const cc = decodeConfChange(e.data);
      const wasLearner = raftOf(n.rn).prs.get(cc.nodeId)?.isLearner === true;
      n.rn.applyConfChange(cc);
      if (cc.type === ConfChangeType.AddLearnerNode) this.learnerAdds.add(e.index);
      if (cc.type === ConfChangeType.AddNode && wasLearner) this.learnerPromotions.add(e.index);
      if (cc.type === ConfChangeType.RemoveNode && cc.nodeId === n.id) n.removed = true;
      if (cc.type === ConfChangeType.AddNode && cc.nodeId === n.id) n.removed = false;
      this.confChangesApplied++;
    }
  }

  private deliverLater(m: Message): void {
    // A lost MsgSnap is always reported, as a transport's snapshot sender does; other losses are silent.
    const lost = this.rand.chance(this.opts.dropRate);
    if (lost && m.type !== MessageType.MsgSnap) return;
    this.net.push({ at: this.now + this.rand.intn(this.opts.maxDelay + 1), msg: m, lost });
  }

  private deliver(): void {
    const due: InFlight[] = [];
    const rest: InFlight[] = [];
    for (const f of this.net) (f.at <= this.now ? due : rest).push(f);
    this.net = rest;
    // Reorder: shuffle what is due.
    for (let i = due.length - 1; i > 0; i--) {
      const j = this.rand.intn(i + 1);
      [due[i], due[j]] = [due[j] as InFlight, due[i] as InFlight];
    }
    for (const { msg, lost } of due) {
      const to = this.nodes.get(msg.to);
      if (lost || !to?.rn || !this.connected(msg.from, msg.to)) {
        // Like the transport: an undeliverable message is reported to the sender (a snapshot always).
        const from = this.nodes.get(msg.from);
        if (from?.rn && (msg.type === MessageType.MsgSnap || this.rand.chance(0.5))) {
          if (msg.type === MessageType.MsgSnap) from.rn.reportSnapshot(msg.to, 'failure');
          else from.rn.reportUnreachable(msg.to);
          this.handleReady(from);
        }
        continue;
      }
      to.rn.step(msg);
      if (msg.type === MessageType.MsgSnap) {
        // The receiver took the snapshot (a transport reports success once process() returned).
        const from = this.nodes.get(msg.from);
        if (from?.rn) from.rn.reportSnapshot(msg.to, 'finish');
      }
      if (this.rand.chance(this.opts.crashRate)) {
        // Crash after stepping but before the Ready is persisted: everything unpersisted is lost.
        to.rn = null;
        to.downUntil = this.now + 1 + this.rand.intn(40);
        this.crashesBeforePersist++;
        continue;
      }
      this.handleReady(to);
    }
  }

  /** One unit of simulated time: faults, ticks, client actions, message delivery, checks. */
  step(): void {
    this.now++;
    const r = this.rand;
    // Partitions.
    if (this.partition && this.now >= this.partitionUntil) this.partition = null;
    if (!this.partition && r.chance(this.opts.partitionRate)) {
      this.partition = new Map();
      for (const id of this.allIds) this.partition.set(id, r.intn(2));
      this.partitionUntil = this.now + 10 + r.intn(60);
    }
    // Crashes and restarts.
    for (const n of this.nodes.values()) {
      if (n.rn && r.chance(this.opts.crashRate)) {
        n.rn = null;
        n.downUntil = this.now + 1 + r.intn(40);
      } else if (!n.rn && this.now >= n.downUntil) {
        this.start(n.id);
      }
    }
    // Ticks (each node's clock may skip).
    for (const n of this.nodes.values()) {
      if (n.rn && r.chance(0.9)) {
        n.rn.tick();
        this.handleReady(n);
      }
    }
    // Proposals.
    if (r.chance(this.opts.proposeRate)) {
      const n = this.node(this.allIds[r.intn(this.allIds.length)] as Id);
      if (n.rn) {
        try {
          n.rn.propose(new TextEncoder().encode(`p${this.proposalSeq++}@${n.id}`));
        } catch (err) {
          if (!isRaftwireError(err, ErrorCode.PROPOSAL_DROPPED)) throw err;
        }
        this.handleReady(n);
      }
    }
    // Membership changes through the leader: add the spare as a voter or a learner, promote or
    // remove a learner, remove a random voter.
    if (r.chance(this.opts.confChangeRate)) {
      const l = this.leader();
      if (l?.rn) {
        const voters = raftOf(l.rn).voters();
        const learners = raftOf(l.rn).learners();
        const spare = this.allIds.find((id) => !voters.includes(id) && !learners.includes(id));
        const learner = learners[0];
        try {
          if (learner !== undefined && r.chance(0.7)) {
            // Promote (refused while it lags) or drop the learner.
            const type = r.chance(0.8) ? ConfChangeType.AddNode : ConfChangeType.RemoveNode;
            l.rn.proposeConfChange({ type, nodeId: learner, context: new Uint8Array(0) });
          } else if (spare !== undefined) {
            const type = r.chance(0.5) ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode;
            l.rn.proposeConfChange({ type, nodeId: spare, context: new Uint8Array(0) });
          } else if (voters.length > 3) {
            l.rn.proposeConfChange({
              type: ConfChangeType.RemoveNode,
              nodeId: voters[r.intn(voters.length)] as Id,
              context: new Uint8Array(0),
            });
          }
        } catch (err) {
          if (!isRaftwireError(err, ErrorCode.PROPOSAL_DROPPED)) throw err;
        }
        this.handleReady(l);
      }
    }
    // Linearizable reads: the read index must cover everything committed anywhere before the read began.
    if (r.chance(this.opts.readRate)) {
      const n = this.node(this.allIds[r.intn(this.allIds.length)] as Id);
      if (n.rn) {
        const key = `r${this.readSeq++}`;
        n.pendingReads.set(key, this.maxCommit);
        n.rn.readIndex(new TextEncoder().encode(key));
        this.handleReady(n);
      }
    }
    this.deliver();
    this.check();
  }

  /** Runs the configured number of steps, then heals the network and lets the cluster converge. */
  run(): void {
    for (let i = 0; i < this.opts.steps; i++) this.step();
  }

  /**
   * When `n` leads and its commit index moved, a quorum of its voters must hold the newly
   * committed entry (the leader in its log, the others in durable storage, which they write
   * before acknowledging). Learners hold it too, but never count.
   */
  private checkCommitQuorum(n: SimNode): void {
    const raft = n.rn ? raftOf(n.rn) : undefined;
    if (!raft || raft.state !== StateType.Leader) return;
    const key = `${n.id}:${raft.term}`;
    const c = raft.raftLog.committed;
    if (c <= (this.checkedCommit.get(key) ?? 0)) return;
    this.checkedCommit.set(key, c);
    const t = raft.raftLog.termOrNull(c);
    // A leader commits only entries of its own term; an older commit index was inherited.
    if (t !== raft.term) return;
    const voters = raft.voters();
    let holding = 0;
    for (const v of voters) {
      if (v === n.id) {
        holding++;
        continue;
      }
      const s = this.node(v).storage;
      if (c <= s.snapshot().metadata.index) holding++;
      else if (c <= s.lastIndex() && s.term(c) === t) holding++;
    }
    this.commitChecks++;
    if (holding < Math.floor(voters.length / 2) + 1) {
      this.fail(`commit quorum: leader ${n.id} committed ${c} held by ${holding} of its ${voters.length} voters`);
    }
  }

  check(): void {
    for (const n of this.nodes.values()) {
      const rn = n.rn;
      if (!rn) continue;
      const raft = raftOf(rn);
      // A learner never campaigns or leads.
      if (raft.prs.get(n.id)?.isLearner === true && raft.state !== StateType.Follower) {
        this.fail(`learner ${n.id} is ${raft.state} in term ${raft.term}`);
      }
      // Election safety: at most one leader per term.
      if (raft.state === StateType.Leader) {
        const l = this.leaders.get(raft.term);
        if (l !== undefined && l !== n.id) this.fail(`election safety: ${l} and ${n.id} both leaders in term ${raft.term}`);
        this.leaders.set(raft.term, n.id);
        // Record commit terms as leaders commit.
        for (let i = raft.raftLog.committed; i > 0 && !this.committed.has(i); i--) {
          const t = raft.raftLog.termOrNull(i);
          if (t === null) break;
          this.committed.set(i, { entryTerm: t, commitTerm: raft.term });
        }
      }
      if (raft.raftLog.committed > this.maxCommit) this.maxCommit = raft.raftLog.committed;
      // Log matching: an (index, term) pair identifies the entry and its predecessor's term.
      const log = raft.raftLog;
      const first = log.firstIndex();
      const last = log.lastIndex();
      let prevTerm = log.term(first - 1);
      const ents = first <= last ? log.slice(first, last + 1) : [];
      for (const e of ents) {
        const k = `${e.index}:${e.term}`;
        const v = `${fold(INITIAL_HASH, e)}:${prevTerm}`;
        const seen = this.logIndex.get(k);
        if (seen === undefined) this.logIndex.set(k, v);
        else if (seen !== v) this.fail(`log matching: node ${n.id} differs at index ${e.index} term ${e.term}`);
        prevTerm = e.term;
      }
      // Committed entries agree with what was recorded committed.
      for (const e of ents) {
        if (e.index > log.committed) break;
        const c = this.committed.get(e.index);
        if (c && c.entryTerm !== e.term) this.fail(`node ${n.id} has committed index ${e.index} with term ${e.term}, want ${c.entryTerm}`);
      }
    }
    // Leader completeness: a leader of term T holds every entry committed in a term < T.
    for (const n of this.nodes.values()) {
      const raft = n.rn ? raftOf(n.rn) : undefined;
      if (!raft || raft.state !== StateType.Leader) continue;
      for (const [i, c] of this.committed) {
        if (c.commitTerm >= raft.term) continue;
        if (i < raft.raftLog.firstIndex()) continue;
        const t = raft.raftLog.termOrNull(i);
        if (t !== c.entryTerm)
          this.fail(`leader completeness: leader ${n.id} (term ${raft.term}) lacks committed entry ${i} (term ${c.entryTerm})`);
      }
    }
  }

  /** Heals partitions, restarts crashed nodes, stops faults and runs until every live member applied the same prefix. */
  converge(maxSteps = 400): boolean {
    this.opts.dropRate = 0;
    this.opts.crashRate = 0;
    this.opts.partitionRate = 0;
    this.opts.confChangeRate = 0;
    this.opts.proposeRate = 0.05; // a trickle, so followers can catch up
    this.partition = null;
    for (let i = 0; i < maxSteps; i++) {
      this.step();
      const l = this.leader();
      if (!l?.rn) continue;
      // Learners catch up too: they get the log like every follower.
      const members = [...raftOf(l.rn).voters(), ...raftOf(l.rn).learners()];
      const commit = raftOf(l.rn).raftLog.committed;
      if (members.every((id) => this.node(id).applied >= commit) && raftOf(l.rn).raftLog.term(commit) === l.rn.term) return true;
    }
    return false;
  }
}
