import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '@raftwire/core/testing';
import { OutgoingConn } from '../../src/outgoing-conn.js';
import { type Cluster, handlerRequest, makeCluster, streamsUp, text } from '../fixtures.js';
import {
  ErrorCode,
  type HandlerResponse,
  MessageType,
  RaftwireError,
  Transport,
  createMessage,
  createSnapshot,
  decodeEtcdMemberList,
  encodeEtcdSnapshotEnvelope,
  etcdMessageCodec,
  formatId,
  handlesPath,
  messagesEqual,
} from './src.js';
import { type LiveAddedMember, fixtureJson, hex, hexId, toHex } from './fixtures.js';

const CLUSTER_HEX = formatId(0x1000n);

let c: Cluster | undefined;
afterEach(async () => {
  await c?.stop();
  c = undefined;
});

function etcdCluster(n: number, connect = true): Cluster {
  c = makeCluster(n, { connect, common: { wire: 'etcd-3.4' } });
  return c;
}

/** The headers an etcd 3.4.23 member sends (as captured), from `from`. */
function etcdHeaders(from: bigint, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'x-server-from': formatId(from),
    'x-server-version': '3.4.23',
    'x-min-cluster-version': '3.0.0',
    'x-etcd-cluster-id': CLUSTER_HEX,
    ...extra,
  };
}

async function call(res: Promise<HandlerResponse>): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const r = await res;
  return { status: r.status, headers: r.headers, body: r.body instanceof OutgoingConn ? '' : await text(r.body) };
}

/** The first `n` bytes a stream answer writes. */
async function firstBytes(res: HandlerResponse, n: number): Promise<Uint8Array> {
  const conn = res.body as OutgoingConn;
  const out: number[] = [];
  for await (const chunk of conn) {
    out.push(...chunk);
    if (out.length >= n) break;
  }
  return Uint8Array.from(out.slice(0, n));
}

describe('a Transport with the etcd-3.4 profile', () => {
  it('exchanges messages on both streams and the pipeline with another etcd-profile Transport', async () => {
    const cl = etcdCluster(2);
    const [a, b] = [cl.m(0), cl.m(1)];
    await waitFor(() => streamsUp(a, b), 'streams both ways');
    const app = createMessage({
      type: MessageType.MsgApp,
      from: 1n,
      to: 2n,
      term: 3,
      logTerm: 3,
      index: 7,
      commit: 7,
      entries: [{ type: 0, term: 3, index: 8, data: Uint8Array.of(1, 2, 3) }],
    });
    const hb = createMessage({ type: MessageType.MsgHeartbeat, from: 1n, to: 2n, term: 3, commit: 7 });
    a.transport.send([app, hb]);
    await waitFor(() => b.raft.received.length >= 2, 'the stream messages');
    expect(messagesEqual(b.raft.received[0] as never, app)).toBe(true);
    expect(messagesEqual(b.raft.received[1] as never, hb)).toBe(true);
    // the pipeline (streams cut): the body is raftpb, sent as application/protobuf
    const seen: Record<string, string>[] = [];
    cl.net.serve(b.url, (req) => {
      if (req.path === '/raft') seen.push(req.headers);
      return b.transport.handler(req);
    });
    const resp = createMessage({ type: MessageType.MsgAppResp, from: 1n, to: 2n, term: 3, index: 8 });
    await a.transport.get(2n)?.pipeline.post(etcdMessageCodec.encode(resp), new AbortController().signal);
    await waitFor(() => b.raft.received.length >= 3, 'the pipeline message');
    expect(messagesEqual(b.raft.received[2] as never, resp)).toBe(true);
    expect(seen[0]?.['content-type']).toBe('application/protobuf');
    expect(seen[0]?.['x-server-version']).toBe('3.4.23');
    expect(seen[0]?.['x-min-cluster-version']).toBe('3.0.0');
  });

  it('streams a snapshot as etcd does (u64 length, MsgSnap, the database to the end) and the receiver gets size -1', async () => {
    const cl = etcdCluster(2);
    const [a, b] = [cl.m(0), cl.m(1)];
    const snap = createMessage({
      type: MessageType.MsgSnap,
      from: 1n,
      to: 2n,
      term: 2,
      snapshot: createSnapshot({ data: new TextEncoder().encode('{"Root":{}}'), metadata: { index: 90, term: 2 } }),
    });
    const db = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 7) & 0xff);
    const status = await a.transport.sendSnapshot(
      snap,
      (async function* () {
        for (let i = 0; i < db.length; i += 65_536) yield db.subarray(i, i + 65_536);
      })(),
      db.length,
    );
    expect(status).toBe('finish');
    const got = b.raft.snapshots[0];
    expect(got?.size).toBe(-1);
    expect(got?.received).toBe(db.length);
    expect(toHex(got?.data ?? new Uint8Array())).toBe(toHex(db));
    expect(messagesEqual(got?.msg as never, snap)).toBe(true);
  });

  it('reads the snapshot request etcd 3.4.23 sent (captured envelope) and refuses a body over the cap with 413', async () => {
    const live = fixtureJson<LiveAddedMember>('live-added-member.json');
    c = makeCluster(1, { connect: false, common: { wire: 'etcd-3.4', id: hexId(live.addedMemberId), clusterId: hexId(live.clusterId) } });
    const t = c.m(0).transport;
    const leader = live.snapshot.headers['x-server-from'] as string;
    const db = new Uint8Array(3000).fill(9);
    const body = new Uint8Array([...hex(live.snapshot.envelope), ...db]);
    const r = await call(t.handler(handlerRequest('POST', '/raft/snapshot', live.snapshot.headers, body)));
    expect(r.status).toBe(204);
    expect(r.headers).toEqual({ 'x-etcd-cluster-id': live.clusterId });
    const got = c.m(0).raft.snapshots[0];
    expect(got?.received).toBe(3000);
    expect(got?.msg.snapshot?.metadata.index).toBe(live.snapshot.index);
    expect(c.m(0).raft.received[0]?.from).toBe(hexId(leader));
    await c.stop();

    c = makeCluster(1, {
      connect: false,
      common: { wire: 'etcd-3.4', id: hexId(live.addedMemberId), clusterId: hexId(live.clusterId), limits: { maxSnapshotBodyBytes: 1000 } },
    });
    const over = await call(c.m(0).transport.handler(handlerRequest('POST', '/raft/snapshot', live.snapshot.headers, body)));
    expect(over.status).toBe(413);
    expect(c.m(0).raft.received).toHaveLength(0);
  });

  it('answers a snapshot request whose message is not a MsgSnap with 400 wrong raft message type, as etcd does', async () => {
    const t = etcdCluster(2, false).m(1).transport;
    const hb = createMessage({ type: MessageType.MsgHeartbeat, from: 1n, to: 2n, term: 1 });
    const env = encodeEtcdSnapshotEnvelope({ ...hb, type: MessageType.MsgSnap });
    env[8 + 1] = MessageType.MsgHeartbeat; // the type field's value, right after its tag
    expect(etcdMessageCodec.decode(env.subarray(8)).type).toBe(MessageType.MsgHeartbeat);
    const r = await call(t.handler(handlerRequest('POST', '/raft/snapshot', etcdHeaders(1n), env)));
    expect(r).toMatchObject({ status: 400, body: 'wrong raft message type\n' });
  });

  it('buffers a snapshot body into snapshot.data without a receiveSnapshot hook, bounded', async () => {
    c = makeCluster(2, { connect: false, common: { wire: 'etcd-3.4', limits: { maxBufferedSnapshotBytes: 100 } } });
    const m = c.m(1);
    (m.raft as { receiveSnapshot?: unknown }).receiveSnapshot = undefined;
    const snap = createMessage({
      type: MessageType.MsgSnap,
      from: 1n,
      to: 2n,
      term: 1,
      snapshot: createSnapshot({ metadata: { index: 5, term: 1 } }),
    });
    const env = encodeEtcdSnapshotEnvelope(snap);
    const ok = await call(
      m.transport.handler(handlerRequest('POST', '/raft/snapshot', etcdHeaders(1n), new Uint8Array([...env, 1, 2, 3]))),
    );
    expect(ok.status).toBe(204);
    expect([...(m.raft.received[0]?.snapshot?.data ?? [])]).toEqual([1, 2, 3]);
    const big = await call(
      m.transport.handler(handlerRequest('POST', '/raft/snapshot', etcdHeaders(1n), new Uint8Array([...env, ...new Uint8Array(101)]))),
    );
    expect(big.status).toBe(413);
  });
});

describe('the etcd-3.4 handler differs from the native one where etcd does', () => {
  it('takes a POST /raft addressed to another member (etcd has no To check) and refuses a removed sender with 403', async () => {
    const cl = etcdCluster(2, false);
    const h = cl.m(1).transport.handler;
    const stray = etcdMessageCodec.encode(createMessage({ type: MessageType.MsgHeartbeat, from: 1n, to: 99n, term: 1 }));
    const r = await call(h(handlerRequest('POST', '/raft', etcdHeaders(1n), stray)));
    expect(r.status).toBe(204);
    expect(r.headers).toEqual({ 'x-etcd-cluster-id': CLUSTER_HEX });
    cl.m(1).raft.removed.add(1n);
    const removed = await call(h(handlerRequest('POST', '/raft', etcdHeaders(1n), stray)));
    expect(removed).toMatchObject({ status: 403, body: 'cannot process message from removed member\n' });
  });

  it('answers as etcd does to missing, old and too-new version headers (a missing header is 2.0.0)', async () => {
    const h = etcdCluster(2, false).m(1).transport.handler;
    const body = etcdMessageCodec.encode(createMessage({ type: MessageType.MsgHeartbeat, from: 1n, to: 2n, term: 1 }));
    const none = etcdHeaders(1n);
    delete none['x-server-version'];
    delete none['x-min-cluster-version'];
    expect((await call(h(handlerRequest('POST', '/raft', none, body)))).status).toBe(412);
    const tooNew = await call(h(handlerRequest('POST', '/raft', etcdHeaders(1n, { 'x-min-cluster-version': '3.5.0' }), body)));
    expect(tooNew).toMatchObject({ status: 412, body: 'incompatible version\n' });
    const native = await call(
      h(handlerRequest('POST', '/raft', etcdHeaders(1n, { 'x-server-version': '1.0.0', 'x-min-cluster-version': '1.0.0' }), body)),
    );
    expect(native.status).toBe(412);
    const cbor = await call(h(handlerRequest('POST', '/raft', etcdHeaders(1n), Uint8Array.of(0x84, 0x08, 0x01, 0x02, 0x01))));
    expect(cbor).toMatchObject({ status: 400, body: 'error unmarshalling raft message\n' });
  });

  it('puts X-Server-Version on stream answers only, and opens a message stream with etcd’s link heartbeat frame', async () => {
    const cl = etcdCluster(2, false);
    cl.m(1).transport.addPeer(1n, [cl.m(0).url]);
    const h = cl.m(1).transport.handler;
    const res = await h(handlerRequest('GET', '/raft/stream/message/1', etcdHeaders(1n, { 'x-raft-to': '2' })));
    expect(res.status).toBe(200);
    expect(res.headers).toEqual({ 'x-server-version': '3.4.23', 'x-etcd-cluster-id': CLUSTER_HEX });
    // the captured link heartbeat of etcd's message stream
    expect(toHex(await firstBytes(res, 38))).toBe('000000000000001e08081000180020002800300040004a0a12080a0228001000180050005800');
    const unknown = await call(h(handlerRequest('GET', '/raft/stream/message/42', etcdHeaders(42n, { 'x-raft-to': '2' }))));
    expect(unknown).toMatchObject({ status: 404, body: 'error sender not found\n' });
    expect(unknown.headers['x-server-version']).toBe('3.4.23');
  });

  it('serves GET /version and GET /members as etcd does, IDs as decimal uint64', async () => {
    const big = 0xf28fe5039f192a64n;
    c = makeCluster(1, {
      connect: false,
      common: {
        wire: 'etcd-3.4',
        members: () => [
          { id: big, name: 'rw', peerURLs: ['http://127.0.0.1:2380'], clientURLs: [], isLearner: false },
          { id: 5n, name: 'e1', peerURLs: ['http://127.0.0.1:2480'], clientURLs: ['http://127.0.0.1:2479'], isLearner: true },
        ],
      },
    });
    const t = c.m(0).transport;
    expect(handlesPath(t.handler, '/version')).toBe(true);
    expect(handlesPath(t.handler, '/members')).toBe(true);
    const v = await call(t.handler(handlerRequest('GET', '/version', {})));
    expect(v).toEqual({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: '{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}',
    });
    const m = await call(t.handler(handlerRequest('GET', '/members', {})));
    expect(m.status).toBe(200);
    expect(m.headers).toEqual({ 'x-etcd-cluster-id': CLUSTER_HEX, 'content-type': 'application/json' });
    expect(m.body).toBe(
      '[{"id":5,"peerURLs":["http://127.0.0.1:2480"],"isLearner":true,"name":"e1","clientURLs":["http://127.0.0.1:2479"]},' +
        `{"id":${big},"peerURLs":["http://127.0.0.1:2380"],"name":"rw"}]\n`,
    );
    expect(decodeEtcdMemberList(m.body).map((x) => x.id)).toEqual([5n, big]);
    const post = await call(t.handler(handlerRequest('POST', '/members', {})));
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET');
  });

  it('lists this member and its peers on GET /members when the host gives no list; the native profile serves neither path', async () => {
    const cl = etcdCluster(2);
    const body = await call(cl.m(0).transport.handler(handlerRequest('GET', '/members', {})));
    expect(decodeEtcdMemberList(body.body).map((x) => [x.id, x.peerURLs])).toEqual([
      [1n, ['memory://n0']],
      [2n, ['memory://n1']],
    ]);
    await cl.stop();
    c = makeCluster(1, { connect: false });
    const native = c.m(0).transport.handler;
    expect(handlesPath(native, '/version')).toBe(false);
    expect((await call(native(handlerRequest('GET', '/version', {})))).status).toBe(404);
  });

  it('refuses options the etcd profile does not take, and unknown profiles', async () => {
    const base = {
      id: 1n,
      clusterId: 1n,
      urls: ['memory://x'],
      link: { request: async () => never(), openStream: async () => never() },
      raft: {} as never,
    };
    const invalid = expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT });
    expect(() => new Transport({ ...base, wire: 'etcd-3.4', codec: etcdMessageCodec })).toThrow(invalid);
    expect(() => new Transport({ ...base, wire: 'etcd-3.4', streamSupport: {} })).toThrow(invalid);
    expect(() => new Transport({ ...base, wire: 'etcd-3.5' as never })).toThrow(/options\.wire/);
    expect(() => new Transport({ ...base, wire: 'etcd-3.4', version: '3.5.2' })).not.toThrow(RaftwireError);
  });
});

function never(): never {
  throw new Error('not used');
}
