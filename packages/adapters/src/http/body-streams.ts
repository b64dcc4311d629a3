import { ErrorCode, type LinkBody, RaftwireError, closeIterator, isRaftwireError, onAbort, readAll } from '@raftwire/core';

/** An empty body. */
export const emptyBody: AsyncIterable<Uint8Array> = {
  [Symbol.asyncIterator]: () => ({ next: async () => ({ done: true, value: undefined }) }),
};

/** Hooks into the lifecycle of a request body stream. */
export interface UploadHooks {
  /** The consumer asked for the first chunk: the connection is up and the upload started. */
  onStart?(): void;
  /** The source ended; every chunk was handed to the consumer. */
  onEnd?(): void;
  /**
   * Aborting stops the upload: the source's `return()` is called (some fetch
   * implementations never cancel a request body stream on abort).
   */
  signal?: AbortSignal;
}

/**
 * Wraps an async iterable in a pull-based ReadableStream (high-water mark 0:
 * nothing is read ahead of the consumer). Cancelling the stream calls
 * `return()` on the source.
 */
export function iterableToReadableStream(source: AsyncIterable<Uint8Array>, hooks: UploadHooks = {}): ReadableStream<Uint8Array> {
  let it: AsyncIterator<Uint8Array> | undefined;
  let closed = false;
  let disposeAbort = (): void => {};
  const stop = (): void => {
    if (closed) return;
    closed = true;
    disposeAbort();
    closeIterator(it);
  };
  disposeAbort = onAbort(hooks.signal, stop);
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (closed) {
          controller.error(hooks.signal?.reason);
          return;
        }
        if (it === undefined) {
          hooks.onStart?.();
          it = source[Symbol.asyncIterator]();
        }
        const r = await it.next();
        if (closed) {
          controller.error(hooks.signal?.reason);
          return;
        }
        if (r.done) {
          closed = true;
          disposeAbort();
          hooks.onEnd?.();
          controller.close();
        } else if (r.value.byteLength > 0) {
          controller.enqueue(r.value);
        }
      },
      cancel() {
        stop();
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Reads a streamed body into one buffer, failing with ERR_BUFFER_FULL once it
 * passes `maxBytes`, or with ERR_ABORTED once `signal` fires (checked between
 * chunks; the source's `return()` is called either way). Whole bytes are
 * already buffered and are returned as they are.
 */
export async function collectBody(body: LinkBody, maxBytes: number, signal?: AbortSignal): Promise<Uint8Array> {
  if (body instanceof Uint8Array) return body;
  try {
    return await readAll(body, maxBytes, signal);
  } catch (err) {
    if (!isRaftwireError(err, ErrorCode.FRAME_TOO_LARGE)) throw err;
    throw new RaftwireError(
      ErrorCode.BUFFER_FULL,
      `request body over ${maxBytes} bytes cannot be buffered (this runtime cannot stream request bodies)`,
      { cause: err },
    );
  }
}
