import { abortError } from './abort.js';
import { concatBytes } from './bytes.js';
import { ErrorCode, RaftwireError } from './errors.js';
import { tooLarge } from './framing.js';
import type { LinkBody } from './link.js';

/** Turns a LinkBody (bytes or chunks) into chunks. */
export async function* bodyChunks(body: LinkBody | undefined): AsyncGenerator<Uint8Array> {
  if (body === undefined) return;
  if (body instanceof Uint8Array) {
    if (body.length > 0) yield body;
    return;
  }
  yield* body;
}

/**
 * Reads a whole body up to `cap` bytes: ERR_FRAME_TOO_LARGE above it, ERR_ABORTED once
 * `signal` fires (checked between chunks). The body's iterator is closed either way.
 */
export async function readAll(body: LinkBody, cap: number, signal?: AbortSignal): Promise<Uint8Array> {
  if (body instanceof Uint8Array) {
    if (body.length > cap) throw tooLarge(body.length, cap, 'body');
    return body;
  }
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
    if (signal?.aborted) throw abortError(signal.reason);
    total += chunk.length;
    if (total > cap) throw tooLarge(total, cap, 'body');
    parts.push(chunk);
  }
  return parts.length === 1 ? (parts[0] as Uint8Array) : concatBytes(parts);
}

/**
 * Closes an iterator early (calls `return()`), best effort: never throws and never rejects, and
 * does not wait for a `return()` that hangs. Safe on undefined and on iterators without `return`.
 */
export function closeIterator(it: AsyncIterator<unknown> | undefined): void {
  try {
    const r = it?.return?.();
    if (r !== undefined) void Promise.resolve(r).catch(() => {});
  } catch {
    // closing is best effort
  }
}

/**
 * Closes a body nobody will read (a response whose requester went away, a request body left
 * unread), best effort. Whole bytes need nothing; an iterable gets `return()` on a fresh
 * iterator, which ends it for the single-use bodies links hand out.
 */
export function closeBody(body: LinkBody | undefined): void {
  if (body === undefined || body instanceof Uint8Array) return;
  try {
    closeIterator(body[Symbol.asyncIterator]());
  } catch {
    // a body already being read refuses a second iterator: its reader closes it
  }
}

/** Reads at most `cap` bytes of a response body as text (error bodies), then stops reading. */
export async function readText(body: AsyncIterable<Uint8Array>, cap = 4096): Promise<string> {
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of body) {
      parts.push(chunk.subarray(0, cap - total));
      total += Math.min(chunk.length, cap - total);
      if (total >= cap) break;
    }
  } catch {
    // a body that fails while we read an error text: keep what we have
  }
  return new TextDecoder().decode(concatBytes(parts));
}

/** What a single-use body throws when it is iterated a second time. */
export function bodyConsumedError(what = 'body'): RaftwireError {
  return new RaftwireError(ErrorCode.BODY_CONSUMED, `a ${what} can be read only once`);
}

const encoder = new TextEncoder();

export function textBytes(s: string): Uint8Array {
  return encoder.encode(s);
}
