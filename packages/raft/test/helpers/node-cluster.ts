/** Test helper: RaftNodes on an in-test network driven by a ManualClock. */
import type { Id } from '@raftwire/core';
import { SeededRand } from '@raftwire/core';
import { ManualClock } from '@raftwire/core/testing';
import { encodeKvCommand } from '../../src/kv.js';
import type { Member } from '../../src/membership.js';
import { RaftNode, type RaftNodeOptions } from '../../src/raft-node.js';
import { MemoryStorage, type WritableStorage } from '../../src/storage.js';
import { MemoryNetwork } from './memory-transport.js';

export const enc = (s: string) => new TextEncoder().encode(s);
export const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
export const put = (k: string, v: string) => encodeKvCommand({ op: 'put', key: k, value: enc(v) });
export const url = (id: Id) => `http://127.0.0.1:${2379 + Number(id)}`;

export class Cluster {
  readonly clock = new ManualClock();
  readonly net: MemoryNetwork;
  readonly nodes = new Map<Id, RaftNode>();
  readonly storages = new Map<Id, WritableStorage>();

  /** With real disk I/O, wait for every node to be idle before moving simulated time on. */
  realIo = false;
  /** Bound of every wait, in simulated milliseconds. */
  maxMs = 20_000;

  constructor(seed: number) {
    this.net = new MemoryNetwork(this.clock, new SeededRand(seed));
  }

  async add(id: Id, peers: Member[] | undefined, storage: WritableStorage = new MemoryStorage(), extra: Partial<RaftNodeOptions> = {}) {
    const node = new RaftNode({
      id,
      storage,
      clock: this.clock,
      tickMs: 10,
      rand: new SeededRand(Number(id) * 7919),
      snapshotEntries: 20,
      snapshotCatchUpEntries: 5,
      ...(peers ? { peers } : {}),
      ...extra,
    });
    node.setTransport(this.net.transportFor(id));
    this.net.register(node);
    this.nodes.set(id, node);
    this.storages.set(id, storage);
    await node.start();
    return node;
  }

  node(id: Id): RaftNode {
    return this.nodes.get(id) as RaftNode;
  }

  leader(): RaftNode | undefined {
    return [...this.nodes.values()].find((n) => !n.status().stopped && n.status().raftState === 'StateLeader');
  }

  /** Advances the clock until `cond` holds (bounded in simulated time). */
  async until(cond: () => boolean, maxMs = this.maxMs): Promise<void> {
    for (let t = 0; t < maxMs; t += 10) {
      if (cond()) return;
      await this.clock.advance(10);
      if (this.realIo) {
        // Simulated time stands still while real fsyncs are under way.
        for (const n of this.nodes.values()) await n.whenIdle();
      }
    }
    if (!cond()) throw new Error('condition not reached in simulated time');
  }

  /** Runs the clock while awaiting `p`. */
  async run<T>(p: Promise<T>, maxMs = this.maxMs): Promise<T> {
    let done = false;
    let failed = false;
    p.then(
      () => {
        done = true;
      },
      () => {
        failed = true;
      },
    );
    await this.until(() => done || failed, maxMs);
    return p;
  }

  async stopAll(): Promise<void> {
    for (const n of this.nodes.values()) await n.stop();
  }
}

export const three = (): Member[] => [1n, 2n, 3n].map((id) => ({ id, url: url(id) }));

/** Three members on a fresh network, a leader elected, and one write (a=1) applied by the leader. */
export async function startedThree(seed: number): Promise<{ c: Cluster; leader: RaftNode }> {
  const c = new Cluster(seed);
  for (const m of three()) await c.add(m.id, three());
  await c.until(() => c.leader() !== undefined);
  const leader = c.leader() as RaftNode;
  await c.run(leader.propose(put('a', '1')));
  return { c, leader };
}
