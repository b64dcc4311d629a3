import { afterEach, expect, it } from 'vitest';
import { MessageType, createMessage } from '@raftwire/core';
import { waitFor } from '@raftwire/core/testing';
import { type Cluster, makeCluster, streamsUp } from './fixtures.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.stop();
  c = undefined;
});

it('counts stream bytes sent and received while the streams are open, not only when they close', async () => {
  c = makeCluster(2);
  const [a, b] = [c.m(0), c.m(1)];
  await waitFor(() => streamsUp(a, b), 'streams up');
  a.transport.send(
    Array.from({ length: 20 }, (_, i) => createMessage({ type: MessageType.MsgHeartbeat, from: 1n, to: 2n, term: 1, commit: i })),
  );
  await waitFor(() => b.raft.received.length >= 20, 'messages received');
  await waitFor(
    () =>
      a.metrics.get('etcd_network_peer_sent_bytes_total', { To: '2' }) > 0 &&
      b.metrics.get('etcd_network_peer_received_bytes_total', { From: '1' }) > 0,
    'bytes counted on open streams',
  );
  expect(streamsUp(a, b)).toBe(true);
  const sent = a.metrics.get('etcd_network_peer_sent_bytes_total', { To: '2' });
  a.transport.send([createMessage({ type: MessageType.MsgHeartbeat, from: 1n, to: 2n, term: 1, commit: 99 })]);
  await waitFor(() => a.metrics.get('etcd_network_peer_sent_bytes_total', { To: '2' }) > sent, 'the next message counted');
});
