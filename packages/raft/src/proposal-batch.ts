/** What a {@link ProposalBatch} steps its proposals through. */
export interface ProposalSink {
  /** True while the Ready loop runs: it flushes the batch at its next turn. */
  looping(): boolean;
  /** Starts the Ready loop when it is idle (which flushes first). */
  kick(): void;
  /** Steps the proposals as one MsgProp; throws ERR_STOPPED, ERR_PROPOSAL_DROPPED, ... */
  propose(envelopes: Uint8Array[]): void;
}

interface Batch {
  envelopes: Uint8Array[];
  done: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Proposals queued while the Ready loop is busy, stepped together as one
 * MsgProp: the leader appends them together and sends one MsgApp per
 * follower (etcd batches proposals the same way under load). Every
 * proposal of a batch shares one promise: it resolves once the batch was
 * stepped and rejects (ERR_PROPOSAL_DROPPED when there is no leader to take
 * it) when stepping failed. The apply result comes separately.
 */
export class ProposalBatch {
  private batch: Batch | null = null;
  private flushScheduled = false;

  constructor(private readonly sink: ProposalSink) {}

  /** True while proposals wait to be stepped. */
  get pending(): boolean {
    return this.batch !== null;
  }

  /** Queues one proposal envelope; resolves once its batch was stepped. */
  enqueue(envelope: Uint8Array): Promise<void> {
    let b = this.batch;
    if (!b) {
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      b = { envelopes: [], done, resolve, reject };
      this.batch = b;
      if (!this.flushScheduled && !this.sink.looping()) {
        // The running loop flushes at its next turn; otherwise flush after the current task's proposals.
        this.flushScheduled = true;
        queueMicrotask(() => {
          if (!this.flushScheduled) return;
          this.sink.kick();
          if (this.batch && !this.sink.looping()) this.flush();
        });
      }
    }
    b.envelopes.push(envelope);
    return b.done;
  }

  /** Steps every queued proposal now, as one MsgProp. */
  flush(): void {
    this.flushScheduled = false;
    const b = this.batch;
    if (!b) return;
    this.batch = null;
    try {
      this.sink.propose(b.envelopes);
    } catch (err) {
      b.reject(err);
      return;
    }
    b.resolve();
  }

  /** Rejects the queued batch (the node stops). */
  rejectAll(err: unknown): void {
    this.batch?.reject(err);
    this.batch = null;
  }
}
