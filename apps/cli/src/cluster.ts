import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseId } from '@raftwire/core';
import { logFlags, parseFlags } from './flags.js';
import { ensureClusterPki } from './pki.js';
import { type MemberRuntime, memberRuntime } from './raft-listener.js';
import { memberCommand, parseRuntimes } from './runtime-command.js';
import { UsageError } from './usage-error.js';

/** A parsed `raftwire cluster` command line. */
export interface ClusterConfig {
  size: number;
  basePort: number;
  dataDir: string | null;
  logLevel: string;
  logFormat: string;
  /** `--insecure`: members run plain http with no authentication (passed on to each member). */
  insecure: boolean;
  /** Runtime of each member, round-robin (member i runs on `runtimes[(i-1) % length]`). */
  runtimes: MemberRuntime[];
}

/** Member `i` (1-based) of a local cluster: ID `i` in hex, peer port `base + 2(i-1)`, API port one above. */
export function localMember(
  i: number,
  basePort: number,
  scheme: 'http' | 'https' = 'http',
): { id: string; peerUrl: string; apiUrl: string } {
  const port = basePort + 2 * (i - 1);
  return { id: i.toString(16), peerUrl: `${scheme}://127.0.0.1:${port}`, apiUrl: `${scheme}://127.0.0.1:${port + 1}` };
}

/** Parses `raftwire cluster` arguments; throws {@link UsageError}. */
export function parseClusterArgs(argv: readonly string[]): ClusterConfig {
  const { values } = parseFlags(argv, {
    size: { type: 'string' },
    'base-port': { type: 'string' },
    'data-dir': { type: 'string' },
    'log-level': { type: 'string' },
    'log-format': { type: 'string' },
    runtimes: { type: 'string' },
    insecure: { type: 'boolean' },
  });
  const sizeText = (values.size as string | undefined) ?? '3';
  if (!/^\d+$/.test(sizeText) || Number(sizeText) < 1 || Number(sizeText) > 9) {
    throw new UsageError(`--size: ${JSON.stringify(sizeText)} is not a member count from 1 to 9`);
  }
  const portText = (values['base-port'] as string | undefined) ?? '2380';
  const size = Number(sizeText);
  if (!/^\d+$/.test(portText) || Number(portText) < 1024 || Number(portText) + 2 * size > 65535) {
    throw new UsageError(`--base-port: ${JSON.stringify(portText)} is not a port from 1024 to ${65535 - 2 * size}`);
  }
  const log = logFlags(values['log-level'] as string | undefined, values['log-format'] as string | undefined);
  const cfg: ClusterConfig = {
    size,
    basePort: Number(portText),
    dataDir: (values['data-dir'] as string | undefined) ?? null,
    ...log,
    insecure: values.insecure === true,
    runtimes: values.runtimes === undefined ? [memberRuntime()] : parseRuntimes(values.runtimes as string),
  };
  const notNode = cfg.runtimes.filter((r) => r !== 'node');
  if (!cfg.insecure && notNode.length > 0) {
    throw new UsageError(
      `--runtimes ${values.runtimes ?? notNode.join(',')}: members on ${notNode.join(' and ')} cannot authenticate peers with mutual TLS yet; ` +
        'pass --insecure to run the cluster plain http with no authentication (see docs/security.md)',
    );
  }
  return cfg;
}

/**
 * Runs `size` members on 127.0.0.1 as child processes (`raftwire member`),
 * prints their URLs, prefixes their log lines with `[id]`, and stops them all
 * on SIGINT/SIGTERM (SIGTERM to each, SIGKILL after 5 s). Resolves with the
 * exit code.
 */
export async function runCluster(cfg: ClusterConfig): Promise<number> {
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const members = Array.from({ length: cfg.size }, (_, k) => localMember(k + 1, cfg.basePort, cfg.insecure ? 'http' : 'https'));
  const children = new Map<string, ChildProcess>();
  // Secure by default: a CA, a certificate per member and an API token, made once and kept with
  // the data (a restart reuses them), or in a fresh temporary directory for an in-memory cluster.
  const pki = cfg.insecure
    ? null
    : await ensureClusterPki(
        cfg.dataDir ? join(cfg.dataDir, 'pki') : await mkdtemp(join(tmpdir(), 'raftwire-pki-')),
        members.map((m) => parseId(m.id)),
        ['127.0.0.1'],
      );
  process.stdout.write(
    `raftwire cluster: ${cfg.size} member(s) on 127.0.0.1, ${pki ? 'mutual TLS between members, https + bearer token on the API' : 'INSECURE: plain http, no authentication'}\n`,
  );
  if (pki) process.stdout.write(`  certificates and API token ${pki.created ? 'made' : 'reused'} in ${pki.dir}\n`);
  const runtimeOf = (k: number): MemberRuntime => cfg.runtimes[k % cfg.runtimes.length] as MemberRuntime;
  for (const [k, m] of members.entries()) {
    process.stdout.write(`  member ${m.id}  peer ${m.peerUrl}  api ${m.apiUrl}  on ${runtimeOf(k)}\n`);
  }
  if (pki) {
    process.stdout.write(`try: npm run raftwire -- put greeting hello --pki ${pki.dir}\n`);
    process.stdout.write(
      `  or: curl --cacert ${pki.caCert} -H "Authorization: Bearer $(cat ${pki.token})" -X PUT --data-binary hello ${members[0]?.apiUrl}/v1/kv/greeting\n`,
    );
  } else {
    process.stdout.write(`try: npm run raftwire -- put greeting hello\n`);
    process.stdout.write(`  or: curl -X PUT --data-binary hello ${members[0]?.apiUrl}/v1/kv/greeting\n`);
  }
  for (const [k, m] of members.entries()) {
    const args = ['member', '--id', m.id, '--listen', m.peerUrl, '--api', m.apiUrl];
    for (const p of members) if (p !== m) args.push('--peer', `${p.id}=${p.peerUrl}`);
    if (cfg.dataDir) args.push('--data-dir', join(cfg.dataDir, `member-${m.id}`));
    if (pki) {
      const own = pki.member(parseId(m.id));
      args.push('--peer-cert-file', own.cert, '--peer-key-file', own.key, '--peer-trusted-ca-file', pki.caCert);
      args.push('--api-cert-file', pki.apiCert, '--api-key-file', pki.apiKey, '--api-token-file', pki.token);
    } else {
      args.push('--insecure');
    }
    args.push('--log-level', cfg.logLevel, '--log-format', cfg.logFormat);
    // A stdin pipe this process never writes: when it exits, even killed, the member sees EOF and stops.
    args.push('--stop-on-stdin-close');
    const cmd = memberCommand(runtimeOf(k), memberRuntime(), main, args);
    const child = spawn(cmd.command, cmd.args, { stdio: ['pipe', 'pipe', 'pipe'] });
    child.on('error', (err) => process.stdout.write(`[${m.id}] cannot start ${cmd.command}: ${err.message}\n`));
    children.set(m.id, child);
    for (const s of [child.stdout, child.stderr]) {
      createInterface({ input: s }).on('line', (line) => process.stdout.write(`[${m.id}] ${line}\n`));
    }
    child.on('exit', (code, signal) => {
      children.delete(m.id);
      process.stdout.write(`[${m.id}] exited (${signal ?? `code ${code}`})\n`);
      if (children.size === 0) finish();
    });
  }
  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((r) => {
    resolveDone = r;
  });
  let stopping = false;
  let killTimer: NodeJS.Timeout | undefined;
  const finish = (): void => {
    if (killTimer) clearTimeout(killTimer);
    resolveDone(stopping ? 0 : 1);
  };
  const stop = (sig: string) => (): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`raftwire cluster: ${sig}: stopping ${children.size} member(s)\n`);
    for (const c of children.values()) c.kill('SIGTERM');
    killTimer = setTimeout(() => {
      for (const c of children.values()) c.kill('SIGKILL');
    }, 5000);
    if (children.size === 0) finish();
  };
  process.on('SIGINT', stop('SIGINT'));
  process.on('SIGTERM', stop('SIGTERM'));
  return done;
}
