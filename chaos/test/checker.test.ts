import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkKvHistory } from '../src/checker/kv-check.js';
import type { KvOperation } from '../src/history.js';
import { generateHistory, op } from './history-gen.js';

/**
 * An independent reference: tries every subset of unknown writes and every
 * order that respects real time, on one key. Only for tiny histories.
 */
function bruteForceLinearizable(history: readonly KvOperation[]): boolean {
  const ops = history.filter((o) => o.outcome !== 'fail' && !(o.kind === 'get' && o.outcome !== 'ok'));
  const unknown = ops.filter((o) => o.outcome === 'unknown');
  const known = ops.filter((o) => o.outcome === 'ok');
  const end = (o: KvOperation) => (o.outcome === 'unknown' || o.complete === null ? Number.POSITIVE_INFINITY : o.complete);
  for (let mask = 0; mask < 1 << unknown.length; mask++) {
    const chosen = [...known, ...unknown.filter((_, i) => mask & (1 << i))];
    const used = new Array<boolean>(chosen.length).fill(false);
    const go = (depth: number, state: string | null): boolean => {
      if (depth === chosen.length) return true;
      for (let i = 0; i < chosen.length; i++) {
        if (used[i]) continue;
        const o = chosen[i] as KvOperation;
        // o may go next only if no unused operation completed before o was invoked.
        if (chosen.some((p, j) => !used[j] && j !== i && end(p) < o.invoke)) continue;
        let next: string | null;
        if (o.kind === 'put') next = o.value as string;
        else if (o.kind === 'get') {
          if (o.read !== state) continue;
          next = state;
        } else {
          if (o.outcome === 'ok' && o.existed !== (state !== null)) continue;
          next = null;
        }
        used[i] = true;
        if (go(depth + 1, next)) return true;
        used[i] = false;
      }
      return false;
    };
    if (go(0, null)) return true;
  }
  return false;
}

const arbTinyHistory = fc
  .array(
    fc.record({
      kind: fc.constantFrom('put', 'get', 'delete' as const),
      invoke: fc.integer({ min: 0, max: 20 }),
      len: fc.integer({ min: 0, max: 8 }),
      outcome: fc.constantFrom('ok', 'ok', 'ok', 'unknown', 'fail' as const),
      read: fc.constantFrom<(string | null)[]>(null, 'v0', 'v1', 'v2', 'v3'),
      existed: fc.boolean(),
    }),
    { minLength: 1, maxLength: 7 },
  )
  .map((raw) =>
    raw.map((r, i): KvOperation => {
      const o = op(i, r.kind, 'k', r.invoke, r.outcome === 'unknown' ? null : r.invoke + r.len, { outcome: r.outcome });
      if (r.kind === 'put') o.value = `v${i}`;
      if (r.kind === 'get' && r.outcome === 'ok') o.read = r.read;
      if (r.kind === 'delete' && r.outcome === 'ok') o.existed = r.existed;
      return o;
    }),
  );

describe('KV linearizability checker', () => {
  it('accepts histories of real sequential executions with random overlap, unknown writes and failures', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 12 }), (seed, clients) => {
        const h = generateHistory({ seed, clients, opsPerClient: 40, keys: 3, unknownRate: 0.15, failRate: 0.05 });
        const r = checkKvHistory(h, { timeoutMs: 20_000 });
        expect(r.witness?.explanation ?? null).toBeNull();
        expect(r.linearizable).toBe(true);
        expect(r.lostWrites).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });

  it('agrees with a brute-force search on tiny histories (unknown and failed operations included)', () => {
    const seen = { yes: 0, no: 0 };
    fc.assert(
      fc.property(arbTinyHistory, (h) => {
        const expected = bruteForceLinearizable(h);
        seen[expected ? 'yes' : 'no']++;
        expect(checkKvHistory(h, { timeoutMs: 10_000 }).linearizable).toBe(expected);
      }),
      { numRuns: 4000 },
    );
    // Both verdicts were exercised, often.
    expect(Math.min(seen.yes, seen.no)).toBeGreaterThan(400);
  });

  it('catches a planted stale read and names the key, the read and the write it missed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        const h = generateHistory({ seed, clients: 6, opsPerClient: 30, keys: 3, unknownRate: 0.1 });
        const t = Math.max(...h.map((o) => o.complete ?? o.invoke)) + 10;
        let id = h.length;
        h.push(op(id++, 'put', 'k1', t, t + 1, { value: 'old' }));
        h.push(op(id++, 'put', 'k1', t + 2, t + 3, { value: 'new' }));
        h.push(op(id++, 'get', 'k1', t + 4, t + 5, { read: 'old' }));
        h.push(op(id++, 'get', 'k1', t + 6, t + 7, { read: 'new' }));
        const r = checkKvHistory(h, { timeoutMs: 20_000 });
        expect(r.linearizable).toBe(false);
        expect(r.firstIllegalKey).toBe('k1');
        expect(r.witness?.blocked?.read).toBe('old');
        expect(r.witness?.stateBefore).toBe('new');
        // The newer write was observed later: a stale read, not a lost write.
        expect(r.lostWrites).toEqual([]);
      }),
      { numRuns: 40 },
    );
  });

  it('counts a lost acknowledged write', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        const h = generateHistory({ seed, clients: 6, opsPerClient: 30, keys: 3, unknownRate: 0.1 });
        const t = Math.max(...h.map((o) => o.complete ?? o.invoke)) + 10;
        let id = h.length;
        h.push(op(id++, 'put', 'k2', t, t + 1, { value: 'kept' }));
        const lost = op(id++, 'put', 'k2', t + 2, t + 3, { value: 'lost' });
        h.push(lost);
        h.push(op(id++, 'get', 'k2', t + 10, t + 11, { read: 'kept', client: 'final' }));
        const r = checkKvHistory(h, { timeoutMs: 20_000 });
        expect(r.linearizable).toBe(false);
        expect(r.firstIllegalKey).toBe('k2');
        expect(r.lostWrites.map((o) => o.id)).toEqual([lost.id]);
      }),
      { numRuns: 40 },
    );
  });

  it('counts an acknowledged delete that was lost, and two lost puts on one key', () => {
    const del = [
      op(0, 'put', 'k', 0, 1, { value: 'a' }),
      op(1, 'delete', 'k', 2, 3, { existed: true }),
      op(2, 'get', 'k', 4, 5, { read: 'a' }),
    ];
    expect(checkKvHistory(del).lostWrites.map((o) => o.id)).toEqual([1]);
    const two = [
      op(0, 'put', 'k', 0, 1, { value: 'a' }),
      op(1, 'put', 'k', 2, 3, { value: 'b' }),
      op(2, 'get', 'k', 4, 5, { read: 'a' }),
      op(3, 'put', 'k', 6, 7, { value: 'c' }),
      op(4, 'get', 'k', 8, 9, { read: 'a' }),
    ];
    const r = checkKvHistory(two);
    expect(r.linearizable).toBe(false);
    expect(r.lostWrites.map((o) => o.id).sort()).toEqual([1, 3]);
  });

  describe('unknown outcomes, both ways', () => {
    const base = [op(0, 'put', 'k', 0, 1, { value: 'a' })];
    it('an unknown put may have taken effect (a later read sees it)…', () => {
      const h = [...base, op(1, 'put', 'k', 2, null, { value: 'b', outcome: 'unknown' }), op(2, 'get', 'k', 10, 11, { read: 'b' })];
      expect(checkKvHistory(h).linearizable).toBe(true);
    });
    it('…or not (later reads see the old value)', () => {
      const h = [
        ...base,
        op(1, 'put', 'k', 2, null, { value: 'b', outcome: 'unknown' }),
        op(2, 'get', 'k', 10, 11, { read: 'a' }),
        op(3, 'get', 'k', 12, 13, { read: 'a' }),
      ];
      expect(checkKvHistory(h).linearizable).toBe(true);
    });
    it('…and may take effect long after its client gave up', () => {
      const h = [
        ...base,
        op(1, 'put', 'k', 2, 3, { value: 'b', outcome: 'unknown' }),
        op(2, 'get', 'k', 10, 11, { read: 'a' }),
        op(3, 'get', 'k', 50, 51, { read: 'b' }),
      ];
      expect(checkKvHistory(h).linearizable).toBe(true);
    });
    it('but once seen it cannot be undone', () => {
      const h = [
        ...base,
        op(1, 'put', 'k', 2, null, { value: 'b', outcome: 'unknown' }),
        op(2, 'get', 'k', 10, 11, { read: 'b' }),
        op(3, 'get', 'k', 12, 13, { read: 'a' }),
      ];
      const r = checkKvHistory(h);
      expect(r.linearizable).toBe(false);
      expect(r.witness?.blocked?.id).toBe(3);
    });
    it('and it cannot be seen before it was invoked', () => {
      const h = [...base, op(1, 'get', 'k', 2, 3, { read: 'b' }), op(2, 'put', 'k', 4, null, { value: 'b', outcome: 'unknown' })];
      expect(checkKvHistory(h).linearizable).toBe(false);
    });
    it('a failed put never took effect', () => {
      const h = [...base, op(1, 'put', 'k', 2, 3, { value: 'b', outcome: 'fail' }), op(2, 'get', 'k', 10, 11, { read: 'b' })];
      const r = checkKvHistory(h);
      expect(r.linearizable).toBe(false);
      expect(r.witness?.explanation).toContain('no put wrote');
    });
    it('an unknown delete may explain an absent key, or not have happened', () => {
      const gone = [...base, op(1, 'delete', 'k', 2, null, { outcome: 'unknown' }), op(2, 'get', 'k', 10, 11, { read: null })];
      expect(checkKvHistory(gone).linearizable).toBe(true);
      const kept = [...base, op(1, 'delete', 'k', 2, null, { outcome: 'unknown' }), op(2, 'get', 'k', 10, 11, { read: 'a' })];
      expect(checkKvHistory(kept).linearizable).toBe(true);
    });
    it('many open unknown writes do not blow the search up', () => {
      const h: KvOperation[] = [...base];
      for (let i = 1; i <= 40; i++) h.push(op(i, i % 3 === 0 ? 'delete' : 'put', 'k', 2 + i, null, { value: `u${i}`, outcome: 'unknown' }));
      for (let i = 0; i < 60; i++) h.push(op(100 + i, 'get', 'k', 100 + 2 * i, 101 + 2 * i, { read: i < 30 ? 'a' : 'u7' }));
      const r = checkKvHistory(h, { timeoutMs: 20_000 });
      expect(r.linearizable).toBe(true);
      expect(r.keys[0]?.steps).toBeLessThan(100_000);
    });
  });

  it('reports a timeout as undecided, not as a verdict', () => {
    const h = generateHistory({ seed: 7, clients: 16, opsPerClient: 400, keys: 1, unknownRate: 0.3 });
    const r = checkKvHistory(h, { timeoutMs: 0 });
    expect(r.linearizable).toBeNull();
    expect(r.keys[0]?.result).toBe('timeout');
  });

  it('checks a history the size of a 60-second run well within its timeout (measured)', () => {
    // ≈ 60 s × 16 clients × 30 operations/s, on 8 keys.
    const h = generateHistory({ seed: 11, clients: 16, opsPerClient: 1800, keys: 8, unknownRate: 0.05, failRate: 0.02, maxLatency: 80 });
    const r = checkKvHistory(h, { timeoutMs: 120_000 });
    expect(r.linearizable).toBe(true);
    console.log(`checker: ${h.length} operations on ${r.keys.length} keys in ${r.elapsedMs.toFixed(0)} ms`);
  }, 150_000);
});
