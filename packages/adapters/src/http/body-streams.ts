import { ErrorCode, type LinkBody, RaftwireError } from '@raftwire/core';

/** An empty body. */
export const emptyBody: AsyncIterable<Uint8Array> = {
  [Symbol.asyncIterator]: () => ({ next: async () => ({ done: true, value: undefined }) }),
};

/** A body as an async iterable (whole bytes become one chunk). */
export function bodyChunks(body: LinkBody): AsyncIterable<Uint8Array> {
  if (body instanceof Uint8Array) {
    return {
      async *[Symbol.asyncIterator]() {
        if (body.byteLength > 0) yield body;
      },
    };
  }
  return body;
}

/** A plain `Uint8Array` view of the same bytes (Node's `Buffer` is a subclass). */
export function plainBytes(chunk: Uint8Array): Uint8Array {
  return chunk.constructor === Uint8Array ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

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
  const stop = (): void => {
    if (closed) return;
    closed = true;
    void Promise.resolve(it?.return?.()).catch(() => {});
  };
  hooks.signal?.addEventListener('abort', stop, { once: true });
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
          hooks.signal?.removeEventListener('abort', stop);
          hooks.onEnd?.();
          controller.close();
        } else if (r.value.byteLength > 0) {
          controller.enqueue(r.value);
        }
      },
      cancel() {
        hooks.signal?.removeEventListener('abort', stop);
        stop();
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Reads a whole body into one buffer, failing with ERR_BUFFER_FULL once it
 * passes `maxBytes`, or with the signal's reason once it fires (checked
 * between chunks; the source's `return()` is called either way).
 */
export async function collectBody(body: LinkBody, maxBytes: number, signal?: AbortSignal): Promise<Uint8Array> {
  if (body instanceof Uint8Array) return body;
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
    if (signal?.aborted) throw signal.reason;
    total += chunk.byteLength;
    if (total > maxBytes) {
      throw new RaftwireError(
        ErrorCode.BUFFER_FULL,
        `request body over ${maxBytes} bytes cannot be buffered (this runtime cannot stream request bodies)`,
      );
    }
    parts.push(chunk);
  }
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
