import { expect } from 'vitest';
import { RaftwireError } from '../src/index.js';

/** Runs `fn`; returns the code of the RaftwireError it throws, failing on any other throw. */
export function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof RaftwireError)) throw new Error(`expected a RaftwireError, got ${String(err)}`, { cause: err });
    return err.code;
  }
  return undefined;
}

/** Splits `bytes` at the given cut points (sorted, deduplicated, in range). */
export function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.min(Math.max(c, 0), bytes.length)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let last = 0;
  for (const p of points) {
    parts.push(bytes.subarray(last, p));
    last = p;
  }
  parts.push(bytes.subarray(last));
  return parts;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function expectNoHeapGrowth<T>(fn: () => T, maxBytes = 8 * 1024 * 1024): T {
  const before = process.memoryUsage();
  const result = fn();
  const after = process.memoryUsage();
  expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(maxBytes);
  expect(after.heapUsed - before.heapUsed).toBeLessThan(maxBytes);
  return result;
}
