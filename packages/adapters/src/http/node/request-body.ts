import type { IncomingMessage } from 'node:http';
import { ErrorCode, RaftwireError, bodyConsumedError, plainBytes } from '@raftwire/core';
import { linkError } from '../link-errors.js';

/** What became of a request body, for the status the adapter answers with. */
export type RequestBodyState = 'unread' | 'reading' | 'complete' | 'too-large' | 'timed-out' | 'failed';

export interface RequestBodyLimits {
  /** Bytes allowed in the body (Infinity for none). */
  maxBytes: number;
  /** Longest wait for the next chunk while the handler is waiting for one, in ms (slowloris guard). */
  readTimeoutMs: number;
}

/**
 * A Node request body as the handler sees it: an async iterable of plain
 * `Uint8Array` chunks, read once. It throws ERR_FRAME_TOO_LARGE past
 * `maxBytes`, ERR_TIMEOUT when the client sends nothing for `readTimeoutMs`
 * while the handler waits (time the handler spends not reading does not
 * count), and ERR_LINK when the connection breaks; the adapter then answers
 * 413, 408 or nothing, whatever the handler returned.
 */
export class RequestBody implements AsyncIterable<Uint8Array> {
  state: RequestBodyState = 'unread';
  bytesRead = 0;

  constructor(
    private readonly req: IncomingMessage,
    private readonly limits: RequestBodyLimits,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.state !== 'unread') throw bodyConsumedError('request body');
    this.state = 'reading';
    const it = this.req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    return {
      next: () => this.next(it),
      return: async () => {
        if (this.state === 'reading') this.state = 'failed';
        // Leave the socket to the adapter: it answers with Connection: close when a body is left unread.
        return { done: true, value: undefined };
      },
    };
  }

  private async next(it: AsyncIterator<Buffer>): Promise<IteratorResult<Uint8Array>> {
    if (this.state !== 'reading') return { done: true, value: undefined };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.limits.readTimeoutMs);
    });
    const pending = it.next();
    let r: IteratorResult<Buffer> | 'timeout';
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
      throw new RaftwireError(ErrorCode.TIMEOUT, `no request body data for ${this.limits.readTimeoutMs} ms`);
    }
    if (r.done) {
      this.state = 'complete';
      return { done: true, value: undefined };
    }
    this.bytesRead += r.value.byteLength;
    if (this.bytesRead > this.limits.maxBytes) {
      this.state = 'too-large';
      throw new RaftwireError(ErrorCode.FRAME_TOO_LARGE, `request body over the limit of ${this.limits.maxBytes} bytes`);
    }
    return { done: false, value: plainBytes(r.value) };
  }
}
