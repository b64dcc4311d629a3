import type { Clock, TimerHandle } from '../clock.js';

interface ManualTimer {
  at: number;
  seq: number;
  fn: () => void;
}

type Immediate = (fn: () => void) => unknown;

/** Lets pending promise callbacks run (one macrotask turn; setImmediate where it exists). */
export function settle(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: Immediate }).setImmediate;
  return new Promise((resolve) => (immediate ? immediate(resolve) : setTimeout(resolve, 0)));
}

/**
 * A {@link Clock} that only moves when told, for deterministic tests and
 * seeded simulations. Timers fire in (time, creation) order; after each one
 * the event loop is given a turn so the async work it started settles.
 * Repeating timers are core's `every()` on top of it.
 */
export class ManualClock implements Clock {
  private t = 0;
  private seq = 0;
  private readonly timers = new Map<TimerHandle, ManualTimer>();

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const h = {};
    this.timers.set(h, { at: this.t + Math.max(0, ms), seq: this.seq++, fn });
    return h;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle);
  }

  /** Number of pending timers. */
  get pending(): number {
    return this.timers.size;
  }

  /** Advances time by `ms`, firing due timers in order and settling after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      let next: [TimerHandle, ManualTimer] | null = null;
      for (const e of this.timers) {
        if (e[1].at > end) continue;
        if (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[1].seq < next[1].seq)) next = e;
      }
      if (!next) break;
      const [h, timer] = next;
      this.t = Math.max(this.t, timer.at);
      this.timers.delete(h);
      timer.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}
