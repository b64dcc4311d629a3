import { describe, expect, it } from 'vitest';
import { ErrorCode, RaftwireError, SnapshotPacer, Transport, isRaftwireError } from '@raftwire/core';
import { ManualClock, settle } from '@raftwire/core/testing';

/** `n` heartbeat round trips of `rtt` ms each, one after the other. */
async function roundTrips(clock: ManualClock, p: SnapshotPacer, n: number, rtt: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    p.heartbeatSent();
    await clock.advance(rtt);
    p.heartbeatAnswered();
  }
}

describe('SnapshotPacer', () => {
  it('learns its target from idle round trips: 1.5 × their 99th percentile, after 32 of them', async () => {
    const clock = new ManualClock();
    const p = new SnapshotPacer(clock);
    await roundTrips(clock, p, 31, 2);
    expect(p.targetMs).toBeUndefined();
    await roundTrips(clock, p, 1, 2);
    expect(p.idleRttP99).toBe(2);
    expect(p.targetMs).toBe(3);
    // a floor for very fast links
    const q = new SnapshotPacer(clock, { minTargetMs: 5 });
    await roundTrips(clock, q, 40, 1);
    expect(q.targetMs).toBe(5);
  });

  it('does not pace before it knows a target, nor while round trips stay within it', async () => {
    const clock = new ManualClock();
    const p = new SnapshotPacer(clock);
    p.begin();
    await roundTrips(clock, p, 10, 50); // no idle round trips known: no target
    await p.take(1 << 20);
    expect(p.rate).toBe(Number.POSITIVE_INFINITY);
    p.end();
    await roundTrips(clock, p, 64, 2); // target 3 ms
    p.begin();
    await roundTrips(clock, p, 100, 3);
    expect(p.rate).toBe(Number.POSITIVE_INFINITY);
    expect(p.crowded).toBe(0);
    expect(p.samplesDuring).toBe(100);
    p.end();
  });

  it('cuts the rate to 0.7 × what the snapshot sends on a crowded round trip, and holds bytes to it', async () => {
    const clock = new ManualClock();
    const p = new SnapshotPacer(clock, { minBytesPerSecond: 1000 });
    await roundTrips(clock, p, 64, 1); // target 2 ms (the floor)
    p.begin();
    // The snapshot sends 1 000 000 bytes in 100 ms: 10 MB/s.
    for (let i = 0; i < 10; i++) {
      await p.take(100_000);
      await clock.advance(10);
    }
    await roundTrips(clock, p, 1, 5);
    expect(p.crowded).toBe(1);
    expect(p.rate).toBeCloseTo(7_000_000, -3);
    // A second crowded round trip within 10 ms of the first does not cut again.
    p.sample(5);
    expect(p.rate).toBeCloseTo(7_000_000, -3);
    expect(p.crowded).toBe(2);
    // Paced now: the bucket holds 10 ms of bytes (70 000); the next 70 000 wait 10 ms for it.
    await p.take(70_000);
    let done = false;
    const t = p.take(70_000).then(() => {
      done = true;
    });
    await settle();
    expect(done).toBe(false);
    await clock.advance(9);
    expect(done).toBe(false);
    await clock.advance(2); // 10 ms, and one more for the rate's rounding
    await t;
    expect(done).toBe(true);
    expect(p.waitedMs).toBeGreaterThanOrEqual(10);
    expect(p.waitedMs).toBeLessThanOrEqual(11);
    p.end();
  });

  it('never goes below minBytesPerSecond, and grows back to unlimited on uncrowded round trips', async () => {
    const clock = new ManualClock();
    const p = new SnapshotPacer(clock, { targetMs: 10, minBytesPerSecond: 1_000_000 });
    p.begin();
    // The snapshot sends 10 MB/s.
    for (let i = 0; i <= 5; i++) {
      await p.take(100_000);
      await clock.advance(10);
    }
    for (let i = 0; i < 20; i++) {
      await clock.advance(10);
      p.sample(50);
    }
    expect(p.rate).toBe(1_000_000);
    // 99 uncrowded round trips undo one cut; enough of them (the rate at 4 × what the snapshot
    // sends) lift pacing altogether.
    p.sample(1);
    expect(p.rate).toBeGreaterThan(1_000_000);
    for (let i = 0; i < 98; i++) p.sample(1);
    expect(p.rate).toBeCloseTo(1_000_000 / 0.7, -2);
    for (let i = 0; i < 5000 && Number.isFinite(p.rate); i++) p.sample(1);
    expect(p.rate).toBe(Number.POSITIVE_INFINITY);
    p.end();
  });

  it('matches answers to heartbeats in order, and forgets heartbeats unanswered for 2 s', async () => {
    const clock = new ManualClock();
    const p = new SnapshotPacer(clock, { targetMs: 100 });
    p.begin();
    p.heartbeatSent(); // lost: never answered
    await clock.advance(2001);
    p.heartbeatSent();
    await clock.advance(3);
    p.heartbeatSent();
    await clock.advance(4);
    p.heartbeatAnswered(); // the second: 7 ms, not 2008
    p.heartbeatAnswered(); // the third: 4 ms
    p.heartbeatAnswered(); // nothing outstanding: ignored
    expect(p.samplesDuring).toBe(2);
    expect(p.crowded).toBe(0);
    p.end();
  });

  it('stops a paced wait with ERR_ABORTED when the signal fires', async () => {
    const clock = new ManualClock();
    const p = new SnapshotPacer(clock, { targetMs: 1, minBytesPerSecond: 1000 });
    p.begin();
    p.sample(10); // cut to the floor
    const ctl = new AbortController();
    const t = p.take(1_000_000, ctl.signal);
    await settle();
    expect(clock.pending).toBe(1);
    ctl.abort();
    const err = await t.catch((e: unknown) => e);
    expect(isRaftwireError(err, ErrorCode.ABORTED)).toBe(true);
    expect(clock.pending).toBe(0);
    // the reason given is the error thrown
    const ctl2 = new AbortController();
    const t2 = p.take(1_000_000, ctl2.signal);
    await settle();
    ctl2.abort(new RaftwireError(ErrorCode.STOPPED, 'stop'));
    expect(isRaftwireError(await t2.catch((e: unknown) => e), ErrorCode.STOPPED)).toBe(true);
    p.end();
  });

  it('refuses options that are not positive finite numbers', () => {
    const clock = new ManualClock();
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new SnapshotPacer(clock, { targetMs: bad })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
      expect(() => new SnapshotPacer(clock, { minBytesPerSecond: bad })).toThrow(
        expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
      );
    }
    expect(
      () =>
        new Transport({
          id: 1n,
          clusterId: 1n,
          urls: ['http://127.0.0.1:1'],
          link: { request: async () => Promise.reject(new Error('x')), openStream: async () => Promise.reject(new Error('x')) },
          raft: { process: () => {}, isIdRemoved: () => false, reportUnreachable: () => {}, reportSnapshot: () => {} },
          snapshotPacing: { minTargetMs: -1 },
        }),
    ).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  });
});
