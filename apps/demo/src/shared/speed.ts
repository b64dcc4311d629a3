import type { Clock, TimerHandle } from '@raftwire/core';

/** Milliseconds of visible travel a message gets per unit of slow-down. */
export const DELAY_PER_FACTOR_MS = 60;

interface ScaledTimer {
  cancelled: boolean;
  handle: ReturnType<typeof setTimeout> | undefined;
}

/**
 * The demo's time control. `factor` 1 is real time; 10 runs every Raft
 * timer ten times slower and delays each message's delivery so a person can
 * follow it. Only Raft's clock and message hand-off are slowed; the
 * transport's own timers (dial, idle, keep-alive) run in real time.
 */
export class SpeedControl {
  private f = 1;

  get factor(): number {
    return this.f;
  }

  set factor(v: number) {
    if (!Number.isFinite(v) || v < 1 || v > 100) throw new RangeError('speed factor must be within 1..100');
    this.f = v;
  }

  /** How long a message is held before it is handed to the transport. */
  delayMs(): number {
    return this.f <= 1 ? 0 : Math.round(DELAY_PER_FACTOR_MS * this.f);
  }

  /** A Raft clock whose timeouts stretch with the factor (read each time a timer is set, so Raft's repeating ticks follow a change). */
  readonly clock: Clock = {
    now: () => Date.now(),
    setTimeout: (fn, ms) => {
      const t: ScaledTimer = { cancelled: false, handle: undefined };
      t.handle = setTimeout(() => {
        if (!t.cancelled) fn();
      }, ms * this.f);
      return t as TimerHandle;
    },
    clearTimeout: (h) => {
      const t = h as ScaledTimer;
      t.cancelled = true;
      clearTimeout(t.handle);
    },
  };
}
