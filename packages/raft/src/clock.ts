/** Opaque timer handle. */
export type TimerHandle = { readonly __timer: true } | object;

/** Time source for the driver; inject {@link ManualClock} to drive a node deterministically. */
export interface Clock {
  now(): number;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle): void;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock (globalThis timers). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setInterval: (fn, ms) => setInterval(fn, ms) as unknown as TimerHandle,
  clearInterval: (h) => clearInterval(h as unknown as Parameters<typeof clearInterval>[0]),
  setTimeout: (fn, ms) => setTimeout(fn, ms) as unknown as TimerHandle,
  clearTimeout: (h) => clearTimeout(h as unknown as Parameters<typeof clearTimeout>[0]),
};

interface ManualTimer {
  at: number;
  seq: number;
  fn: () => void;
  every: number;
}

type Immediate = (fn: () => void) => unknown;

/** Lets pending promise callbacks run (one macrotask turn; setImmediate where it exists). */
export function settle(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: Immediate }).setImmediate;
  return new Promise((resolve) => (immediate ? immediate(resolve) : setTimeout(resolve, 0)));
}

/**
 * A clock that only moves when told. Timers fire in (time, creation) order;
 * between timers the event loop is given a turn so async work settles.
 */
export class ManualClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers = new Map<object, ManualTimer>();

  now(): number {
    return this.t;
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const h = {};
    this.timers.set(h, { at: this.t + Math.max(1, ms), seq: this.seq++, fn, every: Math.max(1, ms) });
    return h;
  }

  clearInterval(handle: TimerHandle): void {
    this.timers.delete(handle);
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const h = {};
    this.timers.set(h, { at: this.t + Math.max(0, ms), seq: this.seq++, fn, every: 0 });
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
      let next: [object, ManualTimer] | null = null;
      for (const e of this.timers) {
        if (e[1].at > end) continue;
        if (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[1].seq < next[1].seq)) next = e;
      }
      if (!next) break;
      const [h, timer] = next;
      this.t = Math.max(this.t, timer.at);
      if (timer.every > 0) {
        timer.at += timer.every;
        timer.seq = this.seq++;
      } else {
        this.timers.delete(h);
      }
      timer.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}
