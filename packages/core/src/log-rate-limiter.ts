import type { Clock } from './clock.js';

/**
 * Lets one log line per key through every `intervalMs` and counts the rest,
 * so a flood of drops (etcd-io/etcd#3462) yields a few lines that say how many
 * were suppressed.
 */
export class LogRateLimiter {
  private readonly state = new Map<string, { last: number; suppressed: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly maxKeys = 1024,
  ) {}

  /** Returns the number of lines suppressed since the last one, or -1 to suppress this one. */
  take(key: string): number {
    const now = this.clock.now();
    const s = this.state.get(key);
    if (s === undefined) {
      if (this.state.size >= this.maxKeys) this.state.clear();
      this.state.set(key, { last: now, suppressed: 0 });
      return 0;
    }
    if (now - s.last >= this.intervalMs) {
      const n = s.suppressed;
      s.last = now;
      s.suppressed = 0;
      return n;
    }
    s.suppressed++;
    return -1;
  }
}
