import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoundedQueue } from '../src/bounded-queue.js';

describe('BoundedQueue (a ring)', () => {
  it('behaves as a FIFO array capped at its capacity, across wrap-arounds, growth and clear', () => {
    const op = fc.oneof(
      fc.record({ push: fc.nat({ max: 40 }) }),
      fc.record({ shift: fc.nat({ max: 40 }) }),
      fc.constant({ clear: true as const }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70 }), fc.array(op, { maxLength: 60 }), (capacity, ops) => {
        const q = new BoundedQueue<number>(capacity);
        const model: number[] = [];
        let next = 0;
        for (const o of ops) {
          if ('push' in o) {
            for (let i = 0; i < o.push; i++) {
              const ok = q.tryPush(next);
              expect(ok).toBe(model.length < capacity);
              if (ok) model.push(next);
              next++;
            }
          } else if ('shift' in o) {
            for (let i = 0; i < o.shift; i++) expect(q.tryShift()).toBe(model.shift());
          } else {
            expect(q.clear()).toEqual(model.splice(0));
          }
          expect(q.length).toBe(model.length);
        }
        expect(q.clear()).toEqual(model);
      }),
      { numRuns: 500 },
    );
  });

  it('hands a push straight to a waiting consumer', async () => {
    const q = new BoundedQueue<string>(1);
    const got = q.shift();
    expect(q.tryPush('a')).toBe(true);
    expect(await got).toBe('a');
    expect(q.length).toBe(0);
  });
});
