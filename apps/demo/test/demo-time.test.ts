import { type Clock, every } from '@raftwire/core';
import { ManualClock } from '@raftwire/core/testing';
import { describe, expect, it } from 'vitest';
import { DemoTime, TICK_MS } from '../src/shared/demo-time.js';

// DemoTime schedules its timers on a real clock; core's ManualClock stands in for it so real time
// moves only when a test says so. Repeating timers are core's every(), as RaftNode's tick is.
function setup(): { real: ManualClock; time: DemoTime; fired: string[] } {
  const real = new ManualClock();
  return { real, time: new DemoTime(real), fired: [] };
}

describe('DemoTime', () => {
  it('runs repeating timers and timeouts in due order at real-time speed', async () => {
    const { real, time, fired } = setup();
    const clock = time.clock();
    every(clock, 100, () => fired.push(`tick@${time.now()}`));
    clock.setTimeout(() => fired.push(`once@${time.now()}`), 150);
    await real.advance(300);
    expect(fired).toEqual(['tick@100', 'once@150', 'tick@200', 'tick@300']);
  });

  it('runs `factor` times slower than real time', async () => {
    const { real, time, fired } = setup();
    time.setFactor(5);
    every(time.clock(), TICK_MS, () => fired.push('tick'));
    await real.advance(499);
    expect(fired).toEqual([]);
    await real.advance(1);
    expect(fired).toEqual(['tick']);
    expect(time.now()).toBe(100);
    await real.advance(1000);
    expect(fired).toHaveLength(3);
  });

  it('stands still while paused, and resumes without a burst of missed firings', async () => {
    const { real, time, fired } = setup();
    every(time.clock(), 100, () => fired.push(`tick@${time.now()}`));
    await real.advance(150);
    time.pause();
    const frozen = time.now();
    await real.advance(10_000);
    expect(time.now()).toBe(frozen);
    expect(fired).toEqual(['tick@100']);
    time.resume();
    await real.advance(50);
    await real.advance(100);
    expect(fired).toEqual(['tick@100', 'tick@200', 'tick@300']);
  });

  it('advance() while paused fires each repeating timer of that period exactly once', async () => {
    const { real, time, fired } = setup();
    const a = time.clock();
    const b = time.clock();
    every(a, TICK_MS, () => fired.push('a'));
    await real.advance(40);
    every(b, TICK_MS, () => fired.push('b'));
    time.pause();
    expect(() => time.resume()).not.toThrow();
    time.pause();
    expect(time.advance(TICK_MS)).toBe(2);
    expect(fired.sort()).toEqual(['a', 'b']);
    expect(time.paused).toBe(true);
    await real.advance(5000);
    expect(fired).toHaveLength(2);
    time.resume();
    expect(() => time.advance(TICK_MS)).toThrow(/paused/);
  });

  it('a tick the real clock fired late happens at the pause, so Tick then fires every timer once', () => {
    // A busy event loop runs real timers late: the tick due at 100 has not fired at 150.
    let now = 0;
    const late: Clock = { now: () => now, setTimeout: () => ({}), clearTimeout: () => {} };
    const time = new DemoTime(late);
    const fired: string[] = [];
    every(time.clock(), TICK_MS, () => fired.push(`tick@${time.now()}`));
    now = 150;
    time.pause();
    // It fires as the pause begins (re-armed from then, as a late timer is when time runs).
    expect(fired).toEqual(['tick@150']);
    expect(time.advance(TICK_MS)).toBe(1);
    expect(fired).toEqual(['tick@150', 'tick@250']);
  });

  it('advance() moves the clocks only: events (deliveries) wait for time to run', async () => {
    const { real, time, fired } = setup();
    every(time.clock(), TICK_MS, () => fired.push('tick'));
    time.at(50, () => fired.push('delivery'));
    time.pause();
    time.advance(TICK_MS);
    time.advance(TICK_MS);
    expect(fired).toEqual(['tick', 'tick']);
    time.resume();
    await real.advance(0);
    expect(fired).toEqual(['tick', 'tick', 'delivery']);
  });

  it('a speed change mid-wait stretches only what is left of it', async () => {
    const { real, time, fired } = setup();
    time.clock().setTimeout(() => fired.push('done'), 100);
    await real.advance(50);
    time.setFactor(10);
    await real.advance(499);
    expect(fired).toEqual([]);
    await real.advance(1);
    expect(fired).toEqual(['done']);
  });

  it('a repeating timer that fell behind (a throttled tab) fires once, then keeps its period', () => {
    // A real clock whose timers fire only when the test says, as late as it likes.
    let now = 0;
    let pending: (() => void) | undefined;
    const late = {
      now: () => now,
      setTimeout: (fn: () => void) => {
        pending = fn;
        return fn;
      },
      clearTimeout: () => {
        pending = undefined;
      },
    };
    const time = new DemoTime(late);
    let n = 0;
    every(time.clock(), 100, () => n++);
    now = 1050; // ten periods late
    pending?.();
    expect(n).toBe(1);
    now = 1100;
    pending?.();
    expect(n).toBe(1);
    now = 1150;
    pending?.();
    expect(n).toBe(2);
  });

  it('tells how long ago a tick fired, for drawing a timer between ticks', async () => {
    const { real, time } = setup();
    const clock = time.clock();
    expect(clock.sinceLast(TICK_MS)).toBeUndefined();
    const tick = every(clock, TICK_MS, () => {});
    await real.advance(130);
    expect(clock.sinceLast(TICK_MS)).toBe(30);
    await real.advance(100);
    expect(clock.sinceLast(TICK_MS)).toBe(30);
    tick.stop();
  });

  it('refuses a factor outside 1..100', () => {
    const { time } = setup();
    for (const f of [0, 0.5, 101, Number.NaN]) expect(() => time.setFactor(f)).toThrow(RangeError);
  });
});
