import { abortError, sleep } from './abort.js';
import type { Clock } from './clock.js';
import { ErrorCode, RaftwireError } from './errors.js';

/** Options of the adaptive snapshot pacer (`options.snapshotPacing`). */
export interface SnapshotPacingOptions {
  /**
   * A heartbeat round trip longer than this many ms, sent while a snapshot to that peer is in
   * flight, counts as the snapshot crowding the heartbeats. Default: learnt, 1.5 × the 99th
   * percentile of the last 1024 round trips seen while no snapshot was in flight (at least
   * `minTargetMs`; nothing is paced before 32 such round trips were seen).
   */
  targetMs?: number;
  /** The learnt target is never below this many ms (default 2). */
  minTargetMs?: number;
  /** The pacer never slows a snapshot below this many bytes/s (default 16 MiB/s). */
  minBytesPerSecond?: number;
}

const DEFAULT_MIN_TARGET_MS = 2;
const DEFAULT_MIN_RATE = 16 * 1024 * 1024;
/** The learnt target: this factor × the idle round trips' 99th percentile. */
const TARGET_FACTOR = 1.5;
/** Idle round trips kept for the learnt target, and how many are needed before pacing. */
const IDLE_WINDOW = 1024;
const IDLE_MIN = 32;
/** Heartbeats sent and not answered yet that are remembered (older ones are forgotten). */
const MAX_OUTSTANDING = 256;
/** A heartbeat unanswered this long is taken as lost. */
const LOST_MS = 2000;
/** Multiplicative decrease on a crowded round trip, and the least time between two decreases. */
const DECREASE = 0.7;
const DECREASE_EVERY_MS = 10;
/**
 * Growth per uncrowded round trip: 99 of them undo one decrease, so the rate settles where about
 * 1 % of the heartbeats during a snapshot are over the target, whatever the heartbeat rate.
 */
const GROWTH = DECREASE ** (-1 / 99);
/** Window over which the snapshot's actual send rate is measured. */
const MEASURE_MS = 50;

/**
 * Paces the snapshots to one peer by the heartbeat round trips to that peer (a delay-based
 * AIMD, as LEDBAT paces background transfers by queueing delay): raft's MsgHeartbeat goes out,
 * its MsgHeartbeatResp comes back over the message streams, and the time between is what a
 * snapshot between the same two processes stretches. While a snapshot is in flight, a round
 * trip longer than the target cuts the snapshot's byte rate to 0.7 × what it was actually
 * sending (at most once per 10 ms), and each round trip within it lets the rate grow by 1/99 of
 * that, so the rate settles where about 1 % of round trips are over the target. The rate starts
 * unlimited, never falls below `minBytesPerSecond`, and is unlimited again once it has grown to
 * 4 × what the snapshot sends. Round trips are matched to heartbeats in order (one stream, one
 * answer per heartbeat); heartbeats unanswered for 2 s are forgotten. Without round trips (no
 * heartbeats: not the leader) nothing is paced. Clock-driven, no timers of its own.
 */
export class SnapshotPacer {
  /** Throws ERR_INVALID_ARGUMENT for an option that is not a positive finite number. */
  static validate(options: SnapshotPacingOptions): void {
    for (const k of ['targetMs', 'minTargetMs', 'minBytesPerSecond'] as const) {
      const v = options[k];
      if (v !== undefined && !(typeof v === 'number' && v > 0 && Number.isFinite(v))) {
        throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `options.snapshotPacing.${k} must be a positive number, got ${String(v)}`);
      }
    }
  }

  /** Current byte rate for snapshots to this peer; Infinity: not pacing. */
  rate = Number.POSITIVE_INFINITY;

  /** True while the rate binds (a crowded round trip cut it and it has not grown back). */
  get pacing(): boolean {
    return Number.isFinite(this.rate);
  }
  /** The last round trips (ms) seen with no snapshot in flight, a ring of IDLE_WINDOW. */
  private readonly idle: number[] = [];
  private idleNext = 0;
  /** The target in force for the snapshots in flight (fixed when the first began). */
  private target: number | undefined;
  /** Round trips seen during snapshots, and how many of them were over the target. */
  crowded = 0;
  samplesDuring = 0;
  /** Milliseconds spent waiting so far. */
  waitedMs = 0;
  private sentAt: number[] = [];
  private active = 0;
  private lastDecrease = Number.NEGATIVE_INFINITY;
  private windowStart: number;
  private windowBytes = 0;
  private measured: number | undefined;
  private tokens = 0;
  private last: number;
  private readonly minRate: number;
  private readonly minTarget: number;

  constructor(
    private readonly clock: Clock,
    private readonly options: SnapshotPacingOptions = {},
  ) {
    SnapshotPacer.validate(options);
    this.minRate = options.minBytesPerSecond ?? DEFAULT_MIN_RATE;
    this.minTarget = options.minTargetMs ?? DEFAULT_MIN_TARGET_MS;
    const now = clock.now();
    this.windowStart = now;
    this.last = now;
  }

  /** The round trip (ms) above which a heartbeat counts as crowded; undefined until one is known. */
  get targetMs(): number | undefined {
    if (this.active > 0) return this.target;
    return this.learnTarget();
  }

  /** 99th percentile of the idle round trips seen (ms); undefined before IDLE_MIN of them. */
  get idleRttP99(): number | undefined {
    if (this.idle.length < IDLE_MIN) return undefined;
    const sorted = [...this.idle].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))];
  }

  private learnTarget(): number | undefined {
    if (this.options.targetMs !== undefined) return this.options.targetMs;
    const p99 = this.idleRttP99;
    return p99 === undefined ? undefined : Math.max(this.minTarget, TARGET_FACTOR * p99);
  }

  /** A MsgHeartbeat to this peer was handed to a stream. */
  heartbeatSent(): void {
    const now = this.clock.now();
    const oldest = this.sentAt[0];
    if (oldest !== undefined && now - oldest > LOST_MS) this.sentAt = this.sentAt.filter((t) => now - t <= LOST_MS);
    if (this.sentAt.length >= MAX_OUTSTANDING) this.sentAt.shift();
    this.sentAt.push(now);
  }

  /** A MsgHeartbeatResp from this peer arrived. */
  heartbeatAnswered(): void {
    const at = this.sentAt.shift();
    if (at === undefined) return;
    this.sample(this.clock.now() - at);
  }

  /** One heartbeat round trip (ms). */
  sample(rtt: number): void {
    if (this.active === 0) {
      if (this.idle.length < IDLE_WINDOW) this.idle.push(rtt);
      else this.idle[this.idleNext] = rtt;
      this.idleNext = (this.idleNext + 1) % IDLE_WINDOW;
      return;
    }
    const target = this.target;
    if (target === undefined) return;
    const now = this.clock.now();
    this.samplesDuring++;
    if (rtt > target) {
      this.crowded++;
      if (now - this.lastDecrease >= DECREASE_EVERY_MS) {
        this.lastDecrease = now;
        this.setRate(Math.max(this.minRate, Math.min(this.rate, this.sendingRate(now)) * DECREASE));
      }
    } else if (Number.isFinite(this.rate)) {
      this.setRate(this.rate * GROWTH);
    }
  }

  /** What the snapshot actually sends (bytes/s): the last window's, or the current one's so far. */
  private sendingRate(now: number): number {
    if (this.measured !== undefined) return this.measured;
    const ms = now - this.windowStart;
    return this.windowBytes > 0 && ms > 0 ? (this.windowBytes * 1000) / ms : 4 * this.minRate;
  }

  private setRate(rate: number): void {
    // Grown past 4 × what the snapshot actually sends: the pacer no longer binds it.
    this.rate = this.measured !== undefined && rate > 4 * this.measured ? Number.POSITIVE_INFINITY : rate;
  }

  /** A snapshot send to this peer began; call `end()` when it is over. */
  begin(): void {
    if (this.active++ === 0) {
      const now = this.clock.now();
      this.target = this.learnTarget();
      this.windowStart = now;
      this.windowBytes = 0;
      this.measured = undefined;
      this.last = now;
      this.tokens = 0;
    }
  }

  end(): void {
    this.active = Math.max(0, this.active - 1);
  }

  /** Waits until `n` more snapshot bytes may go at the current rate, then counts them. */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw abortError(signal.reason);
    let paced = false;
    for (;;) {
      const now = this.clock.now();
      paced = Number.isFinite(this.rate);
      if (!paced) break;
      // A token bucket with a burst of 10 ms of bytes (64 KiB at least), refilled at `rate`.
      const burst = Math.max(64 * 1024, this.rate / 100);
      this.tokens = Math.min(burst, this.tokens + (Math.max(0, now - this.last) * this.rate) / 1000);
      this.last = now;
      const need = Math.min(n, burst);
      if (this.tokens >= need) break;
      const ms = Math.ceil(((need - this.tokens) * 1000) / this.rate);
      try {
        await sleep(this.clock, ms, signal);
      } finally {
        this.waitedMs += this.clock.now() - now;
      }
    }
    if (paced) this.tokens -= n;
    else {
      // Unpaced bytes leave no debt: a cut starts from an empty bucket.
      this.tokens = 0;
      this.last = this.clock.now();
    }
    // Bytes taken after the window began, over its length: what the snapshot actually sends.
    const now = this.clock.now();
    if (now - this.windowStart >= MEASURE_MS) {
      this.measured = (this.windowBytes * 1000) / (now - this.windowStart);
      this.windowStart = now;
      this.windowBytes = 0;
    }
    this.windowBytes += n;
  }
}
