/**
 * Linearizability search over one partition of a history: the Wing–Gong
 * depth-first search with Lowe's memoisation, as Porcupine runs it.
 *
 * The history becomes one doubly linked list of call and return events in
 * time order. An operation may be linearized next exactly when its call comes
 * before the first return still in the list (no pending operation returned
 * before it was called). Linearizing one unlinks its call and return
 * ("lift"); backtracking links them back in place ("unlift"), so every step
 * costs O(1) and the list always shows what is left. A cache of
 * (set of linearized operations, model state) pairs prunes every configuration
 * already explored: reaching the same state with the same operations done
 * leads to the same future.
 *
 * Operations whose outcome is unknown (`optional`) may take effect at any
 * point after their call, or never (the same as taking effect after
 * everything else, with nothing left to observe it). They must be blind
 * writes (their effect may not depend on the state), which an unknown put or
 * delete is. They stay out of the event list, and:
 *
 * - the search ends as soon as every required operation is linearized;
 * - at each depth they are tried after the required candidates, and never two
 *   in a row: a run of blind writes leaves the state its last one sets, and
 *   the others may as well not have happened yet;
 * - the model sorts them into classes of interchangeable operations (no
 *   required operation can tell their effects apart), and only one per class
 *   is tried at each depth: which one does not matter, because an optional
 *   operation that may come next now may also come at every later depth (the
 *   earliest pending return only moves later as the search goes deeper);
 * - the cache treats a configuration as covered when one with the same
 *   required operations, the same state and a subset of the optional ones
 *   was seen: fewer optional operations spent leaves more choices.
 *
 * Without these, k unknown writes open at once can multiply the explored
 * configurations by 2^k.
 */

/** What the search needs from a sequential specification. */
export interface SearchModel<S> {
  readonly init: S;
  /** The state after operation `op` took effect in `state` with its recorded output, or undefined when it cannot. */
  step(state: S, op: number): S | undefined;
  /** A 32-bit hash of a state (equal states, equal hashes). */
  hash(state: S): number;
  equal(a: S, b: S): boolean;
  /**
   * The class of an optional operation: operations of one class must be
   * interchangeable (taking one instead of another changes nothing a required
   * operation can observe). Without it every optional operation is its own class.
   */
  optionalClass?(op: number): number;
}

/** One operation's real-time interval. */
export interface SearchOp {
  call: number;
  /** Completion time; ignored for optional operations. */
  ret: number;
  /** Unknown outcome: may have taken effect (at any time after `call`) or not. */
  optional: boolean;
}

/** Where the search got stuck furthest: its best partial linearization. */
export interface SearchStuck {
  /** Operations of the longest partial linearization, in order. */
  linearized: number[];
  /** The required operation whose completion could not be passed: it fits nowhere after `linearized`. */
  blocked: number;
  /** Required operations that could have come next (called before `blocked` completed). */
  candidates: number[];
}

export type SearchResult =
  | { kind: 'ok'; order: number[]; steps: number }
  | { kind: 'illegal'; stuck: SearchStuck | null; steps: number }
  | { kind: 'timeout'; steps: number };

export interface SearchOptions {
  /** `performance.now()` value after which the search gives up. */
  deadline: number;
  /** Record the longest partial linearization (costs a copy each time it grows). */
  explain?: boolean;
}

const CALL = 0;
const RETURN = 1;
/** Stack marker: the entry was a required operation (else: the optional class index). */
const REQUIRED = -1;

/** A set of integers hashes to the XOR of one mixed value per member, so adding or removing one is O(1). */
function mix(i: number): number {
  let x = Math.imul(i + 0x9e3779b9, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

interface CacheEntry<S> {
  bits: Uint32Array;
  state: S;
}

/** Optional operations of one class, by call time. */
interface OptionalClass {
  ops: number[];
  calls: Float64Array;
}

/**
 * Searches for a linearization of `ops` under `model`. Operation numbers in
 * the result are indexes into `ops`.
 */
export function searchLinearization<S>(model: SearchModel<S>, ops: readonly SearchOp[], options: SearchOptions): SearchResult {
  const n = ops.length;
  // Internal numbering: required operations first, so the bit set splits into a required part and an optional part.
  const order: number[] = [];
  for (let i = 0; i < n; i++) if (!(ops[i] as SearchOp).optional) order.push(i);
  const nRequired = order.length;
  for (let i = 0; i < n; i++) if ((ops[i] as SearchOp).optional) order.push(i);
  if (nRequired === 0) return { kind: 'ok', order: [], steps: 0 };
  const external = (k: number): number => order[k] as number;
  const opAt = (k: number): SearchOp => ops[external(k)] as SearchOp;

  // Event list of required operations: node k is k's call, node nRequired + k its return.
  const nodes = 2 * nRequired;
  const head = nodes;
  const time = new Float64Array(nodes);
  for (let k = 0; k < nRequired; k++) {
    time[k] = opAt(k).call;
    time[nRequired + k] = opAt(k).ret;
  }
  const kindOf = (x: number): number => (x < nRequired ? CALL : RETURN);
  // Calls before returns at equal times: operations that touch are concurrent.
  const sorted = Array.from({ length: nodes }, (_, i) => i).sort(
    (a, b) => (time[a] as number) - (time[b] as number) || kindOf(a) - kindOf(b) || a - b,
  );
  const next = new Int32Array(nodes + 1).fill(-1);
  const prev = new Int32Array(nodes + 1).fill(-1);
  let last = head;
  for (const id of sorted) {
    next[last] = id;
    prev[id] = last;
    last = id;
  }
  const unlink = (x: number): void => {
    const p = prev[x] as number;
    const q = next[x] as number;
    next[p] = q;
    if (q !== -1) prev[q] = p;
  };
  const relink = (x: number): void => {
    const p = prev[x] as number;
    const q = next[x] as number;
    next[p] = x;
    if (q !== -1) prev[q] = x;
  };

  // Optional operations, by class and call time.
  const classes: OptionalClass[] = [];
  {
    const byClass = new Map<number, number[]>();
    for (let k = nRequired; k < n; k++) {
      const c = model.optionalClass ? model.optionalClass(external(k)) : k;
      let l = byClass.get(c);
      if (!l) {
        l = [];
        byClass.set(c, l);
      }
      l.push(k);
    }
    for (const l of byClass.values()) {
      l.sort((a, b) => opAt(a).call - opAt(b).call);
      classes.push({ ops: l, calls: Float64Array.from(l, (k) => opAt(k).call) });
    }
  }

  const words = (n + 31) >>> 5;
  const bits = new Uint32Array(words);
  const reqWords = nRequired >>> 5; // words wholly in the required part
  const reqTailBits = nRequired & 31;
  const reqTailMask = reqTailBits === 0 ? 0 : ((1 << reqTailBits) - 1) >>> 0;
  const has = (k: number): boolean => ((bits[k >>> 5] as number) & (1 << (k & 31))) !== 0;
  let hash = 0;
  const flip = (k: number): void => {
    bits[k >>> 5] = ((bits[k >>> 5] as number) ^ (1 << (k & 31))) >>> 0;
    if (k < nRequired) hash ^= mix(k);
  };
  const cache = new Map<number, CacheEntry<S>[]>();
  /** True when `e` covers the current configuration: same required set, same state, optional set a subset of ours. */
  const covers = (e: CacheEntry<S>, state: S): boolean => {
    const b = e.bits;
    for (let w = 0; w < reqWords; w++) if (b[w] !== bits[w]) return false;
    let w = reqWords;
    if (reqTailBits !== 0) {
      const bw = b[w] as number;
      const cw = bits[w] as number;
      if (((bw ^ cw) & reqTailMask) !== 0 || (bw & ~cw & ~reqTailMask) !== 0) return false;
      w++;
    }
    for (; w < words; w++) if (((b[w] as number) & ~(bits[w] as number)) !== 0) return false;
    return model.equal(e.state, state);
  };
  /** Adds the configuration to the cache; false when it (or one covering it) is there. */
  const remember = (state: S): boolean => {
    const key = (hash ^ Math.imul(model.hash(state) | 0, 0x01000193)) >>> 0;
    let bucket = cache.get(key);
    if (bucket) {
      for (const e of bucket) if (covers(e, state)) return false;
    } else {
      bucket = [];
      cache.set(key, bucket);
    }
    bucket.push({ bits: bits.slice(), state });
    return true;
  };

  /** Time of the earliest return still in the list: optional operations called after it may not come next. */
  const horizon = (): number => {
    for (let x = next[head] as number; x !== -1; x = next[x] as number) if (x >= nRequired) return time[x] as number;
    return Number.POSITIVE_INFINITY;
  };
  /** An unused operation of class `c` called no later than `t` (the last such); -1 when none. */
  const latestOptional = (c: number, t: number): number => {
    const cl = classes[c] as OptionalClass;
    let lo = 0;
    let hi = cl.calls.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cl.calls[mid] as number) <= t) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo - 1; i >= 0; i--) {
      const k = cl.ops[i] as number;
      if (!has(k)) return k;
    }
    return -1;
  };

  const stackOp: number[] = [];
  const stackTag: number[] = [];
  const stackState: S[] = [];
  let state = model.init;
  let requiredDone = 0;
  // Enumeration cursor at the current depth: the last required call node tried (or head), then the last class tried.
  let cursorNode = head;
  let cursorClass = REQUIRED;
  let steps = 0;
  let best = -1;
  let stuck: SearchStuck | null = null;

  const push = (k: number, tag: number, s2: S): void => {
    stackOp.push(k);
    stackTag.push(tag);
    stackState.push(state);
    state = s2;
    if (tag === REQUIRED) {
      unlink(k);
      unlink(nRequired + k);
      requiredDone++;
    }
    cursorNode = head;
    cursorClass = REQUIRED;
  };

  for (;;) {
    if (requiredDone === nRequired) return { kind: 'ok', order: stackOp.map(external), steps };
    if ((++steps & 4095) === 0 && performance.now() > options.deadline) return { kind: 'timeout', steps };
    const afterOptional = stackTag.length > 0 && stackTag[stackTag.length - 1] !== REQUIRED;
    let advanced = false;
    if (cursorClass === REQUIRED) {
      // The next required candidate: a call before the first return.
      const x = next[cursorNode] as number;
      if (x !== -1 && x < nRequired) {
        const s2 = model.step(state, external(x));
        if (s2 !== undefined) {
          flip(x);
          if (remember(s2)) {
            push(x, REQUIRED, s2);
            continue;
          }
          flip(x);
        }
        cursorNode = x;
        continue;
      }
      cursorClass = 0;
      if (afterOptional) cursorClass = classes.length; // never two optional operations in a row
    }
    // The next class with an eligible optional operation.
    if (cursorClass < classes.length) {
      const t = horizon();
      for (let c = cursorClass; c < classes.length; c++) {
        const k = latestOptional(c, t);
        if (k === -1) continue;
        const s2 = model.step(state, external(k));
        if (s2 === undefined) continue;
        flip(k);
        if (remember(s2)) {
          push(k, c, s2);
          advanced = true;
          break;
        }
        flip(k);
      }
      if (advanced) continue;
      cursorClass = classes.length;
    }
    // Nothing fits at this depth. The witness is taken where a required operation set the state.
    if (options.explain && requiredDone > best && !afterOptional) {
      best = requiredDone;
      let blocked = -1;
      const candidates: number[] = [];
      for (let x = next[head] as number; x !== -1; x = next[x] as number) {
        if (x >= nRequired) {
          blocked = x - nRequired;
          break;
        }
        candidates.push(external(x));
      }
      stuck = { linearized: stackOp.map(external), blocked: blocked === -1 ? -1 : external(blocked), candidates };
    }
    if (stackOp.length === 0) return { kind: 'illegal', stuck, steps };
    const k = stackOp.pop() as number;
    const tag = stackTag.pop() as number;
    state = stackState.pop() as S;
    flip(k);
    if (tag === REQUIRED) {
      relink(nRequired + k);
      relink(k);
      requiredDone--;
      cursorNode = k;
      cursorClass = REQUIRED;
    } else {
      cursorNode = head;
      cursorClass = tag + 1;
    }
  }
}
