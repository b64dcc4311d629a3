import { isRaftwireError, RaftwireError } from '@raftwire/core';
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Wait, WaitTime } from '../src/wait.js';

const settled = async (p: Promise<unknown>): Promise<string> => {
  const tick = new Promise<string>((r) => setTimeout(() => r('pending'), 0));
  return Promise.race([
    p.then(
      (v) => `resolved ${String(v)}`,
      (e: unknown) => `rejected ${isRaftwireError(e) ? e.code : String(e)}`,
    ),
    tick,
  ]);
};

describe('Wait (per-key waiters)', () => {
  it('settles each key once, and an aborted waiter leaves alone, removing only itself', async () => {
    const w = new Wait<number, string>();
    const ac = new AbortController();
    let cleaned = 0;
    const a = w.register(1, ac.signal, () => cleaned++);
    const b = w.register(2);
    const c = w.register(3, new AbortController().signal);
    ac.abort();
    expect(await settled(a)).toBe('rejected ERR_ABORTED');
    expect(cleaned).toBe(1);
    expect(w.size).toBe(2);
    expect(w.trigger(1, 'late')).toBe(false);
    expect(w.trigger(2, 'two')).toBe(true);
    expect(w.trigger(2, 'again')).toBe(false);
    expect(await settled(b)).toBe('resolved two');
    expect(w.fail(3, new RaftwireError('ERR_STOPPED', 'stopped'))).toBe(true);
    expect(await settled(c)).toBe('rejected ERR_STOPPED');
    expect(w.size).toBe(0);
  });

  it('rejects at once for a signal aborted before registering, and rejectAll rejects everyone', async () => {
    const w = new Wait<string, number>();
    const pre = w.register('x', AbortSignal.abort());
    expect(await settled(pre)).toBe('rejected ERR_ABORTED');
    expect(w.isRegistered('x')).toBe(false);
    const all = [w.register('a'), w.register('b')];
    w.rejectAll(new RaftwireError('ERR_STOPPED', 'stopped'));
    expect(await Promise.all(all.map(settled))).toEqual(['rejected ERR_STOPPED', 'rejected ERR_STOPPED']);
    expect(w.size).toBe(0);
  });
});

describe('Wait with one signal shared by many waiters', () => {
  it('adds one abort listener for them all, and removes it once the last of them settles', async () => {
    const w = new Wait<number, string>();
    const ac = new AbortController();
    const ps = [1, 2, 3].map((k) => w.register(k, ac.signal));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    w.trigger(1, 'one');
    w.fail(2, new RaftwireError('ERR_STOPPED', 'stopped'));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    w.trigger(3, 'three');
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    expect(await Promise.all(ps.map(settled))).toEqual(['resolved one', 'rejected ERR_STOPPED', 'resolved three']);
    // A later waiter on the same signal gets a listener again, and an abort then reaches it.
    const late = w.register(4, ac.signal);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    ac.abort();
    expect(await settled(late)).toBe('rejected ERR_ABORTED');
    expect(w.size).toBe(0);
  });

  it('an abort rejects only the waiters still registered with that signal, each running its own onAborted', async () => {
    const w = new Wait<number, string>();
    const shared = new AbortController();
    const other = new AbortController();
    const cleaned: number[] = [];
    const a = w.register(1, shared.signal, () => cleaned.push(1));
    const b = w.register(2, shared.signal, () => cleaned.push(2));
    const c = w.register(3, other.signal, () => cleaned.push(3));
    const d = w.register(4);
    w.trigger(1, 'one');
    shared.abort();
    expect(await settled(a)).toBe('resolved one');
    expect(await settled(b)).toBe('rejected ERR_ABORTED');
    expect(await settled(c)).toBe('pending');
    expect(await settled(d)).toBe('pending');
    expect(cleaned).toEqual([2]);
    expect(w.size).toBe(2);
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(1);
    w.rejectAll(new RaftwireError('ERR_STOPPED', 'stopped'));
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(0);
    expect(await settled(c)).toBe('rejected ERR_STOPPED');
    expect(await settled(d)).toBe('rejected ERR_STOPPED');
  });
});

describe('WaitTime (deadline waiters)', () => {
  it('trigger(d) resolves every waiter with a deadline up to d; aborting one of several at the same deadline leaves the rest', async () => {
    const t = new WaitTime();
    const ac = new AbortController();
    const first = t.wait(5, ac.signal);
    const second = t.wait(5);
    const third = t.wait(5);
    const later = t.wait(9);
    ac.abort();
    expect(await settled(first)).toBe('rejected ERR_ABORTED');
    t.trigger(4);
    expect(await settled(second)).toBe('pending');
    t.trigger(5);
    expect(await settled(second)).toBe('resolved undefined');
    expect(await settled(third)).toBe('resolved undefined');
    expect(await settled(later)).toBe('pending');
    expect(t.size).toBe(1);
    t.rejectAll(new RaftwireError('ERR_STOPPED', 'stopped'));
    expect(await settled(later)).toBe('rejected ERR_STOPPED');
    expect(t.size).toBe(0);
  });
});
