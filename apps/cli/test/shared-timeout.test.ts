import { isRaftwireError } from '@raftwire/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SharedTimeouts } from '../src/shared-timeout.js';

describe('SharedTimeouts (one timeout signal per window of requests)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('hands requests of one window the same signal, aborted with ERR_ABORTED no earlier than the timeout', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const t = new SharedTimeouts(1_000, 10);
    const a = t.signal();
    vi.advanceTimersByTime(5);
    const b = t.signal();
    expect(b).toBe(a);
    vi.advanceTimersByTime(5);
    const c = t.signal(); // the window of `a` has ended
    expect(c).not.toBe(a);
    // `b` started 5 ms into the window: it must still be waiting 1 000 ms after it started.
    vi.advanceTimersByTime(999);
    expect(a.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(a.aborted).toBe(true);
    expect(isRaftwireError(a.reason) && a.reason.code).toBe('ERR_ABORTED');
    expect(c.aborted).toBe(false);
    vi.advanceTimersByTime(10);
    expect(c.aborted).toBe(true);
  });

  it('defaults the window to 1 % of the timeout, at most 100 ms and at least 1 ms', () => {
    expect(new SharedTimeouts(10_000).quantumMs).toBe(100);
    expect(new SharedTimeouts(60_000).quantumMs).toBe(100);
    expect(new SharedTimeouts(2_000).quantumMs).toBe(20);
    expect(new SharedTimeouts(50).quantumMs).toBe(1);
    expect(() => new SharedTimeouts(0)).toThrow(RangeError);
  });
});
