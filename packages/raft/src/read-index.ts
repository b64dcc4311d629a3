import { type Clock, every, type Id } from '@raftwire/core';
import type { ReadState } from './read-only.js';
import { Wait } from './wait.js';

/** What the coalescer needs from the node. */
export interface ReadIndexHost {
  readonly clock: Clock;
  /** Re-issue period of a request that got no answer (no leader, lost message): one election timeout. */
  readonly retryMs: number;
  /** False once the node stops: no request is issued any more. */
  running(): boolean;
  /** Steps a ReadIndex request with this context and kicks the Ready loop. */
  request(ctx: Uint8Array): void;
}

interface Round {
  ctx: Uint8Array;
  reads: Set<number>;
  retry: { stop(): void };
}

/**
 * Coalesces linearizable reads into ReadIndex requests, as etcd's
 * `linearizableReadLoop` does: while one request is in flight, newly
 * arriving reads wait for the next one, which serves them all (it is issued
 * after each of them began, so each stays linearizable). Each read is a
 * waiter of its own: aborting one leaves the others in their round.
 */
export class ReadIndexCoalescer {
  private readonly reads = new Wait<number, number>();
  /** Reads waiting for the next request. */
  private readonly pending = new Set<number>();
  /** The request in flight and the reads it serves. */
  private round: Round | null = null;
  private nextRead = 0;
  private nextRequest = 0n;

  constructor(
    private readonly id: Id,
    private readonly incarnation: number,
    private readonly host: ReadIndexHost,
  ) {}

  /** Resolves with the read index that serves a read beginning now. */
  read(signal?: AbortSignal): Promise<number> {
    const id = ++this.nextRead;
    const index = this.reads.register(id, signal, () => {
      this.pending.delete(id);
      this.round?.reads.delete(id);
    });
    if (!this.reads.isRegistered(id)) return index; // aborted already
    this.pending.add(id);
    if (!this.round) this.startRound();
    return index;
  }

  /** Read states of a Ready: the one answering the request in flight resolves its reads. */
  onReadStates(states: readonly ReadState[]): void {
    for (const rs of states) {
      const round = this.round;
      if (round && sameBytes(rs.requestCtx, round.ctx)) this.finish(round, rs.index);
    }
  }

  /** Rejects every read, pending or in flight (the node stops). */
  rejectAll(err: unknown): void {
    this.round?.retry.stop();
    this.round = null;
    this.pending.clear();
    this.reads.rejectAll(err);
  }

  /** Issues one ReadIndex request for every pending read. */
  private startRound(): void {
    if (this.round || this.pending.size === 0 || !this.host.running()) return;
    const reads = new Set(this.pending);
    this.pending.clear();
    // Unique per request across members and restarts: member ID, incarnation, request number.
    const ctx = new Uint8Array(20);
    const dv = new DataView(ctx.buffer);
    dv.setBigUint64(0, this.id);
    dv.setUint32(8, this.incarnation);
    dv.setBigUint64(12, ++this.nextRequest);
    const issue = (): void => {
      if (this.host.running() && this.round === round) this.host.request(ctx);
    };
    // A request dropped (no leader, lost message) is re-issued every election timeout.
    const round: Round = { ctx, reads, retry: every(this.host.clock, this.host.retryMs, issue) };
    this.round = round;
    issue();
  }

  private finish(round: Round, index: number): void {
    round.retry.stop();
    this.round = null;
    for (const id of round.reads) this.reads.trigger(id, index);
    this.startRound();
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
