/**
 * The fetch-API server side, driven with web-standard `Request`s in this
 * process (the objects Deno.serve, Bun.serve and workerd hand out): the same
 * statuses and limits as the Node server, streamed responses chunk by chunk,
 * the requester's AbortSignal reaching the handler, shutdown, CORS, a base
 * path, and mounting under a Hono router. Real runtimes serve it in
 * `runtime-compliance.test.ts`.
 */
import { ErrorCode, type HandlerRequest, MessageType, Transport, cborMessageCodec, createMessage, formatId } from '@raftwire/core';
import { RecordingRaft } from '@raftwire/core/testing';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { FetchLink, createFetchHandler } from '../../src/http/index.js';
import { ControlledStream, type Seen, bytes, deferred, hashBody, json } from './helpers.js';

const BASE = 'http://127.0.0.1:2380';

function post(path: string, body: BodyInit | Uint8Array | ReadableStream<Uint8Array>, init: RequestInit = {}): Request {
  return new Request(`${BASE}${path}`, { method: 'POST', body, duplex: 'half', ...init } as RequestInit);
}

/** A body that sends `first` and then nothing, until the test ends it. */
function stallingBody(first: Uint8Array): { stream: ReadableStream<Uint8Array>; cancelled: Promise<void> } {
  const cancelled = deferred();
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(first);
    },
    cancel() {
      cancelled.resolve();
    },
  });
  return { stream, cancelled: cancelled.promise };
}

function chunked(total: number, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent >= total) {
        c.close();
        return;
      }
      const n = Math.min(chunk, total - sent);
      sent += n;
      c.enqueue(new Uint8Array(n));
    },
  });
}

describe('createFetchHandler with a real Transport.handler', () => {
  const stops: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const s of stops.splice(0)) await s();
  });

  function member() {
    const raft = new RecordingRaft();
    const transport = new Transport({ id: 2n, clusterId: 0x1000n, urls: [BASE], link: new FetchLink(), raft });
    transport.start();
    transport.addPeer(1n, ['http://127.0.0.1:1']);
    stops.push(() => transport.stop());
    const headers = {
      'x-server-from': '1',
      'x-server-version': '1.0.0',
      'x-min-cluster-version': '1.0.0',
      'x-etcd-cluster-id': formatId(0x1000n),
    };
    const heartbeat = cborMessageCodec.encode(createMessage({ type: MessageType.MsgHeartbeat, from: 1n, to: 2n, term: 1 }));
    return { raft, transport, headers, heartbeat };
  }

  it('204 for a message processed, 405 + Allow, 404 outside the protocol, the fallback for other paths', async () => {
    const { raft, transport, headers, heartbeat } = member();
    const raftFetch = createFetchHandler(transport.handler);
    const ok = await raftFetch(post('/raft', heartbeat, { headers }));
    expect(ok.status).toBe(204);
    expect(ok.headers.get('x-etcd-cluster-id')).toBe('1000');
    expect(raft.received.at(-1)?.from).toBe(1n);
    const wrong = await raftFetch(new Request(`${BASE}/raft`, { headers }));
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    expect(await wrong.text()).toBe('Method Not Allowed\n');
    const outside = await raftFetch(new Request(`${BASE}/v1/status`));
    expect([outside.status, await outside.text()]).toEqual([404, '404 page not found\n']);
    const withFallback = createFetchHandler(transport.handler, { fallback: () => new Response('api', { status: 200 }) });
    expect(await (await withFallback(new Request(`${BASE}/v1/status`))).text()).toBe('api');
    expect((await (await withFallback(new Request(`${BASE}/raft/probing`))).json()) as object).toMatchObject({ OK: true });
  });

  it('413 for a declared Content-Length over maxBodyBytes (handler not run) and for a streamed body over it', async () => {
    const { raft, transport, headers, heartbeat } = member();
    const raftFetch = createFetchHandler(transport.handler, { maxBodyBytes: 1024, responseHeaders: { 'x-etcd-cluster-id': '1000' } });
    const declared = await raftFetch(post('/raft', new Uint8Array(5000), { headers }));
    expect([declared.status, await declared.text()]).toEqual([413, 'request body too large\n']);
    expect(declared.headers.get('x-etcd-cluster-id')).toBe('1000');
    const streamed = await raftFetch(post('/raft', chunked(4096, 512), { headers }));
    expect([streamed.status, await streamed.text()]).toEqual([413, 'request body too large\n']);
    expect(raft.received).toHaveLength(0);
    // ... and it serves on.
    expect((await raftFetch(post('/raft', heartbeat, { headers }))).status).toBe(204);
  });

  it('408 for a body that stalls past bodyReadTimeoutMs; the stalled body is cancelled', async () => {
    const { transport, headers } = member();
    const raftFetch = createFetchHandler(transport.handler, { bodyReadTimeoutMs: 200 });
    const { stream, cancelled } = stallingBody(new Uint8Array(10));
    const t0 = Date.now();
    const res = await raftFetch(post('/raft', stream, { headers }));
    expect([res.status, await res.text()]).toEqual([408, 'request body read timeout\n']);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    await cancelled;
  });

  it('the snapshot path is not bound by maxBodyBytes', async () => {
    const seen: Seen = [];
    const raftFetch = createFetchHandler(
      async (req) => {
        seen.push(req);
        return json(200, await hashBody(req.body));
      },
      { maxBodyBytes: 1024 },
    );
    const res = await raftFetch(post('/raft/snapshot', chunked(2 * 1024 * 1024)));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { bytes: number }).bytes).toBe(2 * 1024 * 1024);
  });
});

describe('createFetchHandler: streaming, aborts, shutdown', () => {
  it('a streamed answer yields each chunk as it is written; a reader that cancels aborts the handler signal', async () => {
    let stream: ControlledStream | undefined;
    let got: HandlerRequest | undefined;
    const raftFetch = createFetchHandler(async (req) => {
      got = req;
      stream = new ControlledStream(req.signal);
      return { status: 200, headers: {}, body: stream };
    });
    // A server signal that never fires (as serveFetch passes in Deno): the cancel alone must tell.
    const res = await raftFetch.handle(new Request(`${BASE}/raft/stream/message/1`), { signal: new AbortController().signal });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    for (const word of ['one', 'two', 'three']) {
      const read = reader.read();
      stream?.push(bytes(word));
      const r = await read;
      expect(new TextDecoder().decode(r.value)).toBe(word);
    }
    expect(raftFetch.activeRequests).toBe(1);
    expect(got?.signal.aborted).toBe(false);
    await reader.cancel();
    await stream?.returned.promise;
    expect(got?.signal.reason).toMatchObject({ code: ErrorCode.LINK });
    expect(raftFetch.activeRequests).toBe(0);
  });

  it("the requester's AbortSignal aborts the handler's signal and closes the stream's source", async () => {
    let got: HandlerRequest | undefined;
    let stream: ControlledStream | undefined;
    const raftFetch = createFetchHandler(async (req) => {
      got = req;
      stream = new ControlledStream();
      return { status: 200, headers: {}, body: stream };
    });
    const ctl = new AbortController();
    const res = await raftFetch(new Request(`${BASE}/raft/stream/msgapp/1`, { signal: ctl.signal }));
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const pending = reader.read();
    ctl.abort();
    expect(got?.signal.aborted).toBe(true);
    expect(got?.signal.reason).toMatchObject({ code: ErrorCode.LINK });
    await stream?.returned.promise;
    expect(await pending).toEqual({ done: true, value: undefined });
    await raftFetch.idle();
  });

  it('a source that throws errors the stream (a broken stream, not a clean end)', async () => {
    const raftFetch = createFetchHandler(async () => ({
      status: 200,
      headers: {},
      body: (async function* () {
        yield bytes('a');
        throw new Error('source broke');
      })(),
    }));
    const res = await raftFetch(new Request(`${BASE}/raft/stream/message/1`));
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('a');
    await expect(reader.read()).rejects.toThrow('source broke');
  });

  it('shutdown ends open streams cleanly, aborts handler signals and refuses later requests with 503', async () => {
    let got: HandlerRequest | undefined;
    const raftFetch = createFetchHandler(async (req) => {
      got = req;
      return { status: 200, headers: {}, body: new ControlledStream() };
    });
    const res = await raftFetch(new Request(`${BASE}/raft/stream/message/1`));
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const pending = reader.read();
    raftFetch.shutdown();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(got?.signal.aborted).toBe(true);
    await raftFetch.idle();
    const later = await raftFetch(new Request(`${BASE}/raft/probing`));
    expect([later.status, await later.text()]).toEqual([503, 'server shutting down\n']);
  });

  it('a handler that throws gets 500 and the handler serves on', async () => {
    let n = 0;
    const raftFetch = createFetchHandler(async () => {
      if (n++ === 0) throw new Error('boom');
      return json(200, { ok: true });
    });
    const first = await raftFetch(post('/raft', bytes('x')));
    expect([first.status, await first.text()]).toEqual([500, 'internal error\n']);
    expect((await raftFetch(post('/raft', bytes('x')))).status).toBe(200);
  });

  it('CORS: preflights from allowed origins are answered here, others refused; answers carry the origin', async () => {
    let calls = 0;
    const raftFetch = createFetchHandler(
      async () => {
        calls++;
        return json(200, {});
      },
      { cors: { allowedOrigins: ['http://127.0.0.1:5173'] } },
    );
    const preflight = (origin: string) =>
      raftFetch(
        new Request(`${BASE}/raft`, {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-server-from' },
        }),
      );
    const ok = await preflight('http://127.0.0.1:5173');
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:5173');
    expect(ok.headers.get('access-control-allow-headers')).toBe('x-server-from');
    expect((await preflight('http://192.0.2.1')).status).toBe(403);
    const res = await raftFetch(post('/raft', bytes('x'), { headers: { origin: 'http://127.0.0.1:5173' } }));
    expect(res.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:5173');
    expect(calls).toBe(1);
  });

  it('serves under a base path, and nothing outside it', async () => {
    const paths: string[] = [];
    const raftFetch = createFetchHandler(
      async (req) => {
        paths.push(req.path);
        return json(200, {});
      },
      { basePath: '/cluster/' },
    );
    expect((await raftFetch(new Request(`${BASE}/cluster/raft/probing`))).status).toBe(200);
    expect((await raftFetch(new Request(`${BASE}/raft/probing`))).status).toBe(404);
    expect(paths).toEqual(['/raft/probing']);
  });

  it('mounts under a Hono router beside other routes', async () => {
    const raftFetch = createFetchHandler(async (req) => json(200, { path: req.path, from: req.headers['x-server-from'] }));
    const app = new Hono();
    app.get('/health', (c) => c.text('ok'));
    app.all('/raft/*', (c) => raftFetch(c.req.raw));
    app.all('/raft', (c) => raftFetch(c.req.raw));
    expect(await (await app.fetch(new Request(`${BASE}/health`))).text()).toBe('ok');
    const res = await app.fetch(post('/raft', bytes('m'), { headers: { 'x-server-from': '1' } }));
    expect(await res.json()).toEqual({ path: '/raft', from: '1' });
    const probe = await app.fetch(new Request(`${BASE}/raft/stream/message/1`));
    expect(((await probe.json()) as { path: string }).path).toBe('/raft/stream/message/1');
  });
});
