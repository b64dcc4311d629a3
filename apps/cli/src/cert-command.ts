/**
 * `raftwire cert ca|member|api|token`: makes the TLS material a secure cluster needs, with
 * @peculiar/x509 (see pki.ts). Never overwrites a file: a certificate in use stays as it is.
 */
import { access } from 'node:fs/promises';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Id, parseId } from '@raftwire/core';
import {
  createCa,
  createMemberCert,
  createServerCert,
  createToken,
  memberIdentityUri,
  PKI_FILES,
  PkiError,
  writeSecretFile,
} from './pki.js';
import { parseFlags } from './flags.js';
import { UsageError } from './usage-error.js';

export const CERT_COMMANDS = ['cert ca', 'cert member', 'cert api', 'cert token'] as const;
export type CertCommand = (typeof CERT_COMMANDS)[number];

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function refuseExisting(paths: string[]): Promise<void> {
  for (const p of paths) {
    if (await exists(p)) throw new UsageError(`${p} already exists; it is left as it is (remove it first to make a new one)`);
  }
}

function memberId(text: string | undefined): Id {
  if (text === undefined || text === '') throw new UsageError('--id is required');
  let id: Id;
  try {
    id = parseId(text);
  } catch {
    throw new UsageError(`--id: ${JSON.stringify(text)} is not a member ID (want lowercase hex, 1 to 16 digits, not 0)`);
  }
  if (id === 0n) throw new UsageError('--id: member ID must not be 0');
  return id;
}

async function readCa(caDir: string | undefined): Promise<{ cert: string; key: string }> {
  if (caDir === undefined || caDir === '') throw new UsageError('--ca-dir is required (the directory `raftwire cert ca --out` wrote)');
  try {
    return {
      cert: await readFile(join(caDir, PKI_FILES.caCert), 'utf8'),
      key: await readFile(join(caDir, PKI_FILES.caKey), 'utf8'),
    };
  } catch (err) {
    throw new UsageError(
      `--ca-dir: cannot read ${PKI_FILES.caCert} and ${PKI_FILES.caKey} in ${JSON.stringify(caDir)} (${(err as Error).message})`,
    );
  }
}

/** Runs `raftwire cert <what>` with `argv` after the two words; prints what it wrote. */
export async function runCertCommand(cmd: CertCommand, argv: readonly string[], print: (line: string) => void): Promise<number> {
  const { values } = parseFlags(argv, {
    out: { type: 'string' },
    'ca-dir': { type: 'string' },
    id: { type: 'string' },
    host: { type: 'string', multiple: true },
    days: { type: 'string' },
  });
  const out = values.out as string | undefined;
  if (out === undefined || out === '') throw new UsageError('--out is required');
  const daysText = values.days as string | undefined;
  let days: number | undefined;
  if (daysText !== undefined) {
    if (!/^\d+$/.test(daysText) || Number(daysText) < 1 || Number(daysText) > 36_500) {
      throw new UsageError(`--days: ${JSON.stringify(daysText)} is not a number of days from 1 to 36500`);
    }
    days = Number(daysText);
  }
  const hosts = (values.host as string[] | undefined) ?? ['127.0.0.1'];
  const opts = days === undefined ? {} : { days };
  try {
    if (cmd === 'cert token') {
      await refuseExisting([out]);
      await writeSecretFile(out, `${createToken()}\n`);
      print(`wrote ${out} (API bearer token, mode 0600)`);
      return 0;
    }
    await mkdir(out, { recursive: true, mode: 0o700 });
    if (cmd === 'cert ca') {
      const files = [join(out, PKI_FILES.caCert), join(out, PKI_FILES.caKey)];
      await refuseExisting(files);
      const ca = await createCa(opts);
      await writeSecretFile(files[1] as string, ca.key);
      await writeSecretFile(files[0] as string, ca.cert, 0o644);
      print(`wrote ${files[0]} and ${files[1]} (ECDSA P-256 CA; keep the key secret)`);
      return 0;
    }
    const ca = await readCa(values['ca-dir'] as string | undefined);
    if (cmd === 'cert member') {
      const id = memberId(values.id as string | undefined);
      const files = [join(out, PKI_FILES.memberCert(id)), join(out, PKI_FILES.memberKey(id))];
      await refuseExisting(files);
      const ck = await createMemberCert(ca, id, hosts, opts);
      await writeSecretFile(files[1] as string, ck.key);
      await writeSecretFile(files[0] as string, ck.cert, 0o644);
      print(`wrote ${files[0]} and ${files[1]} (member ${values.id}, ${memberIdentityUri(id)}, hosts ${hosts.join(', ')})`);
      return 0;
    }
    const files = [join(out, PKI_FILES.apiCert), join(out, PKI_FILES.apiKey)];
    await refuseExisting(files);
    const ck = await createServerCert(ca, hosts, opts);
    await writeSecretFile(files[1] as string, ck.key);
    await writeSecretFile(files[0] as string, ck.cert, 0o644);
    print(`wrote ${files[0]} and ${files[1]} (API server, hosts ${hosts.join(', ')})`);
    return 0;
  } catch (err) {
    if (err instanceof PkiError) throw new UsageError(err.message);
    throw err;
  }
}
