import { type Clock, type TimerHandle, systemClock } from '@raftwire/core';

/** Raft's tick in the demo (RaftNode's default): 100 ms of demo time. */
export const TICK_MS = 100;

/** Slowest allowed speed (times slower than real time). */
export const MAX_FACTOR = 100;

interface Timer {
  due: number;
  seq: number;
  fn: () => void;
  /** The duration it was set for (members' clocks), 0 for events. */
  ms: number;
  cancelled: boolean;
}

/** The time controls as a page shows them and sends them to the server. */
export interface TimeState {
  factor: number;
  paused: boolean;
}

/** A {@link Clock} on demo time, plus what a view needs to draw a repeating timer between firings. */
export interface DemoClock extends Clock {
  /** Demo milliseconds since a timer of `ms` last fired on this clock (Raft's tick: `ms` = {@link TICK_MS}), undefined before the first. */
  sinceLast(ms: number): number | undefined;
}

/** Timers in (due, creation) order. */
class TimerHeap {
  private readonly h: Timer[] = [];

  private static less(a: Timer, b: Timer): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  /** The first live timer (cancelled ones are dropped on the way). */
  peek(): Timer | undefined {
    while (this.h.length > 0 && (this.h[0] as Timer).cancelled) this.pop();
    return this.h[0];
  }

  push(t: Timer): void {
    const h = this.h;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!TimerHeap.less(h[i] as Timer, h[p] as Timer)) break;
      [h[i], h[p]] = [h[p] as Timer, h[i] as Timer];
      i = p;
    }
  }

  pop(): void {
    const h = this.h;
    const last = h.pop();
    if (h.length === 0 || last === undefined) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && TimerHeap.less(h[l] as Timer, h[m] as Timer)) m = l;
      if (r < h.length && TimerHeap.less(h[r] as Timer, h[m] as Timer)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m] as Timer, h[i] as Timer];
      i = m;
    }
  }

  clear(): void {
    for (const t of this.h) t.cancelled = true;
    this.h.length = 0;
  }
}

/**
 * The demo's time: a virtual clock that every Raft member of one cluster
 * (in the page, or the Node member in the server) runs its timers on.
 *
 * Demo time runs `factor` times slower than real time, and stands still while
 * paused. Two kinds of timers run on it: members' clocks ({@link clock}: Raft's
 * tick) and events ({@link at}: message deliveries, operation timeouts). While
 * paused, {@link advance} moves the clocks by hand — one tick of every member —
 * and nothing else: a message is delivered only by a step or when time runs
 * again. Only Raft's timers and the demo's deliveries run on demo time: the
 * transport's own timers (dial, stream keep-alive, probing) run in real time,
 * so a paused cluster keeps its links up.
 *
 * Timers fire in (due, creation) order. A repeating timer re-arms itself from
 * the time it fired (core's `every`), so one that fell behind (a throttled
 * background tab) fires once, not once per missed period.
 */
export class DemoTime {
  private f = 1;
  private frozen = false;
  /** Demo time at `anchorReal` (real ms). */
  private anchorDemo = 0;
  private anchorReal: number;
  private readonly clocks = new TimerHeap();
  private readonly events = new TimerHeap();
  private seq = 0;
  private wake: unknown;
  private readonly listeners = new Set<() => void>();
  private firing = false;

  constructor(private readonly real: Clock = systemClock) {
    this.anchorReal = real.now();
  }

  /** Demo milliseconds since this clock was created. */
  now(): number {
    return this.frozen ? this.anchorDemo : this.anchorDemo + (this.real.now() - this.anchorReal) / this.f;
  }

  get factor(): number {
    return this.f;
  }

  get paused(): boolean {
    return this.frozen;
  }

  state(): TimeState {
    return { factor: this.f, paused: this.frozen };
  }

  /** Sets how many times slower than real time demo time runs (1 = real time). */
  setFactor(factor: number): void {
    if (!Number.isFinite(factor) || factor < 1 || factor > MAX_FACTOR) {
      throw new RangeError(`speed factor must be within 1..${MAX_FACTOR}, got ${factor}`);
    }
    this.reanchor();
    this.f = factor;
    this.schedule();
    this.changed();
  }

  pause(): void {
    if (this.frozen) return;
    this.reanchor();
    // What was due by now happens now: a timer the real clock fired late (a busy event loop) must
    // not be left overdue in paused time, where advance() would fire it and then its re-armed
    // successor too (two ticks for one Tick).
    if (!this.firing) this.fireDue();
    this.frozen = true;
    this.schedule();
    this.changed();
  }

  resume(): void {
    if (!this.frozen) return;
    this.frozen = false;
    this.anchorReal = this.real.now();
    this.schedule();
    this.changed();
  }

  /** Applies a page's time controls (the server's copy follows the page's). */
  apply(s: TimeState): void {
    if (s.factor !== this.f) this.setFactor(s.factor);
    if (s.paused) this.pause();
    else this.resume();
  }

  /**
   * Moves paused time forward by `ms`, firing every member's clock timer due
   * within it in order (one tick of every member for `ms` = {@link TICK_MS}:
   * a tick re-armed while firing is due a whole tick later);
   * events (deliveries) wait for a step or for time to run. Returns how many
   * clock timers fired.
   */
  advance(ms: number): number {
    if (!this.frozen) throw new Error('advance() needs paused time');
    if (!(ms >= 0)) throw new RangeError('advance() needs a non-negative duration');
    const end = this.anchorDemo + ms;
    let fired = 0;
    for (;;) {
      const t = this.clocks.peek();
      if (!t || t.due > end) break;
      this.anchorDemo = Math.max(this.anchorDemo, t.due);
      this.fire(this.clocks, t);
      fired++;
    }
    this.anchorDemo = end;
    this.changed();
    return fired;
  }

  /** Calls `fn` at demo time `due` (at once if that is past and time runs). */
  at(due: number, fn: () => void): TimerHandle {
    const t: Timer = { due, seq: this.seq++, fn, ms: 0, cancelled: false };
    this.events.push(t);
    this.schedule();
    return t;
  }

  cancel(handle: TimerHandle): void {
    const t = handle as Timer;
    if (t.cancelled) return;
    t.cancelled = true;
    this.schedule();
  }

  /** A Raft clock on this time (RaftNode repeats its tick with chained timeouts). */
  clock(): DemoClock {
    const fired = new Map<number, number>();
    return {
      now: () => this.now(),
      setTimeout: (fn, ms) => {
        const d = Math.max(0, ms);
        const t: Timer = {
          due: this.now() + d,
          seq: this.seq++,
          fn: () => {
            fired.set(d, this.now());
            fn();
          },
          ms: d,
          cancelled: false,
        };
        this.clocks.push(t);
        this.schedule();
        return t;
      },
      clearTimeout: (h) => this.cancel(h),
      sinceLast: (ms) => {
        const at = fired.get(ms);
        return at === undefined ? undefined : this.now() - at;
      },
    };
  }

  /** Called whenever the factor, the pause state or (by {@link advance}) the time changes. */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Cancels every timer (the cluster is going away). */
  close(): void {
    this.clocks.clear();
    this.events.clear();
    if (this.wake !== undefined) this.real.clearTimeout(this.wake);
    this.wake = undefined;
    this.listeners.clear();
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  private reanchor(): void {
    this.anchorDemo = this.now();
    this.anchorReal = this.real.now();
  }

  /** The heap whose first timer is due first (clocks win a tie: a tick before a delivery due at once). */
  private next(): { heap: TimerHeap; t: Timer } | undefined {
    const c = this.clocks.peek();
    const e = this.events.peek();
    if (c && (!e || c.due <= e.due)) return { heap: this.clocks, t: c };
    return e ? { heap: this.events, t: e } : undefined;
  }

  private fire(heap: TimerHeap, t: Timer): void {
    heap.pop();
    if (t.cancelled) return;
    t.cancelled = true;
    try {
      t.fn();
    } catch (err) {
      // A timer callback's failure must not stop the clock for every other member.
      queueMicrotask(() => {
        throw err;
      });
    }
  }

  private run = (): void => {
    this.wake = undefined;
    if (this.frozen || this.firing) return;
    this.fireDue();
    this.schedule();
  };

  /**
   * Fires every timer due by now, in order. A timer callback that pauses time does not stop the
   * rest: they were due before the pause, and paused time must hold none overdue.
   */
  private fireDue(): void {
    this.firing = true;
    try {
      for (;;) {
        const n = this.next();
        if (!n || n.t.due > this.now()) break;
        this.fire(n.heap, n.t);
      }
    } finally {
      this.firing = false;
    }
  }

  private schedule(): void {
    if (this.wake !== undefined) this.real.clearTimeout(this.wake);
    this.wake = undefined;
    if (this.frozen || this.firing) return;
    const n = this.next();
    if (!n) return;
    const delay = Math.max(0, (n.t.due - this.now()) * this.f);
    this.wake = this.real.setTimeout(this.run, delay);
  }
}
