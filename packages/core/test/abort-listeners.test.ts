import { MessageType, createMessage } from '@raftwire/core';
import { AbortListenerTracker, waitFor } from '@raftwire/core/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Cluster, makeCluster, streamsUp } from './fixtures.js';

const hb = (from: bigint, to: bigint, term = 1) => createMessage({ type: MessageType.MsgHeartbeat, from, to, term });

describe('abort listeners', () => {
  const tracker = new AbortListenerTracker();
  let c: Cluster | undefined;
  beforeEach(() => tracker.install());
  afterEach(async () => {
    await c?.stop();
    c = undefined;
    tracker.uninstall();
  });

  it('do not pile up on long-lived signals under pipeline and snapshot traffic, and none is left on a caller signal', async () => {
    c = makeCluster(2);
    const [a, b] = [c.m(0), c.m(1)];
    await waitFor(() => streamsUp(a, b), 'streams');
    const caller = new AbortController();
    // 600 messages over the pipeline (MsgSnap always goes there) and 30 streamed snapshots, all with one caller signal.
    for (let round = 0; round < 10; round++) {
      a.transport.send(
        Array.from({ length: 60 }, (_, i) => createMessage({ type: MessageType.MsgSnap, from: a.id, to: b.id, term: round * 100 + i })),
      );
      const snaps = Array.from({ length: 3 }, () =>
        a.transport.sendSnapshot(
          createMessage({ type: MessageType.MsgSnap, from: a.id, to: b.id }),
          (async function* () {
            yield new Uint8Array(1000);
          })(),
          1000,
          caller.signal,
        ),
      );
      expect(await Promise.all(snaps)).toEqual(['finish', 'finish', 'finish']);
      await waitFor(() => b.raft.received.filter((m) => m.type === MessageType.MsgSnap).length >= (round + 1) * 63, `round ${round}`);
    }
    a.transport.send([hb(a.id, b.id, 1)]);
    expect(tracker.on(caller.signal)).toBe(0);
    // A bounded number of waits may be in flight; 630 requests must not have left 630 listeners.
    expect(tracker.maxOnLiveSignal()).toBeLessThan(32);
    await Promise.all(c.members.map((m) => m.transport.stop()));
    expect(tracker.on(caller.signal)).toBe(0);
    expect(tracker.maxOnLiveSignal()).toBe(0);
  });
});
