import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, type RaftwireError, isRaftwireError } from '@raftwire/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  HttpRelaySignaling,
  InPageSignalingHub,
  type SignalMessage,
  type Signaling,
  type SignalingEndpoint,
  WebRtcLink,
  parseSignalJson,
} from '../../src/webrtc/index.js';
import { type SignalingRelay, createSignalingRelay, nodePeerConnectionFactory } from '../../src/webrtc/node/index.js';
import { CLUSTER, assertLoopbackOnly, STACKS, readAll, testHandler, untext, waitFor } from './helpers.js';

beforeAll(assertLoopbackOnly);

async function rejects(p: Promise<unknown>, code: string): Promise<void> {
  try {
    await p;
  } catch (err) {
    expect(isRaftwireError(err), String(err)).toBe(true);
    expect((err as RaftwireError).code).toBe(code);
    return;
  }
  throw new Error(`expected a rejection with ${code}`);
}

const good = (over: Partial<SignalMessage> = {}): SignalMessage => ({
  clusterId: 'c1',
  from: '1',
  to: '2',
  kind: 'connect',
  session: '',
  ...over,
});

interface Members {
  one: SignalingEndpoint;
  two: SignalingEndpoint;
  got: { one: SignalMessage[]; two: SignalMessage[] };
}

async function joinBoth(signaling: Signaling): Promise<Members> {
  const got = { one: [] as SignalMessage[], two: [] as SignalMessage[] };
  const one = await signaling.join({ clusterId: CLUSTER, memberId: 1n, onSignal: (m) => got.one.push(m) });
  const two = await signaling.join({ clusterId: CLUSTER, memberId: 2n, onSignal: (m) => got.two.push(m) });
  return { one, two, got };
}

/** Every rejection case; each must leave the recipient's inbox untouched. */
async function checkRejections(signaling: Signaling): Promise<Members> {
  const m = await joinBoth(signaling);
  await rejects(m.one.send(good({ clusterId: 'c2' })), ErrorCode.CLUSTER_ID_MISMATCH);
  await rejects(m.one.send(good({ from: '3' })), ErrorCode.SIGNAL_REJECTED); // forged sender
  await rejects(m.one.send(good({ from: '2', to: '1' })), ErrorCode.SIGNAL_REJECTED); // member 1 posing as 2
  await rejects(m.one.send(good({ to: '9' })), ErrorCode.MEMBER_NOT_FOUND);
  await rejects(m.one.send(good({ to: '1' })), ErrorCode.SIGNAL_REJECTED); // to itself
  await rejects(m.one.send(good({ to: '0x2' })), ErrorCode.DECODE);
  await rejects(m.one.send({ ...good(), kind: 'hello' } as unknown as SignalMessage), ErrorCode.DECODE);
  await rejects(m.one.send(good({ kind: 'signal' })), ErrorCode.DECODE); // signal without data
  await rejects(m.one.send(good({ session: 'x'.repeat(100) })), ErrorCode.DECODE);
  // A valid signal after them arrives, and it is the only one that did.
  await m.one.send(good({ session: 'ok' }));
  await waitFor(() => m.got.two.length === 1, 'the valid signal');
  await new Promise((r) => setTimeout(r, 50));
  expect(m.got.two).toEqual([good({ session: 'ok' })]);
  expect(m.got.one).toEqual([]);
  await rejects(signaling.join({ clusterId: 0xc2n, memberId: 3n, onSignal: () => {} }), ErrorCode.CLUSTER_ID_MISMATCH);
  return m;
}

describe('parseSignalJson', () => {
  it('rejects malformed text and fields with ERR_DECODE', () => {
    for (const bad of [
      '',
      '{',
      '[]',
      'null',
      '{"clusterId":"c1"}',
      JSON.stringify({ ...good(), from: 'G' }),
      JSON.stringify({ ...good(), data: [] }),
    ]) {
      expect(() => parseSignalJson(bad), bad).toThrow(expect.objectContaining({ code: ErrorCode.DECODE }));
    }
    expect(() => parseSignalJson(' '.repeat(70_000))).toThrow(expect.objectContaining({ code: ErrorCode.DECODE }));
    expect(parseSignalJson(JSON.stringify(good({ kind: 'signal', session: 'a.1', data: { type: 'offer', sdp: 'v=0' } })))).toEqual(
      good({ kind: 'signal', session: 'a.1', data: { type: 'offer', sdp: 'v=0' } }),
    );
  });
});

describe('InPageSignalingHub', () => {
  it('checks cluster ID, sender and recipient, and changes nothing when it rejects', async () => {
    const hub = new InPageSignalingHub(CLUSTER);
    const m = await checkRejections(hub);
    expect(hub.joined.sort()).toEqual([1n, 2n]);
    m.two.close();
    await rejects(m.one.send(good()), ErrorCode.MEMBER_NOT_FOUND);
    await rejects(m.two.send(good({ from: '2', to: '1' })), ErrorCode.LINK);
  });
});

describe('HTTP signalling relay', () => {
  let server: Server | undefined;
  let relay: SignalingRelay | undefined;
  const links: WebRtcLink[] = [];
  const endpoints: SignalingEndpoint[] = [];

  async function start(members?: bigint[]): Promise<string> {
    relay = createSignalingRelay({ clusterId: CLUSTER, insecure: true, ...(members ? { members } : {}) });
    const r = relay;
    server = createServer((req, res) => {
      if (!r.handle(req, res)) {
        res.statusCode = 404;
        res.end('raft handler would be here');
      }
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/raft-signal`;
  }

  afterEach(async () => {
    await Promise.all(links.splice(0).map((l) => l.close()));
    for (const e of endpoints.splice(0)) e.close();
    relay?.close();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
    relay = undefined;
  });

  it('checks cluster ID, sender (bound to the token) and recipient over HTTP', async () => {
    const base = await start();
    const m = await checkRejections(new HttpRelaySignaling({ baseUrl: base }));
    endpoints.push(m.one, m.two);
    // Raw HTTP: malformed JSON, no token, forged token, path outside the relay.
    const bad = await fetch(`${base}/send`, { method: 'POST', body: '{nope' });
    expect(bad.status).toBe(401);
    const join = await fetch(`${base}/join`, { method: 'POST', body: JSON.stringify({ clusterId: 'c1', memberId: '5' }) });
    const { token } = (await join.json()) as { token: string };
    const noStream = await fetch(`${base}/send`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{}' });
    expect(noStream.status).toBe(401);
    const joinBad = await fetch(`${base}/join`, { method: 'POST', body: '{"clusterId":"c1"}' });
    expect(joinBad.status).toBe(400);
    expect(((await joinBad.json()) as { code: string }).code).toBe(ErrorCode.DECODE);
    const other = await fetch(base.replace('/raft-signal', '/raft'));
    expect(other.status).toBe(404);
    expect(await other.text()).toBe('raft handler would be here');
    expect(m.got.two).toHaveLength(1);
  });

  it('rejects malformed JSON with 400 ERR_DECODE and refuses members not on the list', async () => {
    const base = await start([1n, 2n]);
    const s = new HttpRelaySignaling({ baseUrl: base });
    const { one, two, got } = await joinBoth(s);
    endpoints.push(one, two);
    await rejects(s.join({ clusterId: CLUSTER, memberId: 7n, onSignal: () => {} }), ErrorCode.SIGNAL_REJECTED);
    // Reach under the client to post raw bytes with member 1's token.
    const join = await fetch(`${base}/join`, { method: 'POST', body: JSON.stringify({ clusterId: 'c1', memberId: '1' }) });
    const { token } = (await join.json()) as { token: string };
    const ac = new AbortController();
    const events = await fetch(`${base}/events?token=${token}`, { signal: ac.signal });
    expect(events.headers.get('content-type')).toBe('text/event-stream');
    const res = await fetch(`${base}/send`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{"clusterId":' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe(ErrorCode.DECODE);
    ac.abort();
    await new Promise((r) => setTimeout(r, 50));
    expect(got.two).toEqual([]);
  });

  it.each(STACKS)('connects a relay-signalled member to the member serving the relay (%s)', async (stack) => {
    const base = await start();
    const served = relay as SignalingRelay;
    const handler = testHandler();
    // Member 1 serves the relay and joins its hub in-process; member 2 (a browser, here Node) goes over HTTP.
    const one = await WebRtcLink.create({
      localId: 1n,
      clusterId: CLUSTER,
      signaling: served.hub,
      peerConnectionFactory: nodePeerConnectionFactory({ stack }),
      handler,
    });
    const two = await WebRtcLink.create({
      localId: 2n,
      clusterId: CLUSTER,
      signaling: new HttpRelaySignaling({ baseUrl: base }),
      peerConnectionFactory: nodePeerConnectionFactory({ stack }),
      handler,
    });
    links.push(one, two);
    const res = await two.request('webrtc://1', { method: 'GET', path: '/raft/probing', headers: {} });
    expect(res.status).toBe(200);
    expect(untext(await readAll(res.body))).toBe('{"ok":true}');
    const back = await one.request('webrtc://2', { method: 'GET', path: '/raft/probing', headers: {} });
    expect(back.status).toBe(200);
    expect(one.connection(2n)?.session).toBe(two.connection(1n)?.session);
  });
});
