import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { type CertAndKey, createCa, createMemberCert, createServerCert, ensureClusterPki } from '../src/pki.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** One mutual-TLS handshake on 127.0.0.1: resolves with what the server saw of the client, or rejects. */
async function handshake(server: CertAndKey, client: CertAndKey, ca: string, clientCa = ca): Promise<{ cn: string; san: string }> {
  const srv = createServer({ key: server.key, cert: server.cert, ca: [ca], requestCert: true, rejectUnauthorized: true });
  const seen = new Promise<{ cn: string; san: string }>((resolve) => {
    srv.on('secureConnection', (s: TLSSocket) => {
      const c = s.getPeerCertificate();
      resolve({ cn: String(c.subject.CN), san: c.subjectaltname ?? '' });
      s.end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  try {
    return await new Promise((resolve, reject) => {
      const sock = connect({ host: '127.0.0.1', port, key: client.key, cert: client.cert, ca: [clientCa] }, () => {
        seen.then(resolve, reject);
      });
      sock.on('error', reject);
      sock.on('close', () => setTimeout(() => reject(new Error('closed before the server saw the client')), 2000).unref());
    });
  } finally {
    srv.close();
  }
}

describe('pki (certificates made with @peculiar/x509)', () => {
  it('member certificates authenticate both ways in Node TLS and carry the member identity', async () => {
    const ca = await createCa();
    const m1 = await createMemberCert(ca, 1n, ['127.0.0.1']);
    const m2 = await createMemberCert(ca, 0xabn, ['127.0.0.1', '::1', 'localhost']);
    const seen = await handshake(m1, m2, ca.cert);
    expect(seen.cn).toBe('ab');
    expect(seen.san).toContain('URI:urn:raftwire:member:ab');
    expect(seen.san).toContain('IP Address:127.0.0.1');
  });

  it('a client certificate from another CA is refused, and so is a server whose SAN lacks the host', async () => {
    const ca = await createCa();
    const other = await createCa();
    const m1 = await createMemberCert(ca, 1n, ['127.0.0.1']);
    const outsider = await createMemberCert(other, 2n, ['127.0.0.1']);
    await expect(handshake(m1, outsider, ca.cert, ca.cert)).rejects.toThrow();
    const wrongHost = await createServerCert(ca, ['192.0.2.1']); // RFC 5737; never dialled, only named in the SAN
    await expect(handshake(wrongHost, m1, ca.cert)).rejects.toThrow(/192\.0\.2\.1|altnames|IP/);
  });

  it('refuses bad input with a typed error', async () => {
    const ca = await createCa();
    await expect(createMemberCert(ca, 0n, ['127.0.0.1'])).rejects.toThrow('member ID must not be 0');
    await expect(createMemberCert(ca, 1n, [])).rejects.toThrow('at least one host');
    await expect(createMemberCert(ca, 1n, ['bad host!'])).rejects.toThrow('neither an IP address nor a DNS name');
    const leaf = await createMemberCert(ca, 1n, ['127.0.0.1']);
    await expect(createMemberCert(leaf, 2n, ['127.0.0.1'])).rejects.toThrow('is not a CA certificate');
    await expect(createMemberCert({ cert: 'nope', key: ca.key }, 2n, ['127.0.0.1'])).rejects.toThrow('not a PEM certificate');
  });

  it('ensureClusterPki makes a cluster PKI once and reuses it on a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rw-pki-'));
    dirs.push(dir);
    const a = await ensureClusterPki(dir, [1n, 2n, 3n], ['127.0.0.1']);
    expect(a.created).toBe(true);
    const caBefore = await readFile(a.caCert, 'utf8');
    const token = await readFile(a.token, 'utf8');
    expect(token.trim()).toMatch(/^[0-9a-f]{64}$/);
    expect((await stat(a.token)).mode & 0o777).toBe(0o600);
    expect((await stat(a.member(2n).key)).mode & 0o777).toBe(0o600);
    const b = await ensureClusterPki(dir, [1n, 2n, 3n, 4n], ['127.0.0.1']);
    expect(b.created).toBe(false);
    expect(await readFile(b.caCert, 'utf8')).toBe(caBefore);
    expect(await readFile(b.token, 'utf8')).toBe(token);
    const m4 = { cert: await readFile(b.member(4n).cert, 'utf8'), key: await readFile(b.member(4n).key, 'utf8') };
    const m1 = { cert: await readFile(b.member(1n).cert, 'utf8'), key: await readFile(b.member(1n).key, 'utf8') };
    expect((await handshake(m1, m4, caBefore)).cn).toBe('4');
  });

  it('raftwire cert ca/member/api/token write usable files and never overwrite one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rw-cert-'));
    dirs.push(dir);
    const run = (...args: string[]) => promisify(execFile)(process.execPath, [MAIN, 'cert', ...args]);
    await run('ca', '--out', dir);
    await run('member', '--ca-dir', dir, '--id', '2', '--out', dir);
    await run('member', '--ca-dir', dir, '--id', '3', '--out', dir, '--host', '127.0.0.1', '--host', '::1');
    await run('api', '--ca-dir', dir, '--out', dir);
    await run('token', '--out', join(dir, 'api-token'));
    const read = async (id: string) => ({
      cert: await readFile(join(dir, `member-${id}.crt`), 'utf8'),
      key: await readFile(join(dir, `member-${id}.key`), 'utf8'),
    });
    expect((await handshake(await read('2'), await read('3'), await readFile(join(dir, 'ca.crt'), 'utf8'))).cn).toBe('3');
    const again = run('ca', '--out', dir);
    await expect(again).rejects.toMatchObject({ code: 2 });
    await expect(again).rejects.toThrow(/ca\.crt already exists/);
    await expect(run('member', '--ca-dir', dir, '--id', 'xyz', '--out', dir)).rejects.toThrow(/--id: "xyz" is not a member ID/);
    await expect(run('frob', '--out', dir)).rejects.toThrow(/want cert ca, cert member, cert api or cert token/);
    const help = await run('--help');
    expect(help.stdout).toContain('raftwire cert member --ca-dir');
  });
});
