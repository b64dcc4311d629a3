import { describe, expect, it } from 'vitest';
import { ByteRateLimiter, ErrorCode, isRaftwireError } from '@raftwire/core';
import { ManualClock, settle } from '@raftwire/core/testing';

describe('ByteRateLimiter', () => {
  it('lets a burst through at once, then holds bytes to the rate', async () => {
    const clock = new ManualClock();
    const l = new ByteRateLimiter(clock, 1000, 500);
    await l.take(500); // the burst
    let done = false;
    const p = l.take(250).then(() => {
      done = true;
    });
    await settle();
    expect(done).toBe(false);
    await clock.advance(249);
    expect(done).toBe(false);
    await clock.advance(1);
    await p;
    expect(done).toBe(true);
    expect(l.waitedMs).toBe(250);
  });

  it('takes a chunk larger than the burst once the bucket is full, leaving it in debt', async () => {
    const clock = new ManualClock();
    const l = new ByteRateLimiter(clock, 1000, 100);
    await l.take(1000); // full bucket: goes, debt of 900 bytes
    let done = false;
    const p = l.take(100).then(() => {
      done = true;
    });
    await clock.advance(999);
    expect(done).toBe(false);
    await clock.advance(1);
    await p;
    expect(done).toBe(true);
  });

  it('stops waiting with ERR_ABORTED when the signal fires, leaving no timer', async () => {
    const clock = new ManualClock();
    const l = new ByteRateLimiter(clock, 10, 10);
    await l.take(10);
    const ac = new AbortController();
    const p = l.take(10, ac.signal);
    await settle();
    expect(clock.pending).toBe(1);
    ac.abort();
    const err = await p.catch((e: unknown) => e);
    expect(isRaftwireError(err, ErrorCode.ABORTED)).toBe(true);
    expect(clock.pending).toBe(0);
    await expect(l.take(1, ac.signal)).rejects.toMatchObject({ code: ErrorCode.ABORTED });
  });

  it('refuses a rate that is not a positive finite number', () => {
    for (const r of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new ByteRateLimiter(new ManualClock(), r)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    }
  });
});
