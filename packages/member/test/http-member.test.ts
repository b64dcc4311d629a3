/**
 * createHttpMember over real HTTP(S) on 127.0.0.1: three members elect, replicate and read back;
 * removal stops a member by itself and says so; close is idempotent; a restarted member recovers
 * from its dataDir; mutual TLS from one option; and every bad option is a typed error.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeHttpLink } from '@raftwire/adapters/http/node';
import { ErrorCode, isRaftwireError, silentLogger } from '@raftwire/core';
import { MemoryLogger } from '@raftwire/core/testing';
import { createHttpMember, type HttpMemberOptions, type RaftMember } from '@raftwire/member/http';
import { encodeKvCommand, type KvStateMachine, MemoryStorage } from '@raftwire/raft';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, requireOpenssl, type TestPki } from '../../adapters/test/http/certs.js';

const FAST = { tickMs: 20, electionTicks: 10 };
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
const put = (k: string, v: string) => encodeKvCommand({ op: 'put', key: k, value: enc(v) });
const timeout = () => ({ signal: AbortSignal.timeout(15_000) });

const running: RaftMember[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((m) => m.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'raftwire-member-'));
  dirs.push(d);
  return d;
}

async function freeUrls(n: number, scheme = 'http'): Promise<string[]> {
  const { createServer } = await import('node:net');
  const ports = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<number>((resolve) => {
          const s = createServer();
          s.listen(0, '127.0.0.1', () => {
            const port = (s.address() as { port: number }).port;
            s.close(() => resolve(port));
          });
        }),
    ),
  );
  return ports.map((p) => `${scheme}://127.0.0.1:${p}`);
}

async function leaderOf(members: RaftMember[], timeoutMs = 15_000): Promise<RaftMember> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const l = members.find((m) => m.node.status().raftState === 'StateLeader');
    if (l) return l;
    if (Date.now() > deadline) throw new Error('no leader elected');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function cluster(extra: (i: number) => Partial<HttpMemberOptions> & Record<string, unknown>, scheme = 'http'): Promise<RaftMember[]> {
  const urls = await freeUrls(3, scheme);
  const peers = urls.map((url, i) => ({ id: BigInt(i + 1), url }));
  const members = await Promise.all(
    peers.map((p, i) =>
      createHttpMember({ id: p.id, listen: p.url, peers, logger: silentLogger, raft: FAST, ...extra(i) } as HttpMemberOptions),
    ),
  );
  running.push(...members);
  return members;
}

describe('createHttpMember', () => {
  it('runs a 3-member cluster over HTTP: elects, replicates, reads back on every member', async () => {
    const members = await cluster(() => ({ insecure: true, storage: new MemoryStorage() }));
    const leader = await leaderOf(members);
    const follower = members.find((m) => m !== leader) as RaftMember;
    const r = await follower.node.propose(put('greeting', 'hello'), timeout());
    expect(r.prev).toBeNull();
    for (const m of members) expect(dec(await m.node.read('greeting', timeout()))).toBe('hello');
    for (const m of members) expect(m.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(follower.transport.activePeers()).toBe(2);
  });

  it('stops a removed member by itself and surfaces it; close() is idempotent and awaits everything', async () => {
    const logger = new MemoryLogger();
    const members = await cluster(() => ({ insecure: true, storage: new MemoryStorage(), logger }));
    const leader = await leaderOf(members);
    const victim = members.find((m) => m !== leader) as RaftMember;
    let removedEvent = false;
    victim.node.on('removed', () => {
      removedEvent = true;
    });
    await leader.node.removeMember(victim.id, timeout());
    await expect(victim.stopped).resolves.toEqual({ reason: 'removed' });
    expect(removedEvent).toBe(true);
    expect(victim.node.status().stopped).toBe(true);
    const c1 = victim.close();
    expect(victim.close()).toBe(c1);
    await c1;
    const said = logger.find('member removed from the cluster; stopping', 'warn').map((r) => r.fields['local-member-id']);
    expect(said).toEqual([victim.id.toString(16)]);
    // The others go on committing.
    const rest = members.filter((m) => m !== victim);
    await (rest[0] as RaftMember).node.propose(put('after', 'removal'), timeout());
    expect(dec(await (rest[1] as RaftMember).node.read('after', timeout()))).toBe('removal');
    const closing = rest.map((m) => m.close());
    await Promise.all(closing);
    for (const m of rest) await expect(m.stopped).resolves.toEqual({ reason: 'closed' });
  });

  it('keeps the log in dataDir: a member closed and created again recovers what was committed', async () => {
    const dataDirs = [await tempDir(), await tempDir(), await tempDir()];
    const urls = await freeUrls(3);
    const peers = urls.map((url, i) => ({ id: BigInt(i + 1), url }));
    const start = (i: number) =>
      createHttpMember({
        id: BigInt(i + 1),
        listen: urls[i] as string,
        peers,
        dataDir: dataDirs[i] as string,
        insecure: true,
        logger: silentLogger,
        raft: FAST,
      });
    const members = await Promise.all([0, 1, 2].map(start));
    running.push(...members);
    const leader = await leaderOf(members);
    await leader.node.propose(put('durable', 'yes'), timeout());
    const i = members.findIndex((m) => m !== leader);
    await (members[i] as RaftMember).node.readIndex(timeout());
    await (members[i] as RaftMember).close();
    const again = await start(i);
    running.push(again);
    expect(again.node.status().applied).toBeGreaterThan(1);
    expect(dec(await again.node.read('durable', timeout()))).toBe('yes');
  });

  it('refuses bad options with typed errors before opening anything', async () => {
    const base = { id: 1n, listen: 'http://127.0.0.1:0', peers: [], logger: silentLogger };
    const code = async (o: unknown): Promise<string> => {
      try {
        const m = await createHttpMember(o as HttpMemberOptions);
        running.push(m);
        return 'created';
      } catch (err) {
        return isRaftwireError(err) ? `${err.code}: ${err.message}` : String(err);
      }
    };
    expect(await code({ ...base, storage: new MemoryStorage() })).toMatch(
      /^ERR_INVALID_ARGUMENT: createHttpMember: members must authenticate each other: pass tls .* or insecure: true/,
    );
    expect(await code({ ...base, insecure: true })).toMatch(/^ERR_INVALID_ARGUMENT: .*pass dataDir .* or storage/);
    expect(await code({ ...base, insecure: true, storage: new MemoryStorage(), dataDir: '/tmp/x' })).toMatch(/either dataDir or storage/);
    expect(await code({ ...base, insecure: true, storage: new MemoryStorage(), tls: { key: 'k', cert: 'c', ca: 'a' } })).toMatch(
      /either tls or insecure/,
    );
    expect(await code({ ...base, tls: { key: 'k', cert: 'c', ca: 'a' }, storage: new MemoryStorage() })).toMatch(
      /^ERR_INVALID_URL: .*must be https:\/\//,
    );
    expect(await code({ ...base, tls: { key: 'k', cert: 'c' }, storage: new MemoryStorage() })).toMatch(/tls needs key, cert and ca/);
    expect(await code({ ...base, listen: '127.0.0.1:2380', insecure: true, storage: new MemoryStorage() })).toMatch(/^ERR_INVALID_URL/);
    expect(await code({ ...base, listen: 'http://[::]:0', insecure: true, storage: new MemoryStorage() })).toMatch(/pass advertise/);
    expect(
      await code({ ...base, insecure: true, storage: new MemoryStorage(), peers: [{ id: 2n, url: 'https://127.0.0.1:2381' }] }),
    ).toMatch(/^ERR_INVALID_URL: .*must be http:\/\//);
    expect(
      await code({
        ...base,
        insecure: true,
        storage: new MemoryStorage(),
        peers: [
          { id: 2n, url: 'http://127.0.0.1:2381' },
          { id: 2n, url: 'http://127.0.0.1:2382' },
        ],
      }),
    ).toMatch(/listed twice/);
    expect(await code({ ...base, insecure: true, storage: new MemoryStorage(), join: true })).toMatch(/join needs at least one peer/);
    expect(await code({ ...base, id: 0n, insecure: true, storage: new MemoryStorage() })).toMatch(/^ERR_INVALID_ARGUMENT/);
    expect(running).toHaveLength(0);
  });

  it('fails with ERR_LINK when the port is taken, leaving nothing open', async () => {
    const [m] = await cluster(() => ({ insecure: true, storage: new MemoryStorage() }));
    const err = await createHttpMember({
      id: 9n,
      listen: (m as RaftMember).url,
      peers: [],
      insecure: true,
      storage: new MemoryStorage(),
      logger: silentLogger,
    }).catch((e: unknown) => e);
    expect(isRaftwireError(err, ErrorCode.LINK)).toBe(true);
  });

  it('logs through the console logger at info when no logger is given', async () => {
    const lines: string[] = [];
    const orig = { info: console.info, warn: console.warn, error: console.error, debug: console.debug };
    console.info = (l: string) => lines.push(`info ${l}`);
    console.debug = (l: string) => lines.push(`debug ${l}`);
    try {
      const [url] = await freeUrls(1);
      const m = await createHttpMember({
        id: 1n,
        listen: url as string,
        peers: [],
        insecure: true,
        storage: new MemoryStorage(),
        raft: FAST,
      });
      running.push(m);
      await m.close();
    } finally {
      Object.assign(console, orig);
    }
    expect(lines.some((l) => /^info \S+Z INFO {2}member started local-member-id=1 peer-url=http:\/\/127\.0\.0\.1:\d+/.test(l))).toBe(true);
    expect(lines.some((l) => l.startsWith('debug'))).toBe(false);
  });
});

describe('createHttpMember with tls', () => {
  let pki: TestPki;
  beforeAll(() => {
    requireOpenssl();
    pki = makeTestPki();
  });

  it('runs the cluster over mutual TLS from one option, and a member with another CA is kept out', async () => {
    // Each member presents its own peer certificate (127.0.0.1, serverAuth and clientAuth, naming its ID).
    const tlsOf = (i: number) => ({ key: pki.members[i]?.key ?? '', cert: pki.members[i]?.cert ?? '', ca: pki.ca });
    const members = await cluster((i) => ({ tls: tlsOf(i), storage: new MemoryStorage() }), 'https');
    const leader = await leaderOf(members);
    await leader.node.propose(put('secret', 'tls'), timeout());
    for (const m of members) {
      expect(m.url).toMatch(/^https:\/\//);
      expect(dec(await m.node.read('secret', timeout()))).toBe('tls');
    }
    // The member's server requires a certificate from its CA: another CA's peer is refused at the handshake.
    const probe = async (key: string, cert: string) => {
      const link = new NodeHttpLink({ tls: { key, cert, ca: pki.ca } });
      try {
        const r = await link.request((members[0] as RaftMember).url, { method: 'GET', path: '/raft/probing', headers: {} });
        for await (const _ of r.body) {
          // drain
        }
        return r.status;
      } catch (err) {
        return isRaftwireError(err) ? err.code : String(err);
      } finally {
        link.close();
      }
    };
    expect(await probe(pki.peer.key, pki.peer.cert)).toBe(200); // probing needs no identity
    expect(await probe(pki.otherPeer.key, pki.otherPeer.cert)).toBe(ErrorCode.LINK);
  });
});

// Compile-time: a custom state machine must be passed; KvStateMachine is the default.
export type _KvDefault = RaftMember<KvStateMachine>;
