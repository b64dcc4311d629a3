import type { HandlerRequest } from '@raftwire/core';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlledStream, Resources, bytes, clients, rejectionOf, waitFor } from './helpers.js';

/** A server whose every GET /raft/stream/... answers 200 with a ControlledStream the test drives. */
async function streamServer(r: Resources) {
  const streams: ControlledStream[] = [];
  const requests: HandlerRequest[] = [];
  const server = await r.server(async (req) => {
    requests.push(req);
    const s = new ControlledStream(req.signal);
    streams.push(s);
    return { status: 200, headers: { 'x-server-version': '3.6.0' }, body: s };
  });
  return { server, streams, requests };
}

describe.each(clients)('streams over %s', (_name, makeLink) => {
  const r = new Resources();
  afterEach(() => r.closeAll());

  it('delivers each chunk as it is written, not when the stream ends', async () => {
    const { server, streams } = await streamServer(r);
    const link = r.link(makeLink());
    const res = await link.openStream(server.url, { method: 'GET', path: '/raft/stream/message/1', headers: {} });
    expect(res.status).toBe(200);
    expect(res.headers['x-server-version']).toBe('3.6.0');
    const it = res.body[Symbol.asyncIterator]();
    // The next chunk exists only after the previous one arrived: a buffering adapter would hang here.
    for (let i = 0; i < 20; i++) {
      streams[0]!.push(bytes(`chunk-${i}`));
      const got = await it.next();
      expect(got.done).toBe(false);
      expect(new TextDecoder().decode(got.value)).toBe(`chunk-${i}`);
    }
    streams[0]!.end();
    expect((await it.next()).done).toBe(true);
  });

  it('client abort mid-stream ends the reader with ERR_ABORTED and the server-side iteration', async () => {
    const { server, streams, requests } = await streamServer(r);
    const link = r.link(makeLink());
    const ac = new AbortController();
    const res = await link.openStream(server.url, { method: 'GET', path: '/raft/stream/msgapp/1', headers: {}, signal: ac.signal });
    const it = res.body[Symbol.asyncIterator]();
    streams[0]!.push(bytes('first'));
    expect((await it.next()).done).toBe(false);
    ac.abort();
    const err = await rejectionOf(it.next());
    expect(err).toMatchObject({ code: 'ERR_ABORTED' });
    await streams[0]!.returned.promise;
    expect(streams[0]!.returnCalls).toBe(1);
    await waitFor(() => requests[0]!.signal.aborted, 'server-side signal to fire');
    await waitFor(() => server.listener.activeRequests === 0, 'server to forget the request');
  });

  it('breaking out of the read loop closes the stream on the server', async () => {
    const { server, streams, requests } = await streamServer(r);
    const link = r.link(makeLink());
    const res = await link.openStream(server.url, { method: 'GET', path: '/raft/stream/message/1', headers: {} });
    streams[0]!.push(bytes('a'));
    for await (const chunk of res.body) {
      expect(chunk.byteLength).toBe(1);
      break;
    }
    await streams[0]!.returned.promise;
    await waitFor(() => requests[0]!.signal.aborted, 'server-side signal to fire');
  });

  it('server close ends open streams and resolves', async () => {
    const { server, streams, requests } = await streamServer(r);
    const link = r.link(makeLink());
    const readers = await Promise.all(
      [1, 2].map(async (i) => {
        const res = await link.openStream(server.url, { method: 'GET', path: `/raft/stream/message/${i}`, headers: {} });
        return res.body[Symbol.asyncIterator]();
      }),
    );
    await waitFor(() => streams.length === 2, 'both streams to be served');
    for (const s of streams) s.push(bytes('hello'));
    for (const it of readers) expect((await it.next()).done).toBe(false);

    await server.close();
    for (const it of readers) {
      // A clean end (the server finished the chunked body); never a hang.
      expect((await it.next()).done).toBe(true);
    }
    for (const s of streams) expect(s.returnCalls).toBe(1);
    for (const req of requests) expect(req.signal.aborted).toBe(true);
    expect(server.server.listening).toBe(false);
  });

  it('a stream source that throws cuts the connection (ERR_LINK), not a clean end', async () => {
    const server = await r.server(async () => ({
      status: 200,
      headers: {},
      body: (async function* () {
        yield bytes('ok');
        throw new Error('source failed');
      })(),
    }));
    const link = r.link(makeLink());
    const res = await link.openStream(server.url, { method: 'GET', path: '/raft/stream/message/1', headers: {} });
    const it = res.body[Symbol.asyncIterator]();
    const chunks: Uint8Array[] = [];
    const err = await rejectionOf(
      (async () => {
        for (;;) {
          const n = await it.next();
          if (n.done) return;
          chunks.push(n.value);
        }
      })(),
    );
    expect(err).toMatchObject({ code: 'ERR_LINK' });
  });
});
