/**
 * RaftNode is generic over its state machine: a custom one gets typed propose, read and query
 * results with no cast (the assignments below would not compile otherwise), KvStateMachine keeps
 * read(key). A single-member cluster elects itself, so no network is needed. Also the node's
 * etcd_server_* metrics.
 */
import { ErrorCode, isRaftwireError } from '@raftwire/core';
import { MemoryMetrics } from '@raftwire/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeKvCommand, KvStateMachine, MemoryStorage, RaftNode, type ReadableStateMachine, type StateMachine } from '@raftwire/raft';

/** Adds the proposed byte to a total; apply returns the new total. */
class Counter implements StateMachine<number> {
  total = 0;
  apply(data: Uint8Array): number {
    this.total += data[0] ?? 0;
    return this.total;
  }
  snapshot(): Uint8Array {
    return Uint8Array.of(this.total);
  }
  restore(data: Uint8Array): void {
    this.total = data[0] ?? 0;
  }
}

/** A register of named numbers that answers reads by name. */
class Registers implements ReadableStateMachine<{ name: string; was: number | null }, string, number | null> {
  private readonly values = new Map<string, number>();
  apply(data: Uint8Array): { name: string; was: number | null } {
    const [name = '', value = '0'] = new TextDecoder().decode(data).split('=');
    const was = this.values.get(name) ?? null;
    this.values.set(name, Number(value));
    return { name, was };
  }
  read(name: string): number | null {
    return this.values.get(name) ?? null;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify([...this.values]));
  }
  restore(data: Uint8Array): void {
    this.values.clear();
    if (data.length > 0) for (const [k, v] of JSON.parse(new TextDecoder().decode(data)) as [string, number][]) this.values.set(k, v);
  }
}

const nodes: RaftNode<StateMachine>[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

async function single<SM extends StateMachine>(node: RaftNode<SM>): Promise<RaftNode<SM>> {
  nodes.push(node);
  const led = new Promise<void>((resolve) => node.on('leader-change', (e) => e.leader === node.id && resolve()));
  await node.start();
  await led;
  return node;
}

const signal = () => AbortSignal.timeout(10_000);
const only = (id: bigint) => [{ id, url: 'http://127.0.0.1:2380' }];

describe('RaftNode<StateMachine>', () => {
  it('types propose and query from a custom state machine; read(query) needs a read method', async () => {
    const node = await single(
      new RaftNode({ id: 1n, peers: only(1n), storage: new MemoryStorage(), tickMs: 5, stateMachine: new Counter() }),
    );
    const first: number = await node.propose(Uint8Array.of(5), { signal: signal() });
    const second: number = await node.propose(Uint8Array.of(7), { signal: signal() });
    expect([first, second]).toEqual([5, 12]);
    const total: number = await node.query((sm) => sm.total, { signal: signal() });
    expect(total).toBe(12);
    // Counter has no read(): the type is `never`, and at run time a typed error.
    const err = await node.read(undefined as never).catch((e: unknown) => e);
    expect(isRaftwireError(err, ErrorCode.INVALID_ARGUMENT)).toBe(true);
    expect((err as Error).message).toMatch(/read\(query\) needs a state machine with a read\(query\) method/);
  });

  it("types read(query) from the state machine's own read", async () => {
    const node = await single(
      new RaftNode({ id: 2n, peers: only(2n), storage: new MemoryStorage(), tickMs: 5, stateMachine: new Registers() }),
    );
    const r = await node.propose(new TextEncoder().encode('x=3'), { signal: signal() });
    const was: number | null = r.was;
    expect(was).toBeNull();
    const x: number | null = await node.read('x', { signal: signal() });
    expect(x).toBe(3);
    expect(await node.read('y', { signal: signal() })).toBeNull();
  });

  it('keeps the KV convenience typed: read(key) is Uint8Array | undefined, propose resolves KvResult', async () => {
    const node = await single(new RaftNode({ id: 3n, peers: only(3n), storage: new MemoryStorage(), tickMs: 5 }));
    const kv: KvStateMachine = node.stateMachine;
    expect(kv).toBeInstanceOf(KvStateMachine);
    const r = await node.propose(encodeKvCommand({ op: 'put', key: 'a', value: Uint8Array.of(1) }), { signal: signal() });
    const prev: Uint8Array | null = r.prev;
    expect(prev).toBeNull();
    const v: Uint8Array | undefined = await node.read('a', { signal: signal() });
    expect(v).toEqual(Uint8Array.of(1));
    expect(await node.query((sm) => sm.keys(), { signal: signal() })).toEqual(['a']);
    const bad = await node.read(5 as unknown as string).catch((e: unknown) => e);
    expect(isRaftwireError(bad, ErrorCode.INVALID_ARGUMENT)).toBe(true);
  });

  it("calls a KvStateMachine subclass's own apply (the in-place fast path is only for KvStateMachine's apply)", async () => {
    class Audited extends KvStateMachine {
      seen: number[] = [];
      override apply(data: Uint8Array, index?: number) {
        this.seen.push(index ?? -1);
        return super.apply(data);
      }
    }
    const node = await single(
      new RaftNode({ id: 5n, peers: only(5n), storage: new MemoryStorage(), tickMs: 5, stateMachine: new Audited() }),
    );
    const r = await node.propose(encodeKvCommand({ op: 'put', key: 'a', value: Uint8Array.of(1, 2) }), { signal: signal() });
    expect(r.prev).toBeNull();
    expect(node.stateMachine.seen.length).toBe(1);
    expect(node.stateMachine.get('a')).toEqual(Uint8Array.of(1, 2));
    const plain = await single(new RaftNode({ id: 6n, peers: only(6n), storage: new MemoryStorage(), tickMs: 5 }));
    await plain.propose(encodeKvCommand({ op: 'put', key: 'a', value: Uint8Array.of(3) }), { signal: signal() });
    const r2 = await plain.propose(encodeKvCommand({ op: 'put', key: 'a', value: Uint8Array.of(4) }), { signal: signal() });
    expect(r2.prev).toEqual(Uint8Array.of(3));
    expect(plain.stateMachine.get('a')).toEqual(Uint8Array.of(4));
  });

  it('requires stateMachine when the type is not KvStateMachine', () => {
    // @ts-expect-error a RaftNode<Counter> must be given its Counter
    const make = () => new RaftNode<Counter>({ id: 4n, storage: new MemoryStorage() });
    expect(typeof make).toBe('function');
  });
});

describe('RaftNode metrics', () => {
  it('reports etcd_server_* gauges and counters', async () => {
    const metrics = new MemoryMetrics();
    expect(metrics.get('etcd_server_has_leader')).toBe(0);
    const node = await single(new RaftNode({ id: 5n, peers: only(5n), storage: new MemoryStorage(), tickMs: 5, metrics }));
    expect(metrics.get('etcd_server_has_leader')).toBe(1);
    expect(metrics.get('etcd_server_is_leader')).toBe(1);
    expect(metrics.get('etcd_server_leader_changes_seen_total')).toBe(1);
    const put = (k: string) => encodeKvCommand({ op: 'put', key: k, value: Uint8Array.of(1) });
    const pending = [node.propose(put('a'), { signal: signal() }), node.propose(put('b'), { signal: signal() })];
    expect(metrics.get('etcd_server_proposals_pending')).toBe(2);
    await Promise.all(pending);
    await node.whenIdle();
    expect(metrics.get('etcd_server_proposals_pending')).toBe(0);
    const applied = node.status().applied;
    expect(metrics.get('etcd_server_proposals_applied_total')).toBe(applied);
    expect(metrics.get('etcd_server_proposals_committed_total')).toBeGreaterThanOrEqual(applied);
    expect(metrics.get('etcd_server_proposals_failed_total')).toBe(0);
    await expect(node.propose(put('c'), { signal: AbortSignal.abort() })).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 0));
    expect(metrics.get('etcd_server_proposals_failed_total')).toBe(1);
    expect(metrics.get('etcd_server_proposals_pending')).toBe(0);
  });
});
