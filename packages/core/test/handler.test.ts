import { afterEach, describe, expect, it } from 'vitest';
import {
  ErrorCode,
  type HandlerResponse,
  MessageType,
  RaftwireError,
  cborMessageCodec,
  createMessage,
  createSnapshot,
  encodeFrame,
  encodeSnapshotEnvelope,
  formatId,
  messagesEqual,
} from '@raftwire/core';
import { waitFor } from '@raftwire/core/testing';
import { OutgoingConn } from '../src/outgoing-conn.js';
import { type Cluster, headersFrom, handlerRequest, makeCluster, text } from './fixtures.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.stop();
  c = undefined;
});

/** Member 1 (id 2) answers; member 0 (id 1) is the sender; peers are not connected unless asked. */
function setup(connect = false): Cluster {
  c = makeCluster(2, { connect: false });
  if (connect) c.m(1).transport.addPeer(1n, [c.m(0).url]);
  return c;
}

const msg = (init: Parameters<typeof createMessage>[0]) => cborMessageCodec.encode(createMessage(init));

async function call(res: Promise<HandlerResponse>): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const r = await res;
  return { status: r.status, headers: r.headers, body: r.body instanceof OutgoingConn ? '' : await text(r.body) };
}

describe('POST /raft (TestServeRaftPrefix)', () => {
  it('answers 405 with Allow: POST for other methods', async () => {
    const h = setup().m(1).transport.handler;
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const r = await call(h(handlerRequest(method, '/raft', headersFrom(1n))));
      expect(r.status).toBe(405);
      expect(r.headers.allow).toBe('POST');
      expect(r.headers['x-etcd-cluster-id']).toBe(formatId(0x1000n));
      expect(r.headers['x-server-version']).toBeDefined();
    }
  });

  it('answers 400 when the body cannot be read or decoded', async () => {
    const h = setup().m(1).transport.handler;
    const failing = (async function* () {
      yield new Uint8Array([1]);
      throw new Error('read error');
    })();
    expect((await call(h(handlerRequest('POST', '/raft', headersFrom(1n), failing)))).body).toBe('error reading raft message\n');
    const garbage = await call(h(handlerRequest('POST', '/raft', headersFrom(1n), new TextEncoder().encode('malformed garbage'))));
    expect(garbage.status).toBe(400);
    expect(garbage.body).toBe('error unmarshalling raft message\n');
  });

  it('answers 412 on a cluster ID mismatch and on an incompatible version, version first', async () => {
    const h = setup().m(1).transport.handler;
    const cid = await call(h(handlerRequest('POST', '/raft', headersFrom(1n, { 'x-etcd-cluster-id': '1' }))));
    expect(cid).toMatchObject({ status: 412, body: 'cluster ID mismatch\n' });
    const ver = await call(h(handlerRequest('POST', '/raft', headersFrom(1n, { 'x-etcd-cluster-id': '1', 'x-server-version': '0.5.0' }))));
    expect(ver).toMatchObject({ status: 412, body: 'incompatible version\n' });
    const minTooHigh = await call(h(handlerRequest('POST', '/raft', headersFrom(1n, { 'x-min-cluster-version': '9.0.0' }))));
    expect(minTooHigh.status).toBe(412);
    const noVersion = headersFrom(1n);
    delete noVersion['x-server-version'];
    expect((await call(h(handlerRequest('POST', '/raft', noVersion)))).status).toBe(412);
    expect(c?.m(1).logger.find('request cluster ID mismatch')[0]?.msg).toContain('local cluster 1000, remote cluster 1');
  });

  it('answers 400 for a malformed version header instead of crashing', async () => {
    const h = setup().m(1).transport.handler;
    const r = await call(h(handlerRequest('POST', '/raft', headersFrom(1n, { 'x-server-version': '3.x' }))));
    expect(r.status).toBe(400);
    expect(r.body).toContain('malformed version header');
    const r2 = await call(h(handlerRequest('GET', '/raft/stream/message/1', headersFrom(1n, { 'x-min-cluster-version': 'garbage' }))));
    expect(r2.status).toBe(400);
  });

  it('answers 204 only after process returned', async () => {
    const cl = setup();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const raft = cl.m(1).raft;
    const orig = raft.process.bind(raft);
    raft.process = async (m) => {
      await gate;
      orig(m);
    };
    const m = createMessage({ type: MessageType.MsgApp, from: 1n, to: 2n, term: 1 });
    let done = false;
    const p = cl
      .m(1)
      .transport.handler(handlerRequest('POST', '/raft', headersFrom(1n), cborMessageCodec.encode(m)))
      .then((r) => {
        done = true;
        return r;
      });
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    release();
    expect((await p).status).toBe(204);
    expect(messagesEqual(raft.received[0]!, m)).toBe(true);
  });

  it('answers 403 for a removed sender, a message not for us, or a process that says removed; 500 for other errors', async () => {
    const cl = setup();
    const h = cl.m(1).transport.handler;
    const raft = cl.m(1).raft;
    expect(
      (await call(h(handlerRequest('POST', '/raft', headersFrom(1n), msg({ type: MessageType.MsgHeartbeat, from: 1n, to: 9n }))))).status,
    ).toBe(403);
    raft.removed.add(1n);
    expect(
      (await call(h(handlerRequest('POST', '/raft', headersFrom(1n), msg({ type: MessageType.MsgHeartbeat, from: 1n, to: 2n }))))).status,
    ).toBe(403);
    raft.removed.clear();
    raft.processError = new RaftwireError(ErrorCode.MEMBER_REMOVED, 'removed');
    expect(
      (await call(h(handlerRequest('POST', '/raft', headersFrom(1n), msg({ type: MessageType.MsgHeartbeat, from: 1n, to: 2n }))))).status,
    ).toBe(403);
    raft.processError = new Error('boom');
    const r = await call(h(handlerRequest('POST', '/raft', headersFrom(1n), msg({ type: MessageType.MsgHeartbeat, from: 1n, to: 2n }))));
    expect(r).toMatchObject({ status: 500, body: 'error processing raft message\n' });
  });

  it('adds a remote for an unknown sender that gives valid X-PeerURLs, and ignores invalid ones', async () => {
    const cl = setup();
    const h = cl.m(1).transport.handler;
    const m = msg({ type: MessageType.MsgHeartbeat, from: 7n, to: 2n });
    await call(h(handlerRequest('POST', '/raft', headersFrom(7n, { 'x-peerurls': 'memory://n7' }), m)));
    expect(cl.m(1).transport.remoteIds()).toEqual([7n]);
    await call(h(handlerRequest('POST', '/raft', headersFrom(8n, { 'x-peerurls': 'ftp://evil:21' }), m)));
    expect(cl.m(1).transport.remoteIds()).toEqual([7n]);
  });

  it('caps the number of remotes', async () => {
    c = makeCluster(1, { connect: false, common: { limits: { maxRemotes: 3 } } });
    const t = c.m(0).transport;
    for (let i = 10; i < 20; i++) t.addRemote(BigInt(i), [`memory://r${i}`]);
    expect(t.remoteIds()).toHaveLength(3);
    expect(c.m(0).logger.find('too many remotes').length).toBeGreaterThan(0);
  });

  it('answers 503 when the transport is stopped and 404 for unknown /raft paths', async () => {
    const cl = setup();
    const h = cl.m(1).transport.handler;
    expect((await call(h(handlerRequest('POST', '/raft/nothing', headersFrom(1n))))).status).toBe(404);
    await cl.m(1).transport.stop();
    expect((await call(h(handlerRequest('POST', '/raft', headersFrom(1n))))).status).toBe(503);
  });
});

describe('GET /raft/stream (TestServeRaftStreamPrefix)', () => {
  it('attaches message and msgapp streams with the local version header', async () => {
    const cl = setup(true);
    const peer = cl.m(1).transport.get(1n)!;
    for (const [path, writer] of [
      ['/raft/stream/message/1', peer.messageWriter],
      ['/raft/stream/msgapp/1', peer.msgAppWriter],
    ] as const) {
      const ac = new AbortController();
      const r = await cl.m(1).transport.handler(handlerRequest('GET', path, headersFrom(1n, { 'x-raft-to': '2' }), undefined, ac.signal));
      expect(r.status).toBe(200);
      expect(r.headers['x-server-version']).toBe('1.0.0');
      expect(r.body).toBeInstanceOf(OutgoingConn);
      await waitFor(() => writer.working, 'writer attached', 1000);
      ac.abort();
      await waitFor(() => !writer.working, 'writer detached when the requester goes away', 1000);
    }
  });

  it('rejects bad stream requests with the right status, in order (TestServeRaftStreamPrefixBad)', async () => {
    const cl = setup(true);
    const h = cl.m(1).transport.handler;
    const to = { 'x-raft-to': '2' };
    for (const method of ['PUT', 'POST', 'DELETE']) {
      const r = await call(h(handlerRequest(method, '/raft/stream/message/1', headersFrom(1n, to))));
      expect(r.status).toBe(405);
      expect(r.headers.allow).toBe('GET');
    }
    expect(await call(h(handlerRequest('GET', '/raft/stream/strange/1', headersFrom(1n, to))))).toMatchObject({
      status: 404,
      body: 'invalid path\n',
    });
    expect((await call(h(handlerRequest('GET', '/raft/stream/strange', headersFrom(1n, to))))).status).toBe(404);
    expect(await call(h(handlerRequest('GET', '/raft/stream/message/XYZ', headersFrom(1n, to))))).toMatchObject({
      status: 404,
      body: 'invalid from\n',
    });
    expect(await call(h(handlerRequest('GET', '/raft/stream/message/5', headersFrom(5n, to))))).toMatchObject({
      status: 404,
      body: 'error sender not found\n',
    });
    cl.m(1).raft.removed.add(5n);
    // removal is checked before the peer lookup
    expect(await call(h(handlerRequest('GET', '/raft/stream/message/5', headersFrom(5n, to))))).toMatchObject({
      status: 410,
      body: 'removed member\n',
    });
    expect(
      (await call(h(handlerRequest('GET', '/raft/stream/message/1', headersFrom(1n, { ...to, 'x-etcd-cluster-id': '7' }))))).status,
    ).toBe(412);
    expect(await call(h(handlerRequest('GET', '/raft/stream/message/1', headersFrom(1n, { 'x-raft-to': '3' }))))).toMatchObject({
      status: 412,
      body: 'to field mismatch\n',
    });
    // method is checked before anything else
    expect((await call(h(handlerRequest('POST', '/raft/stream/strange', headersFrom(1n, { 'x-etcd-cluster-id': '7' }))))).status).toBe(405);
  });

  it('adds a remote when an unknown sender dials with X-PeerURLs', async () => {
    const cl = setup();
    const h = cl.m(1).transport.handler;
    const r = await call(
      h(handlerRequest('GET', '/raft/stream/message/1', headersFrom(1n, { 'x-raft-to': '2', 'x-peerurls': 'memory://n0' }))),
    );
    expect(r.status).toBe(404);
    expect(cl.m(1).transport.remoteIds()).toEqual([1n]);
  });
});

describe('POST /raft/snapshot', () => {
  const snap = (init: Partial<Parameters<typeof createMessage>[0]> = {}) =>
    createMessage({
      type: MessageType.MsgSnap,
      from: 1n,
      to: 2n,
      term: 2,
      snapshot: createSnapshot({ metadata: { index: 10, term: 2 } }),
      ...init,
    });

  async function* parts(...chunks: Uint8Array[]) {
    yield* chunks;
  }

  it('streams the body to the receiver, then processes the message and answers 204', async () => {
    const cl = setup();
    const m = snap();
    const body = new Uint8Array(5000).map((_, i) => i % 251);
    const env = encodeSnapshotEnvelope(cborMessageCodec.encode(m), body.length);
    const r = await call(
      cl
        .m(1)
        .transport.handler(
          handlerRequest(
            'POST',
            '/raft/snapshot',
            headersFrom(1n),
            parts(env.subarray(0, 3), env.subarray(3), body.subarray(0, 100), body.subarray(100)),
          ),
        ),
    );
    expect(r.status).toBe(204);
    expect(cl.m(1).raft.snapshots[0]?.data).toEqual(body);
    expect(messagesEqual(cl.m(1).raft.received[0]!, m)).toBe(true);
    expect(cl.m(1).metrics.get('etcd_network_snapshot_receive_success', { From: '1' })).toBe(1);
  });

  it('answers 400 for an oversized envelope, an undecodable one, a wrong type, a short body and a long body', async () => {
    c = makeCluster(2, { connect: false, common: { limits: { maxSnapshotEnvelopeBytes: 100 } } });
    const h = c.m(1).transport.handler;
    const raft = c.m(1).raft;
    const post = (...chunks: Uint8Array[]) => call(h(handlerRequest('POST', '/raft/snapshot', headersFrom(1n), parts(...chunks))));
    const big = snap({ context: new Uint8Array(200) });
    expect((await post(encodeSnapshotEnvelope(cborMessageCodec.encode(big), 0))).body).toContain('failed to decode raft message');
    expect((await post(encodeFrame(new Uint8Array([0xff, 0xfe])))).status).toBe(400);
    const wrong = createMessage({ type: MessageType.MsgApp, from: 1n, to: 2n });
    expect(await post(encodeSnapshotEnvelope(cborMessageCodec.encode(wrong), 0))).toMatchObject({
      status: 400,
      body: 'wrong raft message type\n',
    });
    const env = encodeSnapshotEnvelope(cborMessageCodec.encode(snap()), 10);
    expect((await post(env, new Uint8Array(4))).status).toBe(400);
    expect((await post(env, new Uint8Array(11))).status).toBe(400);
    expect(raft.received).toEqual([]);
    expect((await post(new Uint8Array([0x85]))).status).toBe(400);
    expect(await call(h(handlerRequest('GET', '/raft/snapshot', headersFrom(1n))))).toMatchObject({ status: 405 });
  });

  it('without a receiver hook, puts the body into snapshot.data (bounded) before process', async () => {
    c = makeCluster(2, { connect: false, common: { limits: { maxBufferedSnapshotBytes: 100 } } });
    const raft = c.m(1).raft;
    (raft as { receiveSnapshot?: unknown }).receiveSnapshot = undefined;
    const h = c.m(1).transport.handler;
    const body = new Uint8Array(60).map((_, i) => i);
    const env = encodeSnapshotEnvelope(cborMessageCodec.encode(snap()), body.length);
    expect(
      (await call(h(handlerRequest('POST', '/raft/snapshot', headersFrom(1n), parts(env, body.subarray(0, 7), body.subarray(7)))))).status,
    ).toBe(204);
    expect(raft.received[0]?.snapshot?.data).toEqual(body);
    expect(raft.received[0]?.snapshot?.metadata.index).toBe(10);
    const big = encodeSnapshotEnvelope(cborMessageCodec.encode(snap()), 101);
    expect((await call(h(handlerRequest('POST', '/raft/snapshot', headersFrom(1n), parts(big, new Uint8Array(101)))))).status).toBe(413);
    expect(raft.received).toHaveLength(1);
  });

  it('answers 500 when the receiver fails, 403 when the sender is removed', async () => {
    const cl = setup();
    const raft = cl.m(1).raft;
    const h = cl.m(1).transport.handler;
    const env = encodeSnapshotEnvelope(cborMessageCodec.encode(snap()), 3);
    raft.receiveSnapshot = async () => {
      throw new Error('disk full');
    };
    expect((await call(h(handlerRequest('POST', '/raft/snapshot', headersFrom(1n), parts(env, new Uint8Array(3)))))).body).toContain(
      'disk full',
    );
    raft.receiveSnapshot = async () => {}; // returns without reading
    expect((await call(h(handlerRequest('POST', '/raft/snapshot', headersFrom(1n), parts(env, new Uint8Array(3)))))).status).toBe(500);
    const empty = encodeSnapshotEnvelope(cborMessageCodec.encode(snap()), 0);
    expect((await call(h(handlerRequest('POST', '/raft/snapshot', headersFrom(1n), parts(empty))))).status).toBe(204);
    raft.removed.add(1n);
    expect((await call(h(handlerRequest('POST', '/raft/snapshot', headersFrom(1n), parts(empty))))).status).toBe(403);
  });
});

describe('GET /raft/probing', () => {
  it('answers 200 with OK and the time, without cluster checks', async () => {
    const cl = setup();
    const r = await call(cl.m(1).transport.handler(handlerRequest('GET', '/raft/probing', {})));
    expect(r.status).toBe(200);
    const body = JSON.parse(r.body);
    expect(body.OK).toBe(true);
    expect(Math.abs(Date.parse(body.Now) - Date.now())).toBeLessThan(5000);
  });
});
