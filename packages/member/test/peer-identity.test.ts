/**
 * Issue 11, findings 2 and 6, over real mutual TLS on 127.0.0.1: a member's ID is bound to its
 * certificate. A forged MsgApp (as if from the leader) is refused and never applied, whether it
 * comes without a certificate or with another member's; a stream takeover (a second GET of the
 * leader's stream to a follower) needs the follower's own certificate, and the real stream keeps
 * flowing after a refused attempt.
 */
import { NodeHttpLink } from '@raftwire/adapters/http/node';
import {
  ErrorCode,
  type Id,
  MIN_CLUSTER_VERSION,
  MessageType,
  SERVER_VERSION,
  cborMessageCodec,
  createEntry,
  createMessage,
  formatId,
  isRaftwireError,
  silentLogger,
} from '@raftwire/core';
import { MemoryLogger } from '@raftwire/core/testing';
import { DEFAULT_CLUSTER_ID, type RaftMember } from '@raftwire/member';
import { createHttpMember } from '@raftwire/member/http';
import { MemoryStorage, encodeKvCommand } from '@raftwire/raft';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../tools/ports.mjs';
import { type KeyPair, type TestPki, makeTestPki, requireOpenssl } from '../../adapters/test/http/certs.js';

const FAST = { tickMs: 20, electionTicks: 10 };
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
const put = (k: string, v: string) => encodeKvCommand({ op: 'put', key: k, value: enc(v) });
const timeout = () => ({ signal: AbortSignal.timeout(15_000) });

let pki: TestPki;
beforeAll(() => {
  requireOpenssl();
  pki = makeTestPki();
});

const running: RaftMember[] = [];
const links: NodeHttpLink[] = [];
afterEach(async () => {
  for (const l of links.splice(0)) l.close();
  await Promise.all(running.splice(0).map((m) => m.close()));
});

/** Ports the members bind later: below the ephemeral range, so no outgoing connection takes one meanwhile. */
const freePorts = (n: number): Promise<number[]> => Promise.all(Array.from({ length: n }, () => freePort()));

async function secureCluster(loggers: MemoryLogger[]): Promise<RaftMember[]> {
  const ports = await freePorts(3);
  const peers = ports.map((p, i) => ({ id: BigInt(i + 1), url: `https://127.0.0.1:${p}` }));
  const members = await Promise.all(
    peers.map((p, i) => {
      const pair = pki.members[i] as KeyPair;
      return createHttpMember({
        id: p.id,
        listen: p.url,
        peers,
        logger: loggers[i] ?? silentLogger,
        raft: FAST,
        tls: { key: pair.key, cert: pair.cert, ca: pki.ca },
        storage: new MemoryStorage(),
      });
    }),
  );
  running.push(...members);
  return members;
}

async function leaderOf(members: RaftMember[]): Promise<RaftMember> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const l = members.find((m) => m.node.status().raftState === 'StateLeader');
    if (l) return l;
    if (Date.now() > deadline) throw new Error('no leader elected');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function headers(from: Id, to: Id): Record<string, string> {
  return {
    'x-server-from': formatId(from),
    'x-server-version': SERVER_VERSION,
    'x-min-cluster-version': MIN_CLUSTER_VERSION,
    'x-etcd-cluster-id': formatId(DEFAULT_CLUSTER_ID),
    'x-raft-to': formatId(to),
    'content-type': 'application/protobuf',
  };
}

/** A link presenting `pair` (or no certificate), trusting the test CA. */
function linkWith(pair: KeyPair | undefined): NodeHttpLink {
  const l = new NodeHttpLink({ tls: pair === undefined ? { ca: pki.ca } : { ca: pki.ca, key: pair.key, cert: pair.cert } });
  links.push(l);
  return l;
}

async function outcome(p: Promise<{ status: number; body: AsyncIterable<Uint8Array> }>): Promise<string | number> {
  try {
    const r = await p;
    const chunks: Uint8Array[] = [];
    for await (const c of r.body) chunks.push(c);
    return `${r.status} ${dec(Buffer.concat(chunks))?.trim()}`;
  } catch (err) {
    return isRaftwireError(err) ? err.code : String(err);
  }
}

describe('peer identity bound to the certificate (createHttpMember with tls)', () => {
  it('refuses a forged MsgApp without a certificate and with another member’s, and applies neither (finding 2)', async () => {
    const loggers = [new MemoryLogger(), new MemoryLogger(), new MemoryLogger()];
    const members = await secureCluster(loggers);
    const leader = await leaderOf(members);
    await leader.node.propose(put('k', 'real-1'), timeout());
    const follower = members.find((m) => m !== leader) as RaftMember;
    const third = members.find((m) => m !== leader && m !== follower) as RaftMember;
    // Quiet cluster: the follower has everything the leader committed.
    const deadline = Date.now() + 10_000;
    while (follower.node.status().applied < leader.node.status().commit && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    const before = follower.node.status();
    const forged = cborMessageCodec.encode(
      createMessage({
        type: MessageType.MsgApp,
        from: leader.id,
        to: follower.id,
        term: before.term,
        index: before.commit,
        logTerm: before.term,
        commit: before.commit + 1,
        entries: [createEntry({ term: before.term, index: before.commit + 1, data: put('k', 'forged') })],
      }),
    );
    const post = (pair: KeyPair | undefined) =>
      outcome(
        linkWith(pair).request(follower.url, { method: 'POST', path: '/raft', headers: headers(leader.id, follower.id), body: forged }),
      );

    // No certificate: the TLS handshake refuses it (mutual TLS).
    expect(await post(undefined)).toBe(ErrorCode.LINK);
    // The third member's certificate, claiming to be the leader: refused by the handler.
    const thirdPair = pki.members[Number(third.id) - 1] as KeyPair;
    expect(await post(thirdPair)).toBe('403 sender does not match the peer certificate');
    // A certificate from the CA that names no member: refused as unauthenticated.
    expect(await post(pki.peer)).toBe('403 peer not authenticated');
    // The right From header but another `from` inside the message: refused too.
    const spoofInside = await outcome(
      linkWith(thirdPair).request(follower.url, { method: 'POST', path: '/raft', headers: headers(third.id, follower.id), body: forged }),
    );
    expect(spoofInside).toBe('403 sender does not match the peer certificate');

    const after = follower.node.status();
    expect(after.lastIndex).toBe(before.lastIndex);
    expect(after.commit).toBe(before.commit);
    const logger = loggers[Number(follower.id) - 1] as MemoryLogger;
    expect(logger.find('refused peer request whose sender is not the member its certificate names').length).toBeGreaterThan(0);
    expect(logger.find('refused unauthenticated peer request').length).toBeGreaterThan(0);

    // The real leader's next write reaches the follower: nothing diverged.
    await leader.node.propose(put('k', 'real-2'), timeout());
    expect(dec(await follower.node.read('k', timeout()))).toBe('real-2');
  });

  it('refuses a stream takeover without the follower’s own certificate; the real stream keeps flowing (finding 6)', async () => {
    const members = await secureCluster([]);
    const leader = await leaderOf(members);
    await leader.node.propose(put('s', '0'), timeout());
    const follower = members.find((m) => m !== leader) as RaftMember;
    const third = members.find((m) => m !== leader && m !== follower) as RaftMember;
    const takeover = (pair: KeyPair | undefined, claimed: Id) =>
      outcome(
        linkWith(pair).openStream(leader.url, {
          method: 'GET',
          path: `/raft/stream/msgapp/${formatId(follower.id)}`,
          headers: headers(claimed, leader.id),
        }),
      );
    for (let i = 0; i < 5; i++) {
      expect(await takeover(undefined, follower.id)).toBe(ErrorCode.LINK);
      expect(await takeover(pki.members[Number(third.id) - 1], follower.id)).toBe('403 sender does not match the peer certificate');
      expect(await takeover(pki.members[Number(third.id) - 1], third.id)).toBe('403 sender does not match the peer certificate');
      expect(await takeover(pki.peer, follower.id)).toBe('403 peer not authenticated');
    }
    for (let i = 1; i <= 20; i++) await leader.node.propose(put('s', String(i)), timeout());
    expect(dec(await follower.node.read('s', timeout()))).toBe('20');
  });

  it('a certificate whose CN is the hex member ID identifies that member (etcd --peer-cert-allowed-cn)', async () => {
    const ports = await freePorts(2);
    const peers = [
      { id: 1n, url: `https://127.0.0.1:${ports[0]}` },
      { id: 4n, url: `https://127.0.0.1:${ports[1]}` },
    ];
    const pairs = [pki.members[0] as KeyPair, pki.cnMember4];
    const members = await Promise.all(
      peers.map((p, i) =>
        createHttpMember({
          id: p.id,
          listen: p.url,
          peers,
          logger: silentLogger,
          raft: FAST,
          tls: { key: pairs[i]?.key ?? '', cert: pairs[i]?.cert ?? '', ca: pki.ca },
          storage: new MemoryStorage(),
        }),
      ),
    );
    running.push(...members);
    const leader = await leaderOf(members);
    await leader.node.propose(put('cn', 'ok'), timeout());
    for (const m of members) expect(dec(await m.node.read('cn', timeout()))).toBe('ok');
  });
});
