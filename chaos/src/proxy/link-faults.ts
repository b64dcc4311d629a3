/**
 * Faults of one direction of data between two members, and the pipe that
 * applies them to the bytes of one TCP connection.
 *
 * TCP never loses, duplicates or reorders bytes inside a connection, so
 * neither does this: every fault is a change in *when* bytes arrive, or the
 * end of the connection.
 *
 * - delay / jitter: each chunk arrives `delayMs` plus a uniform `[0, jitterMs)`
 *   later, never before the chunk ahead of it (order is kept).
 * - loss: a lost segment is retransmitted after a retransmission timeout
 *   (Linux: at least 200 ms, doubling while the retransmissions are lost too)
 *   and everything behind it waits (head-of-line blocking). So each chunk,
 *   with probability `loss`, is held back 200 ms, 400 ms, … (one more doubling
 *   for each further loss with the same probability, at most 3.2 s). Sustained
 *   loss also ends connections (keep-alive and user timeouts, middleboxes):
 *   each chunk, with probability `loss / 50`, resets the connection.
 * - bandwidth: chunks leave one after another at `bandwidth` bytes/s (a
 *   slow link), split into pieces of at most 16 KiB so pacing is smooth.
 * - blocked (one-way partition): bytes in this direction are held, as a
 *   network that drops every packet while TCP keeps retransmitting; the
 *   sender feels backpressure once the proxy holds 1 MiB. Healing delivers
 *   what was held, as TCP would if the connection is still alive.
 * - cut: handled by the proxy (every connection between the pair is reset and
 *   new ones are reset as soon as they arrive).
 */
import type { Socket } from 'node:net';

export interface LinkFaults {
  /** Added one-way latency, ms. */
  delayMs: number;
  /** Extra latency, uniform in [0, jitterMs). */
  jitterMs: number;
  /** Probability that a chunk is "lost" (see the module comment), in [0, 1). */
  loss: number;
  /** Bytes per second; 0 for no limit. */
  bandwidth: number;
  /** Data in this direction does not arrive until healed. */
  blocked: boolean;
  /** Connections between the two members are reset and new ones refused. */
  cut: boolean;
}

export const HEALTHY: Readonly<LinkFaults> = Object.freeze({
  delayMs: 0,
  jitterMs: 0,
  loss: 0,
  bandwidth: 0,
  blocked: false,
  cut: false,
});

/** True when the link adds nothing. */
export function isHealthy(f: LinkFaults): boolean {
  return f.delayMs === 0 && f.jitterMs === 0 && f.loss === 0 && f.bandwidth === 0 && !f.blocked && !f.cut;
}

/** A short description: `delay 40±20ms loss 5% 64 KiB/s blocked`. */
export function describeFaults(f: LinkFaults): string {
  const parts: string[] = [];
  if (f.delayMs || f.jitterMs) parts.push(`delay ${f.delayMs}±${f.jitterMs}ms`);
  if (f.loss) parts.push(`loss ${(f.loss * 100).toFixed(0)}%`);
  if (f.bandwidth) parts.push(`${Math.round(f.bandwidth / 1024)} KiB/s`);
  if (f.blocked) parts.push('blocked');
  if (f.cut) parts.push('cut');
  return parts.length ? parts.join(' ') : 'healthy';
}

const PIECE = 16 * 1024;
const HIGH_WATER = 1024 * 1024;
const RTO_MS = 200;
const MAX_RTO_MS = 3200;
/** Of the chunks "lost", the share that end the connection. */
const RESET_SHARE = 1 / 50;

interface Piece {
  bytes: Buffer;
  at: number;
}

/** Counters of one direction of a connection. */
export interface PipeStats {
  bytes: number;
  stalls: number;
}

/**
 * Moves the bytes `source` reads to `sink`, shaped by the faults `faults()`
 * returns at the time each chunk arrives (and, for `blocked`, at the time it
 * would be delivered). `onReset` is called when the loss model ends the
 * connection.
 */
export class FaultPipe {
  readonly stats: PipeStats = { bytes: 0, stalls: 0 };
  private readonly queue: Piece[] = [];
  private queued = 0;
  private lastAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private waitingDrain = false;
  private ended = false;
  private closed = false;

  constructor(
    private readonly source: Socket,
    private readonly sink: Socket,
    private readonly faults: () => LinkFaults,
    private readonly random: () => number,
    private readonly onReset: () => void,
  ) {
    source.on('data', (chunk: Buffer) => this.onData(chunk));
    source.on('end', () => {
      this.ended = true;
      this.pump();
    });
  }

  /** Re-evaluates what can be delivered (call when the faults change). */
  kick(): void {
    this.pump();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    const f = this.faults();
    const now = performance.now();
    for (let off = 0; off < chunk.length; off += PIECE) {
      const bytes = chunk.subarray(off, Math.min(chunk.length, off + PIECE));
      let at = now + f.delayMs + (f.jitterMs > 0 ? this.random() * f.jitterMs : 0);
      if (f.loss > 0 && this.random() < f.loss) {
        if (this.random() < RESET_SHARE) {
          this.onReset();
          return;
        }
        let rto = RTO_MS;
        while (rto < MAX_RTO_MS && this.random() < f.loss) rto *= 2;
        at += rto;
        this.stats.stalls++;
      }
      at = Math.max(at, this.lastAt);
      if (f.bandwidth > 0) at += (bytes.length / f.bandwidth) * 1000;
      this.lastAt = at;
      this.queue.push({ bytes, at });
      this.queued += bytes.length;
    }
    if (this.queued > HIGH_WATER) this.source.pause();
    this.pump();
  }

  private pump(): void {
    if (this.closed || this.waitingDrain) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.faults().blocked) return;
    const now = performance.now();
    while (this.queue.length > 0) {
      const p = this.queue[0] as Piece;
      if (p.at > now) {
        this.timer = setTimeout(() => this.pump(), Math.max(1, Math.ceil(p.at - now)));
        return;
      }
      this.queue.shift();
      this.queued -= p.bytes.length;
      this.stats.bytes += p.bytes.length;
      if (!this.sink.write(p.bytes)) {
        this.waitingDrain = true;
        this.sink.once('drain', () => {
          this.waitingDrain = false;
          this.pump();
        });
        return;
      }
    }
    if (this.queued <= HIGH_WATER / 2 && this.source.isPaused()) this.source.resume();
    if (this.ended && this.queue.length === 0 && !this.sink.writableEnded) this.sink.end();
  }
}
