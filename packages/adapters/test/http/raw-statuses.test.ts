/**
 * Every status of docs/design.md §3, with raw HTTP requests (node:http, no Link)
 * against a real `Transport.handler` served by `startRaftServer`: the right
 * status and body, and the server keeps serving afterwards.
 */
import * as http from 'node:http';
import { ErrorCode, MessageType, RaftwireError, cborMessageCodec, createMessage, encodeSnapshotEnvelope, formatId } from '@raftwire/core';
import { waitFor } from '@raftwire/core/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CLUSTER_ID, type HttpMember, httpCluster } from './http-cluster.js';

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One raw request; `body` as bytes (Content-Length) or as chunks (chunked). */
function raw(url: string, method: string, path: string, headers: Record<string, string>, body?: Uint8Array | Uint8Array[]): Promise<Raw> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path, headers, agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body instanceof Uint8Array) req.end(body);
    else if (Array.isArray(body)) {
      for (const c of body) req.write(c);
      req.end();
    } else req.end();
  });
}

const SMALL_LIMIT = 64 * 1024;

describe('raw HTTP against a served Transport.handler: every status of docs/design.md §3', () => {
  let close: () => Promise<void>;
  let a: HttpMember;
  let b: HttpMember;
  let url: string;
  let base: Record<string, string>;

  beforeAll(async () => {
    // b serves; a is a known peer of b. The adapter's body cap is small so 413 is cheap to reach.
    const c = await httpCluster(2, { connect: false, server: { maxBodyBytes: SMALL_LIMIT } });
    close = c.close;
    [a, b] = c.members as [HttpMember, HttpMember];
    b.transport.addPeer(a.id, [a.url]);
    url = b.url;
    base = {
      'x-server-from': formatId(a.id),
      'x-server-version': '1.0.0',
      'x-min-cluster-version': '1.0.0',
      'x-etcd-cluster-id': formatId(CLUSTER_ID),
    };
  });
  afterAll(async () => {
    agent.destroy();
    await close();
  });
  beforeEach(() => {
    b.raft.processError = undefined;
    b.raft.removed.clear();
  });

  const heartbeat = (to = b.id, from = a.id) =>
    cborMessageCodec.encode(createMessage({ type: MessageType.MsgHeartbeat, from, to, term: 1 }));

  /** The server still serves: a valid POST is processed (204) and the probe answers. */
  async function stillServing(): Promise<void> {
    const before = b.raft.received.length;
    const ok = await raw(url, 'POST', '/raft', base, heartbeat());
    expect(ok.status).toBe(204);
    expect(b.raft.received.length).toBe(before + 1);
    expect((await raw(url, 'GET', '/raft/probing', {})).status).toBe(200);
  }

  function expectCommonHeaders(r: Raw): void {
    expect(r.headers['x-etcd-cluster-id']).toBe(formatId(CLUSTER_ID));
    expect(r.headers['x-server-version']).toBe('1.0.0');
  }

  it('204 for a message processed, only after process() returned', async () => {
    const r = await raw(url, 'POST', '/raft', base, heartbeat());
    expect(r.status).toBe(204);
    expect(r.body).toBe('');
    expectCommonHeaders(r);
    expect(b.raft.received.at(-1)?.from).toBe(a.id);
  });

  it.each([
    ['GET', '/raft', 'POST'],
    ['PUT', '/raft', 'POST'],
    ['POST', '/raft/stream/message/1', 'GET'],
    ['GET', '/raft/snapshot', 'POST'],
  ])('405 + Allow for %s %s', async (method, path, allow) => {
    const r = await raw(url, method, path, base, method === 'GET' ? undefined : new Uint8Array(0));
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe(allow);
    expect(r.body).toBe('Method Not Allowed\n');
    expectCommonHeaders(r);
    await stillServing();
  });

  it('412 cluster ID mismatch', async () => {
    for (const [method, path, body] of [
      ['POST', '/raft', heartbeat()],
      ['GET', `/raft/stream/message/${formatId(a.id)}`, undefined],
      ['POST', '/raft/snapshot', new Uint8Array(0)],
    ] as const) {
      const r = await raw(url, method, path, { ...base, 'x-etcd-cluster-id': 'beef', 'x-raft-to': formatId(b.id) }, body);
      expect(r.status).toBe(412);
      expect(r.body).toBe('cluster ID mismatch\n');
      expectCommonHeaders(r);
    }
    const missing = await raw(url, 'POST', '/raft', { ...base, 'x-etcd-cluster-id': '' }, heartbeat());
    expect(missing.status).toBe(412);
    await stillServing();
  });

  it('412 incompatible version, 400 malformed version', async () => {
    const old = await raw(url, 'POST', '/raft', { ...base, 'x-server-version': '0.1.0' }, heartbeat());
    expect(old.status).toBe(412);
    expect(old.body).toBe('incompatible version\n');
    const future = await raw(url, 'POST', '/raft', { ...base, 'x-server-version': '9.0.0', 'x-min-cluster-version': '9.0.0' }, heartbeat());
    expect(future.status).toBe(412);
    expect(future.body).toBe('incompatible version\n');
    for (const bad of ['not-a-version', '1.x.0', '1.0.0.0.0', '99999999999999999999.0.0']) {
      const r = await raw(url, 'POST', '/raft', { ...base, 'x-server-version': bad }, heartbeat());
      expect(r.status, bad).toBe(400);
      expect(r.body).toMatch(/^malformed version header: .+\n$/);
      expectCommonHeaders(r);
    }
    const badMin = await raw(url, 'GET', `/raft/stream/msgapp/${formatId(a.id)}`, { ...base, 'x-min-cluster-version': 'x' });
    expect(badMin.status).toBe(400);
    await stillServing();
  });

  it('404 invalid path, 404 invalid from, 404 outside the protocol', async () => {
    const h = { ...base, 'x-raft-to': formatId(b.id) };
    for (const path of ['/raft/stream/strange/1', '/raft/stream/msgapp', '/raft/stream//1']) {
      const r = await raw(url, 'GET', path, h);
      expect(r.status, path).toBe(404);
      expect(r.body).toBe('invalid path\n');
    }
    for (const path of ['/raft/stream/message/zz', '/raft/stream/msgapp/-1', '/raft/stream/message/10000000000000000']) {
      const r = await raw(url, 'GET', path, h);
      expect(r.status, path).toBe(404);
      expect(r.body).toBe('invalid from\n');
    }
    expect((await raw(url, 'GET', '/raft/nothing', h)).status).toBe(404);
    expect((await raw(url, 'GET', '/elsewhere', h)).status).toBe(404);
    await stillServing();
  });

  it('410 removed member on a stream dial (before the peer lookup), 403 on its POST', async () => {
    b.raft.removed.add(a.id);
    const r = await raw(url, 'GET', `/raft/stream/message/${formatId(a.id)}`, { ...base, 'x-raft-to': formatId(b.id) });
    expect(r.status).toBe(410);
    expect(r.body).toBe('removed member\n');
    expectCommonHeaders(r);
    // a removed ID that is not even a peer: 410 still (checked first)
    const gone = await raw(url, 'GET', '/raft/stream/msgapp/99', { ...base, 'x-raft-to': formatId(b.id) });
    b.raft.removed.add(0x99n);
    const gone2 = await raw(url, 'GET', '/raft/stream/msgapp/99', { ...base, 'x-raft-to': formatId(b.id) });
    expect(gone.status).toBe(404);
    expect(gone2.status).toBe(410);
    const post = await raw(url, 'POST', '/raft', base, heartbeat());
    expect(post.status).toBe(403);
    expect(post.body).toBe('cannot process message from removed member\n');
    b.raft.removed.clear();
    await stillServing();
  });

  it('403 for a message to another member, 403 when process() says removed, 500 when it fails', async () => {
    const notUs = await raw(url, 'POST', '/raft', base, heartbeat(0x77n));
    expect(notUs.status).toBe(403);
    expect(notUs.body).toBe('cannot process message to mismatch member\n');
    b.raft.processError = new RaftwireError(ErrorCode.MEMBER_REMOVED, 'the member has been permanently removed from the cluster');
    const removed = await raw(url, 'POST', '/raft', base, heartbeat());
    expect(removed.status).toBe(403);
    b.raft.processError = new Error('disk on fire');
    const failed = await raw(url, 'POST', '/raft', base, heartbeat());
    expect(failed.status).toBe(500);
    expect(failed.body).toBe('error processing raft message\n');
    b.raft.processError = undefined;
    await stillServing();
  });

  it('404 for an unknown sender; with X-PeerURLs it becomes a remote', async () => {
    const h = { ...base, 'x-raft-to': formatId(b.id), 'x-server-from': 'aa' };
    const without = await raw(url, 'GET', '/raft/stream/message/aa', h);
    expect(without.status).toBe(404);
    expect(without.body).toBe('error sender not found\n');
    expect(b.transport.remoteIds()).not.toContain(0xaan);
    const withUrls = await raw(url, 'GET', '/raft/stream/message/aa', { ...h, 'x-peerurls': 'http://127.0.0.1:1,http://127.0.0.1:2' });
    expect(withUrls.status).toBe(404);
    expect(withUrls.body).toBe('error sender not found\n');
    expect(b.transport.remoteIds()).toContain(0xaan);
    // invalid URLs in the header add nothing
    const bad = await raw(url, 'GET', '/raft/stream/message/bb', { ...h, 'x-server-from': 'bb', 'x-peerurls': 'javascript:alert(1)' });
    expect(bad.status).toBe(404);
    expect(b.transport.remoteIds()).not.toContain(0xbbn);
    await stillServing();
  });

  it('412 to field mismatch on a stream dial whose X-Raft-To is not us', async () => {
    for (const to of ['ff', '', 'not-hex']) {
      const r = await raw(url, 'GET', `/raft/stream/msgapp/${formatId(a.id)}`, { ...base, 'x-raft-to': to });
      expect(r.status, to).toBe(412);
      expect(r.body).toBe('to field mismatch\n');
      expectCommonHeaders(r);
    }
    await stillServing();
  });

  it('400 for a garbage body, on /raft and /raft/snapshot', async () => {
    for (const body of [new Uint8Array([0xff, 0x00, 0x13]), new Uint8Array(0), new TextEncoder().encode('hello')]) {
      const r = await raw(url, 'POST', '/raft', base, body);
      expect(r.status).toBe(400);
      expect(r.body).toBe('error unmarshalling raft message\n');
    }
    const snap = await raw(url, 'POST', '/raft/snapshot', base, new Uint8Array([0x05, 1, 2]));
    expect(snap.status).toBe(400);
    expect(snap.body).toMatch(/^failed to decode raft message/);
    // a well-formed envelope of the wrong type
    const wrong = encodeSnapshotEnvelope(cborMessageCodec.encode(createMessage({ type: MessageType.MsgApp, from: a.id, to: b.id })), 0);
    const wrongType = await raw(url, 'POST', '/raft/snapshot', base, wrong);
    expect(wrongType.status).toBe(400);
    expect(wrongType.body).toBe('wrong raft message type\n');
    await stillServing();
  });

  it('413 for an oversized body, declared or chunked; the connection is closed, the server serves on', async () => {
    const declared = await raw(url, 'POST', '/raft', base, new Uint8Array(SMALL_LIMIT + 1));
    expect(declared.status).toBe(413);
    expect(declared.body).toBe('request body too large\n');
    expect(declared.headers.connection).toBe('close');
    const chunks = Array.from({ length: 4 }, () => new Uint8Array(SMALL_LIMIT / 2));
    const chunked = await raw(url, 'POST', '/raft', base, chunks);
    expect(chunked.status).toBe(413);
    expect(chunked.body).toBe('request body too large\n');
    await stillServing();
    // every status above left the transport's streams usable too
    b.transport.removePeer(a.id);
    b.transport.addPeer(a.id, [a.url]);
    a.transport.addPeer(b.id, [b.url]);
    await waitFor(() => a.transport.get(b.id)?.messageReader.working, 'a stream to the server', 10_000);
  });
});
