import { ErrorCode, RaftwireError, bodyConsumedError, plainBytes } from '@raftwire/core';
import { linkError } from './link-errors.js';

/** What became of a request body, for the status the server answers with. */
export type RequestBodyState = 'unread' | 'reading' | 'complete' | 'too-large' | 'timed-out' | 'failed';

export interface RequestBodyLimits {
  /** Bytes allowed in the body (Infinity for none). */
  maxBytes: number;
  /** Longest wait for the next chunk while the handler is waiting for one, in ms (slowloris guard). */
  readTimeoutMs: number;
}

/**
 * A request body as the protocol handler sees it, whatever server received it
 * (node:http, `Deno.serve`, `Bun.serve`, a Worker): an async iterable of plain
 * `Uint8Array` chunks, read once. It throws ERR_FRAME_TOO_LARGE past
 * `maxBytes`, ERR_TIMEOUT when the client sends nothing for `readTimeoutMs`
 * while the handler waits (time the handler spends not reading does not
 * count), and ERR_LINK when the connection breaks; the server then answers
 * 413, 408 or nothing, whatever the handler returned ({@link answerRaftRequest}).
 *
 * Closing the iteration early (`return()`) leaves the source to the server:
 * a Node server closes the connection, a fetch server cancels the body.
 */
export class BoundedRequestBody implements AsyncIterable<Uint8Array> {
  state: RequestBodyState = 'unread';
  bytesRead = 0;

  /** `source` is read at most once; `onClose` runs when the handler stops reading before the end. */
  constructor(
    private readonly source: AsyncIterable<Uint8Array>,
    private readonly limits: RequestBodyLimits,
    private readonly onClose: (it: AsyncIterator<Uint8Array>) => void = () => {},
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.state !== 'unread') throw bodyConsumedError('request body');
    this.state = 'reading';
    const it = this.source[Symbol.asyncIterator]();
    return {
      next: () => this.next(it),
      return: async () => {
        this.disarm();
        if (this.state === 'reading') {
          this.state = 'failed';
          this.onClose(it);
        }
        return { done: true, value: undefined };
      },
    };
  }

  /** When the wait for the current chunk began (Date.now()), or -1 while the handler is not waiting. */
  private waitingSince = -1;
  /** Fails the current wait (set while waiting). */
  private failWait: ((err: RaftwireError) => void) | undefined;
  /**
   * One timer per body, not one per chunk: it is armed by the first wait, and when it fires it
   * times the current wait out, re-arms itself for what is left of it, or lapses when the handler
   * is not waiting (the next wait arms it again). A body streaming many chunks a second costs one
   * timer per `readTimeoutMs` instead of a timer, a timeout promise and a race per chunk.
   */
  private timer: ReturnType<typeof setTimeout> | undefined;

  private arm(ms: number, it: AsyncIterator<Uint8Array>): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.waitingSince < 0 || this.state !== 'reading') return;
      const left = this.waitingSince + this.limits.readTimeoutMs - Date.now();
      if (left > 0) {
        this.arm(left, it);
        return;
      }
      this.state = 'timed-out';
      this.onClose(it);
      this.failWait?.(new RaftwireError(ErrorCode.TIMEOUT, `no request body data for ${this.limits.readTimeoutMs} ms`));
    }, ms);
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async next(it: AsyncIterator<Uint8Array>): Promise<IteratorResult<Uint8Array>> {
    if (this.state !== 'reading') return { done: true, value: undefined };
    const pending = it.next();
    this.waitingSince = Date.now();
    if (this.timer === undefined) this.arm(this.limits.readTimeoutMs, it);
    let r: IteratorResult<Uint8Array>;
    try {
      r = await new Promise<IteratorResult<Uint8Array>>((resolve, reject) => {
        this.failWait = reject;
        pending.then(resolve, (err: unknown) => reject(linkError('request body broken', err)));
      });
    } catch (err) {
      pending.catch(() => {});
      this.disarm();
      if (this.state === 'reading') this.state = 'failed';
      throw err;
    } finally {
      this.waitingSince = -1;
      this.failWait = undefined;
    }
    if (r.done) {
      this.disarm();
      this.state = 'complete';
      return { done: true, value: undefined };
    }
    this.bytesRead += r.value.byteLength;
    if (this.bytesRead > this.limits.maxBytes) {
      this.disarm();
      this.state = 'too-large';
      this.onClose(it);
      throw new RaftwireError(ErrorCode.FRAME_TOO_LARGE, `request body over the limit of ${this.limits.maxBytes} bytes`);
    }
    return { done: false, value: plainBytes(r.value) };
  }
}
