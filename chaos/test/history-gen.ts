/**
 * Test helper: KV histories produced by a real sequential execution. Clients
 * run operations one after another with random latencies; every operation
 * that takes effect does so at one instant inside its interval (unknown
 * writes may take effect after their client gave up), and the results come
 * from applying them to a Map in the order of those instants.
 */
import type { KvOpKind, KvOperation, Outcome } from '../src/history.js';
import { SeededRand } from '@raftwire/core';

export interface GenOptions {
  seed: number;
  clients: number;
  opsPerClient: number;
  keys: number;
  /** Probability that a write's outcome is unknown (half of those take effect). */
  unknownRate?: number;
  /** Probability that an operation fails (does not take effect). */
  failRate?: number;
  /** Max latency in ms. */
  maxLatency?: number;
}

interface Pending {
  op: KvOperation;
  /** When it takes effect; null: never. */
  at: number | null;
}

export function generateHistory(o: GenOptions): KvOperation[] {
  const rand = new SeededRand(o.seed);
  const maxLat = o.maxLatency ?? 50;
  const pending: Pending[] = [];
  let id = 0;
  for (let c = 0; c < o.clients; c++) {
    let t = rand.next() * 10;
    for (let i = 0; i < o.opsPerClient; i++) {
      const r = rand.next();
      const kind: KvOpKind = r < 0.45 ? 'put' : r < 0.85 ? 'get' : 'delete';
      const key = `k${rand.intn(o.keys)}`;
      const lat = 0.5 + rand.next() * maxLat;
      const invoke = t;
      const complete = t + lat;
      let outcome: Outcome = 'ok';
      let at: number | null = invoke + rand.next() * lat;
      if (rand.chance(o.failRate ?? 0)) {
        outcome = 'fail';
        at = null;
      } else if (kind !== 'get' && rand.chance(o.unknownRate ?? 0)) {
        outcome = 'unknown';
        // Half take effect, some of them well after the client gave up.
        at = rand.chance(0.5) ? invoke + rand.next() * lat * (rand.chance(0.3) ? 20 : 1) : null;
      }
      const op: KvOperation = {
        id: id++,
        client: `c${c}`,
        member: `m${1 + rand.intn(5)}`,
        kind,
        key,
        invoke,
        complete: outcome === 'unknown' ? (rand.chance(0.5) ? null : complete) : complete,
        outcome,
      };
      if (kind === 'put') op.value = `c${c}-${i}`;
      pending.push({ op, at });
      t = complete + rand.next() * 5;
    }
  }
  const state = new Map<string, string>();
  for (const p of pending.filter((x) => x.at !== null).sort((a, b) => (a.at as number) - (b.at as number))) {
    const op = p.op;
    if (op.kind === 'put') state.set(op.key, op.value as string);
    else if (op.kind === 'get') op.read = state.get(op.key) ?? null;
    else {
      op.existed = state.has(op.key);
      state.delete(op.key);
    }
  }
  return pending.map((p) => p.op).sort((a, b) => a.id - b.id);
}

/** Builds one operation for hand-written histories. */
export function op(
  id: number,
  kind: KvOpKind,
  key: string,
  invoke: number,
  complete: number | null,
  extra: Partial<KvOperation> = {},
): KvOperation {
  return { id, client: `c${id}`, member: 'm1', kind, key, invoke, complete, outcome: 'ok', ...extra };
}
