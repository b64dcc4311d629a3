import { afterEach, describe, expect, it } from 'vitest';
import { MessageType, createMessage } from '@raftwire/core';
import { TrackingClock, seededRandom, waitFor } from '@raftwire/core/testing';
import { type Cluster, makeCluster, streamsUp } from './fixtures.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.stop();
  c = undefined;
});

describe('seeded fault storm', () => {
  it('survives drops, delays, cuts, partitions and resets, then recovers and stops clean', async () => {
    const clock = new TrackingClock();
    c = makeCluster(3, { seed: 11, common: { clock, timeouts: { read: 400, write: 400, dial: 200, probe: 100, snapshotIdle: 500 } } });
    const cl = c;
    const urls = cl.members.map((m) => m.url);
    const rnd = seededRandom(2024);
    const pick = () => urls[Math.floor(rnd() * urls.length)] as string;
    let term = 1;
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline) {
      const r = rnd();
      const [x, y] = [pick(), pick()];
      if (x !== y) {
        if (r < 0.2) cl.net.setFault(x, y, { dropRate: 0.3, delayMs: 5, jitterMs: 10 });
        else if (r < 0.3) cl.net.cut(x, y);
        else if (r < 0.4) cl.net.partition([x], [y]);
        else if (r < 0.45) cl.net.partitionOneWay(x, y);
        else if (r < 0.55) cl.net.dropConnections(x);
        else if (r < 0.65) cl.net.heal();
      }
      for (const a of cl.members) {
        for (const b of cl.members) {
          if (a !== b) {
            a.transport.send([
              createMessage({ type: MessageType.MsgHeartbeat, from: a.id, to: b.id, term }),
              createMessage({ type: MessageType.MsgApp, from: a.id, to: b.id, term, logTerm: term, index: term }),
            ]);
          }
        }
      }
      if (rnd() < 0.1)
        void cl.m(0).transport.sendSnapshot(
          createMessage({ type: MessageType.MsgSnap, from: 1n, to: 2n, term }),
          (async function* () {
            yield new Uint8Array(1000);
          })(),
          1000,
        );
      term++;
      await new Promise((res) => setTimeout(res, 10));
    }
    cl.net.heal();
    // after healing, every pair carries messages again over working streams
    await waitFor(() => cl.members.every((a) => cl.members.every((b) => a === b || streamsUp(a, b))), 'all streams back', 15_000);
    const marks = cl.members.map((m) => m.raft.received.length);
    for (const a of cl.members)
      for (const b of cl.members)
        if (a !== b) a.transport.send([createMessage({ type: MessageType.MsgHeartbeat, from: a.id, to: b.id, term: 1_000_000 })]);
    await waitFor(
      () => cl.members.every((m) => m.raft.received.filter((x) => x.term === 1_000_000).length === 2),
      'fresh heartbeats everywhere',
      10_000,
    );
    expect(marks.every((n) => n > 0)).toBe(true);
    await Promise.all(cl.members.map((m) => m.transport.stop()));
    expect(clock.activeTimers).toBe(0);
    await waitFor(() => cl.net.openConnections === 0, 'no connections', 2000);
  });
});
