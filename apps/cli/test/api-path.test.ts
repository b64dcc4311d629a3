import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pathOf } from '../src/api-server.js';

/** The pathname, or 'throws' where URL refuses the target (so does pathOf, and the request gets 500 as before). */
const outcome = (f: () => string): string => {
  try {
    return f();
  } catch {
    return 'throws';
  }
};

describe('pathOf (the API request path without a URL per request)', () => {
  it('gives exactly what new URL(target).pathname gives, for any target', () => {
    const chars = [...'/.%\\?#:@!$&\'()*+,;=~_-aZ09 ü"<>{}`|^[]'];
    const target = fc.array(fc.constantFrom(...chars), { maxLength: 24 }).map((cs) => `/${cs.join('')}`);
    fc.assert(
      fc.property(target, (t) => {
        expect(outcome(() => pathOf(t))).toBe(outcome(() => new URL(t, 'http://x').pathname));
      }),
      { numRuns: 5_000 },
    );
    for (const t of ['/v1/kv/k17', '//host/x', '/v1/kv/../status', '/v1/kv/%2e%2e/x', '/v1/kv/a?b', '*', 'http://h/p']) {
      expect(outcome(() => pathOf(t))).toBe(outcome(() => new URL(t, 'http://x').pathname));
    }
  });
});
