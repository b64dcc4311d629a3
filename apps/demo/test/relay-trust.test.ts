/**
 * The demo's per-page relay admits only the page's members, each with the
 * credential the server handed the page (docs/demo.md "Trust"): a join without
 * it, with one minted under another key, or with another member's is refused.
 * A real ClusterSession relay on 127.0.0.1, joined over HTTP as a browser would.
 */
import {
  DEFAULT_RELAY_PREFIX,
  HttpRelaySignaling,
  generateRelayKey,
  importIdentityKey,
  signalingCredential,
} from '@raftwire/adapters/webrtc';
import { ErrorCode, RaftwireError } from '@raftwire/core';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterSession } from '../src/server/node-member-host.js';

const CLUSTER = 0x1234n;

async function join(s: ClusterSession, body: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${s.relayUrl}/join`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ clusterId: s.hex, ...body }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("the demo relay's trust", () => {
  let session: ClusterSession | undefined;
  afterEach(async () => {
    await session?.close();
    session = undefined;
  });

  it("refuses a join without the page's credential, with a foreign one or another member's, and admits the page's", async () => {
    const s = new ClusterSession(CLUSTER, true);
    session = s;
    await s.listen();
    expect(s.relayUrl.endsWith(DEFAULT_RELAY_PREFIX)).toBe(true);
    const identity = await s.pageIdentity();
    const two = identity.members['2'];
    const three = identity.members['3'];
    if (!two || !three) throw new Error('no keys for members 2 and 3');

    const none = await join(s, { memberId: '2' });
    expect(none.status).toBe(401);
    expect(none.body['token']).toBeUndefined();
    const foreign = await join(s, { memberId: '2', credential: await signalingCredential(generateRelayKey(), CLUSTER, 2n) });
    expect(foreign.status).toBe(401);
    const borrowed = await join(s, { memberId: '2', credential: three.credential });
    expect(borrowed.status).toBe(401);
    // Member 1 is the server's: the page is never given a credential (or key) for it.
    expect(identity.members['1']).toBeUndefined();
    expect((await join(s, { memberId: '1', credential: two.credential })).status).toBe(401);

    const ok = await join(s, { memberId: '2', credential: two.credential });
    expect(ok.status).toBe(200);
    expect(typeof ok.body['token']).toBe('string');

    // The page's relay client, as the page builds it, is refused without the credential (typed error).
    const bare = new HttpRelaySignaling({ baseUrl: s.relayUrl });
    const err = await bare.join({ clusterId: CLUSTER, memberId: 2n, onSignal: () => {} }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RaftwireError);
    expect((err as RaftwireError).code).toBe(ErrorCode.SIGNAL_REJECTED);
  });

  it("hands out every member's public key and mints a member added later on demand", async () => {
    const s = new ClusterSession(CLUSTER, true);
    session = s;
    await s.listen();
    const first = await s.pageIdentity();
    expect(Object.keys(first.publicKeys).sort()).toEqual(['1', '2', '3', '4']);
    for (const k of Object.values(first.members)) expect(typeof k.privateKey.d).toBe('string');
    for (const k of Object.values(first.publicKeys)) expect(k.d).toBeUndefined();
    const later = await s.pageIdentity(['5']);
    expect(Object.keys(later.members).sort()).toEqual(['2', '3', '4', '5']);
    // The same member keeps its keys (a reload gets the same ones back).
    expect(later.members['2']).toEqual(first.members['2']);
    const five = later.members['5'];
    if (!five) throw new Error('no keys for member 5');
    await importIdentityKey(five.privateKey);
    expect((await join(s, { memberId: '5', credential: five.credential })).status).toBe(200);
  });
});
