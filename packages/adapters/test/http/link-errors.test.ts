import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FetchLink } from '../../src/http/index.js';
import { NodeHttpLink } from '../../src/http/node/index.js';
import { Resources, bytes, clients, readText, rejectionOf, waitFor } from './helpers.js';

/** A TCP server that accepts connections and never answers (optionally writes `reply` then cuts). */
async function rawServer(r: Resources, onSocket: (s: net.Socket) => void = () => {}): Promise<string> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    onSocket(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.defer(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe.each(clients)('link errors over %s', (_name, makeLink) => {
  const r = new Resources();
  afterEach(() => r.closeAll());

  it('connection refused → ERR_LINK, fast (well before the dial timeout)', async () => {
    const port = await freePort();
    const link = r.link(makeLink({ dialTimeoutMs: 10_000 }));
    const start = Date.now();
    const err = await rejectionOf(
      link.request(`http://127.0.0.1:${port}`, { method: 'POST', path: '/raft', headers: {}, body: bytes('m') }),
    );
    expect(err).toMatchObject({ name: 'RaftwireError', code: 'ERR_LINK' });
    expect(Date.now() - start).toBeLessThan(5000);
    const err2 = await rejectionOf(
      link.openStream(`http://127.0.0.1:${port}`, { method: 'GET', path: '/raft/stream/message/1', headers: {} }),
    );
    expect(err2).toMatchObject({ code: 'ERR_LINK' });
  });

  it('dial timeout: a stream dial without a response head fails with ERR_LINK (cause ERR_TIMEOUT) after dialTimeoutMs', async () => {
    const url = await rawServer(r);
    const link = r.link(makeLink({ dialTimeoutMs: 300 }));
    const start = Date.now();
    const err = await rejectionOf(link.openStream(url, { method: 'GET', path: '/raft/stream/message/1', headers: {} }));
    const elapsed = Date.now() - start;
    expect(err).toMatchObject({ code: 'ERR_LINK', cause: { code: 'ERR_TIMEOUT' } });
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(5000);
  });

  it('response timeout: a POST whose body was sent but gets no head fails after responseTimeoutMs', async () => {
    const url = await rawServer(r);
    const link = r.link(makeLink({ dialTimeoutMs: 10_000, responseTimeoutMs: 300 }));
    const start = Date.now();
    const body = (async function* () {
      yield bytes('a'.repeat(100_000));
    })();
    const err = await rejectionOf(link.request(url, { method: 'POST', path: '/raft/snapshot', headers: {}, body }));
    const elapsed = Date.now() - start;
    expect(err).toMatchObject({ code: 'ERR_LINK', cause: { code: 'ERR_TIMEOUT' } });
    expect((err as Error).message).toContain('response head');
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(5000);
  });

  it('an already-aborted signal fails at once with ERR_ABORTED', async () => {
    const url = await rawServer(r);
    const link = r.link(makeLink());
    const err = await rejectionOf(link.request(url, { method: 'GET', path: '/raft/probing', headers: {}, signal: AbortSignal.abort() }));
    expect(err).toMatchObject({ code: 'ERR_ABORTED' });
  });

  it('abort while waiting for the response head → ERR_ABORTED', async () => {
    const url = await rawServer(r);
    const link = r.link(makeLink({ dialTimeoutMs: 10_000 }));
    const ac = new AbortController();
    const p = link.openStream(url, { method: 'GET', path: '/raft/stream/message/1', headers: {}, signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    expect(await rejectionOf(p)).toMatchObject({ code: 'ERR_ABORTED' });
  });

  it('abort during an upload rejects with ERR_ABORTED and stops the body source', async () => {
    let received = 0;
    const server = await r.server(async (req) => {
      for await (const c of req.body) received += c.byteLength;
      return { status: 204, headers: {} };
    });
    const link = r.link(makeLink());
    let sourceClosed = false;
    const body = (async function* () {
      try {
        for (;;) {
          yield new Uint8Array(1024);
          await new Promise((res) => setTimeout(res, 10));
        }
      } finally {
        sourceClosed = true;
      }
    })();
    const ac = new AbortController();
    const p = link.request(server.url, { method: 'POST', path: '/raft/snapshot', headers: {}, body, signal: ac.signal });
    await waitFor(() => received > 4096, 'some of the upload to arrive');
    ac.abort();
    expect(await rejectionOf(p)).toMatchObject({ code: 'ERR_ABORTED' });
    await waitFor(() => sourceClosed, 'the body source to be closed');
  });

  it('close() aborts requests in flight and refuses new ones', async () => {
    const url = await rawServer(r);
    const link = makeLink({ dialTimeoutMs: 10_000 });
    const p = link.openStream(url, { method: 'GET', path: '/raft/stream/message/1', headers: {} });
    await new Promise((res) => setTimeout(res, 50));
    await link.close?.();
    expect(await rejectionOf(p)).toMatchObject({ code: 'ERR_ABORTED' });
    expect(await rejectionOf(link.request(url, { method: 'GET', path: '/raft/probing', headers: {} }))).toMatchObject({
      code: 'ERR_ABORTED',
    });
  });

  it('a connection cut in the middle of a stream body → ERR_LINK', async () => {
    const url = await rawServer(r, (s) => {
      s.once('data', () => {
        s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
        setTimeout(() => s.destroy(), 50);
      });
    });
    const link = r.link(makeLink());
    const res = await link.openStream(url, { method: 'GET', path: '/raft/stream/message/1', headers: {} });
    expect(res.status).toBe(200);
    const it = res.body[Symbol.asyncIterator]();
    const first = await it.next();
    expect(new TextDecoder().decode(first.value)).toBe('hello');
    expect(await rejectionOf(it.next())).toMatchObject({ code: 'ERR_LINK' });
  });
});

describe('NodeHttpLink and keep-alive connections the remote closes', () => {
  const r = new Resources();
  afterEach(() => r.closeAll());

  /** Answers the first request on each connection (keep-alive), then drops the connection at the next one. */
  async function oneShotServer(): Promise<{ url: string; connections: () => number }> {
    let connections = 0;
    const url = await rawServer(r, (s) => {
      connections++;
      let text = '';
      let answered = false;
      s.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (!text.includes('\r\n\r\n')) return;
        if (answered) {
          s.destroy();
          return;
        }
        answered = true;
        text = '';
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
      });
    });
    return { url, connections: () => connections };
  }

  it('retries a bodiless or whole-bytes request once on a fresh connection', async () => {
    const { url, connections } = await oneShotServer();
    const link = r.link(new NodeHttpLink());
    for (const body of [undefined, bytes('whole')]) {
      const res = await link.request(url, {
        method: body === undefined ? 'GET' : 'POST',
        path: '/raft/probing',
        headers: {},
        ...(body ? { body } : {}),
      });
      expect(res.status).toBe(200);
      expect(await readText(res.body)).toBe('ok');
    }
    const again = await link.request(url, { method: 'GET', path: '/raft/probing', headers: {} });
    expect(await readText(again.body)).toBe('ok');
    expect(connections()).toBe(3);
  });

  it('never replays a streamed body: ERR_LINK', async () => {
    const { url } = await oneShotServer();
    const link = r.link(new NodeHttpLink());
    const first = await link.request(url, { method: 'GET', path: '/raft/probing', headers: {} });
    expect(await readText(first.body)).toBe('ok');
    const body = (async function* () {
      yield bytes('streamed');
    })();
    const err = await rejectionOf(link.request(url, { method: 'POST', path: '/raft', headers: {}, body }));
    expect(err).toMatchObject({ code: 'ERR_LINK' });
  });
});

describe('FetchLink and redirects', () => {
  const r = new Resources();
  afterEach(() => r.closeAll());

  it('refuses a redirect with ERR_LINK and never follows it', async () => {
    // The Location is an RFC 5737 address: following it would be a bug, and it is never dialled.
    const url = await rawServer(r, (s) =>
      s.once('data', () => s.end('HTTP/1.1 307 Temporary Redirect\r\nlocation: http://192.0.2.1:2380/raft\r\ncontent-length: 0\r\n\r\n')),
    );
    const link = r.link(new FetchLink({ dialTimeoutMs: 5000 }));
    const err = await rejectionOf(link.request(url, { method: 'POST', path: '/raft', headers: {}, body: bytes('m') }));
    expect(err).toMatchObject({ name: 'RaftwireError', code: 'ERR_LINK' });
    expect(String((err as Error).message)).toContain('refused a redirect (status 307)');
    const err2 = await rejectionOf(link.openStream(url, { method: 'GET', path: '/raft/stream/message/1', headers: {} }));
    expect(err2).toMatchObject({ code: 'ERR_LINK' });
  });
});
