import { afterEach, describe, expect, it } from 'vitest';
import { NodeHttpLink } from '../../src/http/node/index.js';
import { Resources, bytes, deferred, readText, rejectionOf, waitFor } from './helpers.js';

describe('server close', () => {
  const r = new Resources();
  afterEach(() => r.closeAll());

  it('lets a request in flight finish, then resolves; later connections are refused', async () => {
    const started = deferred();
    const release = deferred();
    let sawAbort = false;
    const server = await r.server(async (req) => {
      started.resolve();
      await release.promise;
      sawAbort = req.signal.aborted;
      return { status: 204, headers: {} };
    });
    const link = r.link(new NodeHttpLink());
    const pending = link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: bytes('m') });
    await started.promise;
    let closed = false;
    const closing = server.close().then(() => {
      closed = true;
    });
    await new Promise((res) => setTimeout(res, 100));
    expect(closed).toBe(false);
    release.resolve();
    const res = await pending;
    expect(res.status).toBe(204);
    expect(sawAbort).toBe(true);
    await closing;
    expect(server.server.listening).toBe(false);
    expect(await rejectionOf(link.request(server.url, { method: 'GET', path: '/raft/probing', headers: {} }))).toMatchObject({
      code: 'ERR_LINK',
    });
  });

  it('close({signal}) stops waiting for a handler that ignores its signal and cuts the connection', async () => {
    const started = deferred();
    const never = deferred();
    r.defer(() => never.resolve());
    const server = await r.server(async () => {
      started.resolve();
      await never.promise;
      return { status: 204, headers: {} };
    });
    const link = r.link(new NodeHttpLink());
    const pending = link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: bytes('m') });
    await started.promise;
    const ac = new AbortController();
    const closing = server.close({ signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    const start = Date.now();
    await closing;
    expect(Date.now() - start).toBeLessThan(5000);
    expect(await rejectionOf(pending)).toMatchObject({ code: 'ERR_LINK' });
  });

  it('a requester going away while the handler runs fires the handler signal', async () => {
    const started = deferred();
    let signalReason: unknown;
    const server = await r.server(async (req) => {
      started.resolve();
      await new Promise<void>((resolve) => req.signal.addEventListener('abort', () => resolve(), { once: true }));
      signalReason = req.signal.reason;
      return { status: 204, headers: {} };
    });
    const link = r.link(new NodeHttpLink());
    const ac = new AbortController();
    const pending = link.request(server.url, { method: 'POST', path: '/raft', headers: {}, body: bytes('m'), signal: ac.signal });
    await started.promise;
    ac.abort();
    expect(await rejectionOf(pending)).toMatchObject({ code: 'ERR_ABORTED' });
    await waitFor(() => signalReason !== undefined, 'the handler signal');
    expect(signalReason).toMatchObject({ code: 'ERR_LINK' });
    await waitFor(() => server.listener.activeRequests === 0, 'the request to be forgotten');
  });

  it('closes idle keep-alive connections at once', async () => {
    const server = await r.server(async () => ({ status: 200, headers: {}, body: bytes('ok') }), { keepAliveTimeoutMs: 60_000 });
    const link = r.link(new NodeHttpLink({ idleSocketTimeoutMs: 60_000 }));
    const res = await link.request(server.url, { method: 'GET', path: '/raft/probing', headers: {} });
    expect(await readText(res.body)).toBe('ok');
    let connections = 0;
    await waitFor(() => {
      server.server.getConnections((_e, n) => {
        connections = n;
      });
      return connections === 1;
    }, 'one pooled connection');
    const start = Date.now();
    await server.close();
    expect(Date.now() - start).toBeLessThan(2000);
  });
});
