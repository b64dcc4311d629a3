/**
 * Seeded simulation of RaftNode drivers over the in-test MemoryNetwork with a
 * ManualClock: drops, delays, partitions, crashes that lose unsynced writes,
 * restarts, snapshots and compaction, with concurrent clients. Checks election
 * safety, state machine safety, that every acknowledged write survives, and
 * that linearizable reads see every write acknowledged before they began.
 */
import type { Id } from '@raftwire/core';
import { SeededRand } from '@raftwire/core';
import { ManualClock } from '@raftwire/core/testing';
import { encodeKvCommand, KvStateMachine } from '../../src/kv.js';
import type { Member } from '../../src/membership.js';
import { RaftNode } from '../../src/raft-node.js';
import { CrashableStorage, CrashedError } from '../helpers/crashable-storage.js';
import { createSimNet, type SimNetKind } from './sim-net.js';

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

export interface DriverSimOptions {
  /** `local`: the in-test message network; `transport`: core's Transport over MemoryLink. Default `local`. */
  network?: SimNetKind;
}

export async function runDriverSim(seed: number, durationMs = 3000, options: DriverSimOptions = {}): Promise<DriverSimResult> {
  const r = new SeededRand(seed);
  const clock = new ManualClock();
  const net = createSimNet(options.network ?? 'local', clock, new SeededRand(seed ^ 0x9e3779b9));
  const dropRate = r.chance(0.3) ? 0 : r.next() * 0.1;
  const maxDelayMs = 1 + r.intn(15);
  net.setFaults(dropRate, maxDelayMs);
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
    net.attach(node);
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
    net.detach(id);
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
  // Log-level safety over every running member's storage, checked after every step.
  const termsOf = (s: CrashableStorage): { first: number; terms: number[] } => {
    const first = s.firstIndex();
    const terms: number[] = [];
    for (let i = first; i <= s.lastIndex(); i++) terms.push(s.term(i));
    return { first, terms };
  };
  /** index → entry term, data and the highest term seen when it was first seen committed. */
  const committed = new Map<number, { term: number; data: string; seenInTerm: number }>();
  const leaderOfTerm = new Map<number, Id>();
  const checkSafety = () => {
    const running = live().filter((n) => n.status().started);
    const logs = new Map<Id, { first: number; terms: number[] }>();
    for (const n of running) {
      const st = n.status();
      const s = storages.get(n.id) as CrashableStorage;
      // Election safety (also from events): at most one leader per term.
      if (st.raftState === 'StateLeader') {
        const l = leaderOfTerm.get(st.term);
        if (l !== undefined && l !== n.id) fail(`election safety: ${l} and ${n.id} both leaders in term ${st.term}`);
        leaderOfTerm.set(st.term, n.id);
      }
      const log = termsOf(s);
      logs.set(n.id, log);
      // State machine safety at the log level: an index committed anywhere holds the same entry everywhere.
      const hi = Math.min(st.commit, s.lastIndex());
      for (let i = log.first; i <= hi; i++) {
        const e = s.entries(i, i + 1)[0];
        if (!e) continue;
        const data = `${e.type}:${hex(e.data)}`;
        const c = committed.get(i);
        if (c === undefined) committed.set(i, { term: e.term, data, seenInTerm: st.term });
        else if (c.term !== e.term || c.data !== data) fail(`state machine safety: ${n.id} holds a different committed entry at ${i}`);
      }
    }
    // Log matching: if two logs hold an entry with the same index and term, they agree on everything before it.
    for (const [a, la] of logs) {
      for (const [b, lb] of logs) {
        if (a >= b) continue;
        const lo = Math.max(la.first, lb.first);
        const hi = Math.min(la.first + la.terms.length - 1, lb.first + lb.terms.length - 1);
        let match = -1;
        for (let i = hi; i >= lo; i--) {
          if (la.terms[i - la.first] === lb.terms[i - lb.first]) {
            match = i;
            break;
          }
        }
        for (let i = lo; i <= match; i++) {
          if (la.terms[i - la.first] !== lb.terms[i - lb.first]) fail(`log matching: ${a} and ${b} agree at ${match} but differ at ${i}`);
        }
        if (match >= lo) {
          const sa = storages.get(a) as CrashableStorage;
          const sb = storages.get(b) as CrashableStorage;
          const ea = sa.entries(match, match + 1)[0];
          const eb = sb.entries(match, match + 1)[0];
          if (ea && eb && hex(ea.data) !== hex(eb.data))
            fail(`log matching: ${a} and ${b} hold different entries at ${match} in term ${ea.term}`);
        }
      }
    }
    // Leader completeness: a leader of a term after the one an entry was seen committed in holds it.
    for (const n of running) {
      const st = n.status();
      if (st.raftState !== 'StateLeader') continue;
      const s = storages.get(n.id) as CrashableStorage;
      const log = logs.get(n.id) as { first: number; terms: number[] };
      for (const [i, c] of committed) {
        if (c.seenInTerm >= st.term || i < log.first) continue;
        if (log.terms[i - log.first] !== c.term) {
          fail(`leader completeness: leader ${n.id} of term ${st.term} lacks committed entry ${i} (term ${c.term})`);
        }
      }
      void s;
    }
  };

  for (let t = 0; t < durationMs; t += 10) {
    if (r.chance(0.5)) client();
    await chaos(crashRate / 5);
    net.chaos();
    await clock.advance(1 + r.intn(10));
    checkSafety();
    if (errors.length > 0) throw errors[0];
  }

  // Heal, restart everyone, and let the cluster converge.
  net.heal();
  net.setFaults(0, maxDelayMs);
  crashOnSyncRate = 0;
  for (const id of [...down]) {
    down.delete(id);
    start(id, storages.get(id) as CrashableStorage).catch(onStartError);
  }
  let converged = false;
  for (let t = 0; t < 20_000 && !converged; t += 10) {
    await clock.advance(10);
    checkSafety();
    const leader = live().find((n) => n.status().raftState === 'StateLeader');
    if (!leader) continue;
    const commit = leader.status().commit;
    converged = live().every((n) => n.status().applied >= commit) && leader.status().applied === commit && commit > 0;
  }
  // One more committed write proves the current leader committed in its term.
  const l = live().find((n) => n.status().raftState === 'StateLeader');
  if (!converged || !l) fail('cluster did not converge after healing');
  let finalDone = false;
  await Promise.race([
    l?.propose(encodeKvCommand({ op: 'put', key: 'final', value: enc('1') }), { signal: signalAfter(5000) }).finally(() => {
      finalDone = true;
    }),
    (async () => {
      // Stops once the write settles, so it does not run on into the checks below.
      for (let t = 0; t < 6000 && !finalDone; t += 10) await clock.advance(10);
    })(),
  ]);
  for (let t = 0; t < 500; t += 10) {
    await clock.advance(10);
    checkSafety();
  }
  if (errors.length > 0) throw errors[0];
  for (const n of live()) {
    const kv = n.stateMachine;
    for (const [k, v] of acked) {
      if (dec(kv.get(k)) !== v) fail(`durability: acknowledged ${k} missing or wrong on ${n.id} (got ${dec(kv.get(k))})`);
    }
    if (dec(kv.get('final')) !== '1') fail(`node ${n.id} did not apply the final write`);
  }
  for (const n of nodes.values()) await n.stop();
  await net.close();
  errors = [];
  return { acked: acked.size, reads, crashes, snapshots };
}
