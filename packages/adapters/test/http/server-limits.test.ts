import * as net from 'node:net';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, type ProtocolHandler, isRaftwireError } from '@raftwire/core';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeHttpLink, createRaftRequestListener } from '../../src/http/node/index.js';
import { Resources, bytes, clients, deferred, hashBody, json, patternSource, readText } from './helpers.js';

/** Reads the body and reports its size, or the error code the body iteration threw. */
function countingHandler(errors: string[]): ProtocolHandler {
  return async (req) => {
    try {
      return json(200, await hashBody(req.body));
    } catch (err) {
      errors.push(isRaftwireError(err) ? err.code : String(err));
      return json(400, { error: String(err) });
    }
  };
}

describe.each(clients)('server limits with %s', (_name, makeLink) => {
  const r = new Resources();
  afterEach(() => r.closeAll());

  it('a streamed body over maxBodyBytes gets 413 and the server keeps serving', async () => {
    const errors: string[] = [];
    const server = await r.server(countingHandler(errors), { maxBodyBytes: 1024 * 1024 });
    const link = r.link(makeLink());
    const big = patternSource(4 * 1024 * 1024);
    const outcome = await link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: big.source }).then(
      async (res) => ({ status: res.status, text: await readText(res.body).catch(() => '') }),
      (err: unknown) => ({ err }),
    );
    // The answer is 413; a client still uploading may instead see the connection close under it.
    if ('status' in outcome) {
      expect(outcome.status).toBe(413);
      expect(outcome.text).toBe('request body too large\n');
    } else {
      expect(outcome.err).toMatchObject({ code: 'ERR_LINK' });
    }
    expect(errors).toEqual([ErrorCode.FRAME_TOO_LARGE]);

    const ok = await link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: bytes('small') });
    expect(ok.status).toBe(200);
    expect(JSON.parse(await readText(ok.body))).toMatchObject({ bytes: 5 });
  });

  it('a declared Content-Length over the limit gets 413 without running the handler', async () => {
    const errors: string[] = [];
    let calls = 0;
    const server = await r.server(
      async (req) => {
        calls++;
        return countingHandler(errors)(req);
      },
      { maxBodyBytes: 1000 },
    );
    const link = r.link(makeLink());
    const res = await link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: new Uint8Array(5000) });
    expect(res.status).toBe(413);
    expect(await readText(res.body)).toBe('request body too large\n');
    expect(calls).toBe(0);
    const ok = await link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: new Uint8Array(1000) });
    expect(ok.status).toBe(200);
    await readText(ok.body);
  });

  it('the snapshot path is not bound by maxBodyBytes', async () => {
    const server = await r.server(countingHandler([]), { maxBodyBytes: 1024 });
    const link = r.link(makeLink());
    const src = patternSource(2 * 1024 * 1024);
    const res = await link.request(server.url, { method: 'POST', path: '/raft/snapshot', headers: {}, body: src.source });
    expect(res.status).toBe(200);
    expect(JSON.parse(await readText(res.body))).toEqual({ bytes: 2 * 1024 * 1024, sha256: src.digest() });
  });

  it('a handler that throws gets 500 and the server keeps serving', async () => {
    let n = 0;
    const server = await r.server(async () => {
      if (n++ === 0) throw new Error('boom');
      return { status: 204, headers: {} };
    });
    const link = r.link(makeLink());
    const res = await link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: bytes('x') });
    expect(res.status).toBe(500);
    expect(await readText(res.body)).toBe('internal error\n');
    const ok = await link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: bytes('x') });
    expect(ok.status).toBe(204);
  });
});

describe.each(clients)('slow request bodies from %s', (_name, makeLink) => {
  const r = new Resources();
  afterEach(() => r.closeAll());

  it('a body that stalls past bodyReadTimeoutMs is refused with 408 and the connection closed', async () => {
    const errors: string[] = [];
    const server = await r.server(countingHandler(errors), { bodyReadTimeoutMs: 300 });
    const link = r.link(makeLink());
    const stall = deferred();
    r.defer(() => stall.resolve());
    const body = (async function* () {
      yield bytes('start');
      await stall.promise;
    })();
    const start = Date.now();
    const res = await link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body });
    expect(res.status).toBe(408);
    expect(res.headers['connection']).toBe('close');
    expect(await readText(res.body)).toBe('request body read timeout\n');
    expect(Date.now() - start).toBeGreaterThanOrEqual(250);
    expect(errors).toEqual([ErrorCode.TIMEOUT]);
    // The server still serves others.
    const ok = await link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: bytes('fine') });
    expect(ok.status).toBe(200);
    await readText(ok.body);
  });

  it('bodyReadTimeoutMs bounds each wait, not the whole body: a body that trickles for longer is served, a stall after it is not', async () => {
    const errors: string[] = [];
    const server = await r.server(countingHandler(errors), { bodyReadTimeoutMs: 1000 });
    const link = r.link(makeLink());
    // Chunks 50 ms apart for ~1.5 s in all: longer than the timeout, each gap a twentieth of it.
    const trickle = async function* () {
      for (let i = 0; i < 30; i++) {
        yield bytes(`part ${i};`);
        await new Promise((res) => setTimeout(res, 50));
      }
    };
    const ok = await link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: trickle() });
    expect(ok.status).toBe(200);
    expect(JSON.parse(await readText(ok.body))).toMatchObject({ bytes: 'part 0;'.length * 10 + 'part 10;'.length * 20 });
    // The same trickle, then a stall: the stall is timed out even though the body's single timer was armed long before.
    const stall = deferred();
    r.defer(() => stall.resolve());
    const stalled = (async function* () {
      yield* trickle();
      await stall.promise;
    })();
    const res = await link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: stalled });
    expect(res.status).toBe(408);
    await readText(res.body);
    expect(errors).toEqual([ErrorCode.TIMEOUT]);
  });

  it('time the handler spends not reading does not count against the client', async () => {
    const server = await r.server(
      async (req) => {
        await new Promise((res) => setTimeout(res, 600));
        return json(200, await hashBody(req.body));
      },
      { bodyReadTimeoutMs: 200 },
    );
    const link = r.link(makeLink());
    const res = await link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: bytes('patient') });
    expect(res.status).toBe(200);
    expect(JSON.parse(await readText(res.body))).toMatchObject({ bytes: 7 });
  });
});

describe('server guards', () => {
  const r = new Resources();
  afterEach(() => r.closeAll());

  it('NodeHttpLink frames a streamed body of known length with Content-Length, not chunked', async () => {
    const seen: { headers: Record<string, string> }[] = [];
    const server = await r.server(async (req) => {
      seen.push({ headers: { ...req.headers } });
      return json(200, await hashBody(req.body));
    });
    const link = r.link(new NodeHttpLink());
    const src = patternSource(300_000, 64 * 1024);
    const res = await link.request(server.url, { method: 'POST', path: '/raft/snapshot', headers: {}, body: src.source, length: 300_000 });
    expect(JSON.parse(await readText(res.body))).toEqual({ bytes: 300_000, sha256: src.digest() });
    expect(seen[0]!.headers['content-length']).toBe('300000');
    expect(seen[0]!.headers['transfer-encoding']).toBeUndefined();
    // Without a length the same body goes chunked.
    const again = patternSource(300_000, 64 * 1024);
    await readText((await link.request(server.url, { method: 'POST', path: '/raft/snapshot', headers: {}, body: again.source })).body);
    expect(seen[1]!.headers['transfer-encoding']).toBe('chunked');
  });

  it('request headers that trickle in past headersTimeoutMs get 408 and the connection closed', async () => {
    let calls = 0;
    const server = await r.server(
      async () => {
        calls++;
        return { status: 204, headers: {} };
      },
      { headersTimeoutMs: 300 },
    );
    const { port } = new URL(server.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    r.defer(() => {
      socket.destroy();
    });
    socket.write('POST /raft HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Server-From: 1\r\n');
    const start = Date.now();
    const reply = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (d: Buffer) => {
        text += d.toString();
      });
      socket.on('close', () => resolve(text));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(Date.now() - start).toBeLessThan(5000);
    expect(calls).toBe(0);
  });

  it('adds responseHeaders to the answers the adapter writes itself', async () => {
    const server = await r.server(async () => ({ status: 204, headers: { 'x-from-handler': 'yes' } }), {
      maxBodyBytes: 10,
      responseHeaders: { 'x-etcd-cluster-id': 'c1', 'x-server-version': '3.6.0' },
    });
    const link = r.link(new NodeHttpLink());
    const refused = await link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: new Uint8Array(100) });
    expect(refused.status).toBe(413);
    expect(refused.headers).toMatchObject({ 'x-etcd-cluster-id': 'c1', 'x-server-version': '3.6.0' });
    await readText(refused.body);
    const ok = await link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: new Uint8Array(1) });
    expect(ok.status).toBe(204);
    expect(ok.headers['x-from-handler']).toBe('yes');
    expect(ok.headers['x-etcd-cluster-id']).toBeUndefined();
  });
});

describe('createRaftRequestListener in an existing server', () => {
  it('takes /raft paths and falls through for others', async () => {
    const raft = createRaftRequestListener(async (req) => json(200, { path: req.path, method: req.method }));
    const server = http.createServer((req, res) => {
      if (raft(req, res)) return;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('app');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const link = new NodeHttpLink();
    try {
      const a = await link.request(url, { method: 'GET', path: '/raft/probing', headers: {} });
      expect(JSON.parse(await readText(a.body))).toEqual({ path: '/raft/probing', method: 'GET' });
      const b = await link.request(url, { method: 'GET', path: '/rafting', headers: {} });
      expect(await readText(b.body)).toBe('app');
      const c = await link.request(url, { method: 'GET', path: '/', headers: {} });
      expect(await readText(c.body)).toBe('app');
      raft.shutdown();
      const d = await link.request(url, { method: 'POST', path: '/raft', headers: {}, body: bytes('late') });
      expect(d.status).toBe(503);
      await readText(d.body);
      await raft.idle();
      expect(raft.activeRequests).toBe(0);
    } finally {
      link.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('returns false for other paths without touching the request or response', () => {
    const raft = createRaftRequestListener(async () => json(200, {}));
    for (const url of ['/other', '/raftx', '/', '/RAFT']) {
      // Objects with nothing but a URL: any access beyond it would throw.
      expect(raft({ url } as http.IncomingMessage, {} as http.ServerResponse)).toBe(false);
    }
    expect(raft.activeRequests).toBe(0);
  });
});
