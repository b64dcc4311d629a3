/**
 * WebRTC security (docs/webrtc.md "Security"): the relay admits only members with a
 * credential, and every offer/answer is signed over its DTLS fingerprint by the
 * sender's identity key. Real RTCPeerConnections: run inside tools/loopback-only.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, type Id, type RaftwireError, isRaftwireError } from '@raftwire/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  HttpRelaySignaling,
  InPageSignalingHub,
  type SignalMessage,
  type Signaling,
  type SignalingEndpoint,
  type WebRtcIdentity,
  WebRtcLink,
  generateIdentityKeyPair,
  generateRelayKey,
  exportIdentityKey,
  importIdentityKey,
  parseSignalJson,
  sdpFingerprints,
  signSdp,
  signalingCredential,
  verifySdp,
} from '../../src/webrtc/index.js';
import { type SignalingRelay, createSignalingRelay, nodePeerConnectionFactory } from '../../src/webrtc/node/index.js';
import { CLUSTER, assertLoopbackOnly, STACKS, readAll, testHandler, untext, waitFor } from './helpers.js';

beforeAll(assertLoopbackOnly);

async function rejection(p: Promise<unknown>, code: string): Promise<RaftwireError> {
  try {
    await p;
  } catch (err) {
    expect(isRaftwireError(err), String(err)).toBe(true);
    expect((err as RaftwireError).code, (err as Error).message).toBe(code);
    return err as RaftwireError;
  }
  throw new Error(`expected a rejection with ${code}`);
}

const SDP = [
  'v=0',
  'o=- 1 2 IN IP4 127.0.0.1',
  'a=fingerprint:sha-256 AB:CD:EF:01',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'a=fingerprint:sha-256 ab:cd:ef:01',
  '',
].join('\r\n');
const FIELDS = { clusterId: 'c1', from: '1', to: '2', session: 's.1', type: 'offer' };

describe('identity primitives', () => {
  it('normalises the DTLS fingerprints of an SDP', () => {
    expect(sdpFingerprints(SDP)).toBe('sha-256 AB:CD:EF:01');
    expect(sdpFingerprints('v=0\r\n')).toBe('');
  });

  it('verifies a signed fingerprint and refuses a tampered one, a wrong key, a missing or stale signature', async () => {
    const a = await generateIdentityKeyPair();
    const b = await generateIdentityKeyPair();
    const auth = await signSdp(a.privateKey, FIELDS, SDP);
    await verifySdp(a.publicKey, FIELDS, SDP, auth);
    // Keys survive a JWK round trip (how the demo hands them to pages).
    const pub = await importIdentityKey(await exportIdentityKey(a.publicKey));
    await verifySdp(pub, FIELDS, SDP, auth);
    const priv = await importIdentityKey(await exportIdentityKey(a.privateKey));
    await verifySdp(a.publicKey, FIELDS, SDP, await signSdp(priv, FIELDS, SDP));

    const mitm = SDP.replace(/AB:CD:EF:01/gi, '11:22:33:44');
    expect((await rejection(verifySdp(a.publicKey, FIELDS, mitm, auth), ErrorCode.SIGNAL_REJECTED)).message).toMatch(
      /not the one the member signed/,
    );
    expect(
      (await rejection(verifySdp(a.publicKey, FIELDS, mitm, { ...auth, fp: sdpFingerprints(mitm) }), ErrorCode.SIGNAL_REJECTED)).message,
    ).toMatch(/does not verify/);
    expect((await rejection(verifySdp(b.publicKey, FIELDS, SDP, auth), ErrorCode.SIGNAL_REJECTED)).message).toMatch(/does not verify/);
    await rejection(verifySdp(a.publicKey, { ...FIELDS, to: '3' }, SDP, auth), ErrorCode.SIGNAL_REJECTED); // for someone else
    await rejection(verifySdp(a.publicKey, { ...FIELDS, session: 's.2' }, SDP, auth), ErrorCode.SIGNAL_REJECTED);
    expect((await rejection(verifySdp(a.publicKey, FIELDS, SDP, undefined), ErrorCode.SIGNAL_REJECTED)).message).toMatch(
      /no identity signature/,
    );
    expect((await rejection(verifySdp(undefined, FIELDS, SDP, auth), ErrorCode.SIGNAL_REJECTED)).message).toMatch(/no public key/);
    expect((await rejection(verifySdp(a.publicKey, FIELDS, SDP, auth, auth.ts + 10 * 60_000), ErrorCode.SIGNAL_REJECTED)).message).toMatch(
      /timestamp/,
    );
    // The auth field survives the wire's parser, and a malformed one is ERR_DECODE.
    const msg = { clusterId: 'c1', from: '1', to: '2', session: 's.1', kind: 'signal', data: { type: 'offer', sdp: SDP }, auth };
    expect(parseSignalJson(JSON.stringify(msg)).auth).toEqual(auth);
    expect(() => parseSignalJson(JSON.stringify({ ...msg, auth: { ...auth, ts: 'x' } }))).toThrow(
      expect.objectContaining({ code: ErrorCode.DECODE }),
    );
  });
});

describe('HTTP signalling relay with a relay key', () => {
  let server: Server | undefined;
  let relay: SignalingRelay | undefined;
  const endpoints: SignalingEndpoint[] = [];
  const relayKey = generateRelayKey();

  async function start(): Promise<string> {
    relay = createSignalingRelay({ clusterId: CLUSTER, relayKey });
    const r = relay;
    server = createServer((req, res) => {
      if (!r.handle(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/raft-signal`;
  }

  afterEach(async () => {
    for (const e of endpoints.splice(0)) e.close();
    relay?.close();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  it('is created only with a relay key or an explicit insecure: true', () => {
    expect(() => createSignalingRelay({ clusterId: CLUSTER })).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => createSignalingRelay({ clusterId: CLUSTER, relayKey, insecure: true })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
    );
  });

  it('refuses a member with no credential, a wrong one, or one minted for another member, and it never sees offers', async () => {
    const base = await start();
    const got: SignalMessage[] = [];
    const join = (signaling: Signaling, memberId: Id) => signaling.join({ clusterId: CLUSTER, memberId, onSignal: (m) => got.push(m) });

    const one = await join(new HttpRelaySignaling({ baseUrl: base, credential: (id) => signalingCredential(relayKey, CLUSTER, id) }), 1n);
    const two = await join(new HttpRelaySignaling({ baseUrl: base, credential: await signalingCredential(relayKey, CLUSTER, 2n) }), 2n);
    endpoints.push(one, two);

    const none = await rejection(join(new HttpRelaySignaling({ baseUrl: base }), 3n), ErrorCode.SIGNAL_REJECTED);
    expect(none.message).toMatch(/showed no signalling credential/);
    const otherKey = await signalingCredential(generateRelayKey(), CLUSTER, 3n);
    expect(
      (await rejection(join(new HttpRelaySignaling({ baseUrl: base, credential: otherKey }), 3n), ErrorCode.SIGNAL_REJECTED)).message,
    ).toMatch(/bad signalling credential/);
    // Member 2's credential does not let anyone join as member 3 (or as 1).
    const twos = await signalingCredential(relayKey, CLUSTER, 2n);
    await rejection(join(new HttpRelaySignaling({ baseUrl: base, credential: twos }), 3n), ErrorCode.SIGNAL_REJECTED);
    await rejection(join(new HttpRelaySignaling({ baseUrl: base, credential: twos }), 1n), ErrorCode.SIGNAL_REJECTED);
    await rejection(join(new HttpRelaySignaling({ baseUrl: base, credential: 'x'.repeat(43) }), 3n), ErrorCode.SIGNAL_REJECTED);
    // Nobody refused got registered: member 3 is unknown to the relay.
    await rejection(one.send({ clusterId: 'c1', from: '1', to: '3', kind: 'connect', session: '' }), ErrorCode.MEMBER_NOT_FOUND);
    // Raw: a join body without credential gets 401 and no token.
    const raw = await fetch(`${base}/join`, { method: 'POST', body: JSON.stringify({ clusterId: 'c1', memberId: '4' }) });
    expect(raw.status).toBe(401);
    expect(((await raw.json()) as { token?: string }).token).toBeUndefined();

    await one.send({ clusterId: 'c1', from: '1', to: '2', kind: 'connect', session: 'ok' });
    await waitFor(() => got.length === 1, 'the honest signal');
    expect(got.map((m) => [m.from, m.to])).toEqual([['1', '2']]);
  });
});

/** A hub between the members that rewrites what they send (a compromised relay). */
function tamperingSignaling(hub: InPageSignalingHub, tamper: (msg: SignalMessage) => SignalMessage[]): Signaling {
  return {
    async join(options) {
      const ep = await hub.join(options);
      return {
        memberId: ep.memberId,
        send: async (msg, opts) => {
          for (const m of tamper(structuredClone(msg))) await ep.send(m, opts);
        },
        close: () => ep.close(),
      };
    },
  };
}

const isSdp = (m: SignalMessage): boolean => typeof m.data?.sdp === 'string';
const rewriteFingerprint = (m: SignalMessage): SignalMessage => {
  const data = m.data;
  if (data !== undefined && isSdp(m)) {
    m.data = {
      ...data,
      sdp: (data.sdp as string).replace(
        /(a=fingerprint:\S+ )([0-9A-F]{2})/gi,
        (_s, p: string, h: string) => `${p}${h === '00' ? '01' : '00'}`,
      ),
    };
  }
  return m;
};

describe.each(STACKS)('WebRtcLink identity over %s', (stack) => {
  const links: WebRtcLink[] = [];
  afterEach(async () => {
    await Promise.all(links.splice(0).map((l) => l.close()));
  });

  async function keys(n: number): Promise<CryptoKeyPair[]> {
    return Promise.all(Array.from({ length: n }, () => generateIdentityKeyPair()));
  }
  function identity(own: CryptoKeyPair, others: [Id, CryptoKeyPair][]): WebRtcIdentity {
    return { privateKey: own.privateKey, publicKeys: new Map(others.map(([id, k]) => [id, k.publicKey])) };
  }
  /** Refused attempts fail fast (or time out after 4 s); an honest one gets 15 s on a loaded machine. */
  async function pair(signaling: Signaling, ia: WebRtcIdentity | undefined, ib: WebRtcIdentity | undefined, connectTimeoutMs = 4_000) {
    const common = { clusterId: CLUSTER, handler: testHandler(), connectTimeoutMs };
    const a = await WebRtcLink.create({
      ...common,
      localId: 1n,
      signaling,
      peerConnectionFactory: nodePeerConnectionFactory({ stack }),
      ...(ia ? { identity: ia } : {}),
    });
    const b = await WebRtcLink.create({
      ...common,
      localId: 2n,
      signaling,
      peerConnectionFactory: nodePeerConnectionFactory({ stack }),
      ...(ib ? { identity: ib } : {}),
    });
    links.push(a, b);
    const refused = { a: [] as RaftwireError[], b: [] as RaftwireError[] };
    a.onSignalRefused((_id, e) => refused.a.push(e));
    b.onSignalRefused((_id, e) => refused.b.push(e));
    return { a, b, refused };
  }

  it('connects honest members: offer and answer carry verified signatures', async () => {
    const [k1, k2] = (await keys(2)) as [CryptoKeyPair, CryptoKeyPair];
    const seen: SignalMessage[] = [];
    const hub = new InPageSignalingHub(CLUSTER);
    const { a, b, refused } = await pair(
      tamperingSignaling(hub, (m) => {
        seen.push(m);
        return [m];
      }),
      identity(k1, [[2n, k2]]),
      identity(k2, [[1n, k1]]),
      15_000,
    );
    expect(a.authenticated).toBe(true);
    const res = await b.request('webrtc://1', { method: 'GET', path: '/raft/probing', headers: {} });
    expect(res.status).toBe(200);
    expect(untext(await readAll(res.body))).toBe('{"ok":true}');
    const sdps = seen.filter(isSdp);
    expect(sdps.map((m) => m.data?.type)).toEqual(expect.arrayContaining(['answer', 'offer']));
    for (const m of sdps) expect(m.auth?.fp).toMatch(/^sha-256 [0-9A-F:]+$/);
    expect(refused).toEqual({ a: [], b: [] });
  });

  it('refuses an offer whose DTLS fingerprint the relay rewrote (a man in the middle)', async () => {
    const [k1, k2] = (await keys(2)) as [CryptoKeyPair, CryptoKeyPair];
    const hub = new InPageSignalingHub(CLUSTER);
    const { a, b, refused } = await pair(
      tamperingSignaling(hub, (m) => [rewriteFingerprint(m)]),
      identity(k1, [[2n, k2]]),
      identity(k2, [[1n, k1]]),
    );
    await rejection(a.connect(2n), ErrorCode.LINK); // b refuses every offer, so a's attempts time out
    expect(refused.b.length).toBeGreaterThan(0);
    expect(refused.b[0]?.message).toMatch(/DTLS fingerprint .* is not the one the member signed/);
    expect(a.connection(2n)?.state).not.toBe('open');
    expect(b.connection(1n)).toBeUndefined(); // b never applied a tampered offer
  });

  it('refuses an answer whose DTLS fingerprint was rewritten on its way back', async () => {
    const [k1, k2] = (await keys(2)) as [CryptoKeyPair, CryptoKeyPair];
    const hub = new InPageSignalingHub(CLUSTER);
    const { a, refused } = await pair(
      tamperingSignaling(hub, (m) => [m.data?.type === 'answer' ? rewriteFingerprint(m) : m]),
      identity(k1, [[2n, k2]]),
      identity(k2, [[1n, k1]]),
    );
    const err = await rejection(a.connect(2n), ErrorCode.SIGNAL_REJECTED);
    expect(err.message).toMatch(/answer from member 2 refused: the SDP's DTLS fingerprint/);
    expect(refused.a.length).toBeGreaterThan(0);
  });

  it('refuses a member signing with a key other than the one configured for it, and an unsigned one', async () => {
    const [k1, k2, wrong] = (await keys(3)) as [CryptoKeyPair, CryptoKeyPair, CryptoKeyPair];
    const hub = new InPageSignalingHub(CLUSTER);
    // Member 1 signs with `wrong`; member 2 expects k1.
    const { b, refused } = await pair(hub, identity(wrong, [[2n, k2]]), identity(k2, [[1n, k1]]));
    await rejection(b.connect(1n), ErrorCode.LINK);
    expect(refused.b[0]?.message).toMatch(/offer from member 1 refused: its signature does not verify/);
    expect(b.connection(1n)).toBeUndefined();
    await Promise.all(links.splice(0).map((l) => l.close()));

    // Member 1 has no identity at all (an outsider's link): its offer carries no signature.
    const hub2 = new InPageSignalingHub(CLUSTER);
    const p2 = await pair(hub2, undefined, identity(k2, [[1n, k1]]));
    await rejection(p2.b.connect(1n), ErrorCode.LINK);
    expect(p2.refused.b[0]?.message).toMatch(/carries no identity signature/);
  });

  it('refuses a replayed offer', async () => {
    const [k1, k2] = (await keys(2)) as [CryptoKeyPair, CryptoKeyPair];
    const hub = new InPageSignalingHub(CLUSTER);
    let firstOffer: SignalMessage | undefined;
    const { a, b, refused } = await pair(
      tamperingSignaling(hub, (m) => {
        if (m.data?.type === 'offer' && firstOffer === undefined) firstOffer = structuredClone(m);
        return [m];
      }),
      identity(k1, [[2n, k2]]),
      identity(k2, [[1n, k1]]),
      15_000,
    );
    await a.connect(2n);
    await waitFor(() => b.connection(1n)?.state === 'open', 'b to see the connection open');
    // Someone on the signalling path plays the captured offer again (same session and nonce).
    hub.deliver({ ...(firstOffer as SignalMessage) }, 1n);
    await waitFor(() => refused.b.length > 0, 'the replay to be refused');
    expect(refused.b[0]?.message).toMatch(/replay/);
    expect(b.connection(1n)?.state).toBe('open');
  });
});
