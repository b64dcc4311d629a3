import type { ServerResponse } from 'node:http';
import { type HandlerResponse, type LinkHeaders, closeIterator, isReleasableBody, onAbort, textResponse } from '@raftwire/core';
import { drainOrClose } from './drain.js';

const STOPPED = Symbol('stopped');
/** Chunks of a releasable body written but not yet flushed to the socket, at most. */
const AHEAD = 2;

/** How a streamed response body ended. */
export type WriteOutcome = 'complete' | 'stopped' | 'failed';

/**
 * Writes a handler's response. A whole-bytes body goes out with a
 * Content-Length. An iterable body is written chunk by chunk as it comes: the
 * head is flushed first, each chunk goes to the socket at once (no Nagle, no
 * buffering), and a full socket buffer is waited out ('drain') before the
 * next chunk is asked for. A {@link ReleasableBody} (the stream writer's, whose chunks are batch
 * buffers it reuses) is instead kept at most two chunks ahead of the socket: the next chunk is
 * asked for while the last two are still being written, so encoding overlaps the socket, and
 * each chunk is handed back from its write callback, once Node no longer reads it (also when
 * the write fails: the callback then carries the error, and the chunk is not read again).
 * When `stop` fires (requester gone, server closing)
 * the iteration ends early and the source's `return()` is called; pending
 * `next()` calls are not awaited, so a source should also watch the
 * request's signal.
 */
export async function writeHandlerResponse(
  res: ServerResponse,
  response: HandlerResponse,
  extraHeaders: LinkHeaders,
  stop: AbortSignal,
): Promise<WriteOutcome> {
  const headers: Record<string, string> = { ...response.headers, ...extraHeaders };
  const body = response.body;
  if (body === undefined || body instanceof Uint8Array) {
    const bytes = body ?? new Uint8Array(0);
    if (response.status !== 204 && response.status !== 304) headers['content-length'] = String(bytes.byteLength);
    res.writeHead(response.status, headers);
    await new Promise<void>((resolve) => {
      res.end(bytes.byteLength > 0 ? bytes : undefined, () => resolve());
      res.once('close', resolve);
    });
    return 'complete';
  }

  res.writeHead(response.status, headers);
  res.flushHeaders();
  const releasable = isReleasableBody(body) ? body : undefined;
  releasable?.acceptReleases();
  let inFlight = 0;
  let wakeWriter: (() => void) | null = null;
  const written = (chunk: Uint8Array): (() => void) => {
    return () => {
      inFlight--;
      releasable?.releaseChunk(chunk);
      const w = wakeWriter;
      wakeWriter = null;
      w?.();
    };
  };
  /** Resolves once fewer than AHEAD chunks are in flight, or the response closed. */
  const belowAhead = (): Promise<void> =>
    new Promise((resolve) => {
      const settle = (): void => {
        res.off('close', settle);
        wakeWriter = null;
        resolve();
      };
      wakeWriter = settle;
      res.on('close', settle);
    });
  const it = body[Symbol.asyncIterator]();
  let disposeStop = (): void => {};
  const stopped = new Promise<typeof STOPPED>((resolve) => {
    disposeStop = onAbort(stop, () => resolve(STOPPED));
  });
  let exhausted = false;
  try {
    for (;;) {
      const pending = it.next();
      const r = await Promise.race([pending, stopped]);
      if (r === STOPPED || stop.aborted) {
        // Even a source that ended itself on the same signal gets its return().
        pending.catch(() => {});
        return 'stopped';
      }
      if (r.done) {
        exhausted = true;
        break;
      }
      if (r.value.byteLength === 0) continue;
      if (releasable !== undefined) {
        inFlight++;
        res.write(r.value, written(r.value));
        if (inFlight >= AHEAD && !res.destroyed) {
          if ((await Promise.race([belowAhead(), stopped])) === STOPPED) return 'stopped';
        }
        continue;
      }
      if (!res.write(r.value)) {
        if ((await Promise.race([drainOrClose(res), stopped])) === STOPPED) return 'stopped';
      }
    }
    await new Promise<void>((resolve) => {
      res.end(() => resolve());
      res.once('close', resolve);
    });
    return 'complete';
  } catch (err) {
    // Headers are out: the only way to tell the requester is to cut the connection.
    res.destroy(err instanceof Error ? err : new Error(String(err)));
    exhausted = true;
    return 'failed';
  } finally {
    disposeStop();
    if (!exhausted) closeIterator(it);
  }
}

/** Writes a plain-text answer (core's {@link textResponse}) at once, for answers the adapter gives itself. */
export function writeText(res: ServerResponse, status: number, text: string, headers: LinkHeaders = {}): void {
  const r = textResponse(status, text, headers);
  const bytes = r.body as Uint8Array;
  res.writeHead(r.status, { ...r.headers, 'content-length': String(bytes.byteLength) });
  res.end(bytes);
}
