import { ManualClock } from '@raftwire/core/testing';
import { describe, expect, it } from 'vitest';
import { DemoTime } from '../src/shared/demo-time.js';
import { Deliveries, FLIGHT_MS } from '../src/shared/deliveries.js';
import type { MessageInfo } from '../src/shared/message-info.js';

function msg(from: string, to: string, type = 'MsgApp', index = 0): MessageInfo {
  return { from, to, type, term: 2, index, logTerm: 2, commit: 0, entries: 0, reject: false, snapshotIndex: 0 };
}

function setup(factor = 5): { real: ManualClock; time: DemoTime; d: Deliveries; got: string[]; hold: (m: MessageInfo) => void } {
  const real = new ManualClock();
  const time = new DemoTime(real);
  time.setFactor(factor);
  const d = new Deliveries(time);
  const got: string[] = [];
  const hold = (m: MessageInfo): void => void d.hold(m, () => got.push(`${m.type} ${m.from}>${m.to} #${m.index}`));
  return { real, time, d, got, hold };
}

describe('Deliveries', () => {
  it('hands a message on at once at real-time speed', () => {
    const { d, got, hold } = setup(1);
    hold(msg('1', '2'));
    expect(got).toEqual(['MsgApp 1>2 #0']);
    expect(d.size).toBe(0);
    expect(d.delivered).toBe(1);
  });

  it('holds each message for its flight when slowed, then releases it', async () => {
    const { real, d, got, hold } = setup(5);
    hold(msg('1', '2'));
    expect(got).toEqual([]);
    expect(d.size).toBe(1);
    await real.advance(FLIGHT_MS * 5 - 1);
    expect(got).toEqual([]);
    await real.advance(1);
    expect(got).toEqual(['MsgApp 1>2 #0']);
  });

  it('while paused releases nothing; step releases exactly the one due first', async () => {
    const { real, time, d, got, hold } = setup(5);
    hold(msg('1', '2', 'MsgApp', 1));
    await real.advance(100);
    hold(msg('3', '2', 'MsgHeartbeat', 2));
    hold(msg('1', '3', 'MsgApp', 3));
    time.pause();
    await real.advance(60_000);
    expect(got).toEqual([]);
    expect(d.step()?.info.index).toBe(1);
    expect(got).toEqual(['MsgApp 1>2 #1']);
    expect(d.delivered).toBe(1);
    expect(d.size).toBe(2);
    await real.advance(60_000);
    expect(got).toHaveLength(1);
    expect(d.step()?.info.index).toBe(2);
    expect(d.step()?.info.index).toBe(3);
    expect(d.step()).toBeUndefined();
    expect(d.delivered).toBe(3);
  });

  it('paused at real-time speed, new messages wait too; resume releases them in order', async () => {
    const { real, time, got, hold } = setup(1);
    time.pause();
    hold(msg('1', '2', 'MsgApp', 1));
    hold(msg('1', '2', 'MsgApp', 2));
    hold(msg('2', '1', 'MsgAppResp', 3));
    await real.advance(1000);
    expect(got).toEqual([]);
    time.resume();
    await real.advance(0);
    expect(got).toEqual(['MsgApp 1>2 #1', 'MsgApp 1>2 #2', 'MsgAppResp 2>1 #3']);
  });

  it('keeps each link first in, first out across a speed change', async () => {
    const { real, time, got, hold } = setup(25);
    hold(msg('1', '2', 'MsgApp', 1));
    time.setFactor(1);
    hold(msg('1', '2', 'MsgApp', 2)); // would be due at once, but #1 is still on this link
    hold(msg('3', '2', 'MsgApp', 3)); // another link: not held back
    expect(got).toEqual(['MsgApp 3>2 #3']);
    await real.advance(FLIGHT_MS);
    expect(got).toEqual(['MsgApp 3>2 #3', 'MsgApp 1>2 #1', 'MsgApp 1>2 #2']);
  });

  it('drops what a cut link or a stopped member selects, and says so', async () => {
    const { real, d, got, hold } = setup(5);
    const dropped: string[] = [];
    d.listen({ dropped: (x, why) => dropped.push(`${x.info.from}>${x.info.to}: ${why}`) });
    hold(msg('1', '2'));
    hold(msg('2', '1'));
    hold(msg('3', '4'));
    expect(d.drop((i) => (i.from === '1' && i.to === '2') || (i.from === '2' && i.to === '1'), 'link 1–2 cut')).toBe(2);
    expect(dropped).toEqual(['1>2: link 1–2 cut', '2>1: link 1–2 cut']);
    await real.advance(10_000);
    expect(got).toEqual(['MsgApp 3>4 #0']);
    expect(d.dropped).toBe(2);
  });
});
