import { ChildAbort, sleep } from './abort.js';
import { readAll } from './body.js';
import type { TransportContext } from './context.js';
import { ErrorCode, RaftwireError } from './errors.js';
import { type Id, formatId } from './ids.js';
import { LogRateLimiter } from './log-rate-limiter.js';
import type { Logger } from './logger.js';
import { MetricName } from './metrics.js';
import { joinUrl } from './urls.js';
import { RaftPath } from './wire.js';

/** What a prober knows about one peer. */
export interface ProbingStatus {
  healthy: boolean;
  /** Smoothed round-trip time in ms (EWMA, α = 0.125); 0 before the first success. */
  srttMs: number;
  /** Our clock minus theirs, corrected by half the SRTT; positive = we are ahead. */
  clockDriftMs: number;
  /** Probes completed (successes + losses). */
  total: number;
  loss: number;
  lastError: string;
}

/**
 * GET /raft/probing every `probe` ms: RTT smoothed like TCP's SRTT, a clock
 * drift estimate, and a warning when our clock is ahead by more than
 * `clockDriftWarn` ms. Rotates to the next URL on failure.
 */
export class Prober {
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  private urls: string[];
  private picked = 0;
  private readonly st: ProbingStatus = { healthy: false, srttMs: 0, clockDriftMs: 0, total: 0, loss: 0, lastError: '' };
  private readonly log: Logger;
  private readonly warnLimiter: LogRateLimiter;
  private readonly peerHex: string;

  constructor(
    private readonly ctx: TransportContext,
    readonly peerId: Id,
    urls: readonly string[],
  ) {
    this.urls = [...urls];
    this.peerHex = formatId(peerId);
    this.log = ctx.logger.child({ 'remote-peer-id': this.peerHex });
    this.warnLimiter = new LogRateLimiter(ctx.clock, 30_000);
  }

  get status(): Readonly<ProbingStatus> {
    return this.st;
  }

  update(urls: readonly string[]): void {
    this.urls = [...urls];
    this.picked = 0;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort(new RaftwireError(ErrorCode.STOPPED, 'prober stopped'));
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      await this.probeOnce(signal);
      try {
        await sleep(this.ctx.clock, this.ctx.timeouts.probe, signal);
      } catch {
        return;
      }
    }
  }

  /** One probe; updates the status. */
  async probeOnce(signal: AbortSignal): Promise<void> {
    const clock = this.ctx.clock;
    const url = this.urls[this.picked % this.urls.length] as string;
    const child = new ChildAbort(signal, clock, Math.max(this.ctx.timeouts.dial, this.ctx.timeouts.probe));
    const start = clock.now();
    try {
      const res = await this.ctx.link.request(url, {
        method: 'GET',
        path: RaftPath.probing,
        headers: this.ctx.requestHeaders(),
        signal: child.signal,
      });
      const body = await readAll(res.body, 4096, child.signal);
      if (res.status !== 200) throw new RaftwireError(ErrorCode.UNEXPECTED_STATUS, `probing answered ${res.status}`);
      const parsed = JSON.parse(new TextDecoder().decode(body)) as { OK?: unknown; Now?: unknown };
      const remoteNow = typeof parsed.Now === 'string' ? Date.parse(parsed.Now) : Number.NaN;
      if (parsed.OK !== true || Number.isNaN(remoteNow)) throw new RaftwireError(ErrorCode.DECODE, 'bad probing response');
      const end = clock.now();
      const rtt = end - start;
      this.st.srttMs = this.st.total === this.st.loss ? rtt : this.st.srttMs * 0.875 + rtt * 0.125;
      this.st.total++;
      this.st.clockDriftMs = end - remoteNow - this.st.srttMs / 2;
      this.st.healthy = true;
      this.ctx.metrics.observe(MetricName.peerRoundTripSeconds, { To: this.peerHex }, this.st.srttMs / 1000);
      if (this.st.clockDriftMs > this.ctx.timeouts.clockDriftWarn && this.warnLimiter.take('drift') >= 0) {
        this.log.warn(
          { 'clock-drift': `${Math.round(this.st.clockDriftMs)}ms`, rtt: `${Math.round(this.st.srttMs)}ms` },
          'prober found high clock drift',
        );
      }
    } catch (err) {
      if (signal.aborted) return;
      this.st.total++;
      this.st.loss++;
      this.st.healthy = false;
      this.st.lastError = err instanceof Error ? err.message : String(err);
      this.picked = (this.picked + 1) % Math.max(1, this.urls.length);
      if (this.warnLimiter.take('unhealthy') >= 0) {
        this.log.warn({ error: this.st.lastError, url: joinUrl(url, RaftPath.probing) }, 'prober detected unhealthy status');
      }
    } finally {
      child.dispose();
    }
  }
}
