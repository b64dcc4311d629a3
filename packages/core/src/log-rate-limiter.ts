import type { Clock } from './clock.js';
import type { LogFields, LogFn, Logger } from './logger.js';

/** The key that keys beyond `maxKeys` share, so a flood of distinct keys stays bounded too. */
const OVERFLOW_KEY = '\u0000overflow';

/**
 * Lets one log line per key through every `intervalMs` and counts the rest,
 * so a flood of drops (etcd-io/etcd#3462) yields a few lines that say how many
 * were suppressed. At most `maxKeys` keys are tracked: keys not seen for a
 * minute (or ten intervals, if longer) are forgotten, and new keys beyond the
 * cap share one budget, so even a flood of distinct keys stays bounded.
 */
export class LogRateLimiter {
  private readonly state = new Map<string, { last: number; suppressed: number }>();

  constructor(
    private readonly clock: Clock,
    readonly intervalMs: number,
    private readonly maxKeys = 1024,
  ) {}

  /** Returns the number of lines suppressed since the last one, or -1 to suppress this one. */
  take(key: string): number {
    const now = this.clock.now();
    let k = key;
    if (!this.state.has(k) && this.state.size >= this.maxKeys) {
      this.forgetQuiet(now);
      if (this.state.size >= this.maxKeys) k = OVERFLOW_KEY;
    }
    const s = this.state.get(k);
    if (s === undefined) {
      this.state.set(k, { last: now, suppressed: 0 });
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

  private forgetQuiet(now: number): void {
    const horizon = Math.max(60_000, 10 * this.intervalMs);
    for (const [k, s] of this.state) if (k !== OVERFLOW_KEY && s.suppressed === 0 && now - s.last >= horizon) this.state.delete(k);
  }
}

/**
 * A logger whose info, warn and error lines go through `limiter`, keyed by
 * message: one line per message per interval, the next one carrying
 * `suppressed-count`. For code whose lines a remote can trigger at will (the
 * protocol handler logs once per bad request). Debug and trace pass through.
 * Details in parentheses at the end of a message (`… (remote cluster 7)`) are
 * not part of its key, so a remote cannot mint new keys by varying them.
 */
export function rateLimitedLogger(logger: Logger, limiter: LogRateLimiter): Logger {
  const limited =
    (fn: LogFn): LogFn =>
    (obj: LogFields, msg?: string) => {
      const text = msg ?? '';
      const paren = text.indexOf(' (');
      const suppressed = limiter.take(paren < 0 ? text : text.slice(0, paren));
      if (suppressed < 0) return;
      fn(suppressed > 0 ? { ...obj, 'suppressed-count': suppressed } : obj, msg);
    };
  return {
    trace: (obj, msg) => logger.trace(obj, msg),
    debug: (obj, msg) => logger.debug(obj, msg),
    info: limited((obj, msg) => logger.info(obj, msg)),
    warn: limited((obj, msg) => logger.warn(obj, msg)),
    error: limited((obj, msg) => logger.error(obj, msg)),
    child: (bindings) => rateLimitedLogger(logger.child(bindings), limiter),
  };
}
