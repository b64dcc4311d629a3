import type { HandlerRequest, ProtocolHandler } from '@raftwire/core';
import { afterEach, describe, expect, it } from 'vitest';
import { Resources, bytes, clients, hashBody, json, patternSource, readAll, readText } from './helpers.js';

/** Test handler: `/raft` echoes what it received; `/raft/stream/gen/{n}` streams n frames. */
function echoHandler(seen: HandlerRequest[]): ProtocolHandler {
  return async (req) => {
    seen.push(req);
    if (req.path === '/raft' && req.method === 'POST') {
      const body = await readAll(req.body);
      return { status: 200, headers: { 'x-echo-path': req.path, 'x-etcd-cluster-id': 'abc' }, body };
    }
    if (req.path === '/raft/snapshot') return json(200, await hashBody(req.body));
    if (req.path === '/raft/empty') return { status: 204, headers: {} };
    const m = /^\/raft\/stream\/gen\/(\d+)$/.exec(req.path);
    if (m !== null && req.method === 'GET') {
      const n = Number(m[1]);
      return {
        status: 200,
        headers: { 'content-type': 'application/octet-stream' },
        body: (async function* () {
          for (let i = 0; i < n; i++) yield bytes(`frame-${i};`);
        })(),
      };
    }
    return json(404, { error: 'no route' });
  };
}

describe.each(clients)('round trip over %s', (_name, makeLink) => {
  const r = new Resources();
  afterEach(() => r.closeAll());

  it('POSTs whole bytes and reads the echoed response with lowercase headers', async () => {
    const seen: HandlerRequest[] = [];
    const server = await r.server(echoHandler(seen));
    const link = r.link(makeLink());
    const res = await link.request(server.url, {
      method: 'POST',
      path: '/raft',
      headers: { 'X-Server-From': '1f', 'content-type': 'application/cbor' },
      body: bytes('hello raft'),
    });
    expect(res.status).toBe(200);
    expect(res.headers['x-echo-path']).toBe('/raft');
    expect(res.headers['x-etcd-cluster-id']).toBe('abc');
    expect(await readText(res.body)).toBe('hello raft');
    const got = seen[0]!;
    expect(got.method).toBe('POST');
    expect(got.headers['x-server-from']).toBe('1f');
    expect(got.headers['content-type']).toBe('application/cbor');
    expect(got.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(got.signal.aborted).toBe(false);
  });

  it('streams an async-iterable request body', async () => {
    const server = await r.server(echoHandler([]));
    const link = r.link(makeLink());
    const src = patternSource(3 * 1024 * 1024 + 17, 50_000);
    const res = await link.request(server.url, { method: 'POST', path: '/raft/snapshot', headers: {}, body: src.source });
    expect(res.status).toBe(200);
    expect(JSON.parse(await readText(res.body))).toEqual({ bytes: 3 * 1024 * 1024 + 17, sha256: src.digest() });
  });

  it('serves many requests in a row on pooled connections and in parallel', async () => {
    const server = await r.server(echoHandler([]));
    const link = r.link(makeLink());
    for (let i = 0; i < 20; i++) {
      const res = await link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: bytes(`m${i}`) });
      expect(await readText(res.body)).toBe(`m${i}`);
    }
    const all = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const res = await link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: bytes(`p${i}`) });
        return readText(res.body);
      }),
    );
    expect(all).toEqual(Array.from({ length: 20 }, (_, i) => `p${i}`));
  });

  it('reads a 204 with an empty body', async () => {
    const server = await r.server(echoHandler([]));
    const link = r.link(makeLink());
    const res = await link.request(server.url, { method: 'POST', path: '/raft/empty', headers: {}, body: bytes('x') });
    expect(res.status).toBe(204);
    expect((await readAll(res.body)).byteLength).toBe(0);
  });

  it('opens a stream and reads its frames to the end', async () => {
    const server = await r.server(echoHandler([]));
    const link = r.link(makeLink());
    const res = await link.openStream(server.url, { method: 'GET', path: '/raft/stream/gen/500', headers: { 'x-raft-to': '2' } });
    expect(res.status).toBe(200);
    const text = await readText(res.body);
    expect(text).toBe(Array.from({ length: 500 }, (_, i) => `frame-${i};`).join(''));
  });

  it('answers 404 for paths outside /raft without calling the handler', async () => {
    const seen: HandlerRequest[] = [];
    const server = await r.server(echoHandler(seen));
    const link = r.link(makeLink());
    const res = await link.request(server.url, { method: 'GET', path: '/metrics', headers: {} });
    expect(res.status).toBe(404);
    await readAll(res.body);
    expect(seen).toHaveLength(0);
  });

  it('passes a base path of the peer URL through', async () => {
    const seen: HandlerRequest[] = [];
    const server = await r.server(echoHandler(seen));
    const link = r.link(makeLink());
    const res = await link.request(`${server.url}/`, { method: 'POST', path: '/raft', headers: {}, body: bytes('a') });
    expect(res.status).toBe(200);
    await readAll(res.body);
    expect(seen[0]!.path).toBe('/raft');
  });

  it('works over IPv6 loopback', async () => {
    const seen: HandlerRequest[] = [];
    const server = await r.server(echoHandler(seen), { host: '::1' });
    expect(server.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
    const link = r.link(makeLink());
    const res = await link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: bytes('v6') });
    expect(await readText(res.body)).toBe('v6');
    expect(seen[0]!.remoteAddress).toMatch(/^\[::1\]:\d+$/);
  });

  it('rejects a non-http peer URL with ERR_INVALID_URL', async () => {
    const link = r.link(makeLink());
    await expect(link.request('ftp://127.0.0.1:1', { method: 'GET', path: '/raft/probing', headers: {} })).rejects.toMatchObject({
      code: 'ERR_INVALID_URL',
    });
    await expect(link.request('not a url', { method: 'GET', path: '/raft/probing', headers: {} })).rejects.toMatchObject({
      code: 'ERR_INVALID_URL',
    });
  });
});
