import { abortError, sleep } from './abort.js';
import type { Clock } from './clock.js';
import { ErrorCode, RaftwireError } from './errors.js';

/**
 * A token bucket over bytes (TiKV's `snap-io-max-bytes-per-sec`): `take(n)` resolves once `n`
 * bytes fit under `bytesPerSecond`, with at most `burst` bytes (default: one tenth of a second's
 * worth, at least 64 KiB) sent ahead of the rate. A take larger than the burst is let through once
 * the bucket is full, and leaves it in debt, so any chunk size works. Waits honour `signal`
 * (ERR_ABORTED); no timer or listener outlives a wait.
 */
export class ByteRateLimiter {
  private tokens: number;
  private last: number;
  readonly burst: number;
  /** Milliseconds spent waiting so far. */
  waitedMs = 0;

  constructor(
    private readonly clock: Clock,
    readonly bytesPerSecond: number,
    burst?: number,
  ) {
    if (!(bytesPerSecond > 0) || !Number.isFinite(bytesPerSecond)) {
      throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `a byte rate limit must be a positive finite number, got ${bytesPerSecond}`);
    }
    this.burst = burst ?? Math.max(64 * 1024, Math.floor(bytesPerSecond / 10));
    this.tokens = this.burst;
    this.last = clock.now();
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.bytesPerSecond) / 1000);
  }

  /** Milliseconds until `n` bytes may go (0: now). */
  delayFor(n: number): number {
    this.refill();
    const need = Math.min(n, this.burst);
    if (this.tokens >= need) return 0;
    return Math.ceil(((need - this.tokens) * 1000) / this.bytesPerSecond);
  }

  /** Waits until `n` bytes may go, then takes them. */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw abortError(signal.reason);
    for (;;) {
      const ms = this.delayFor(n);
      if (ms === 0) break;
      const t0 = this.clock.now();
      try {
        await sleep(this.clock, ms, signal);
      } finally {
        this.waitedMs += this.clock.now() - t0;
      }
    }
    this.tokens -= n;
  }
}
