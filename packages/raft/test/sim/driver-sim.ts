/**
 * Seeded simulation of RaftNode drivers over the in-test MemoryNetwork with a
 * ManualClock: drops, delays, partitions, crashes that lose unsynced writes,
 * restarts, snapshots and compaction, with concurrent clients. Checks election
 * safety, state machine safety, that every acknowledged write survives, and
 * that linearizable reads see every write acknowledged before they began.
 */
import type { Id } from '@raftwire/core';
import { ManualClock } from '../../src/clock.js';
import { encodeKvCommand, KvStateMachine } from '../../src/kv.js';
import { SeededRand } from '../../src/rand.js';
import { type Member, RaftNode } from '../../src/raft-node.js';
import { CrashableStorage, CrashedError } from '../helpers/crashable-storage.js';
import { MemoryNetwork } from '../helpers/memory-transport.js';

export interface DriverSimResult {
  acked: number;
  reads: number;
  crashes: number;
  snapshots: number;
}

class Violation extends Error {}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

function hex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

export async function runDriverSim(seed: number, durationMs = 3000): Promise<DriverSimResult> {
  const r = new SeededRand(seed);
  const clock = new ManualClock();
  const net = new MemoryNetwork(clock, new SeededRand(seed ^ 0x9e3779b9));
  net.dropRate = r.chance(0.3) ? 0 : r.next() * 0.1;
  net.maxDelayMs = 1 + r.intn(15);
  const size = r.chance(0.5) ? 3 : 5;
  const crashRate = r.chance(0.3) ? 0 : 0.02 + r.next() * 0.05;
  // Crashes that land while a write is being made durable: the sharpest test of persist-before-send.
  let crashOnSyncRate = r.chance(0.3) ? 0 : r.next() * 0.03;
  const partitionRate = r.chance(0.3) ? 0 : r.next() * 0.05;
  const peers: Member[] = [];
  for (let i = 1; i <= size; i++) peers.push({ id: BigInt(i), url: `http://127.0.0.1:${2380 + i}` });
  const where = `(driver sim seed=${seed})`;
  const fail = (msg: string): never => {
    throw new Violation(`${msg} ${where}`);
  };

  let errors: unknown[] = [];
  const onStartError = (e: unknown) => {
    if (!(e instanceof CrashedError)) errors.push(e);
  };
  const leaders = new Map<number, Id>();
  const appliedAt = new Map<number, string>();
  const storages = new Map<Id, CrashableStorage>();
  const nodes = new Map<Id, RaftNode>();
  const downUntil = new Map<Id, number>();
  const down = new Set<Id>();
  let crashes = 0;
  let snapshots = 0;

  class CheckingKv extends KvStateMachine {
    override apply(data: Uint8Array, index?: number) {
      const h = hex(data);
      const prev = appliedAt.get(index ?? -1);
      if (prev !== undefined && prev !== h) fail(`state machine safety: different entries applied at ${index}`);
      appliedAt.set(index ?? -1, h);
      return super.apply(data);
    }
  }

  const start = async (id: Id, storage: CrashableStorage) => {
    storage.onSyncStart = () => {
      if (!down.has(id) && r.chance(crashOnSyncRate)) crash(id);
    };
    const node = new RaftNode({
      id,
      peers,
      storage,
      clock,
      tickMs: 10,
      rand: new SeededRand(r.intn(2 ** 30)),
      snapshotEntries: 10 + r.intn(20),
      snapshotCatchUpEntries: r.intn(5),
      snapshotChunkBytes: 64,
      stateMachine: new CheckingKv(),
    });
    node.on('leader-change', ({ leader, term }) => {
      if (leader === 0n) return;
      const l = leaders.get(term);
      if (l !== undefined && l !== leader) fail(`election safety: ${l} and ${leader} both led term ${term}`);
      leaders.set(term, leader);
    });
    node.setTransport(net.transportFor(id));
    net.register(node);
    nodes.set(id, node);
    storages.set(id, storage);
    await node.start();
  };

  const fresh = () => {
    const s = new CrashableStorage();
    s.latency = { clock, rand: new SeededRand(r.intn(2 ** 30)), maxMs: 3 };
    return s;
  };

  const live = () => [...nodes.values()].filter((n) => !down.has(n.id) && !n.status().stopped);
  const acked = new Map<string, string>();
  let reads = 0;
  let seq = 0;
  const signalAfter = (ms: number): AbortSignal => {
    const ac = new AbortController();
    clock.setTimeout(() => ac.abort(), ms);
    return ac.signal;
  };
  const ignoreExpected = (e: unknown) => {
    if (e instanceof Violation) errors.push(e);
  };

  const client = () => {
    const ns = live();
    const n = ns[r.intn(ns.length)];
    if (!n) return;
    const k = `k${seq++}`;
    const v = `v${seed}-${k}`;
    n.propose(encodeKvCommand({ op: 'put', key: k, value: enc(v) }), { signal: signalAfter(1500) }).then(
      () => acked.set(k, v),
      ignoreExpected,
    );
    const keys = [...acked.keys()];
    if (keys.length > 0 && r.chance(0.5)) {
      const key = keys[r.intn(keys.length)] as string;
      const want = acked.get(key);
      const reader = ns[r.intn(ns.length)] as RaftNode;
      reader.read(key, { signal: signalAfter(1500) }).then((got) => {
        reads++;
        if (dec(got) !== want)
          errors.push(new Violation(`linearizability: read ${key} on ${reader.id} got ${dec(got)} want ${want} ${where}`));
      }, ignoreExpected);
    }
  };

  const crash = (id: Id) => {
    const node = nodes.get(id) as RaftNode;
    down.add(id);
    crashes++;
    snapshots = Math.max(snapshots, node.status().snapshotIndex);
    const image = (storages.get(id) as CrashableStorage).crashImage();
    net.unregister(id);
    // Not awaited: the crashed node's in-flight sync waits on the clock this loop drives.
    void node.stop();
    storages.set(id, image);
    downUntil.set(id, clock.now() + 20 + r.intn(300));
  };

  let partitionUntil = 0;
  const chaos = async (crashChance: number) => {
    const now = clock.now();
    if (partitionUntil > 0 && now >= partitionUntil) {
      net.heal();
      partitionUntil = 0;
    } else if (partitionUntil === 0 && r.chance(partitionRate)) {
      const ids = peers.map((p) => p.id);
      const a = ids.filter(() => r.chance(0.5));
      net.partition([a, ids.filter((id) => !a.includes(id))]);
      partitionUntil = now + 100 + r.intn(600);
    }
    for (const [id] of nodes) {
      if (!down.has(id) && r.chance(crashChance)) {
        crash(id);
      } else if (down.has(id) && now >= (downUntil.get(id) ?? 0)) {
        down.delete(id);
        // Not awaited: a restart may sync (bootstrap), and syncs wait on the clock this loop drives.
        start(id, storages.get(id) as CrashableStorage).catch(onStartError);
      }
    }
  };

  for (const p of peers) start(p.id, fresh()).catch(onStartError);
  for (let t = 0; t < durationMs; t += 10) {
    if (r.chance(0.5)) client();
    await chaos(crashRate / 5);
    await clock.advance(1 + r.intn(10));
    if (errors.length > 0) throw errors[0];
  }

  // Heal, restart everyone, and let the cluster converge.
  net.heal();
  net.dropRate = 0;
  crashOnSyncRate = 0;
  for (const id of [...down]) {
    down.delete(id);
    start(id, storages.get(id) as CrashableStorage).catch(onStartError);
  }
  let converged = false;
  for (let t = 0; t < 20_000 && !converged; t += 10) {
    await clock.advance(10);
    const leader = live().find((n) => n.status().raftState === 'StateLeader');
    if (!leader) continue;
    const commit = leader.status().commit;
    converged = live().every((n) => n.status().applied >= commit) && leader.status().applied === commit && commit > 0;
  }
  // One more committed write proves the current leader committed in its term.
  const l = live().find((n) => n.status().raftState === 'StateLeader');
  if (!converged || !l) fail('cluster did not converge after healing');
  await Promise.race([
    l?.propose(encodeKvCommand({ op: 'put', key: 'final', value: enc('1') }), { signal: signalAfter(5000) }),
    (async () => {
      for (let t = 0; t < 6000; t += 10) await clock.advance(10);
    })(),
  ]);
  for (let t = 0; t < 500; t += 10) await clock.advance(10);
  if (errors.length > 0) throw errors[0];
  for (const n of live()) {
    const kv = n.stateMachine as KvStateMachine;
    for (const [k, v] of acked) {
      if (dec(kv.get(k)) !== v) fail(`durability: acknowledged ${k} missing or wrong on ${n.id} (got ${dec(kv.get(k))})`);
    }
    if (dec(kv.get('final')) !== '1') fail(`node ${n.id} did not apply the final write`);
  }
  for (const n of nodes.values()) await n.stop();
  errors = [];
  return { acked: acked.size, reads, crashes, snapshots };
}
