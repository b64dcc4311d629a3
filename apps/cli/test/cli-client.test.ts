/**
 * `raftwire cluster` as a person runs it, and the client commands against it: INFO logs one can
 * follow (no stream/peer lifecycle before the first election, URLs with their scheme, one line
 * per membership change, "restarted from WAL at index N"), put/get/del (bytes printed exactly as
 * stored), status with voters, GET /v1/members and `raftwire members`, `member add` printing the
 * --join command that then starts the member, the leader's rate-limited WARN while that voter is
 * not started, and `member remove`. The client over https with a bearer token: a node:https
 * server with a certificate made in the test checks the token and passes requests on to the
 * cluster's API.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, requireOpenssl } from '../../../packages/adapters/test/http/certs.js';
import { CLI_MAIN, collectLines, freeBasePort, waitFor } from './member-process.js';

const dataDir = mkdtempSync(join(tmpdir(), 'raftwire-cli-client-'));
let base = 0;
let cluster: { child: ChildProcess; lines: string[]; exited: Promise<number | null> } | undefined;
const others: ChildProcess[] = [];

function startCluster() {
  const child = spawn(process.execPath, [CLI_MAIN, 'cluster', '--insecure', '--base-port', String(base), '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = collectLines(child);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, lines, exited };
}

/** The cluster ID member `id` recorded (derived from the initial members at its first start). */
const clusterIdOf = (id: string): string =>
  (JSON.parse(readFileSync(join(dataDir, `member-${id}`, 'cluster-id.json'), 'utf8')) as { clusterId: string }).clusterId;
const endpoint = () => `http://127.0.0.1:${base + 1}`;
/** Runs a client command (not spawnSync: the https server below lives in this process); stdout as bytes. */
function client(args: string[], ep: string | null = endpoint()) {
  const child = spawn(process.execPath, [CLI_MAIN, ...args, ...(ep === null ? [] : ['--endpoint', ep])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => err.push(d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise<{ code: number | null; stdout: Buffer; out: string; err: string }>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out);
      resolve({ code, stdout, out: stdout.toString('utf8'), err: Buffer.concat(err).toString('utf8') });
    }),
  );
}
const memberLines = (lines: string[], id: string) => lines.filter((l) => l.startsWith(`[${id}] `));
const isInfo = (l: string) => / INFO {2}/.test(l);

beforeAll(async () => {
  base = await freeBasePort(4);
  cluster = startCluster();
  const c = cluster;
  await waitFor('3 members ready and a leader', 30_000, async () => {
    if (c.child.exitCode !== null) throw new Error(`cluster exited:\n${c.lines.join('\n')}`);
    return (
      c.lines.filter((l) => l.includes('member ready')).length === 3 &&
      ['1', '2', '3'].every((id) => memberLines(c.lines, id).some((l) => l.includes('leader changed')))
    );
  });
}, 60_000);

afterAll(async () => {
  for (const p of others) if (p.exitCode === null) p.kill('SIGKILL');
  if (cluster && cluster.child.exitCode === null) {
    cluster.child.kill('SIGINT');
    await cluster.exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('raftwire cluster and the client commands (plain http, --insecure)', () => {
  it('logs a few readable INFO lines up to the first election, every URL with its scheme', () => {
    const lines = cluster?.lines ?? [];
    const firstLeader = lines.findIndex((l) => / became leader at term /.test(l));
    const before = lines.slice(0, firstLeader).filter(isInfo);
    // Per member: bootstrapped new cluster, member ready (stream attach, peer start... are debug).
    expect(before.length, before.join('\n')).toBeLessThanOrEqual(6);
    expect(lines.filter(isInfo).filter((l) => /stream|pipelin|remote peer|newRaft|cast Msg/.test(l))).toEqual([]);
    const urls = lines.flatMap((l) => [...l.matchAll(/(?:^| )((?:peer-|api-)?url)=(\S+)/g)].map((m) => m[2] as string));
    expect(urls.length).toBeGreaterThanOrEqual(6);
    for (const u of urls) expect(u).toMatch(/^https?:\/\//);
    // One `leader changed` per member and election (a member may miss an election it took no part in).
    const elections = lines.filter((l) => / became leader at term /.test(l)).length;
    for (const id of ['1', '2', '3']) {
      const changes = memberLines(lines, id).filter((l) => l.includes('leader changed')).length;
      expect(changes).toBeGreaterThanOrEqual(1);
      expect(changes).toBeLessThanOrEqual(elections);
    }
  });

  it('put, get (the bytes as stored), del; get of a missing key fails on stderr', async () => {
    expect(await client(['put', 'greeting', 'hello'])).toMatchObject({ code: 0, out: 'OK\n' });
    expect(await client(['get', 'greeting'])).toMatchObject({ code: 0, out: 'hello\n' });
    expect(await client(['put', 'spaced key/ü', 'two words ünïcode'])).toMatchObject({ code: 0 });
    expect((await client(['get', 'spaced key/ü', '--raw'])).out).toBe('two words ünïcode');
    // A value that is not UTF-8 (the JSON API would give it as base64): printed byte for byte.
    const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x0a, 0xc3]);
    const put = await fetch(`${endpoint()}/v1/kv/binary`, { method: 'PUT', body: bytes });
    expect(put.status).toBe(200);
    expect((await (await fetch(`${endpoint()}/v1/kv/binary`)).json()).valueBase64).toBe(bytes.toString('base64'));
    expect(Buffer.compare((await client(['get', 'binary', '--raw'])).stdout, bytes)).toBe(0);
    expect(Buffer.compare((await client(['get', 'binary'])).stdout, Buffer.concat([bytes, Buffer.from('\n')]))).toBe(0);
    expect(await client(['del', 'binary'])).toMatchObject({ code: 0, out: '1\n' });
    expect(await client(['del', 'binary'])).toMatchObject({ code: 0, out: '0\n' });
    const missing = await client(['get', 'binary']);
    expect([missing.code, missing.out, missing.err]).toEqual([1, '', 'raftwire get: key "binary" not found\n']);
  });

  it('status shows the voters; GET /v1/members and raftwire members list each member', async () => {
    const st = await client(['status']);
    expect(st.code).toBe(0);
    expect(st.out).toMatch(/^member 1: (leader|follower), leader [123], term \d+/);
    expect(st.out).toContain('voters: 1, 2, 3');
    const j = (await (await fetch(`${endpoint()}/v1/status`)).json()) as { voters: string[] };
    expect(j.voters).toEqual(['1', '2', '3']);
    const res = await fetch(`${endpoint()}/v1/members`);
    expect(res.status).toBe(200);
    const { members } = (await res.json()) as {
      members: { id: string; peerUrl: string; role: string; self: boolean; reachable: boolean }[];
    };
    expect(members.map((m) => [m.id, m.peerUrl, m.role, m.self, m.reachable])).toEqual([
      ['1', `http://127.0.0.1:${base}`, 'voter', true, true],
      ['2', `http://127.0.0.1:${base + 2}`, 'voter', false, true],
      ['3', `http://127.0.0.1:${base + 4}`, 'voter', false, true],
    ]);
    const table = (await client(['members'])).out.trim().split('\n');
    expect(table[0]).toMatch(/^ID +PEER URL +ROLE +STATUS$/);
    expect(table.slice(1).map((l) => l.split(/ +/))).toEqual([
      ['1', `http://127.0.0.1:${base}`, 'voter', 'self'],
      ['2', `http://127.0.0.1:${base + 2}`, 'voter', 'reachable'],
      ['3', `http://127.0.0.1:${base + 4}`, 'voter', 'reachable'],
    ]);
  });

  it('member add prints the --join command; the leader warns while the voter is not started; the command starts it; member remove', async () => {
    const lines = cluster?.lines ?? [];
    const peerUrl = `http://127.0.0.1:${base + 6}`;
    const add = await client(['member', 'add', '4', peerUrl]);
    expect(add.code, add.err).toBe(0);
    const want = `raftwire member --join --id 4 --listen ${peerUrl} --api http://127.0.0.1:${base + 7} --peer 1=http://127.0.0.1:${base} --peer 2=http://127.0.0.1:${base + 2} --peer 3=http://127.0.0.1:${base + 4} --insecure --cluster-id ${clusterIdOf('1')}`;
    expect(add.out).toContain(`added member 4 (${peerUrl})`);
    expect(add.out).toContain(`\n  ${want}\n`);
    expect((await client(['members'])).out).toMatch(new RegExp(`\\n4 +${peerUrl} +voter +unreachable`));
    // Not started: the leader says so, once (rate-limited: again only after 30 s).
    const warned = () => lines.filter((l) => / WARN {2}voter 4 .* has been unreachable for \d+ s/.test(l));
    await waitFor('the unreachable-voter warning', 20_000, async () => warned().length > 0);
    expect(warned()[0]).toContain(`Start it (${want})`);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(warned().length).toBe(1);

    // The printed command, run as printed (raftwire = node dist/main.js), starts member 4.
    const args = want.split(' ').slice(1);
    const m4 = spawn(process.execPath, [CLI_MAIN, ...args, '--data-dir', join(dataDir, 'member-4')], { stdio: ['ignore', 'pipe', 'pipe'] });
    others.push(m4);
    const m4lines = collectLines(m4);
    const m4exit = new Promise<number | null>((r) => m4.on('exit', (code) => r(code)));
    await waitFor('member 4 reachable', 30_000, async () => {
      if (m4.exitCode !== null) throw new Error(`member 4 exited ${m4.exitCode}`);
      return /\n4 +\S+ +voter +reachable/.test((await client(['members'])).out);
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n${m4lines.join('\n')}`);
    });
    await waitFor(
      'member 4 applied the cluster state',
      30_000,
      async () => (await client(['get', 'greeting'], `http://127.0.0.1:${base + 7}`)).out === 'hello\n',
    );

    const rm = await client(['member', 'remove', '4']);
    expect([rm.code, rm.out]).toEqual([0, 'removed member 4\n']);
    expect(await m4exit).toBe(3);
    await waitFor('every member applied the removal', 10_000, async () =>
      ['1', '2', '3'].every((id) => memberLines(lines, id).some((l) => l.includes('removed member 4'))),
    );
    // One line per member for the removal, not one from the membership and another from the API.
    for (const id of ['1', '2', '3']) {
      expect(memberLines(lines, id).filter((l) => isInfo(l) && /remov/.test(l) && / 4\b|member=4/.test(l))).toHaveLength(1);
    }
    expect(m4lines.some((l) => l.includes('removed from the cluster'))).toBe(true);
  }, 120_000);

  it('restarted with the same --data-dir, each member says where its WAL left off', async () => {
    const c = cluster as NonNullable<typeof cluster>;
    c.child.kill('SIGINT');
    expect(await c.exited).toBe(0);
    cluster = startCluster();
    const again = cluster;
    await waitFor('3 members ready again and a leader', 30_000, async () => {
      if (again.child.exitCode !== null) throw new Error(`cluster exited:\n${again.lines.join('\n')}`);
      return (
        again.lines.filter((l) => l.includes('member ready')).length === 3 && again.lines.some((l) => / became leader at term /.test(l))
      );
    });
    for (const id of ['1', '2', '3']) {
      const line = memberLines(again.lines, id).find((l) => l.includes('restarted from WAL at index')) ?? '';
      expect(Number(/restarted from WAL at index (\d+)/.exec(line)?.[1])).toBeGreaterThanOrEqual(7);
    }
    expect(await client(['get', 'greeting'])).toMatchObject({ code: 0, out: 'hello\n' });
  }, 60_000);
});

describe('the client over https with a bearer token', () => {
  let server: https.Server | undefined;
  afterAll(() => server?.close());

  it('--pki DIR (DIR/ca.crt, DIR/api-token) and --cacert/--token-file; a missing or wrong token or CA is refused with a hint', async () => {
    requireOpenssl();
    const pki = makeTestPki();
    const token = 'test-token-7f3a';
    const dir = mkdtempSync(join(tmpdir(), 'raftwire-cli-pki-'));
    writeFileSync(join(dir, 'ca.crt'), pki.ca);
    writeFileSync(join(dir, 'api-token'), `${token}\n`);
    writeFileSync(join(dir, 'wrong-token'), 'nope\n');
    writeFileSync(join(dir, 'other-ca.crt'), pki.otherCa);
    const seen: string[] = [];
    // TLS and the token in front of the cluster's plain API (what the secure-by-default CLI serves itself).
    server = https.createServer({ key: pki.server.key, cert: pki.server.cert }, (req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (req.headers.authorization !== `Bearer ${token}`) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'missing or wrong bearer token', code: 'ERR_UNAUTHORIZED' }));
        return;
      }
      const up = http.request(
        `${endpoint()}${req.url}`,
        { method: req.method, headers: { ...req.headers, host: `127.0.0.1:${base + 1}` } },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      req.pipe(up);
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', () => r()));
    const ep = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

    expect(await client(['put', 'secure', 'yes', '--pki', dir], ep)).toMatchObject({ code: 0, out: 'OK\n' });
    expect(await client(['get', 'secure', '--pki', dir], ep)).toMatchObject({ code: 0, out: 'yes\n' });
    expect((await client(['get', 'secure', '--cacert', join(dir, 'ca.crt'), '--token-file', join(dir, 'api-token')], ep)).out).toBe(
      'yes\n',
    );
    expect((await client(['status', '--pki', dir], ep)).out).toContain('voters: 1, 2, 3');
    expect(seen).toContain('GET /v1/kv/secure');

    const noToken = await client(['get', 'secure', '--cacert', join(dir, 'ca.crt')], ep);
    expect(noToken.code).toBe(1);
    expect(noToken.err).toContain('HTTP 401: missing or wrong bearer token (ERR_UNAUTHORIZED)');
    expect(noToken.err).toContain('--pki <data-dir>/pki');
    const wrong = await client(['get', 'secure', '--cacert', join(dir, 'ca.crt'), '--token-file', join(dir, 'wrong-token')], ep);
    expect([wrong.code, wrong.err]).toEqual([1, expect.stringContaining('the token was refused')]);
    const untrusted = await client(['get', 'secure', '--cacert', join(dir, 'other-ca.crt'), '--token-file', join(dir, 'api-token')], ep);
    expect(untrusted.code).toBe(1);
    expect(untrusted.err).toMatch(/cannot reach https:\/\/127\.0\.0\.1:\d+: .*\(give the cluster CA: --pki/);
    // A token never goes over plain http.
    const plain = await client(['get', 'secure', '--pki', dir], endpoint());
    expect(plain.code).toBe(2);
    expect(plain.err).toContain('--pki needs an https:// endpoint');
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);
});
