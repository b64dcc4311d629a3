/**
 * The networks a driver simulation can run over:
 * - `local`: the in-test MemoryNetwork of whole Message objects (fast; the raft contract only);
 * - `transport`: core's real `Transport` on every member, over `@raftwire/core/testing`'s
 *   `MemoryNetwork`/`MemoryLink` with its seeded faults (connection drops and resets,
 *   latency with jitter, blackhole partitions). Streams, pipelines, MsgApp v2 encoding,
 *   snapshot streaming, the prober and removal answers (410/403) all run for real, on the
 *   simulation's ManualClock.
 */
import type { Id, Logger, SeededRand } from '@raftwire/core';
import { Transport } from '@raftwire/core';
import type { ManualClock } from '@raftwire/core/testing';
import { MemoryNetwork as CoreMemoryNetwork } from '@raftwire/core/testing';
import type { RaftNode } from '../../src/raft-node.js';
import { MemoryNetwork as LocalMemoryNetwork } from '../helpers/memory-transport.js';

export type SimNetKind = 'local' | 'transport';

export interface SimNet {
  /** Connects a (new or restarted) node: creates its transport and serves it. */
  attach(node: RaftNode): void;
  /** Disconnects a crashed node (its transport is torn down without waiting). */
  detach(id: Id): void;
  /** Splits the members into groups that cannot reach each other. */
  partition(groups: Id[][]): void;
  heal(): void;
  /** Steady faults: loss probability and maximum one-way delay (ms). */
  setFaults(dropRate: number, maxDelayMs: number): void;
  /** One seeded fault step (e.g. resetting a member's connections). */
  chaos(): void;
  close(): Promise<void>;
}

export function urlOf(id: Id): string {
  return `http://127.0.0.1:${2380 + Number(id)}`;
}

class LocalSimNet implements SimNet {
  private readonly net: LocalMemoryNetwork;
  constructor(clock: ManualClock, rand: SeededRand) {
    this.net = new LocalMemoryNetwork(clock, rand);
  }
  attach(node: RaftNode): void {
    node.setTransport(this.net.transportFor(node.id));
    this.net.register(node);
  }
  detach(id: Id): void {
    this.net.unregister(id);
  }
  partition(groups: Id[][]): void {
    this.net.partition(groups);
  }
  heal(): void {
    this.net.heal();
  }
  setFaults(dropRate: number, maxDelayMs: number): void {
    this.net.dropRate = dropRate;
    this.net.maxDelayMs = maxDelayMs;
  }
  chaos(): void {}
  async close(): Promise<void> {}
}

class TransportSimNet implements SimNet {
  private readonly net: CoreMemoryNetwork;
  private readonly members = new Map<Id, { transport: Transport; unserve: () => void }>();
  private base: { dropRate: number; delayMs: number; jitterMs: number } = { dropRate: 0, delayMs: 0, jitterMs: 0 };
  private resetRate = 0;

  constructor(
    private readonly clock: ManualClock,
    private readonly rand: SeededRand,
    private readonly logger?: Logger,
  ) {
    this.net = new CoreMemoryNetwork({ clock, seed: rand.intn(2 ** 30) });
    this.resetRate = rand.chance(0.5) ? 0 : rand.next() * 0.01;
  }

  attach(node: RaftNode): void {
    this.detach(node.id);
    const url = urlOf(node.id);
    const transport = new Transport({
      id: node.id,
      clusterId: 0x51n,
      urls: [url],
      link: this.net.link(url),
      raft: node,
      clock: this.clock,
      ...(this.logger ? { logger: this.logger } : {}),
    });
    const unserve = this.net.serve(url, transport.handler);
    transport.start();
    transport.on('removed', () => node.removedFromCluster());
    node.setTransport(transport);
    this.members.set(node.id, { transport, unserve });
  }

  detach(id: Id): void {
    const m = this.members.get(id);
    if (!m) return;
    this.members.delete(id);
    m.unserve();
    // Not awaited: stopping joins work that waits on the clock the simulation drives.
    void m.transport.stop();
  }

  partition(groups: Id[][]): void {
    const [a = [], b = []] = groups;
    this.net.partition(a.map(urlOf), b.map(urlOf));
  }

  heal(): void {
    this.net.heal();
    this.applyBase();
  }

  setFaults(dropRate: number, maxDelayMs: number): void {
    this.base = { dropRate, delayMs: maxDelayMs > 0 ? 1 : 0, jitterMs: Math.max(0, maxDelayMs - 1) };
    if (dropRate === 0 && maxDelayMs === 0) this.resetRate = 0;
    this.applyBase();
  }

  private applyBase(): void {
    this.net.setFault('*', '*', { ...this.base });
  }

  chaos(): void {
    const r = this.rand;
    if (this.resetRate > 0 && r.chance(this.resetRate)) {
      const ids = [...this.members.keys()];
      const id = ids[r.intn(ids.length)];
      if (id !== undefined) this.net.dropConnections(urlOf(id));
    }
  }

  async close(): Promise<void> {
    for (const id of [...this.members.keys()]) this.detach(id);
    this.net.close();
  }
}

export function createSimNet(kind: SimNetKind, clock: ManualClock, rand: SeededRand, logger?: Logger): SimNet {
  return kind === 'local' ? new LocalSimNet(clock, rand) : new TransportSimNet(clock, rand, logger);
}
