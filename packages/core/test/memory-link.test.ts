import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, type HandlerResponse, isRaftwireError } from '@raftwire/core';
import { MemoryNetwork, seededRandom } from '@raftwire/core/testing';

let net: MemoryNetwork | undefined;
afterEach(() => {
  net?.close();
  net = undefined;
});

const A = 'memory://a';
const B = 'memory://b';

async function read(body: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const c of body) n += c.length;
  return n;
}

function echoNet(options: ConstructorParameters<typeof MemoryNetwork>[0] = {}) {
  net = new MemoryNetwork(options);
  net.serve(B, async (req): Promise<HandlerResponse> => {
    let n = 0;
    for await (const c of req.body) n += c.length;
    return { status: 200, headers: { 'x-got': String(n) }, body: new Uint8Array(n) };
  });
  return { net, link: net.link(A) };
}

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('MemoryLink faults', () => {
  it('carries a request and its response body', async () => {
    const { link } = echoNet();
    const r = await link.request(B, { method: 'POST', path: '/x', headers: {}, body: new Uint8Array(1000) });
    expect(r.status).toBe(200);
    expect(r.headers['x-got']).toBe('1000');
    expect(await read(r.body)).toBe(1000);
  });

  it('refuses a second read of a request body with ERR_BODY_CONSUMED', async () => {
    net = new MemoryNetwork();
    net.serve(B, async (req): Promise<HandlerResponse> => {
      const n = await read(req.body);
      const second = await errorOf((async () => req.body[Symbol.asyncIterator]())());
      return { status: 200, headers: { 'x-bytes': String(n), 'x-second-read': isRaftwireError(second) ? second.code : String(second) } };
    });
    const r = await net.link(A).request(B, { method: 'POST', path: '/raft/snapshot', headers: {}, body: new Uint8Array(100) });
    expect(r.headers['x-bytes']).toBe('100');
    expect(r.headers['x-second-read']).toBe(ErrorCode.BODY_CONSUMED);
  });

  it('refuses unknown URLs and cut paths with ERR_LINK', async () => {
    const { net, link } = echoNet();
    expect(isRaftwireError(await errorOf(link.request('memory://nobody', { method: 'GET', path: '/', headers: {} })), ErrorCode.LINK)).toBe(
      true,
    );
    net.cut(A, B);
    expect(isRaftwireError(await errorOf(link.request(B, { method: 'GET', path: '/', headers: {} })), ErrorCode.LINK)).toBe(true);
    net.mend(A, B);
    expect((await link.request(B, { method: 'GET', path: '/', headers: {} })).status).toBe(200);
  });

  it('drops requests at a seeded rate, reproducibly', async () => {
    const outcomes = async (seed: number) => {
      const { net, link } = echoNet({ seed });
      net.setFault(A, B, { dropRate: 0.5 });
      const out: boolean[] = [];
      for (let i = 0; i < 40; i++) out.push((await errorOf(link.request(B, { method: 'GET', path: '/', headers: {} }))) === undefined);
      net.close();
      return out;
    };
    const x = await outcomes(3);
    const y = await outcomes(3);
    expect(x).toEqual(y);
    const ok = x.filter(Boolean).length;
    expect(ok).toBeGreaterThan(5);
    expect(ok).toBeLessThan(35);
    expect(seededRandom(1)()).toBe(seededRandom(1)());
  });

  it('delays set-up and chunks', async () => {
    const { net, link } = echoNet();
    net.setFault(A, B, { delayMs: 100, jitterMs: 20 });
    const t0 = Date.now();
    const r = await link.request(B, { method: 'GET', path: '/', headers: {} });
    await read(r.body);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(95);
  });

  it('limits bandwidth per connection', async () => {
    const { net, link } = echoNet();
    net.setFault(A, B, { bandwidth: 1024 * 1024 });
    const t0 = Date.now();
    const r = await link.request(B, { method: 'POST', path: '/', headers: {}, body: new Uint8Array(512 * 1024) });
    await read(r.body);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(400);
    expect(took).toBeLessThan(5000);
  });

  it('blackholes a partition until healed and hangs new requests until their signal aborts', async () => {
    const { net, link } = echoNet();
    net.partition([A], [B]);
    const ac = new AbortController();
    const p = errorOf(link.request(B, { method: 'GET', path: '/', headers: {}, signal: ac.signal }));
    setTimeout(() => ac.abort(), 100);
    expect(isRaftwireError(await p, ErrorCode.ABORTED)).toBe(true);
    const pending = link.request(B, { method: 'GET', path: '/', headers: {} });
    await new Promise((r) => setTimeout(r, 50));
    net.heal();
    expect((await pending).status).toBe(200);
  });

  it('applies a one-way partition: data stalls in that direction only', async () => {
    net = new MemoryNetwork();
    const n = net;
    let gotFromA = 0;
    let next: () => void = () => {};
    n.serve(B, async (req) => {
      void (async () => {
        for await (const c of req.body) gotFromA += c.length;
      })().catch(() => {});
      return {
        status: 200,
        headers: {},
        body: (async function* () {
          for (;;) {
            yield new Uint8Array(1);
            await new Promise<void>((r) => {
              next = r;
            });
          }
        })(),
      };
    });
    let pushA: (c: Uint8Array) => void = () => {};
    const upload = (async function* () {
      for (;;)
        yield await new Promise<Uint8Array>((r) => {
          pushA = r;
        });
    })();
    const r = await n.link(A).openStream(B, { method: 'POST', path: '/s', headers: {}, body: upload });
    const it = r.body[Symbol.asyncIterator]();
    expect((await it.next()).value).toHaveLength(1);
    n.partitionOneWay(B, A);
    next();
    const stalled = it.next();
    let arrived = false;
    void stalled.then(() => {
      arrived = true;
    });
    await new Promise((res) => setTimeout(res, 30));
    pushA(new Uint8Array(5)); // A -> B still flows
    await new Promise((res) => setTimeout(res, 50));
    expect(gotFromA).toBe(5);
    expect(arrived).toBe(false);
    n.heal();
    expect((await stalled).value).toHaveLength(1);
    await it.return?.();
  });

  it('resets open streams on dropConnections and counts open connections', async () => {
    net = new MemoryNetwork();
    const n = net;
    n.serve(B, async (req) => ({
      status: 200,
      headers: {},
      body: (async function* () {
        yield new Uint8Array(1);
        await new Promise<void>((r) => req.signal.addEventListener('abort', () => r(), { once: true }));
      })(),
    }));
    const r = await n.link(A).openStream(B, { method: 'GET', path: '/s', headers: {} });
    const it = r.body[Symbol.asyncIterator]();
    expect((await it.next()).value).toHaveLength(1);
    expect(n.openConnections).toBe(1);
    n.dropConnections(B);
    expect(isRaftwireError(await errorOf(it.next()), ErrorCode.LINK)).toBe(true);
    expect(n.openConnections).toBe(0);
  });

  it('aborting the request signal ends the response body with ERR_ABORTED', async () => {
    net = new MemoryNetwork();
    net.serve(B, async () => ({
      status: 200,
      headers: {},
      body: (async function* () {
        yield new Uint8Array(1);
        await new Promise(() => {});
      })(),
    }));
    const ac = new AbortController();
    const r = await net.link(A).openStream(B, { method: 'GET', path: '/s', headers: {}, signal: ac.signal });
    const it = r.body[Symbol.asyncIterator]();
    await it.next();
    const p = errorOf(it.next());
    ac.abort();
    expect(isRaftwireError(await p, ErrorCode.ABORTED)).toBe(true);
  });
});
