import { describe, expect, it } from 'vitest';
import { ErrorCode, isRaftwireError, systemClock } from '@raftwire/core';
import { TrackingClock } from '@raftwire/core/testing';
import { OutgoingConn } from '../src/outgoing-conn.js';

describe('OutgoingConn (etcd TestCloseNotifier)', () => {
  it('is open until closed, then ends the consumer and rejects writes', async () => {
    const conn = new OutgoingConn(systemClock);
    expect(conn.closed).toBe(false);
    const it = conn[Symbol.asyncIterator]();
    const pending = it.next();
    await conn.write(new Uint8Array([1]), 1000);
    expect((await pending).value).toEqual(new Uint8Array([1]));
    const reasons: string[] = [];
    conn.onClose((r) => reasons.push(r));
    conn.close('done');
    expect(conn.closed).toBe(true);
    expect(reasons).toEqual(['done']);
    expect((await it.next()).done).toBe(true);
    const err = await conn.write(new Uint8Array([2]), 1000).catch((e: unknown) => e);
    expect(isRaftwireError(err, ErrorCode.LINK)).toBe(true);
  });

  it('closes on the request signal and times out a write nobody takes, leaving no timer', async () => {
    const clock = new TrackingClock();
    const ac = new AbortController();
    const conn = new OutgoingConn(clock, ac.signal);
    const err = await conn.write(new Uint8Array([1]), 30).catch((e: unknown) => e);
    expect(isRaftwireError(err, ErrorCode.LINK)).toBe(true);
    expect(conn.closed).toBe(true);
    expect(clock.activeTimers).toBe(0);
    const conn2 = new OutgoingConn(clock, ac.signal);
    ac.abort();
    expect(conn2.closed).toBe(true);
  });

  it('refuses a second write while one is pending', async () => {
    const conn = new OutgoingConn(systemClock);
    const first = conn.write(new Uint8Array([1]), 1000);
    const second = await conn.write(new Uint8Array([2]), 1000).catch((e: unknown) => e);
    expect(isRaftwireError(second, ErrorCode.LINK)).toBe(true);
    expect((await conn[Symbol.asyncIterator]().next()).value).toEqual(new Uint8Array([1]));
    await first;
  });
});
