import { concatBytes } from './bytes.js';
import { abortError } from './abort.js';
import type { LinkBody } from './link.js';
import { tooLarge } from './framing.js';

/** Turns a LinkBody (bytes or chunks) into chunks. */
export async function* bodyChunks(body: LinkBody | undefined): AsyncGenerator<Uint8Array> {
  if (body === undefined) return;
  if (body instanceof Uint8Array) {
    if (body.length > 0) yield body;
    return;
  }
  yield* body;
}

/** Reads a whole body up to `cap` bytes; ERR_FRAME_TOO_LARGE above it. */
export async function readAll(body: AsyncIterable<Uint8Array>, cap: number, signal?: AbortSignal): Promise<Uint8Array> {
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
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return new TextDecoder().decode(out);
}

const encoder = new TextEncoder();

export function textBytes(s: string): Uint8Array {
  return encoder.encode(s);
}
