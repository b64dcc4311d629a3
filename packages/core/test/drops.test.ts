import { afterEach, describe, expect, it } from 'vitest';
import { type HandlerResponse, MessageType, Transport, createMessage } from '@raftwire/core';
import { MemoryLogger, MemoryMetrics, MemoryNetwork, RecordingRaft, waitFor } from '@raftwire/core/testing';
import { CLUSTER } from './fixtures.js';

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

/** Member 1 whose peer 2 blocks every POST and never serves streams: the pipeline fills. */
async function blockedPeer(dropLogIntervalMs = 1000) {
  const net = new MemoryNetwork();
  const raft = new RecordingRaft();
  const logger = new MemoryLogger();
  const metrics = new MemoryMetrics();
  let posts = 0;
  net.serve('memory://blocked', async (req): Promise<HandlerResponse> => {
    if (req.path !== '/raft') return { status: 404, headers: { 'x-server-version': '1.0.0' } };
    posts++;
    await new Promise<void>((resolve) => req.signal.addEventListener('abort', () => resolve(), { once: true }));
    return { status: 204, headers: {} };
  });
  const t = new Transport({
    id: 1n,
    clusterId: CLUSTER,
    urls: ['memory://n0'],
    link: net.link('memory://n0'),
    raft,
    logger,
    metrics,
    dropLogIntervalMs,
    timeouts: { probe: 60_000 },
  });
  t.start();
  t.addPeer(2n, ['memory://blocked']);
  cleanup = async () => {
    await t.stop();
    net.close();
  };
  const fill = async () => {
    t.send(Array.from({ length: 68 }, () => createMessage({ type: MessageType.MsgApp, from: 1n, to: 2n })));
    await waitFor(() => posts === 4, 'pipeline workers busy');
    raft.unreachable.length = 0;
  };
  return { t, raft, logger, metrics, fill };
}

describe('bounded send buffers', () => {
  it('drops when full: reports unreachable, counts, emits, and logs the type and peer in hex', async () => {
    const { t, raft, logger, metrics, fill } = await blockedPeer();
    await fill();
    const dropped: string[] = [];
    t.on('message:dropped', (e) => dropped.push(`${e.type}:${e.reason}`));
    t.send([createMessage({ type: MessageType.MsgProp, from: 1n, to: 2n })]);
    expect(raft.unreachable).toEqual([2n]);
    expect(dropped).toEqual([`${MessageType.MsgProp}:buffer-full`]);
    expect(metrics.get('etcd_network_peer_sent_failures_total', { To: '2' })).toBe(1);
    const line = logger.find('dropped MsgProp to 2 since sending buffer is full');
    expect(line).toHaveLength(1);
    expect(line[0]?.level).toBe('warn');
    expect(line[0]?.fields['remote-peer-id']).toBe('2');
    expect(line[0]?.fields['local-member-id']).toBe('1');
  });

  it('reports snapshot failure for a dropped MsgSnap', async () => {
    const { t, raft, fill } = await blockedPeer();
    await fill();
    t.send([createMessage({ type: MessageType.MsgSnap, from: 1n, to: 2n })]);
    expect(raft.snapshotReports).toEqual([{ id: 2n, status: 'failure' }]);
  });

  it('rate-limits the drop log under a flood of 100 000 drops and says how many were suppressed', async () => {
    const INTERVAL = 200;
    const { t, raft, logger, metrics, fill } = await blockedPeer(INTERVAL);
    await fill();
    const flood = () => {
      for (let i = 0; i < 50_000; i++) t.send([createMessage({ type: MessageType.MsgApp, from: 1n, to: 2n })]);
    };
    const start = Date.now();
    flood();
    await new Promise((r) => setTimeout(r, INTERVAL + 50));
    flood();
    const elapsed = Date.now() - start;
    const lines = logger.find('since sending buffer is full');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    // At most one line per interval (plus the first): 3 when the floods are quick, more only
    // when a loaded machine stretches them over more intervals.
    expect(lines.length).toBeLessThanOrEqual(Math.floor(elapsed / INTERVAL) + 1);
    const suppressed = lines.reduce((n, r) => n + Number(r.fields['suppressed-count']), 0);
    expect(suppressed + lines.length).toBeGreaterThanOrEqual(50_001);
    expect(metrics.get('etcd_network_peer_sent_failures_total', { To: '2' })).toBe(100_000);
    expect(raft.unreachable.length).toBe(100_000);
  });
});

describe('remote send buffer', () => {
  it('drops when full with a log line and a counter but without raft callbacks', async () => {
    const net = new MemoryNetwork();
    const raft = new RecordingRaft();
    const logger = new MemoryLogger();
    const metrics = new MemoryMetrics();
    net.serve('memory://blocked', async (req): Promise<HandlerResponse> => {
      await new Promise<void>((resolve) => req.signal.addEventListener('abort', () => resolve(), { once: true }));
      return { status: 204, headers: {} };
    });
    const t = new Transport({ id: 1n, clusterId: CLUSTER, urls: ['memory://n0'], link: net.link('memory://n0'), raft, logger, metrics });
    t.start();
    cleanup = async () => {
      await t.stop();
      net.close();
    };
    t.addRemote(9n, ['memory://blocked']);
    const dropped: string[] = [];
    t.on('message:dropped', (e) => dropped.push(e.reason));
    t.send(Array.from({ length: 100 }, () => createMessage({ type: MessageType.MsgSnap, from: 1n, to: 9n })));
    expect(dropped.length).toBe(100 - 68);
    expect(raft.unreachable).toEqual([]);
    expect(raft.snapshotReports).toEqual([]);
    expect(metrics.get('etcd_network_peer_sent_failures_total', { To: '9' })).toBe(32);
    expect(logger.find('dropped MsgSnap to 9 since sending buffer is full')).toHaveLength(1);
  });
});

describe('sends to an unknown member', () => {
  it('are dropped with reason unknown-peer: emitted, counted, logged once per interval, MsgSnap reported failed', async () => {
    const net = new MemoryNetwork();
    const raft = new RecordingRaft();
    const logger = new MemoryLogger();
    const metrics = new MemoryMetrics();
    const t = new Transport({ id: 1n, clusterId: CLUSTER, urls: ['memory://n0'], link: net.link('memory://n0'), raft, logger, metrics });
    t.start();
    cleanup = async () => {
      await t.stop();
      net.close();
    };
    const dropped: string[] = [];
    t.on('message:dropped', (e) => dropped.push(`${e.to}:${e.type}:${e.reason}`));
    t.send([
      createMessage({ type: MessageType.MsgApp, from: 1n, to: 7n }),
      createMessage({ type: MessageType.MsgHeartbeat, from: 1n, to: 7n }),
      createMessage({ type: MessageType.MsgSnap, from: 1n, to: 7n }),
    ]);
    expect(dropped).toEqual([
      `7:${MessageType.MsgApp}:unknown-peer`,
      `7:${MessageType.MsgHeartbeat}:unknown-peer`,
      `7:${MessageType.MsgSnap}:unknown-peer`,
    ]);
    expect(metrics.get('etcd_network_peer_sent_failures_total', { To: '7' })).toBe(3);
    const lines = logger.find('dropped MsgApp to 7 since it is not a known peer');
    expect(lines).toHaveLength(1);
    expect(lines[0]?.level).toBe('warn');
    expect(logger.find('to 7 since it is not a known peer')).toHaveLength(1);
    expect(raft.snapshotReports).toEqual([{ id: 7n, status: 'failure' }]);
    expect(raft.unreachable).toEqual([]);

    // A removed peer is unknown again.
    t.addPeer(8n, ['memory://n8']);
    t.removePeer(8n);
    t.send([createMessage({ type: MessageType.MsgApp, from: 1n, to: 8n })]);
    expect(dropped.at(-1)).toBe(`8:${MessageType.MsgApp}:unknown-peer`);
  });
});

describe('one send() batch while the peer set changes', () => {
  it("routes every message by the peer set at the time it is sent, even when a drop's listener removes and adds peers mid-batch", async () => {
    const { t, fill } = await blockedPeer();
    await fill();
    const dropped: string[] = [];
    t.on('message:dropped', (e) => {
      dropped.push(`${e.to}:${e.reason}`);
      if (e.to === 2n && e.reason === 'buffer-full') {
        t.removePeer(2n);
        t.addPeer(3n, ['memory://blocked']);
      }
    });
    const app = (to: bigint) => createMessage({ type: MessageType.MsgApp, from: 1n, to });
    // 2 is full (dropped; the listener removes it and adds 3), then 2 is unknown, 3 is a peer, 2 again unknown.
    t.send([app(2n), app(2n), app(3n), app(2n), app(3n)]);
    // A stale lookup would have sent the later 2s to the removed peer (buffer-full) or the 3s nowhere.
    expect(dropped).toEqual(['2:buffer-full', '2:unknown-peer', '2:unknown-peer']);
  });

  it('drops only the unknown target of a batch interleaving peers', async () => {
    const { t } = await blockedPeer();
    t.addPeer(3n, ['memory://blocked']);
    const dropped: string[] = [];
    t.on('message:dropped', (e) => dropped.push(`${e.to}:${e.reason}`));
    const app = (to: bigint, index: number) => createMessage({ type: MessageType.MsgApp, from: 1n, to, index });
    t.send([app(2n, 1), app(3n, 2), app(3n, 3), app(9n, 4), app(2n, 5), app(3n, 6)]);
    expect(dropped).toEqual(['9:unknown-peer']);
  });
});
