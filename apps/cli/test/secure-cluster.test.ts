/**
 * The default path: `raftwire cluster` without --insecure makes its PKI, members speak mutual TLS
 * and the API wants https + the bearer token. Outsiders are refused at the handshake on the peer
 * port (no certificate, or one from another CA), so a forged MsgApp (issue 11, finding 2) or a
 * stream takeover (finding 6) never reaches the protocol handler; the API answers 401 without the
 * token; a restart reuses the PKI and keeps the data.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as https from 'node:https';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, createMemberCert } from '../src/pki.js';
import { CLI_MAIN, collectLines, freeBasePort, waitFor } from './member-process.js';

const dataDir = mkdtempSync(join(tmpdir(), 'raftwire-secure-'));
const pki = join(dataDir, 'pki');
let base = 0;
let cluster: { child: ChildProcess; lines: string[]; exited: Promise<number | null> } | undefined;

function startCluster() {
  const child = spawn(process.execPath, [CLI_MAIN, 'cluster', '--base-port', String(base), '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = collectLines(child);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, lines, exited };
}

async function ready(c: NonNullable<typeof cluster>): Promise<void> {
  await waitFor(
    'three members ready and a leader',
    60_000,
    async () => c.lines.filter((l) => l.includes('member ready')).length >= 3 && c.lines.some((l) => / became leader at term \d+/.test(l)),
  );
}

async function stopCluster(): Promise<void> {
  if (!cluster) return;
  cluster.child.kill('SIGINT');
  expect(await cluster.exited).toBe(0);
  cluster = undefined;
}

function client(args: string[]) {
  const child = spawn(process.execPath, [CLI_MAIN, ...args, '--pki', pki, '--endpoint', `https://127.0.0.1:${base + 1}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, out, err })),
  );
}

/** A GET on the API over https trusting the cluster CA, with the headers given. */
function apiGet(path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port: base + 1, path, headers, ca: readFileSync(join(pki, 'ca.crt')), agent: false },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * Sends an HTTP request for a raft endpoint to member 2's peer port over TLS with the given client
 * certificate (or none); resolves with the status line, or the error that ended the connection.
 */
function peerRequest(request: string, client?: { cert: string; key: string }): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port: base + 2, ca: readFileSync(join(pki, 'ca.crt')), ...(client ?? {}) }, () => {
      sock.write(request);
    });
    let got = '';
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) {
        resolve(got.slice(0, got.indexOf('\r\n')));
        sock.destroy();
      }
    });
    sock.on('error', (err) => resolve(`error: ${err.message}`));
    sock.on('close', () => resolve(got === '' ? 'closed' : got));
    sock.setTimeout(10_000, () => {
      resolve('timeout');
      sock.destroy();
    });
  });
}

beforeAll(async () => {
  base = await freeBasePort(3);
  cluster = startCluster();
  await ready(cluster);
}, 90_000);

afterAll(async () => {
  if (cluster) {
    cluster.child.kill('SIGKILL');
    await cluster.exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('raftwire cluster, secure by default', () => {
  it('says so, and makes the PKI the client commands read', () => {
    const out = cluster?.lines.join('\n') ?? '';
    expect(out).toContain('mutual TLS between members, https + bearer token on the API');
    expect(out).toContain(`certificates and API token made in ${pki}`);
    expect(out).toContain(`try: npm run raftwire -- put greeting hello --pki ${pki}`);
    expect(out).toMatch(/member ready .*peer-url=https:\/\/127\.0\.0\.1:\d+ api-url=https:\/\/127\.0\.0\.1:\d+/);
  });

  it('serves put and get over https with the token, and 401 without it', async () => {
    expect((await client(['put', 'greeting', 'hello'])).code).toBe(0);
    const got = await client(['get', 'greeting']);
    expect(got.code, got.err).toBe(0);
    expect(got.out).toBe('hello\n');
    const none = await apiGet('/v1/status', {});
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body)).toMatchObject({ code: 'ERR_UNAUTHENTICATED' });
    expect((await apiGet('/v1/status', { authorization: 'Bearer not-the-token' })).status).toBe(401);
    const token = readFileSync(join(pki, 'api-token'), 'utf8').trim();
    const ok = await apiGet('/v1/status', { authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).voters).toEqual(['1', '2', '3']);
  });

  it('refuses peers without a certificate of the cluster CA at the handshake: no forged MsgApp, no stream takeover', async () => {
    // A forged MsgApp (any body: it must never be read) and a stream takeover as member 1.
    const clusterId = (JSON.parse(readFileSync(join(dataDir, 'member-2', 'cluster-id.json'), 'utf8')) as { clusterId: string }).clusterId;
    // Headers that pass the version and cluster-ID checks, so what refuses is authentication.
    const h = `Host: x\r\nX-Server-Version: 1.0.0\r\nX-Min-Cluster-Version: 1.0.0\r\nX-Etcd-Cluster-ID: ${clusterId}\r\nX-Raft-To: 2\r\n`;
    const post = `POST /raft HTTP/1.1\r\n${h}X-Server-From: 1\r\nContent-Length: 4\r\n\r\nxxxx`;
    const stream = `GET /raft/stream/msgapp/1 HTTP/1.1\r\n${h}X-Server-From: 1\r\n\r\n`;
    const outsiderCa = await createCa({ name: 'not the cluster CA' });
    const outsider = await createMemberCert(outsiderCa, 1n, ['127.0.0.1']);
    for (const req of [post, stream]) {
      const noCert = await peerRequest(req);
      expect(noCert).not.toMatch(/^HTTP\/1\.1/);
      const wrongCa = await peerRequest(req, outsider);
      expect(wrongCa).not.toMatch(/^HTTP\/1\.1/);
    }
    // With a certificate of the cluster CA the port answers HTTP, so the refusals above are the
    // handshake's. Member 3's certificate speaking as member 1 is refused too (403: the sender
    // must be the member the certificate names), while as itself it reaches the handler (the
    // garbage body is then refused as such, not as a forgery).
    const member3 = { cert: readFileSync(join(pki, 'member-3.crt'), 'utf8'), key: readFileSync(join(pki, 'member-3.key'), 'utf8') };
    expect(await peerRequest(post, member3)).toMatch(/^HTTP\/1\.1 403/);
    expect(await peerRequest(stream, member3)).toMatch(/^HTTP\/1\.1 403/);
    const asItself = await peerRequest(post.replace('X-Server-From: 1', 'X-Server-From: 3'), member3);
    expect(asItself).toMatch(/^HTTP\/1\.1 4\d\d/);
    expect(asItself).not.toMatch(/^HTTP\/1\.1 403/);
    // The real stream still flows: a write after the attempts reaches every member.
    expect((await client(['put', 'after', 'attempts'])).code).toBe(0);
    for (const port of [base + 3, base + 5]) {
      const r = spawn(process.execPath, [CLI_MAIN, 'get', 'after', '--pki', pki, '--endpoint', `https://127.0.0.1:${port}`]);
      let out = '';
      r.stdout.on('data', (d: Buffer) => (out += d.toString()));
      expect(await new Promise((res) => r.on('close', res))).toBe(0);
      expect(out).toBe('attempts\n');
    }
  });

  it('reuses its PKI on a restart and keeps the data', async () => {
    await stopCluster();
    cluster = startCluster();
    await ready(cluster);
    expect(cluster.lines.join('\n')).toContain(`certificates and API token reused in ${pki}`);
    const got = await client(['get', 'greeting']);
    expect(got.out).toBe('hello\n');
  }, 90_000);
});
