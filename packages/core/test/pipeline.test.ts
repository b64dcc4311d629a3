import { afterEach, describe, expect, it } from 'vitest';
import {
  type HandlerRequest,
  type HandlerResponse,
  MessageType,
  type ProtocolHandler,
  Transport,
  cborMessageCodec,
  createMessage,
  messagesEqual,
} from '@raftwire/core';
import { MemoryLogger, MemoryMetrics, MemoryNetwork, RecordingRaft, waitFor } from '@raftwire/core/testing';
import { CLUSTER } from './fixtures.js';

interface Fake {
  t: Transport;
  raft: RecordingRaft;
  metrics: MemoryMetrics;
  logger: MemoryLogger;
  posts: HandlerRequest[];
  bodies: Uint8Array[];
  net: MemoryNetwork;
}

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

const FAKE = 'memory://fake';

/** Member 1 with peer 2 served by `onPost` (stream dials and probes get 404). */
function fake(onPost: (req: HandlerRequest) => Promise<HandlerResponse> | HandlerResponse, serve = true): Fake {
  const net = new MemoryNetwork();
  const raft = new RecordingRaft();
  const metrics = new MemoryMetrics();
  const logger = new MemoryLogger();
  const posts: HandlerRequest[] = [];
  const bodies: Uint8Array[] = [];
  const handler: ProtocolHandler = async (req) => {
    if (req.path !== '/raft') return { status: 404, headers: { 'x-server-version': '1.0.0' } };
    posts.push(req);
    const parts: Uint8Array[] = [];
    for await (const c of req.body) parts.push(c);
    bodies.push(parts.length === 1 ? (parts[0] as Uint8Array) : new Uint8Array(parts.flatMap((p) => [...p])));
    return onPost(req);
  };
  if (serve) net.serve(FAKE, handler);
  const t = new Transport({
    id: 1n,
    clusterId: CLUSTER,
    urls: ['memory://n0'],
    link: net.link('memory://n0'),
    raft,
    metrics,
    logger,
    timeouts: { probe: 60_000 },
  });
  t.start();
  t.addPeer(2n, [FAKE]);
  cleanup = async () => {
    await t.stop();
    net.close();
  };
  return { t, raft, metrics, logger, posts, bodies, net };
}

const ok = (): HandlerResponse => ({ status: 204, headers: {} });
const app = (i = 0) => createMessage({ type: MessageType.MsgApp, from: 1n, to: 2n, term: 1, index: i });

describe('pipeline', () => {
  it('posts a message to /raft with the protocol headers and marks the peer active (TestPipelineSend, TestPipelinePost)', async () => {
    const f = fake(ok);
    const m = app(5);
    f.t.send([m]);
    await waitFor(() => f.t.activeSince(2n) > 0, 'peer active');
    const req = f.posts[0]!;
    expect(req.method).toBe('POST');
    expect(req.headers['content-type']).toBe('application/cbor');
    expect(req.headers['x-server-version']).toBe('1.0.0');
    expect(req.headers['x-min-cluster-version']).toBe('1.0.0');
    expect(req.headers['x-etcd-cluster-id']).toBe('1000');
    expect(req.headers['x-server-from']).toBe('1');
    expect(req.headers['x-peerurls']).toBe('memory://n0');
    expect(messagesEqual(cborMessageCodec.decode(f.bodies[0]!), m)).toBe(true);
    expect(f.metrics.get('etcd_network_peer_sent_bytes_total', { To: '2' })).toBeGreaterThan(0);
  });

  it('keeps sending when posts fail: every queued message is attempted (TestPipelineKeepSendingWhenPostError)', async () => {
    const f = fake(() => ({ status: 500, headers: {} }));
    const msgs = Array.from({ length: 50 }, (_, i) => app(i));
    f.t.send(msgs);
    await waitFor(() => f.posts.length === 50, '50 attempts');
    await waitFor(() => f.raft.unreachable.length === 50, '50 unreachable reports');
  });

  it('reports a failed post: unreachable, failure counter, inactive (TestPipelineSendFailed)', async () => {
    const f = fake(() => ({ status: 500, headers: {} }), false);
    f.t.send([app()]);
    await waitFor(() => f.raft.unreachable.length === 1, 'unreachable');
    expect(f.metrics.get('etcd_network_peer_sent_failures_total', { To: '2' })).toBeGreaterThan(0);
    expect(f.t.activeSince(2n)).toBe(0);
  });

  it('treats only 204 as success (TestPipelinePostBad)', async () => {
    for (const status of [200, 201, 500, 412]) {
      const f = fake(() => ({ status, headers: {}, body: new TextEncoder().encode('nope\n') }));
      f.t.send([createMessage({ type: MessageType.MsgSnap, from: 1n, to: 2n })]);
      await waitFor(() => f.raft.snapshotReports.length === 1, `report for ${status}`);
      expect(f.raft.snapshotReports[0]).toEqual({ id: 2n, status: 'failure' });
      expect(f.raft.unreachable).toEqual([2n]);
      await cleanup?.();
      cleanup = undefined;
    }
  });

  it('reports MsgSnap finish only after a 204', async () => {
    const f = fake(ok);
    f.t.send([createMessage({ type: MessageType.MsgSnap, from: 1n, to: 2n })]);
    await waitFor(() => f.raft.snapshotReports.length === 1, 'report');
    expect(f.raft.snapshotReports[0]).toEqual({ id: 2n, status: 'finish' });
  });

  it('emits removed when a post is answered 403 "cannot process message from removed member" (TestPipelinePostErrorc)', async () => {
    const f = fake(() => ({ status: 403, headers: {}, body: new TextEncoder().encode('cannot process message from removed member\n') }));
    let removed = 0;
    f.t.on('removed', () => removed++);
    expect(removed).toBe(0);
    f.t.send([app()]);
    await waitFor(() => removed === 1, 'removed event', 1000);
  });

  it('a 403 that does not say "removed" (a message for another member: a URL mix-up) fails the post, never means removal', async () => {
    for (const body of ['cannot process message to mismatch member\n', '', 'origin not allowed\n']) {
      const f = fake(() => ({ status: 403, headers: {}, body: new TextEncoder().encode(body) }));
      let removed = 0;
      f.t.on('removed', () => removed++);
      for (let i = 0; i < 5; i++) f.t.send([app()]);
      await waitFor(() => f.raft.unreachable.length >= 5, 'unreachable reports', 2000);
      expect(removed, JSON.stringify(body)).toBe(0);
      await cleanup?.();
      cleanup = undefined;
    }
  });

  it('logs both cluster IDs when a post is rejected for a cluster mismatch', async () => {
    const f = fake(() => ({
      status: 412,
      headers: { 'x-etcd-cluster-id': 'beef' },
      body: new TextEncoder().encode('cluster ID mismatch\n'),
    }));
    f.t.send([app()]);
    const rec = await waitFor(() => f.logger.find('cluster ID mismatch')[0], 'log line');
    expect(rec.fields['local-cluster-id']).toBe('1000');
    expect(rec.fields['remote-cluster-id']).toBe('beef');
  });

  it('holds 4 in flight + 64 queued, drops the next, and recovers after unblocking (TestPipelineExceedMaximumServing)', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const f = fake(async () => {
      await gate;
      return ok();
    });
    const dropped: number[] = [];
    f.t.on('message:dropped', (e) => dropped.push(e.type));
    f.t.send(Array.from({ length: 4 }, (_, i) => app(i)));
    await waitFor(() => f.posts.length === 4, '4 in flight');
    f.t.send(Array.from({ length: 64 }, (_, i) => app(100 + i)));
    expect(dropped).toEqual([]);
    f.t.send([app(999)]);
    expect(dropped).toEqual([MessageType.MsgApp]);
    expect(f.raft.unreachable).toEqual([2n]);
    release();
    await waitFor(() => f.posts.length === 68, 'queue drained', 2000);
    f.t.send([app(1000)]);
    await waitFor(() => f.posts.length === 69, 'a new send succeeds', 1000);
  });

  it('stop() returns quickly with posts blocked (TestStopBlockedPipeline)', async () => {
    const f = fake(async (req) => {
      await new Promise<void>((resolve) => req.signal.addEventListener('abort', () => resolve(), { once: true }));
      return ok();
    });
    f.t.send(Array.from({ length: 40 }, (_, i) => app(i)));
    await waitFor(() => f.posts.length === 4, '4 blocked posts');
    const t0 = Date.now();
    await f.t.stop();
    expect(Date.now() - t0).toBeLessThan(1000);
    await waitFor(() => f.net.openConnections === 0, 'no connections left', 1000);
  });
});
