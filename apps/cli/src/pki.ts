/**
 * Certificates for raftwire members, made with @peculiar/x509 on WebCrypto (ECDSA P-256, no
 * openssl): a cluster CA, member certificates that carry the member's identity, and a server
 * certificate for the client API.
 *
 * A member certificate names its member twice, so either check can bind it (etcd's
 * `--peer-cert-allowed-cn` reads the CN): subject `CN=<hex id>` and the SAN URI
 * `urn:raftwire:member:<hex id>`. Its SAN also lists the hosts of the member's URLs, and its
 * extended key usage allows both server and client authentication (members dial each other).
 */
import 'reflect-metadata'; // @peculiar/x509 resolves its providers through tsyringe, which needs it
import { randomBytes, webcrypto } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { formatId, type Id } from '@raftwire/core';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as ReturnType<typeof x509.cryptoProvider.get>);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/** The SAN URI that names member `id` in its certificate. */
export function memberIdentityUri(id: Id): string {
  return `urn:raftwire:member:${formatId(id)}`;
}

/** PEM text of a certificate and its private key (PKCS#8). */
export interface CertAndKey {
  cert: string;
  key: string;
}

export interface CertOptions {
  /** Days the certificate is valid from now (default 825 for leaves, 3650 for a CA). */
  days?: number;
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  // Backdated an hour so a peer whose clock runs a little behind still accepts it.
  const now = Date.now();
  return { notBefore: new Date(now - 3_600_000), notAfter: new Date(now + days * DAY_MS) };
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] as number) & 0x7f; // positive
  return b.toString('hex');
}

async function keyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function keyPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/** A typed error for certificate material that cannot be used. */
export class PkiError extends Error {
  override readonly name = 'PkiError';
}

/** Creates a self-signed cluster CA. */
export async function createCa(options: CertOptions & { name?: string } = {}): Promise<CertAndKey> {
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${options.name ?? 'raftwire cluster CA'}`,
    ...validity(options.days ?? 3650),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: await keyPem(keys.privateKey) };
}

async function loadCa(ca: CertAndKey): Promise<{ cert: x509.X509Certificate; key: CryptoKey }> {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(ca.cert);
  } catch (err) {
    throw new PkiError(`the CA certificate is not a PEM certificate (${(err as Error).message})`);
  }
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  if (bc?.ca !== true) throw new PkiError(`the CA certificate (${cert.subject}) is not a CA certificate`);
  let key: CryptoKey;
  try {
    const der = x509.PemConverter.decodeFirst(ca.key);
    key = await webcrypto.subtle.importKey('pkcs8', der, ALG, false, ['sign']);
  } catch (err) {
    throw new PkiError(`the CA key is not a PKCS#8 P-256 private key in PEM (${(err as Error).message})`);
  }
  return { cert, key };
}

function sanEntries(hosts: readonly string[]): x509.JsonGeneralName[] {
  if (hosts.length === 0) throw new PkiError('a certificate needs at least one host (e.g. 127.0.0.1)');
  return hosts.map((h) => {
    const bare = h.replace(/^\[|\]$/g, '');
    if (isIP(bare) !== 0) return { type: 'ip', value: bare };
    if (!/^[a-zA-Z0-9.-]{1,253}$/.test(bare)) throw new PkiError(`host ${JSON.stringify(h)} is neither an IP address nor a DNS name`);
    return { type: 'dns', value: bare };
  });
}

async function leaf(caPem: CertAndKey, subject: string, san: x509.JsonGeneralName[], usages: string[], days: number): Promise<CertAndKey> {
  const ca = await loadCa(caPem);
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: ca.cert.subject,
    ...validity(days),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension(usages),
      new x509.SubjectAlternativeNameExtension(san),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return { cert: cert.toString('pem'), key: await keyPem(keys.privateKey) };
}

/** A member certificate for `id`, valid as server and client, for the given hosts. */
export async function createMemberCert(ca: CertAndKey, id: Id, hosts: readonly string[], options: CertOptions = {}): Promise<CertAndKey> {
  if (id === 0n) throw new PkiError('member ID must not be 0');
  const san: x509.JsonGeneralName[] = [...sanEntries(hosts), { type: 'url', value: memberIdentityUri(id) }];
  return leaf(ca, `CN=${formatId(id)}`, san, [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], options.days ?? 825);
}

/** A server certificate for the client API on the given hosts. */
export async function createServerCert(
  ca: CertAndKey,
  hosts: readonly string[],
  options: CertOptions & { name?: string } = {},
): Promise<CertAndKey> {
  return leaf(ca, `CN=${options.name ?? 'raftwire api'}`, sanEntries(hosts), [x509.ExtendedKeyUsage.serverAuth], options.days ?? 825);
}

/** A fresh API bearer token: 32 random bytes, hex. */
export function createToken(): string {
  return randomBytes(32).toString('hex');
}

/** Writes `text` to `path` atomically with mode `mode` (0600 for secrets). */
export async function writeSecretFile(path: string, text: string, mode = 0o600): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** File names inside a cluster's PKI directory (what `raftwire cluster` writes and the client's `--pki` reads). */
export const PKI_FILES = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  memberCert: (id: Id) => `member-${formatId(id)}.crt`,
  memberKey: (id: Id) => `member-${formatId(id)}.key`,
  apiCert: 'api.crt',
  apiKey: 'api.key',
  token: 'api-token',
} as const;

/** Loads `dir`/ca.crt + ca.key, creating the CA when neither exists. */
export async function ensureCa(dir: string): Promise<{ ca: CertAndKey; created: boolean }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const cert = await readIfExists(join(dir, PKI_FILES.caCert));
  const key = await readIfExists(join(dir, PKI_FILES.caKey));
  if (cert !== null && key !== null) {
    await loadCa({ cert, key }); // fails with a PkiError when damaged
    return { ca: { cert, key }, created: false };
  }
  if (cert !== null || key !== null) {
    throw new PkiError(`${dir} holds only one of ${PKI_FILES.caCert} and ${PKI_FILES.caKey}; restore the other or remove both`);
  }
  const ca = await createCa();
  await writeSecretFile(join(dir, PKI_FILES.caKey), ca.key);
  await writeSecretFile(join(dir, PKI_FILES.caCert), ca.cert, 0o644);
  return { ca, created: true };
}

/** What {@link ensureClusterPki} produced: paths of every file a member or client needs. */
export interface ClusterPki {
  dir: string;
  caCert: string;
  token: string;
  apiCert: string;
  apiKey: string;
  member(id: Id): { cert: string; key: string };
  /** Whether the CA was made now (false: an existing PKI was reused). */
  created: boolean;
}

/**
 * Makes (or reuses, on a restart) the PKI of a local cluster in `dir`: a CA, one certificate per
 * member, an API certificate and an API token. Existing files are kept as they are.
 */
export async function ensureClusterPki(dir: string, ids: readonly Id[], hosts: readonly string[]): Promise<ClusterPki> {
  const { ca, created } = await ensureCa(dir);
  const path = (name: string) => join(dir, name);
  const pair = async (certName: string, keyName: string, make: () => Promise<CertAndKey>) => {
    if ((await readIfExists(path(certName))) !== null && (await readIfExists(path(keyName))) !== null) return;
    const ck = await make();
    await writeSecretFile(path(keyName), ck.key);
    await writeSecretFile(path(certName), ck.cert, 0o644);
  };
  for (const id of ids) await pair(PKI_FILES.memberCert(id), PKI_FILES.memberKey(id), () => createMemberCert(ca, id, hosts));
  await pair(PKI_FILES.apiCert, PKI_FILES.apiKey, () => createServerCert(ca, hosts));
  if ((await readIfExists(path(PKI_FILES.token))) === null) await writeSecretFile(path(PKI_FILES.token), `${createToken()}\n`);
  return {
    dir,
    caCert: path(PKI_FILES.caCert),
    token: path(PKI_FILES.token),
    apiCert: path(PKI_FILES.apiCert),
    apiKey: path(PKI_FILES.apiKey),
    member: (id) => ({ cert: path(PKI_FILES.memberCert(id)), key: path(PKI_FILES.memberKey(id)) }),
    created,
  };
}
