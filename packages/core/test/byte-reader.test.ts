import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteReader } from '@raftwire/core';

// ByteReader keeps each buffer's `buffer` and `byteOffset` from `reset` (reading `.buffer` per view
// is a C++ call): whatever order buffers are pointed at, every view must still be of the buffer the
// reader points at now, at the right place.
describe('ByteReader views after reset', () => {
  it('views are of the current buffer at its offset, for any sequence of buffers over shared memory (Buffer or Uint8Array)', () => {
    const pool = new ArrayBuffer(256);
    new Uint8Array(pool).forEach((_, i, a) => {
      a[i] = (i * 131 + 7) & 0xff;
    });
    const other = new Uint8Array(64).map((_, i) => 255 - i);
    const view = fc.oneof(
      fc
        .tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1, max: 56 }), fc.boolean())
        .map(([off, len, asBuffer]) => (asBuffer ? Buffer.from(pool, off, len) : new Uint8Array(pool, off, len))),
      fc.integer({ min: 0, max: 63 }).map((off) => other.subarray(off)),
    );
    const step = fc.tuple(view, fc.nat(), fc.nat(), fc.array(fc.nat(), { maxLength: 4 }));
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 12 }), fc.boolean(), (steps, reuseFirst) => {
        const r = new ByteReader(steps[0]![0]);
        steps.forEach(([buf, a, b, takes], i) => {
          const target = reuseFirst && i % 2 === 1 ? steps[0]![0] : buf;
          const start = a % (target.length + 1);
          const end = start + (b % (target.length - start + 1));
          r.reset(target, start, end);
          expect(r.buf).toBe(target);
          let pos = start;
          for (const t of takes) {
            const n = t % (end - pos + 1);
            const out = r.bytes(n);
            expect(out.constructor).toBe(Uint8Array);
            expect(out.buffer).toBe(target.buffer);
            expect(out.byteOffset).toBe(target.byteOffset + pos);
            expect([...out]).toEqual([...target.subarray(pos, pos + n)]);
            pos += n;
            expect(r.pos).toBe(pos);
          }
        });
      }),
    );
  });

  it('a reader made over a buffer cuts views of it before any reset', () => {
    const pool = new Uint8Array(32).map((_, i) => i);
    const r = new ByteReader(pool.subarray(8, 24), 4, 16);
    const out = r.bytes(3);
    expect(out.byteOffset).toBe(12);
    expect([...out]).toEqual([12, 13, 14]);
  });
});
