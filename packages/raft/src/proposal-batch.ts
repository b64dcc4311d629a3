import { ErrorCode, isRaftwireError } from '@raftwire/core';

/** What a {@link ProposalBatch} steps its proposals through and reports to. */
export interface ProposalSink {
  /** True while the Ready loop runs: it flushes the batch at its next turn. */
  looping(): boolean;
  /** Starts the Ready loop when it is idle (which flushes first). */
  kick(): void;
  /** Steps the proposals as one MsgProp; throws ERR_STOPPED, ERR_PROPOSAL_DROPPED, ... */
  propose(envelopes: Uint8Array[]): void;
  /**
   * Stepping threw ERR_PROPOSAL_DROPPED (no leader to take them): the sink
   * re-enqueues the ones still wanted once a leader is known.
   */
  dropped(seqs: number[], envelopes: Uint8Array[]): void;
  /** Stepping failed otherwise (the node stopped, ...): every proposal of the batch fails with `err`. */
  failed(seqs: number[], err: unknown): void;
}

/**
 * Proposals queued while the Ready loop is busy, stepped together as one
 * MsgProp: the leader appends them together and sends one MsgApp per
 * follower (etcd batches proposals the same way under load). A proposal is
 * its sequence number and envelope, nothing more: no promise, closure or
 * object per proposal here. Whether its batch was stepped, dropped (then
 * retried by the sink) or failed is reported per batch; each proposal's
 * result comes from its waiter when the entry is applied.
 */
export class ProposalBatch {
  private seqs: number[] = [];
  private envelopes: Uint8Array[] = [];
  private flushScheduled = false;

  constructor(private readonly sink: ProposalSink) {}

  /** True while proposals wait to be stepped. */
  get pending(): boolean {
    return this.seqs.length > 0;
  }

  /** Proposals waiting to be stepped. */
  get size(): number {
    return this.seqs.length;
  }

  /** Queues one proposal; it is stepped with the others queued before the next flush. */
  enqueue(seq: number, envelope: Uint8Array): void {
    if (this.seqs.length === 0 && !this.flushScheduled && !this.sink.looping()) {
      // The running loop flushes at its next turn; otherwise flush after the current task's proposals.
      this.flushScheduled = true;
      queueMicrotask(() => {
        if (!this.flushScheduled) return;
        this.sink.kick();
        if (this.pending && !this.sink.looping()) this.flush();
      });
    }
    this.seqs.push(seq);
    this.envelopes.push(envelope);
  }

  /** Steps every queued proposal now, as one MsgProp. */
  flush(): void {
    this.flushScheduled = false;
    if (this.seqs.length === 0) return;
    const seqs = this.seqs;
    const envelopes = this.envelopes;
    this.seqs = [];
    this.envelopes = [];
    try {
      this.sink.propose(envelopes);
    } catch (err) {
      if (isRaftwireError(err, ErrorCode.PROPOSAL_DROPPED)) this.sink.dropped(seqs, envelopes);
      else this.sink.failed(seqs, err);
    }
  }

  /** Forgets the queued proposals (the node stops; their waiters are rejected by the node). */
  clear(): void {
    this.seqs = [];
    this.envelopes = [];
    this.flushScheduled = false;
  }
}
