import { connect } from 'node:net';
import { ErrorCode, RaftwireError, Transport } from '@raftwire/core';
import { NodeHttpLink } from '@raftwire/adapters/http/node';
import { MemoryStorage, RaftNode } from '@raftwire/raft';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, startApiServer, toHttpError } from '../src/api-server.js';
import { createLogger } from '../src/log.js';

/** One real member (a cluster of one, so it leads at once) behind the real client API on 127.0.0.1. */
let node: RaftNode;
let transport: Transport;
let link: NodeHttpLink;
let api: ApiServer;
/** A second API server on the same member, with short idle timeouts, for the idle-connection test only. */
let idleApi: ApiServer;
const IDLE_MS = 500;

beforeAll(async () => {
  const logger = createLogger({ level: 'silent', format: 'text' });
  node = new RaftNode({ id: 1n, peers: [{ id: 1n, url: 'http://127.0.0.1:1' }], storage: new MemoryStorage(), logger, tickMs: 10 });
  link = new NodeHttpLink({ logger });
  transport = new Transport({ id: 1n, clusterId: 7n, urls: ['http://127.0.0.1:1'], link, raft: node, logger });
  transport.start();
  node.setTransport(transport);
  await node.start();
  api = await startApiServer({ node, transport, host: '127.0.0.1', port: 0, logger });
  idleApi = await startApiServer({
    node,
    transport,
    host: '127.0.0.1',
    port: 0,
    logger,
    headersTimeoutMs: IDLE_MS,
    keepAliveTimeoutMs: IDLE_MS,
  });
  // Leader of its own cluster within a few election timeouts.
  const deadline = Date.now() + 20_000;
  while (node.status().leader !== 1n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
});

afterAll(async () => {
  await api?.close();
  await idleApi?.close();
  await node?.stop();
  await transport?.stop();
  link?.close();
});

const post = (path: string, body: unknown) =>
  fetch(`${api.url}${path}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(15_000) });

describe('client API', () => {
  it('stores values as bytes: invalid UTF-8 comes back unchanged', async () => {
    const bytes = Uint8Array.of(0x66, 0xff, 0xfe, 0x80, 0xc3, 0x28, 0x00, 0xed, 0xa0, 0x80);
    const put = await fetch(`${api.url}/v1/kv/bin`, { method: 'PUT', body: bytes, signal: AbortSignal.timeout(15_000) });
    expect(put.status).toBe(200);
    const raw = await fetch(`${api.url}/v1/kv/bin`, {
      headers: { accept: 'application/octet-stream' },
      signal: AbortSignal.timeout(15_000),
    });
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toBe('application/octet-stream');
    expect([...new Uint8Array(await raw.arrayBuffer())]).toEqual([...bytes]);
    const json = (await (await fetch(`${api.url}/v1/kv/bin`, { signal: AbortSignal.timeout(15_000) })).json()) as Record<string, unknown>;
    expect(json.value).toBeUndefined();
    expect([...Buffer.from(json.valueBase64 as string, 'base64')]).toEqual([...bytes]);
    // UTF-8 text is still given as text.
    await fetch(`${api.url}/v1/kv/txt`, { method: 'PUT', body: 'héllo', signal: AbortSignal.timeout(15_000) });
    expect(await (await fetch(`${api.url}/v1/kv/txt`, { signal: AbortSignal.timeout(15_000) })).json()).toEqual({
      key: 'txt',
      value: 'héllo',
    });
  });

  it('refuses peer URLs it must not make members dial, with a 400 that says why, before proposing', async () => {
    const before = node.status().commit;
    const bad: [string, RegExp][] = [
      ['http://192.0.2.1', /no port/],
      ['http://192.0.2.1:0', /port 0/],
      ['ftp://192.0.2.1:21', /scheme ftp/],
      ['unix://192.0.2.1:1', /scheme unix/],
      ['http://192.0.2.1:2380/raft', /path/],
      ['http://user:pw@192.0.2.1:2380', /credentials/],
      ['http://192.0.2.1:99999', /unparsable/],
      [`http://${'a'.repeat(300)}.example:2380`, /host longer than 253/],
      [`http://192.0.2.1:2380/?${'q'.repeat(600)}`, /too long/],
    ];
    for (const [peerUrl, why] of bad) {
      const r = await post('/v1/members', { id: 'a', peerUrl });
      expect(r.status, peerUrl.slice(0, 40)).toBe(400);
      const body = (await r.json()) as { error: string; code: string };
      expect(body.code).toBe(ErrorCode.INVALID_URL);
      expect(body.error).toMatch(why);
    }
    const r = await post('/v1/members', { id: 'a', peerUrl: 7 });
    expect(r.status).toBe(400);
    expect(node.status().commit).toBe(before);
    expect(node.memberships()).toHaveLength(1);
  });

  it('answers membership conflicts with 409 at once: a URL in use, another change in progress, strict reconfiguration', async () => {
    const t0 = Date.now();
    const dup = await post('/v1/members', { id: 'b', peerUrl: 'http://127.0.0.1:1' });
    expect(dup.status).toBe(409);
    expect(((await dup.json()) as { error: string }).error).toMatch(/already member 1's/);
    // Concurrent changes: each answered 201 or 409, never a 503 after a timeout. Loopback ports nothing listens on.
    const answers = await Promise.all(
      [2, 3, 4, 5].map((i) => post('/v1/members', { id: `c${i}`, peerUrl: `http://127.0.0.1:${i}`, learner: true })),
    );
    const statuses = answers.map((a) => a.status);
    for (const s of statuses) expect([201, 409]).toContain(s);
    expect(statuses).toContain(201);
    // Promoting a learner that never started is refused by strict reconfiguration (or as not caught up).
    const learner = node.memberships().find((m) => m.learner === true);
    expect(learner).toBeDefined();
    const pr = await post(`/v1/members/${(learner?.id ?? 0n).toString(16)}/promote`, {});
    expect(pr.status).toBe(409);
    const missing = await fetch(`${api.url}/v1/members/abc`, { method: 'DELETE', signal: AbortSignal.timeout(15_000) });
    expect(missing.status).toBe(404);
    expect(Date.now() - t0).toBeLessThan(8_000);
    expect(toHttpError(new RaftwireError(ErrorCode.CONFLICT, 'another membership change is in progress')).status).toBe(409);
  });

  it('closes idle connections: one that never sends a request, and a kept-alive one after its request', async () => {
    const closedAfter = (send: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const t0 = Date.now();
        const s = connect(Number(new URL(idleApi.url).port), '127.0.0.1', () => {
          if (send) s.write(send);
        });
        s.on('data', () => {});
        s.on('close', () => resolve(Date.now() - t0));
        s.on('error', reject);
        setTimeout(() => reject(new Error('the server kept an idle connection open for 15 s')), 15_000).unref();
      });
    const [silent, keptAlive, partial] = await Promise.all([
      closedAfter(''),
      closedAfter('GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n'),
      closedAfter('GET /v1/status HTTP/1.1\r\nHost: x\r\n'),
    ]);
    for (const ms of [silent, keptAlive, partial]) expect(ms).toBeGreaterThanOrEqual(IDLE_MS - 50);
  });
});
