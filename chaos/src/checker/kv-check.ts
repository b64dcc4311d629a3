/**
 * Linearizability of a key-value history (put, get, delete), checked key by
 * key: operations on different keys commute, so a history is linearizable
 * exactly when each key's sub-history is (Herlihy & Wing's locality, the
 * P-compositionality Porcupine exploits).
 *
 * Each key is a register that holds a value or nothing. A put sets it, a get
 * must read what it holds, a delete empties it and must report whether it
 * held something. What is done with each outcome:
 *
 * - `fail` operations did not happen: dropped. Gets that did not answer tell
 *   nothing: dropped.
 * - `unknown` writes may have happened at any time after their call, or never
 *   (Knossos' and Porcupine's open-ended return). Puts write unique values, so
 *   an unknown put whose value some get read certainly happened, before the
 *   earliest such get completed: it becomes a required operation with that
 *   completion time, which allows exactly the same orders.
 *
 * A history that is not linearizable gets a witness (the longest order found
 * and the operation that fits nowhere after it) and a count of lost
 * acknowledged writes: acknowledged writes that have to be treated as never
 * having happened for the key to become linearizable, found by trying each
 * candidate near the failure (greedily, so the count is minimal-ish, not
 * proven minimal).
 */
import { describeOp, type KvOperation } from '../history.js';
import { type SearchModel, type SearchOp, type SearchResult, type SearchStuck, searchLinearization } from './search.js';

export interface CheckOptions {
  /** Time for the whole check, in ms (default 60 000). Keys not decided in time are reported as timed out. */
  timeoutMs?: number;
}

export interface KeyVerdict {
  key: string;
  /** Operations of this key that the search considered. */
  ops: number;
  result: 'ok' | 'illegal' | 'timeout';
  ms: number;
  /** Search steps taken (a measure of the work). */
  steps: number;
}

/** Why a key is not linearizable, in terms a person can follow. */
export interface Witness {
  key: string;
  /** The value the key held after the longest order found (null: absent). */
  stateBefore: string | null;
  /** The last operations of that order (the ones that set up `stateBefore`). */
  before: KvOperation[];
  /** The operation that fits nowhere after them. */
  blocked: KvOperation | null;
  /** Operations that could have come next and were tried. */
  concurrent: KvOperation[];
  explanation: string;
}

export interface KvCheckResult {
  /** True: linearizable; false: not; null: undecided within the timeout. */
  linearizable: boolean | null;
  keys: KeyVerdict[];
  /** The key whose failure happened earliest in the run. */
  firstIllegalKey: string | null;
  witness: Witness | null;
  /** Acknowledged writes no linearization can keep (see the module comment). */
  lostWrites: KvOperation[];
  elapsedMs: number;
}

/** Absent. Values are interned as 1, 2, …. */
const ABSENT = 0;

interface PreparedKey {
  key: string;
  ops: KvOperation[];
  search: SearchOp[];
  /** Interned value per operation: written (put) or read (get). */
  valueIds: Int32Array;
  names: (string | null)[];
  /** Unknown writes that may be skipped. */
  optional: boolean[];
}

function prepareKey(key: string, all: readonly KvOperation[], demoted: ReadonlySet<number> = new Set()): PreparedKey {
  const ops = all.filter((op) => op.outcome !== 'fail' && !(op.kind === 'get' && op.outcome !== 'ok'));
  const ids = new Map<string, number>();
  const names: (string | null)[] = [null];
  const intern = (v: string): number => {
    let id = ids.get(v);
    if (id === undefined) {
      id = names.length;
      ids.set(v, id);
      names.push(v);
    }
    return id;
  };
  // The earliest completion of a get that read each value.
  const firstRead = new Map<string, number>();
  for (const op of ops) {
    if (op.kind === 'get' && typeof op.read === 'string' && op.complete !== null) {
      const t = firstRead.get(op.read);
      if (t === undefined || op.complete < t) firstRead.set(op.read, op.complete);
    }
  }
  const search: SearchOp[] = [];
  const valueIds = new Int32Array(ops.length);
  const optional: boolean[] = [];
  ops.forEach((op, i) => {
    if (op.kind === 'put') valueIds[i] = intern(op.value ?? '');
    else if (op.kind === 'get') valueIds[i] = typeof op.read === 'string' ? intern(op.read) : ABSENT;
    const isWrite = op.kind !== 'get';
    const unknown = isWrite && (op.outcome === 'unknown' || demoted.has(op.id));
    let opt = unknown;
    let ret = op.complete ?? Number.POSITIVE_INFINITY;
    if (unknown && op.kind === 'put') {
      const seen = firstRead.get(op.value ?? '');
      if (seen !== undefined) {
        opt = false;
        ret = Math.max(op.invoke, seen);
      }
    }
    optional.push(unknown);
    search.push({ call: op.invoke, ret: opt ? Number.POSITIVE_INFINITY : ret, optional: opt });
  });
  return { key, ops, search, valueIds, names, optional };
}

function modelFor(p: PreparedKey): SearchModel<number> {
  return {
    init: ABSENT,
    hash: (s) => s,
    equal: (a, b) => a === b,
    // Skipped puts wrote values nobody read, so which one set the key is invisible; skipped deletes are all alike.
    optionalClass: (i) => ((p.ops[i] as KvOperation).kind === 'put' ? 0 : 1),
    step: (state, i) => {
      const op = p.ops[i] as KvOperation;
      if (op.kind === 'put') return p.valueIds[i] as number;
      if (op.kind === 'get') return state === p.valueIds[i] ? state : undefined;
      if (p.optional[i]) return ABSENT;
      return (state !== ABSENT) === op.existed ? ABSENT : undefined;
    },
  };
}

function run(p: PreparedKey, deadline: number, explain: boolean): SearchResult {
  return searchLinearization(modelFor(p), p.search, { deadline, explain });
}

/** A get that read a value no put could have written is a violation on its own: found without a search. */
function impossibleRead(p: PreparedKey, all: readonly KvOperation[]): KvOperation | null {
  const written = new Set<string>();
  for (const op of all) if (op.kind === 'put' && op.outcome !== 'fail' && op.value !== undefined) written.add(op.value);
  for (const op of p.ops) if (op.kind === 'get' && typeof op.read === 'string' && !written.has(op.read)) return op;
  return null;
}

function valueText(v: string | null): string {
  return v === null ? 'absent' : JSON.stringify(v);
}

function explainStuck(p: PreparedKey, stuck: SearchStuck): Witness {
  const model = modelFor(p);
  let state = model.init;
  for (const i of stuck.linearized) state = model.step(state, i) ?? state;
  const before = stuck.linearized.slice(-6).map((i) => p.ops[i] as KvOperation);
  const blocked = stuck.blocked >= 0 ? (p.ops[stuck.blocked] as KvOperation) : null;
  const concurrent = stuck.candidates.filter((i) => i !== stuck.blocked).map((i) => p.ops[i] as KvOperation);
  const held = p.names[state] ?? null;
  let explanation = `key ${p.key}: after ${stuck.linearized.length} operations in a valid order the key holds ${valueText(held)}`;
  if (before.length > 0) explanation += ` (last: ${describeOp(before[before.length - 1] as KvOperation)})`;
  if (blocked) {
    explanation += `; ${describeOp(blocked)} must take effect before it completed`;
    if (blocked.kind === 'get') explanation += `, but it read ${valueText(blocked.read ?? null)}`;
    if (blocked.kind === 'delete' && blocked.outcome === 'ok') explanation += `, but it reported existed=${String(blocked.existed)}`;
    explanation +=
      concurrent.length > 0
        ? `, and no order of the ${concurrent.length} operation(s) that could come first makes that consistent`
        : ', and nothing else could come first';
  }
  return { key: p.key, stateBefore: held, before, blocked, concurrent, explanation: `${explanation}.` };
}

/**
 * The acknowledged writes to treat as never applied for `key` to become
 * linearizable: candidates are acknowledged writes near the failure (in the
 * longest order found, or concurrent with the blocked operation) that no get
 * observed. Each is tried alone; if none suffices, the one that lets the
 * search get furthest is kept and the next is sought, a few rounds deep.
 */
function findLostWrites(key: string, all: readonly KvOperation[], first: SearchStuck, deadline: number): KvOperation[] {
  const observed = new Set<string>();
  for (const op of all) if (op.kind === 'get' && op.outcome === 'ok' && typeof op.read === 'string') observed.add(op.read);
  const demoted = new Set<number>();
  let stuck: SearchStuck | null = first;
  for (let round = 0; round < 6 && stuck !== null; round++) {
    const p0 = prepareKey(key, all, demoted);
    const near = [...stuck.linearized.slice(-24), ...stuck.candidates].map((i) => p0.ops[i] as KvOperation);
    const candidates = [...new Set(near)]
      .filter((op) => op.outcome === 'ok' && op.kind !== 'get' && !demoted.has(op.id))
      .filter((op) => op.kind === 'delete' || !observed.has(op.value ?? ''))
      .sort((a, b) => (b.complete ?? 0) - (a.complete ?? 0))
      .slice(0, 24);
    let bestOp: KvOperation | null = null;
    let bestStuck: SearchStuck | null = null;
    for (const c of candidates) {
      if (performance.now() > deadline) return [];
      const trial = new Set(demoted).add(c.id);
      const r = run(prepareKey(key, all, trial), deadline, true);
      if (r.kind === 'ok') return all.filter((op) => trial.has(op.id));
      if (r.kind === 'illegal' && r.stuck && (bestStuck === null || r.stuck.linearized.length > bestStuck.linearized.length)) {
        bestOp = c;
        bestStuck = r.stuck;
      }
    }
    if (bestOp === null || bestStuck === null || bestStuck.linearized.length <= stuck.linearized.length) return [];
    demoted.add(bestOp.id);
    stuck = bestStuck;
  }
  return [];
}

/** Checks a whole history; see the module comment. */
export function checkKvHistory(history: readonly KvOperation[], options: CheckOptions = {}): KvCheckResult {
  const t0 = performance.now();
  const deadline = t0 + (options.timeoutMs ?? 60_000);
  const byKey = new Map<string, KvOperation[]>();
  for (const op of history) {
    let l = byKey.get(op.key);
    if (!l) {
      l = [];
      byKey.set(op.key, l);
    }
    l.push(op);
  }
  const keys = [...byKey.keys()].sort();
  const verdicts: KeyVerdict[] = [];
  const failures: { key: string; at: number; witness: Witness; stuck: SearchStuck | null }[] = [];
  let timedOut = false;
  keys.forEach((key, n) => {
    const all = byKey.get(key) as KvOperation[];
    const p = prepareKey(key, all);
    const tk = performance.now();
    // Each key may use its fair share of what is left, so one hard key cannot starve the rest.
    const share = tk + (deadline - tk) / (keys.length - n);
    const bad = impossibleRead(p, all);
    let result: SearchResult;
    if (bad) {
      result = { kind: 'illegal', stuck: null, steps: 0 };
      failures.push({
        key,
        at: bad.complete ?? bad.invoke,
        stuck: null,
        witness: {
          key,
          stateBefore: null,
          before: [],
          blocked: bad,
          concurrent: [],
          explanation: `key ${key}: ${describeOp(bad)} read a value that no put wrote (or only a put that failed).`,
        },
      });
    } else {
      result = run(p, share, false);
      if (result.kind === 'illegal') {
        // Search again, recording the longest partial order, for the witness.
        const again = run(p, share + 5_000, true);
        const stuck = again.kind === 'illegal' ? again.stuck : null;
        const witness = stuck
          ? explainStuck(p, stuck)
          : { key, stateBefore: null, before: [], blocked: null, concurrent: [], explanation: `key ${key}: not linearizable.` };
        const blockedAt = witness.blocked?.complete ?? Number.POSITIVE_INFINITY;
        failures.push({ key, at: blockedAt, witness, stuck });
      }
    }
    if (result.kind === 'timeout') timedOut = true;
    verdicts.push({ key, ops: p.ops.length, result: result.kind, ms: performance.now() - tk, steps: result.steps });
  });
  failures.sort((a, b) => a.at - b.at);
  const lostWrites: KvOperation[] = [];
  for (const f of failures) {
    if (!f.stuck) continue;
    const budget = performance.now() + Math.max(2_000, (deadline - performance.now()) / failures.length);
    lostWrites.push(...findLostWrites(f.key, byKey.get(f.key) as KvOperation[], f.stuck, budget));
  }
  const first = failures[0];
  return {
    linearizable: failures.length > 0 ? false : timedOut ? null : true,
    keys: verdicts,
    firstIllegalKey: first?.key ?? null,
    witness: first?.witness ?? null,
    lostWrites,
    elapsedMs: performance.now() - t0,
  };
}
