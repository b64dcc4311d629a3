import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, MessageType, createMessage } from '@raftwire/core';
import { waitFor } from '@raftwire/core/testing';
import { type Cluster, makeCluster, streamsUp } from './fixtures.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.stop();
  c = undefined;
});

describe('removal and broken streams', () => {
  it('detects removal within one redial after the remote marks us removed', async () => {
    c = makeCluster(2, { common: { timeouts: { dialRetry: 100 } } });
    const [a, b] = [c.m(0), c.m(1)];
    await waitFor(() => streamsUp(a, b), 'streams');
    const pa = a.transport.get(b.id)!;
    const dialsBefore = pa.messageReader.established + pa.msgAppReader.established;
    const events: { code: string; at: number }[] = [];
    a.transport.on('removed', (e) => events.push({ code: e.error.code, at: Date.now() }));
    b.raft.removed.add(a.id);
    // the remote drops our streams (as etcd does when it removes a member); our next dial gets 410
    c.net.dropConnections(a.url);
    const t0 = Date.now();
    await waitFor(() => events.length > 0, 'removed event', 2000);
    expect(events[0]?.code).toBe(ErrorCode.MEMBER_REMOVED);
    expect(events[0]!.at - t0).toBeLessThan(1000);
    // no stream was established in between: the first redial said 410
    expect(pa.messageReader.established + pa.msgAppReader.established).toBe(dialsBefore);
    expect(a.logger.find('member removed from the cluster')[0]?.level).toBe('error');
  });

  it('keeps messages flowing over the pipeline when both streams are broken (TestSendMessageWhenStreamIsBroken)', async () => {
    c = makeCluster(2);
    const [a, b] = [c.m(0), c.m(1)];
    await waitFor(() => streamsUp(a, b), 'streams');
    // break every stream and keep them broken: stream dials are refused, POSTs still go through
    const handler = b.transport.handler;
    c.m(1).unserve();
    c.net.serve(b.url, (req) =>
      req.path.startsWith('/raft/stream/') ? Promise.resolve({ status: 503, headers: { 'x-server-version': '1.0.0' } }) : handler(req),
    );
    c.net.dropConnections(b.url);
    let got = false;
    for (let i = 0; i < 50 && !got; i++) {
      a.transport.send([createMessage({ type: MessageType.MsgHeartbeat, from: a.id, to: b.id, term: 1 })]);
      got = await waitFor(() => b.raft.received.length > 0, 'heartbeat', 20).then(
        () => true,
        () => false,
      );
    }
    expect(got).toBe(true);
    expect(b.seen.length).toBeGreaterThan(0);
    const pa = a.transport.get(b.id)!;
    expect(pa.messageWriter.working || pa.msgAppWriter.working).toBe(false);
  });
});
