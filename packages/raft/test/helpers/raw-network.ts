/** A deterministic in-test network of RawNodes (like etcd's raft test `network`). */
import type { Entry, Id, Message } from '@raftwire/core';
import { createSnapshot, EntryType, MessageType, SeededRand } from '@raftwire/core';
import { ConfChangeType, decodeConfChange, decodeRefusedConfChange } from '../../src/conf-change.js';
import type { RaftConfig } from '../../src/raft.js';
import type { ReadState } from '../../src/read-only.js';
import { RawNode } from '../../src/raw-node.js';
import { MemoryStorage } from '../../src/storage.js';
import { raftOf } from './raft-of.js';

export interface NetNode {
  id: Id;
  storage: MemoryStorage;
  rn: RawNode | null;
  applied: Entry[];
  readStates: ReadState[];
  restoredSnapshots: number[];
}

type Overrides = Partial<Omit<RaftConfig, 'id' | 'storage' | 'rand'>>;

export class RawNetwork {
  readonly nodes = new Map<Id, NetNode>();
  /** Messages sent but not yet delivered. */
  queue: Message[] = [];
  /** Return false to drop a message. */
  filter: (m: Message) => boolean = () => true;
  /** Rewrites a message in flight (e.g. strips entries); identity by default. */
  rewrite: (m: Message) => Message = (m) => m;
  private cuts = new Set<string>();
  private readonly overrides: Overrides;
  /** Every message ever sent, for assertions. */
  readonly sent: Message[] = [];

  constructor(ids: number[], overrides: Overrides = {}, bootstrapVoters: number[] = ids) {
    this.overrides = overrides;
    const voters = bootstrapVoters.map(BigInt);
    for (const i of ids) {
      const id = BigInt(i);
      const storage = new MemoryStorage();
      if (voters.includes(id)) {
        storage.applySnapshot(
          createSnapshot({
            metadata: { index: 1, term: 1, confState: { voters, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } },
          }),
        );
        storage.setHardState({ term: 1, vote: 0n, commit: 1 });
      }
      this.nodes.set(id, { id, storage, rn: null, applied: [], readStates: [], restoredSnapshots: [] });
      this.start(id);
    }
  }

  start(id: Id | number): void {
    const n = this.node(id);
    // A restart re-applies from the last snapshot: forget what was applied after it.
    const snapIndex = n.storage.snapshot().metadata.index;
    n.applied = n.applied.filter((e) => e.index <= snapIndex);
    n.rn = new RawNode({
      id: n.id,
      storage: n.storage,
      electionTick: 10,
      heartbeatTick: 1,
      rand: new SeededRand(Number(n.id)),
      ...this.overrides,
    });
  }

  node(id: Id | number): NetNode {
    const n = this.nodes.get(BigInt(id));
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  raft(id: Id | number) {
    const rn = this.node(id).rn;
    if (!rn) throw new Error(`node ${id} is down`);
    return raftOf(rn);
  }

  crash(id: Id | number): void {
    this.node(id).rn = null;
  }

  cut(a: number, b: number): void {
    this.cuts.add(`${a}-${b}`);
    this.cuts.add(`${b}-${a}`);
  }

  isolate(a: number): void {
    for (const id of this.nodes.keys()) if (Number(id) !== a) this.cut(a, Number(id));
  }

  heal(): void {
    this.cuts.clear();
    this.filter = () => true;
    this.rewrite = (m) => m;
  }

  /** Persists and applies every pending Ready, queueing messages. */
  flushReady(): void {
    for (const n of this.nodes.values()) {
      const rn = n.rn;
      if (!rn) continue;
      while (rn.hasReady()) {
        const rd = rn.ready();
        if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
        n.storage.append(rd.entries);
        if (rd.hardState) n.storage.setHardState(rd.hardState);
        this.queue.push(...rd.messages);
        this.sent.push(...rd.messages);
        if (rd.snapshot) n.restoredSnapshots.push(rd.snapshot.metadata.index);
        for (const e of rd.committedEntries) {
          n.applied.push(e);
          if (e.type === EntryType.EntryConfChange) rn.applyConfChange(decodeConfChange(e.data));
        }
        n.readStates.push(...rd.readStates);
        rn.advance(rd);
      }
    }
  }

  private deliverable(m: Message): boolean {
    if (this.cuts.has(`${m.from}-${m.to}`)) return false;
    if (!this.nodes.get(m.to)?.rn) return false;
    return this.filter(m);
  }

  /** Delivers queued messages (and the messages they cause) until the network is quiet. */
  stabilize(maxRounds = 1000): void {
    for (let i = 0; i < maxRounds; i++) {
      this.flushReady();
      if (this.queue.length === 0) return;
      const q = this.queue;
      this.queue = [];
      for (const m of q) {
        if (!this.deliverable(m)) continue;
        this.node(m.to).rn?.step(this.rewrite(m));
      }
    }
    throw new Error('network did not stabilize');
  }

  /** Delivers only messages for which `pick` is true; others stay queued. */
  deliverOnly(pick: (m: Message) => boolean): number {
    this.flushReady();
    const q = this.queue;
    this.queue = [];
    let n = 0;
    for (const m of q) {
      if (!pick(m)) {
        this.queue.push(m);
        continue;
      }
      if (!this.deliverable(m)) continue;
      n++;
      this.node(m.to).rn?.step(this.rewrite(m));
    }
    this.flushReady();
    return n;
  }

  /** Ticks every live node `n` times, stabilizing after each tick. */
  tickAll(n: number, stabilize = true): void {
    for (let i = 0; i < n; i++) {
      for (const node of this.nodes.values()) node.rn?.tick();
      if (stabilize) this.stabilize();
    }
  }

  campaign(id: number): void {
    this.node(id).rn?.campaign();
    this.stabilize();
  }

  propose(id: number, text: string): void {
    this.node(id).rn?.propose(new TextEncoder().encode(text));
    this.stabilize();
  }

  addNode(leader: number, id: number): void {
    this.node(leader).rn?.proposeConfChange({ type: ConfChangeType.AddNode, nodeId: BigInt(id), context: new Uint8Array(0) });
    this.stabilize();
  }

  removeNode(leader: number, id: number): void {
    this.node(leader).rn?.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: BigInt(id), context: new Uint8Array(0) });
    this.stabilize();
  }

  addLearner(leader: number, id: number): void {
    this.node(leader).rn?.proposeConfChange({ type: ConfChangeType.AddLearnerNode, nodeId: BigInt(id), context: new Uint8Array(0) });
    this.stabilize();
  }

  /** Data of the applied normal entries (not a leader's empty entry, not a refused conf change). */
  appliedData(id: number): string[] {
    return this.node(id)
      .applied.filter((e) => e.type === EntryType.EntryNormal && e.data.length > 0 && decodeRefusedConfChange(e.data) === null)
      .map((e) => new TextDecoder().decode(e.data));
  }

  static isApp(m: Message): boolean {
    return m.type === MessageType.MsgApp;
  }
}
