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
        if (this.state === 'reading') {
          this.state = 'failed';
          this.onClose(it);
        }
        return { done: true, value: undefined };
      },
    };
  }

  private async next(it: AsyncIterator<Uint8Array>): Promise<IteratorResult<Uint8Array>> {
    if (this.state !== 'reading') return { done: true, value: undefined };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.limits.readTimeoutMs);
    });
    const pending = it.next();
    let r: IteratorResult<Uint8Array> | 'timeout';
    try {
      r = await Promise.race([pending, timeout]);
    } catch (err) {
      this.state = 'failed';
      throw linkError('request body broken', err);
    } finally {
      clearTimeout(timer);
    }
    if (r === 'timeout') {
      pending.catch(() => {});
      this.state = 'timed-out';
      this.onClose(it);
      throw new RaftwireError(ErrorCode.TIMEOUT, `no request body data for ${this.limits.readTimeoutMs} ms`);
    }
    if (r.done) {
      this.state = 'complete';
      return { done: true, value: undefined };
    }
    this.bytesRead += r.value.byteLength;
    if (this.bytesRead > this.limits.maxBytes) {
      this.state = 'too-large';
      this.onClose(it);
      throw new RaftwireError(ErrorCode.FRAME_TOO_LARGE, `request body over the limit of ${this.limits.maxBytes} bytes`);
    }
    return { done: false, value: plainBytes(r.value) };
  }
}
