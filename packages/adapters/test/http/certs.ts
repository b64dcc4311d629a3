import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM key and certificate. */
export interface KeyPair {
  key: string;
  cert: string;
}

export interface TestPki {
  ca: string;
  server: KeyPair;
  client: KeyPair;
  /** A certificate for both ends (serverAuth and clientAuth), as a member that serves and dials uses: etcd's peer certificate. */
  peer: KeyPair;
  /** A peer certificate from the second CA. */
  otherPeer: KeyPair;
  /** A second, unrelated CA and a client certificate it signed. */
  otherCa: string;
  otherClient: KeyPair;
  /**
   * Per-member peer certificates from the first CA: `members[i]` names member `i + 1` by SAN URI
   * `urn:raftwire:member:<hex>` (CN `member-<i+1>`); `cnMember4` names member 4 by CN `4` only.
   */
  members: KeyPair[];
  cnMember4: KeyPair;
}

/** Throws, saying what to install, when the machine has no `openssl` binary: the TLS tests fail, never skip. */
export function requireOpenssl(): void {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    throw new Error("openssl not found on the PATH: install Debian's openssl (apt-get install openssl)");
  }
}

/**
 * Makes two throwaway CAs (EC P-256, valid one day) with the openssl binary:
 * a server certificate for IP 127.0.0.1 and a client certificate from the
 * first, and a client certificate from the second. Nothing is downloaded.
 */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'raftwire-pki-'));
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    const makeCa = (name: string): void => {
      ssl('req', '-x509', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '1', '-subj', `/CN=${name}`);
    };
    const makeLeaf = (name: string, ca: string, ext: string, cn = name): KeyPair => {
      writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
      ssl('req', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
      ssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        `${ca}.crt`,
        '-CAkey',
        `${ca}.key`,
        '-CAcreateserial',
        '-out',
        `${name}.crt`,
        '-days',
        '1',
        '-extfile',
        `${name}.ext`,
      );
      return { key: read(`${name}.key`), cert: read(`${name}.crt`) };
    };
    makeCa('test-ca');
    makeCa('other-ca');
    const server = makeLeaf('server', 'test-ca', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth');
    const client = makeLeaf('client', 'test-ca', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=clientAuth');
    const otherClient = makeLeaf('other-client', 'other-ca', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=clientAuth');
    const peerExt = 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth';
    const peer = makeLeaf('peer', 'test-ca', peerExt);
    const otherPeer = makeLeaf('other-peer', 'other-ca', peerExt);
    const members = [1, 2, 3].map((n) =>
      makeLeaf(
        `member-${n}`,
        'test-ca',
        `subjectAltName=IP:127.0.0.1,URI:urn:raftwire:member:${n.toString(16)}\nextendedKeyUsage=serverAuth,clientAuth`,
      ),
    );
    const cnMember4 = makeLeaf('cn-member-4', 'test-ca', peerExt, '4');
    return { ca: read('test-ca.crt'), server, client, peer, otherPeer, otherCa: read('other-ca.crt'), otherClient, members, cnMember4 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
