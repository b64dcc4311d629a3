import { ErrorCode, type RaftwireError, isRaftwireError } from '@raftwire/core';
import { MemoryLogger } from '@raftwire/core/testing';
import type { HandlerRequest, ProtocolHandler } from '@raftwire/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type DataChannelPort, type PeerConnectionFactory, WebRtcLink } from '../../src/webrtc/index.js';
import { FrameType, MAX_NEGOTIATED_FRAME_BYTES, MAX_WIRE_FRAME_BYTES } from '../../src/webrtc/mux-frame.js';
import { nodePeerConnectionFactory } from '../../src/webrtc/node/index.js';
import {
  CLUSTER,
  assertLoopbackOnly,
  type Pair,
  STACKS,
  makePair,
  pattern,
  readAll,
  testHandler,
  text,
  untext,
  waitFor,
} from './helpers.js';

beforeAll(assertLoopbackOnly);

/** Wraps a factory so every data-channel send records the channel's bufferedAmount right after it. */
function observingFactory(inner: PeerConnectionFactory): PeerConnectionFactory & { maxBuffered: Map<string, number> } {
  const maxBuffered = new Map<string, number>();
  return {
    maxBuffered,
    create: (init) => {
      const port = inner.create(init);
      for (const [label, ch] of port.channels) {
        const send = ch.send.bind(ch) as DataChannelPort['send'];
        (ch as { send: DataChannelPort['send'] }).send = (data) => {
          send(data);
          maxBuffered.set(label, Math.max(maxBuffered.get(label) ?? 0, ch.bufferedAmount));
        };
      }
      return port;
    },
  };
}

/**
 * Records the largest message sent per channel; with `older`, the ports behave on the wire like
 * an earlier version's: PING and PONG go out without the capabilities payload.
 */
function frameSizeFactory(inner: PeerConnectionFactory, older = false): PeerConnectionFactory & { maxSent: Map<string, number> } {
  const maxSent = new Map<string, number>();
  return {
    maxSent,
    create: (init) => {
      const port = inner.create(init);
      for (const [label, ch] of port.channels) {
        const send = ch.send.bind(ch) as DataChannelPort['send'];
        (ch as { send: DataChannelPort['send'] }).send = (data) => {
          const type = (data[0] ?? 0) & 0x0f;
          const out = older && (type === FrameType.PING || type === FrameType.PONG) ? data.subarray(0, 2) : data;
          maxSent.set(label, Math.max(maxSent.get(label) ?? 0, out.length));
          send(out);
        };
      }
      return port;
    },
  };
}

async function expectCode(p: Promise<unknown>, code: string): Promise<RaftwireError> {
  try {
    await p;
  } catch (err) {
    expect(isRaftwireError(err)).toBe(true);
    expect((err as RaftwireError).code).toBe(code);
    return err as RaftwireError;
  }
  throw new Error(`expected rejection with ${code}`);
}

describe.each(STACKS)('WebRtcLink over %s', (stack) => {
  let pair: Pair | undefined;
  const extra: WebRtcLink[] = [];
  afterEach(async () => {
    await Promise.all(extra.splice(0).map((l) => l.close()));
    await pair?.close();
    pair = undefined;
  });

  it('carries a request and its response head, headers and body both ways', async () => {
    const seen: HandlerRequest[] = [];
    pair = await makePair(stack, testHandler({ onRequest: (r) => seen.push(r) }));
    const body = pattern(40_000);
    const res = await pair.a.request('webrtc://2', {
      method: 'POST',
      path: '/raft',
      headers: { 'x-server-from': '1', 'x-etcd-cluster-id': 'c1' },
      body,
    });
    expect(res.status).toBe(204);
    expect(res.headers['x-body-bytes']).toBe('40000');
    expect(res.headers['x-body-sum']).toBe(String(body.reduce((s, b) => (s + b) % 1_000_000_007, 0)));
    expect(await readAll(res.body)).toEqual(new Uint8Array(0));
    expect(seen[0]?.headers['x-etcd-cluster-id']).toBe('c1');
    expect(seen[0]?.remoteAddress).toBe('webrtc://1');
    // The other direction reuses the same peer connection.
    const probe = await pair.b.request('webrtc://1', { method: 'GET', path: '/raft/probing', headers: {} });
    expect(probe.status).toBe(200);
    expect(untext(await readAll(probe.body))).toBe('{"ok":true}');
    const nf = await pair.b.request('webrtc://1', { method: 'GET', path: '/nope', headers: {} });
    expect(nf.status).toBe(404);
    expect(untext(await readAll(nf.body))).toBe('invalid path');
    expect(pair.factories.a.created).toBe(1);
    expect(pair.factories.b.created).toBe(1);
  });

  it('keeps a long stream flowing in order and closes the handler iterable when the reader breaks', async () => {
    const handler = testHandler({ tickMs: 1 });
    pair = await makePair(stack, handler);
    const res = await pair.a.openStream('webrtc://2', { method: 'GET', path: '/raft/stream/message/1', headers: {} });
    expect(res.status).toBe(200);
    let next = 0;
    for await (const frame of res.body) {
      expect(frame.length).toBe(100);
      expect(new DataView(frame.buffer, frame.byteOffset).getUint32(0)).toBe(next);
      next++;
      if (next === 500) break;
    }
    await waitFor(() => handler.streamsClosed === 1, 'server stream iterable to be closed');
    await waitFor(
      () => pair?.a.connection(2n)?.activeExchanges === 0 && pair?.b.connection(1n)?.activeExchanges === 0,
      'exchanges released',
    );
  });

  it('streams 64 MiB on the snapshot channel while message-stream frames keep arriving in order, under the high watermark', async () => {
    const handler = testHandler({ tickMs: 5 });
    const fa = observingFactory(nodePeerConnectionFactory({ stack }));
    const a = await WebRtcLink.create({
      localId: 1n,
      clusterId: CLUSTER,
      signaling: (pair = await makePair(stack, handler)).hub,
      peerConnectionFactory: fa,
      handler,
    });
    // Replace member 1 of the pair with the observed one.
    pair.a.close();
    extra.push(a);
    const b = pair.b;
    // b reads a message stream served by a: its frames travel a → b, the same direction as the snapshot.
    const stream = await b.openStream('webrtc://1', { method: 'GET', path: '/raft/stream/message/2', headers: {} });
    const arrivals: number[] = [];
    /** How much of the snapshot the receiving handler had read when each stream frame arrived. */
    const snapshotAt: number[] = [];
    let expectNext = 0;
    let orderOk = true;
    const reading = (async () => {
      for await (const f of stream.body) {
        if (new DataView(f.buffer, f.byteOffset).getUint32(0) !== expectNext++) orderOk = false;
        arrivals.push(performance.now());
        snapshotAt.push(handler.snapshotBytes);
      }
    })().catch((err: unknown) => err);
    await waitFor(() => arrivals.length >= 5, 'stream to start');

    const total = 64 * 1024 * 1024;
    const chunk = 1024 * 1024;
    async function* snapshot(): AsyncGenerator<Uint8Array> {
      for (let at = 0; at < total; at += chunk) yield pattern(chunk, 7, at);
    }
    const t0 = performance.now();
    const res = await a.request('webrtc://2', { method: 'POST', path: '/raft/snapshot', headers: {}, body: snapshot() });
    const t1 = performance.now();
    expect(res.status).toBe(204);
    expect(res.headers['x-body-bytes']).toBe(String(total));
    const during = arrivals.filter((t) => t >= t0 && t <= t1);
    const gaps = during.slice(1).map((t, i) => t - (during[i] as number));
    const maxGap = Math.max(0, ...gaps);
    // How far the snapshot moved during the longest gap: little means the whole association stalled.
    const gapAt = arrivals.indexOf(during[gaps.indexOf(maxGap)] as number);
    const movedInGap = (snapshotAt[gapAt + 1] ?? 0) - (snapshotAt[gapAt] ?? 0);
    // Progress, not time (the machine may be loaded): stream frames arrived while the snapshot was in
    // every eighth of its transfer, i.e. they were interleaved with it, not queued behind it.
    const eighth = total / 8;
    for (let k = 1; k < 7; k++) {
      const inSegment = snapshotAt.filter((n) => n >= k * eighth && n < (k + 1) * eighth).length;
      expect(inSegment, `stream frames while the snapshot was at ${k}/8`).toBeGreaterThan(0);
    }
    expect(orderOk).toBe(true);
    expect(fa.maxBuffered.get('snapshot') ?? 0).toBeLessThanOrEqual(1024 * 1024);
    console.log(
      `[${stack}] 64 MiB snapshot through the adapter: ${(total / 1e6 / ((t1 - t0) / 1000)).toFixed(1)} MB/s; ` +
        `${during.length} stream frames during it, max gap ${maxGap.toFixed(0)} ms (snapshot moved ${movedInGap} bytes in it); max snapshot bufferedAmount ${fa.maxBuffered.get('snapshot')}`,
    );
    b.close();
    await reading;
  }, 120_000);

  it.each([
    { high: 1024 * 1024, low: 256 * 1024 },
    { high: 128 * 1024, low: 32 * 1024 },
  ])(
    'keeps bufferedAmount under the high watermark with concurrent senders on one channel ($high)',
    async ({ high, low }) => {
      const handler = testHandler();
      const hub = (pair = await makePair(stack, handler)).hub;
      pair.a.close();
      pair.b.close();
      const fa = observingFactory(nodePeerConnectionFactory({ stack }));
      const a = await WebRtcLink.create({
        localId: 1n,
        clusterId: CLUSTER,
        signaling: hub,
        peerConnectionFactory: fa,
        handler,
        pacer: { highWaterMark: high, lowWaterMark: low },
      });
      const b = await WebRtcLink.create({
        localId: 2n,
        clusterId: CLUSTER,
        signaling: hub,
        peerConnectionFactory: nodePeerConnectionFactory({ stack }),
        handler,
      });
      extra.push(a, b);
      const total = 2 * 1024 * 1024;
      async function* body(): AsyncGenerator<Uint8Array> {
        for (let at = 0; at < total; at += 512 * 1024) yield pattern(512 * 1024, 7, at);
      }
      // 24 exchanges, each with its own flow-control window (BULK_WINDOW_BYTES on this channel):
      // together they can put 6 MiB in flight, enough to outrun SCTP.
      const results = await Promise.all(
        Array.from({ length: 24 }, () => a.request('webrtc://2', { method: 'POST', path: '/raft/snapshot', headers: {}, body: body() })),
      );
      for (const res of results) expect(res.headers['x-body-bytes']).toBe(String(total));
      const max = fa.maxBuffered.get('snapshot') ?? 0;
      expect(max).toBeLessThanOrEqual(high);
      if (high < 1024 * 1024) expect(max).toBeGreaterThan(low);
      console.log(`[${stack}] 24 × 2 MiB concurrently, high ${high}: max snapshot bufferedAmount ${max}`);
    },
    60_000,
  );

  it.each([
    { peer: 'of this version', older: false },
    { peer: 'that announces nothing (an earlier version)', older: true },
  ])('negotiates the data-channel message size with a peer $peer', async ({ older }) => {
    const handler = testHandler();
    const hub = (pair = await makePair(stack, handler)).hub;
    pair.a.close();
    pair.b.close();
    const fa = frameSizeFactory(nodePeerConnectionFactory({ stack }));
    const fb = frameSizeFactory(nodePeerConnectionFactory({ stack }), older);
    const common = { clusterId: CLUSTER, signaling: hub, handler, connectTimeoutMs: 15_000 };
    const a = await WebRtcLink.create({ ...common, localId: 1n, peerConnectionFactory: fa });
    const b = await WebRtcLink.create({ ...common, localId: 2n, peerConnectionFactory: fb });
    extra.push(a, b);
    const body = pattern(600_000, 3);
    const res = await a.request('webrtc://2', { method: 'POST', path: '/raft', headers: {}, body });
    expect(res.headers['x-body-bytes']).toBe(String(body.length));
    // The hello's answer may still be on its way when the first request goes: the second one sees it.
    await waitFor(() => a.connection(2n)?.sendFrameBytes !== undefined, 'connection');
    await new Promise((r) => setTimeout(r, 100));
    const res2 = await a.request('webrtc://2', { method: 'POST', path: '/raft', headers: {}, body });
    expect(res2.headers['x-body-bytes']).toBe(String(body.length));
    const sent = fa.maxSent.get('pipeline') ?? 0;
    if (older) {
      expect(a.connection(2n)?.sendFrameBytes).toBe(MAX_WIRE_FRAME_BYTES);
      expect(sent).toBeLessThanOrEqual(MAX_WIRE_FRAME_BYTES);
    } else {
      expect(a.connection(2n)?.sendFrameBytes).toBe(MAX_NEGOTIATED_FRAME_BYTES);
      expect(b.connection(1n)?.sendFrameBytes).toBe(MAX_NEGOTIATED_FRAME_BYTES);
      expect(sent).toBeGreaterThan(MAX_WIRE_FRAME_BYTES);
      expect(sent).toBeLessThanOrEqual(MAX_NEGOTIATED_FRAME_BYTES);
    }
  });

  it('reassembles body chunks across 16 KiB frame boundaries and rejects a message over the cap', async () => {
    const chunks: Uint8Array[] = [];
    let serverError: unknown;
    const handler: ProtocolHandler = async (req) => {
      try {
        for await (const c of req.body) chunks.push(c);
      } catch (err) {
        serverError = err;
        throw err;
      }
      return { status: 204, headers: {} };
    };
    pair = await makePair(stack, handler, { maxMessageBytes: 200 * 1024 });
    const sizes = [1, 16_378, 16_379, 16_384, 16_385, 100_000, 200 * 1024];
    const sent = sizes.map((n, i) => pattern(n, i));
    async function* body(): AsyncGenerator<Uint8Array> {
      yield* sent;
    }
    const res = await pair.a.request('webrtc://2', { method: 'POST', path: '/raft', headers: {}, body: body() });
    expect(res.status).toBe(204);
    expect(chunks.map((c) => c.length)).toEqual(sizes);
    chunks.forEach((c, i) => {
      expect(Buffer.from(c).equals(sent[i] as Uint8Array)).toBe(true);
    });

    // 256 KiB is one message on the wire (the sender's message size), over the receiver's 200 KiB cap.
    const err = await expectCode(
      pair.a.request('webrtc://2', { method: 'POST', path: '/raft', headers: {}, body: pattern(256 * 1024) }).then((r) => readAll(r.body)),
      ErrorCode.LINK,
    );
    expect((err.cause as RaftwireError).code).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect(isRaftwireError(serverError, ErrorCode.FRAME_TOO_LARGE)).toBe(true);
    // Only that exchange failed: the connection still serves requests.
    const ok = await pair.a.request('webrtc://2', { method: 'POST', path: '/raft', headers: {}, body: text('after') });
    expect(ok.status).toBe(204);
    expect(pair.factories.a.created).toBe(1);
  });

  it('aborts a request: ERR_ABORTED for the caller, the handler sees its signal abort', async () => {
    let handlerSignal: AbortSignal | undefined;
    const started = new Promise<void>((resolve) => {
      const h = testHandler({
        onRequest: (r) => {
          handlerSignal = r.signal;
          resolve();
        },
      });
      void makePair(stack, h).then((p) => {
        pair = p;
      });
    });
    await waitFor(() => pair !== undefined, 'pair');
    const ac = new AbortController();
    async function* slowBody(): AsyncGenerator<Uint8Array> {
      for (;;) {
        yield pattern(1000);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    const p = (pair as unknown as Pair).a.request('webrtc://2', {
      method: 'POST',
      path: '/raft',
      headers: {},
      body: slowBody(),
      signal: ac.signal,
    });
    await started;
    ac.abort();
    await expectCode(p, ErrorCode.ABORTED);
    await waitFor(() => handlerSignal?.aborted === true, 'handler signal to abort');
  });

  it('releases its listeners on a long-lived caller signal and aborts in-flight exchanges on close', async () => {
    const handler = testHandler({ tickMs: 2 });
    pair = await makePair(stack, handler);
    const stop = new AbortController();
    let listeners = 0;
    const add = stop.signal.addEventListener.bind(stop.signal);
    const remove = stop.signal.removeEventListener.bind(stop.signal);
    stop.signal.addEventListener = ((...args: Parameters<typeof add>) => {
      listeners++;
      add(...args);
    }) as typeof add;
    stop.signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
      listeners--;
      remove(...args);
    }) as typeof remove;
    for (let i = 0; i < 50; i++) {
      const r = await pair.a.request('webrtc://2', {
        method: 'POST',
        path: '/raft',
        headers: {},
        body: text(`m${i}`),
        signal: stop.signal,
      });
      await readAll(r.body);
    }
    expect(listeners).toBe(0);
    const stream = await pair.a.openStream('webrtc://2', {
      method: 'GET',
      path: '/raft/stream/message/1',
      headers: {},
      signal: stop.signal,
    });
    const it = stream.body[Symbol.asyncIterator]();
    await it.next();
    pair.a.close();
    await expectCode(
      (async () => {
        for (;;) if ((await it.next()).done) return;
      })(),
      ErrorCode.ABORTED,
    );
    await waitFor(() => handler.streamsClosed === 1, 'server stream iterable to be closed');
    await expectCode(pair.a.request('webrtc://2', { method: 'GET', path: '/raft/probing', headers: {} }), ErrorCode.STOPPED);
  });

  it('rebuilds a killed peer connection: in-flight exchanges fail with ERR_LINK, a new request succeeds', async () => {
    const handler = testHandler({ tickMs: 2 });
    pair = await makePair(stack, handler);
    const stream = await pair.a.openStream('webrtc://2', { method: 'GET', path: '/raft/stream/message/1', headers: {} });
    const first = pair.a.connection(2n);
    const firstSession = first?.session;
    const it = stream.body[Symbol.asyncIterator]();
    await it.next();
    // Kill the remote's peer connection outright; member 1 must notice on its own.
    pair.b.connection(1n)?.peerConnection.close();
    const err = await expectCode(
      (async () => {
        for (;;) {
          const r = await it.next();
          if (r.done) return;
        }
      })(),
      ErrorCode.LINK,
    );
    expect(err.message).toMatch(/closed/);
    await waitFor(() => first?.state === 'closed', 'member 1 to see its connection die');
    // The serving side stopped its stream: the handler's iterable was closed.
    await waitFor(() => handler.streamsClosed === 1, 'server stream iterable to be closed');
    const res = await pair.a.request('webrtc://2', { method: 'GET', path: '/raft/probing', headers: {} });
    expect(res.status).toBe(200);
    expect(pair.a.connection(2n)?.session).not.toBe(firstSession);
    expect(pair.b.connection(1n)?.session).toBe(pair.a.connection(2n)?.session);
    expect(pair.factories.a.created).toBe(2);
    expect(pair.factories.b.created).toBe(2);
  });

  it('detects a peer that stops answering without closing, then rebuilds', async () => {
    pair = await makePair(stack, testHandler(), { keepaliveMs: 50, deadAfterMs: 600 });
    await pair.a.connect(2n);
    const first = pair.a.connection(2n);
    // Quiet but healthy: PINGs keep it open well past deadAfterMs.
    await new Promise((r) => setTimeout(r, 1500));
    expect(first?.state).toBe('open');
    // Member 2 freezes: its channels stop reading (like a stalled tab), nothing is closed.
    for (const ch of pair.b.connection(1n)?.peerConnection.channels.values() ?? []) ch.onMessage = null;
    const t0 = Date.now();
    await waitFor(() => first?.state === 'closed', 'member 1 to declare the connection dead', 10_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    // Member 2 in turn hears nothing from member 1 (its PONGs stopped) and closes too; a new request rebuilds.
    await waitFor(() => pair?.b.connection(1n)?.state === 'closed', 'member 2 to close as well', 10_000);
    const res = await pair.a.request('webrtc://2', { method: 'GET', path: '/raft/probing', headers: {} });
    expect(res.status).toBe(200);
    expect(pair.factories.a.created).toBe(2);
  });

  it.each([1n, 2n])('retries a connection attempt that dies before opening (failing side: member %s)', async (failing) => {
    const handler = testHandler();
    const hub = (pair = await makePair(stack, handler)).hub;
    await Promise.all([pair.a.close(), pair.b.close()]);
    // The failing member's first port rejects the first signal it is fed, like a stack that chokes on it.
    const inner = nodePeerConnectionFactory({ stack });
    let created = 0;
    const flaky: PeerConnectionFactory = {
      create: (init) => {
        const port = inner.create(init);
        if (created++ === 0) {
          port.signal = () => {
            throw new Error('injected failure');
          };
        }
        return port;
      },
    };
    const log = new MemoryLogger();
    const make = (id: bigint) =>
      WebRtcLink.create({
        localId: id,
        clusterId: CLUSTER,
        signaling: hub,
        peerConnectionFactory: id === failing ? flaky : inner,
        handler,
        logger: log,
      });
    const one = await make(1n);
    const two = await make(2n);
    extra.push(one, two);
    const res = await (failing === 1n
      ? one.request('webrtc://2', { method: 'GET', path: '/raft/probing', headers: {} })
      : two.request('webrtc://1', { method: 'GET', path: '/raft/probing', headers: {} }));
    expect(res.status).toBe(200);
    const session = one.connection(2n)?.session;
    expect(session).toBe(two.connection(1n)?.session);
    // Every attempt is a session member 1 (the offerer) starts, with one port on each side.
    const attempts = log
      .find('starting peer connection')
      .filter((r) => r.fields['local-member-id'] === '1' && r.fields['initiator'] === true)
      .map((r) => String(r.fields['session']));
    expect(created).toBe(attempts.length);
    expect(attempts.at(-1)).toBe(session);
    // Why each earlier attempt ended, as the failing member logged it.
    const endOf = (s: string) =>
      log
        .find('peer connection closed', 'info')
        .filter((r) => r.fields['local-member-id'] === String(failing) && r.fields['session'] === s)
        .map((r) => String(r.fields['error']));
    // The injected failure ended the first attempt, and it was retried.
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    expect(endOf(attempts[0] ?? '')).toEqual([expect.stringContaining('injected failure')]);
    // A further attempt is made only when the second died too: node-datachannel's known race
    // ("remote candidate without ICE transport", about 1 connect in 40–80) ends it at the offerer,
    // never a second injection and never a retry of an attempt that was fine.
    for (const s of attempts.slice(1, -1)) {
      const why = log
        .find('peer connection closed', 'info')
        .filter((r) => r.fields['session'] === s)
        .map((r) => String(r.fields['error']));
      expect(why.length, `attempt ${s} was retried, so it must have died: ${why.join('; ')}`).toBeGreaterThan(0);
      expect(why.join('; ')).not.toContain('injected failure');
    }
    expect(attempts.length).toBeLessThanOrEqual(3); // PeerSession's CONNECT_ATTEMPTS
  });

  it('reconnects promptly to a restarted member whose old connection never said goodbye', async () => {
    const handler = testHandler();
    pair = await makePair(stack, handler, { deadAfterMs: 60_000 });
    await pair.b.request('webrtc://1', { method: 'GET', path: '/raft/probing', headers: {} });
    const old = pair.a.connection(2n);
    // Member 2 "restarts": a new link with the same ID joins the hub (replacing the old registration);
    // the old one is left running, so member 1's connection to it stays open.
    const reborn = await WebRtcLink.create({
      localId: 2n,
      clusterId: CLUSTER,
      signaling: pair.hub,
      peerConnectionFactory: nodePeerConnectionFactory({ stack }),
      handler,
    });
    extra.push(reborn);
    expect(old?.state).toBe('open');
    const t0 = Date.now();
    const res = await reborn.request('webrtc://1', { method: 'GET', path: '/raft/probing', headers: {} });
    expect(res.status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(8000); // not waiting for a 60 s liveness timeout
    expect(old?.state).toBe('closed');
    expect(pair.a.connection(2n)?.session).toBe(reborn.connection(1n)?.session);
  });

  it('rebuilds when the higher member dials after the lower one lost the connection', async () => {
    pair = await makePair(stack, testHandler());
    await pair.a.connect(2n);
    pair.a.connection(2n)?.peerConnection.close();
    await waitFor(() => pair?.b.connection(1n)?.state === 'closed', 'member 2 to notice');
    const res = await pair.b.request('webrtc://1', { method: 'GET', path: '/raft/probing', headers: {} });
    expect(res.status).toBe(200);
    expect(pair.factories.a.created).toBe(2);
  });

  it('glare: both members connecting at once end with one peer connection', async () => {
    pair = await makePair(stack, testHandler());
    const { a, b } = pair;
    const conns = await Promise.all([a.connect(2n), b.connect(1n), a.connect(2n), b.connect(1n), b.connect(1n), a.connect(2n)]);
    expect(new Set(conns.map((c) => c.session)).size).toBe(1);
    expect(pair.factories.a.created).toBe(1);
    expect(pair.factories.b.created).toBe(1);
    // Both notice a failure and redial at once: still one new connection.
    a.connection(2n)?.peerConnection.close();
    await waitFor(() => b.connection(1n)?.state === 'closed', 'member 2 to notice');
    const again = await Promise.all([b.connect(1n), a.connect(2n), b.connect(1n)]);
    expect(new Set(again.map((c) => c.session)).size).toBe(1);
    expect(pair.factories.a.created).toBe(2);
    expect(pair.factories.b.created).toBe(2);
    const res = await b.request('webrtc://1', { method: 'GET', path: '/raft/probing', headers: {} });
    expect(res.status).toBe(200);
  });

  it('fails fast with ERR_LINK when the remote is not in signalling, and rejects bad URLs', async () => {
    pair = await makePair(stack, testHandler());
    await expectCode(pair.b.request('webrtc://9', { method: 'GET', path: '/raft/probing', headers: {} }), ErrorCode.LINK);
    await expectCode(
      pair.a.request('http://127.0.0.1:1/raft', { method: 'GET', path: '/raft/probing', headers: {} }),
      ErrorCode.INVALID_URL,
    );
    await expectCode(pair.a.request('webrtc://0x2', { method: 'GET', path: '/raft/probing', headers: {} }), ErrorCode.INVALID_URL);
  });
});
