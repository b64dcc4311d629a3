import { ErrorCode, RaftwireError } from '@raftwire/core';

/**
 * Timeout signals shared by the requests that start close together: every request that starts
 * within one `quantumMs` window gets the same signal, aborted `timeoutMs` after the window ends (so
 * a request waits at least `timeoutMs` and at most `timeoutMs + quantumMs`). Under load this is one
 * AbortController and one timer per window instead of an `AbortSignal.timeout` (a signal, a timer
 * and a weak registration) per request, which showed in the members' CPU profiles; the raft node's
 * waiters also share one listener per signal (`Wait`).
 *
 * The reason is an ERR_ABORTED RaftwireError, as a timed-out `AbortSignal.timeout` gives after
 * `abortError`. Timers are unref'd (a pending one never keeps the process alive).
 */
export class SharedTimeouts {
  private signalNow: AbortSignal | null = null;
  private windowEnd = 0;

  constructor(
    readonly timeoutMs: number,
    readonly quantumMs: number = Math.max(1, Math.min(100, Math.floor(timeoutMs / 100))),
  ) {
    if (!(timeoutMs > 0)) throw new RangeError('timeoutMs must be > 0');
    if (!(quantumMs > 0)) throw new RangeError('quantumMs must be > 0');
  }

  /** The signal of the current window (a new one when the last window has ended). */
  signal(): AbortSignal {
    const now = performance.now();
    if (this.signalNow !== null && now < this.windowEnd) return this.signalNow;
    const ac = new AbortController();
    const timer = setTimeout(() => {
      ac.abort(new RaftwireError(ErrorCode.ABORTED, `timed out after ${this.timeoutMs} ms`));
    }, this.timeoutMs + this.quantumMs);
    timer.unref?.();
    this.signalNow = ac.signal;
    this.windowEnd = now + this.quantumMs;
    return ac.signal;
  }
}
