// A node:test file that uses the built @raftwire/core/testing the way a jest or node:test user
// would: two real Transports exchange raft messages over MemoryNetwork. Run with refuse-vitest.mjs
// so that nothing on the way may load vitest.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageType, Transport, createMessage, messagesEqual } from '@raftwire/core';
import { MemoryLogger, MemoryMetrics, MemoryNetwork, RecordingRaft, waitFor } from '@raftwire/core/testing';

test('vitest cannot be loaded in this process', async () => {
  await assert.rejects(import('vitest'), /vitest is not installed here/);
  // The compliance suite is the one entry that needs it.
  await assert.rejects(import('@raftwire/core/compliance'), /vitest is not installed here/);
});

test('two transports exchange raft messages over MemoryNetwork', async () => {
  const net = new MemoryNetwork({ seed: 7 });
  const members = [1n, 2n].map((id) => {
    const url = `memory://node-${id}`;
    const raft = new RecordingRaft();
    const logger = new MemoryLogger();
    const metrics = new MemoryMetrics();
    const transport = new Transport({ id, clusterId: 0x77n, urls: [url], link: net.link(url), raft, logger, metrics });
    net.serve(url, transport.handler);
    transport.start();
    return { id, url, raft, transport, logger };
  });
  const [a, b] = members;
  try {
    a.transport.addPeer(b.id, [b.url]);
    b.transport.addPeer(a.id, [a.url]);
    const heartbeat = createMessage({ type: MessageType.MsgHeartbeat, from: a.id, to: b.id, term: 3, commit: 9 });
    const vote = createMessage({ type: MessageType.MsgVote, from: b.id, to: a.id, term: 4, index: 10, logTerm: 3 });
    a.transport.send([heartbeat]);
    b.transport.send([vote]);
    const [gotHeartbeat] = await waitFor(() => b.raft.received.length > 0 && b.raft.received, 'the heartbeat at member 2', 10_000);
    const [gotVote] = await waitFor(() => a.raft.received.length > 0 && a.raft.received, 'the vote at member 1', 10_000);
    assert.ok(messagesEqual(gotHeartbeat, heartbeat));
    assert.ok(messagesEqual(gotVote, vote));
    assert.ok(a.logger.records.length > 0, 'the transport logged through MemoryLogger');
  } finally {
    await Promise.all(members.map((m) => m.transport.stop()));
    net.close();
  }
});
