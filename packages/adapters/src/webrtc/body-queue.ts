import { ErrorCode, RaftwireError, bodyConsumedError } from '@raftwire/core';

export interface BodyQueueHooks {
  /** The consumer took `bytes` bytes off the queue (flow-control credit). */
  onConsumed?: (bytes: number) => void;
  /** The consumer stopped early (`return()` / `break`) before the end. */
  onCancel?: () => void;
}

/**
 * An incoming body: chunks pushed by the multiplexer, read by one consumer
 * as an async iterable. Bounded: pushing more than `maxQueuedBytes` that the
 * consumer has not taken yet fails the body with ERR_BUFFER_FULL (a sender
 * that respects flow-control credit never gets there).
 */
export class BodyQueue implements AsyncIterable<Uint8Array> {
  private chunks: Uint8Array[] = [];
  private queued = 0;
  private ended = false;
  private error: RaftwireError | undefined;
  private wakeup: (() => void) | undefined;
  private iterating = false;
  private finished = false;

  constructor(
    private readonly maxQueuedBytes: number,
    private readonly hooks: BodyQueueHooks = {},
  ) {}

  /** True once the consumer is done (end read, error read, or cancelled). */
  get done(): boolean {
    return this.finished;
  }

  /** Queues a chunk. Returns false (and fails the body with ERR_BUFFER_FULL) when it would pass the bound. */
  push(chunk: Uint8Array): boolean {
    if (this.ended || this.error || this.finished) return true;
    if (this.queued + chunk.length > this.maxQueuedBytes) {
      this.fail(
        new RaftwireError(ErrorCode.BUFFER_FULL, `receive queue over ${this.maxQueuedBytes} bytes: the sender ignored flow control`),
      );
      return false;
    }
    this.chunks.push(chunk);
    this.queued += chunk.length;
    this.wake();
    return true;
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  /** Fails the body; the consumer sees `error` after the chunks already queued are dropped. */
  fail(error: RaftwireError): void {
    if (this.ended || this.error) return;
    this.error = error;
    this.chunks = [];
    this.queued = 0;
    this.wake();
  }

  private wake(): void {
    const w = this.wakeup;
    this.wakeup = undefined;
    w?.();
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.iterating) throw bodyConsumedError();
    this.iterating = true;
    return {
      next: async (): Promise<IteratorResult<Uint8Array>> => {
        for (;;) {
          if (this.finished) return { done: true, value: undefined };
          const chunk = this.chunks.shift();
          if (chunk !== undefined) {
            this.queued -= chunk.length;
            this.hooks.onConsumed?.(chunk.length);
            return { done: false, value: chunk };
          }
          if (this.error) {
            this.finished = true;
            throw this.error;
          }
          if (this.ended) {
            this.finished = true;
            return { done: true, value: undefined };
          }
          await new Promise<void>((resolve) => {
            this.wakeup = resolve;
          });
        }
      },
      return: async (): Promise<IteratorResult<Uint8Array>> => {
        if (!this.finished) {
          this.finished = true;
          this.chunks = [];
          this.queued = 0;
          if (!this.ended && !this.error) this.hooks.onCancel?.();
        }
        return { done: true, value: undefined };
      },
    };
  }
}
