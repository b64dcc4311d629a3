/**
 * Test harness: real etcd 3.4 processes (Debian's etcd-server / etcd-client) on 127.0.0.1 with
 * random free ports and data directories in temp dirs, and `raftwire etcd-member` processes.
 * `killAll()` SIGKILLs every process it started and removes the directories; call it in afterAll.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_MAIN, freePort } from './member-process.js';

export const ETCD = '/usr/bin/etcd';
export const ETCDCTL = '/usr/bin/etcdctl';

/** Throws (the test fails, never skips) with a line naming what is missing. */
export function requireEtcd(): void {
  const missing = [ETCD, ETCDCTL].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new Error(
      `etcd is missing: ${missing.join(' and ')} not found. The etcd interop tests run a real etcd 3.4 cluster: ` +
        "install Debian's etcd-server and etcd-client (as root: apt-get install -y etcd-server etcd-client), or run `npm test`, which does.",
    );
  }
  if (!existsSync(CLI_MAIN)) throw new Error(`${CLI_MAIN} is missing: run pnpm run build first`);
}

/** Peer TLS files: a throwaway CA and one certificate for 127.0.0.1 used both ways (as etcd peers do). */
export interface PeerTls {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** Makes a throwaway peer PKI with the openssl binary (EC P-256, valid one day); fails saying what is missing. */
export function makePeerTls(): PeerTls {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    throw new Error("openssl not found on the PATH: install Debian's openssl (apt-get install openssl)");
  }
  const dir = tempDir('rw-peer-tls-');
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=raftwire-test-ca');
  writeFileSync(join(dir, 'peer.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  ssl('req', ...ec, '-keyout', 'peer.key', '-out', 'peer.csr', '-subj', '/CN=peer');
  ssl(
    'x509',
    '-req',
    '-in',
    'peer.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'peer.crt',
    '-days',
    '1',
    '-extfile',
    'peer.ext',
  );
  return { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'peer.crt'), keyFile: join(dir, 'peer.key') };
}

export interface Proc {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
}

function track(child: ChildProcess): Proc {
  const p: Proc = {
    child,
    exit: null,
    exited: new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        p.exit = { code, signal };
        resolve(p.exit);
      });
    }),
  };
  return p;
}

const started: Proc[] = [];
const dirs: string[] = [];

/**
 * A fresh temp dir. `fast` puts it on /dev/shm when there is one: etcd's fsyncs then cost nothing,
 * which keeps a run of thousands of puts within seconds on a loaded 2-core machine (raftwire's
 * own data dirs stay on disk, so its fsyncs are real).
 */
export function tempDir(prefix: string, fast = false): string {
  const base = fast && existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const d = mkdtempSync(join(base, prefix));
  dirs.push(d);
  return d;
}

/** SIGKILLs every process started here and removes every temp dir; safe to call twice. */
export async function killAll(): Promise<void> {
  for (const p of started) if (!p.exit) p.child.kill('SIGKILL');
  await Promise.all(started.map((p) => p.exited));
  started.length = 0;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  cond: () => Promise<T | undefined | null | false> | T | undefined | null | false,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`, {
        cause: last,
      });
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface EtcdNode {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dir: string;
  log: string;
  proc: Proc | null;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A cluster of etcd processes on 127.0.0.1. */
export class EtcdCluster {
  readonly nodes: EtcdNode[] = [];

  private constructor(private readonly extra: string[]) {}

  /**
   * Starts `n` members (`--snapshot-count` and other flags in `extra`) and waits until it serves
   * puts. With `tls`, the peers speak https and require each other's certificates.
   */
  static async start(n: number, extra: string[] = [], tls?: PeerTls): Promise<EtcdCluster> {
    const peerFlags = tls
      ? ['--peer-cert-file', tls.certFile, '--peer-key-file', tls.keyFile, '--peer-trusted-ca-file', tls.caFile, '--peer-client-cert-auth']
      : [];
    const c = new EtcdCluster([...extra, ...peerFlags]);
    const ports = await Promise.all(Array.from({ length: 2 * n }, freePort));
    for (let i = 0; i < n; i++) {
      const dir = tempDir(`etcd-e${i + 1}-`, true);
      c.nodes.push({
        name: `e${i + 1}`,
        clientUrl: `http://127.0.0.1:${ports[2 * i]}`,
        peerUrl: `${tls ? 'https' : 'http'}://127.0.0.1:${ports[2 * i + 1]}`,
        dir,
        log: join(dir, 'etcd.log'),
        proc: null,
      });
    }
    for (const node of c.nodes) c.run(node, 'new');
    await waitFor('the etcd cluster to serve a put', 30_000, async () => (await c.put('boot', 'ok', 2000)) === 'ok');
    return c;
  }

  private run(node: EtcdNode, state: 'new' | 'existing'): void {
    const initial = this.nodes.map((x) => `${x.name}=${x.peerUrl}`).join(',');
    const out = openSync(node.log, 'a');
    const child = spawn(
      ETCD,
      [
        '--name',
        node.name,
        '--data-dir',
        join(node.dir, 'data'),
        '--listen-client-urls',
        node.clientUrl,
        '--advertise-client-urls',
        node.clientUrl,
        '--listen-peer-urls',
        node.peerUrl,
        '--initial-advertise-peer-urls',
        node.peerUrl,
        '--initial-cluster',
        initial,
        '--initial-cluster-state',
        state,
        '--initial-cluster-token',
        'raftwire-interop',
        '--logger',
        'zap',
        '--log-outputs',
        'stderr',
        ...this.extra,
      ],
      { stdio: ['ignore', out, out] },
    );
    node.proc = track(child);
    started.push(node.proc);
  }

  node(name: string): EtcdNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no etcd member ${name}`);
    return n;
  }

  /** Client URLs of the members running now. */
  endpoints(): string[] {
    return this.nodes.filter((n) => n.proc && !n.proc.exit).map((n) => n.clientUrl);
  }

  /** Stops a member (SIGTERM by default) and waits for it to exit. */
  async stop(name: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const n = this.node(name);
    n.proc?.child.kill(signal);
    await n.proc?.exited;
  }

  /** Runs etcdctl (v3 API) against the running members. */
  ctl(args: string[], timeoutMs = 10_000): { code: number; stdout: string; stderr: string } {
    const r = spawnSync(ETCDCTL, [`--endpoints=${this.endpoints().join(',')}`, ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      encoding: 'utf8',
      timeout: timeoutMs,
    });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** `etcdctl member list` rows: id (hex), status, name, peer URLs, learner. */
  members(): { id: string; status: string; name: string; peerUrls: string; learner: boolean }[] {
    const r = this.ctl(['member', 'list']);
    if (r.code !== 0) throw new Error(`etcdctl member list failed: ${r.stderr}`);
    return r.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(', '))
      .map(([id, status, name, peerUrls, , learner]) => ({
        id: id ?? '',
        status: status ?? '',
        name: name ?? '',
        peerUrls: peerUrls ?? '',
        learner: learner === 'true',
      }));
  }

  /** A put through one member's JSON gateway; resolves 'ok', or the failure. */
  async put(key: string, value: string, timeoutMs = 5000, endpoint?: string): Promise<string> {
    for (const url of endpoint ? [endpoint] : this.endpoints()) {
      try {
        const res = await fetch(`${url}/v3/kv/put`, {
          method: 'POST',
          body: JSON.stringify({ key: b64(key), value: b64(value) }),
          signal: AbortSignal.timeout(timeoutMs),
        });
        const body = await res.text();
        if (res.status === 200) return 'ok';
        return `HTTP ${res.status}: ${body.slice(0, 200)}`;
      } catch (err) {
        if (endpoint) return String(err);
      }
    }
    return 'no member reachable';
  }

  /** Linearizable range of keys with `prefix`: a map key → value (through the gateway, paged). */
  async getPrefix(prefix: string, timeoutMs = 10_000): Promise<Map<string, string>> {
    const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
    const out = new Map<string, string>();
    for (const url of this.endpoints()) {
      try {
        const res = await fetch(`${url}/v3/kv/range`, {
          method: 'POST',
          body: JSON.stringify({ key: b64(prefix), range_end: b64(end) }),
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (res.status !== 200) continue;
        const body = (await res.json()) as { kvs?: { key: string; value: string }[] };
        for (const kv of body.kvs ?? [])
          out.set(Buffer.from(kv.key, 'base64').toString(), Buffer.from(kv.value ?? '', 'base64').toString());
        return out;
      } catch {
        // try the next member
      }
    }
    throw new Error('no etcd member answered the range');
  }

  /** The last lines of a member's log, for failure messages. */
  tail(name: string, lines = 20): string {
    try {
      return readFileSync(this.node(name).log, 'utf8').trim().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

/**
 * The new member's ID from `etcdctl member add`'s output. etcdctl prints it with `%16x`, so an ID
 * whose top digit is zero comes padded with a space (`Member  f9d4829e956e512 added`); the ID
 * itself, as `member list` and etcd's logs write it, is the unpadded hex.
 */
export function addedMemberId(stdout: string): string {
  const id = /Member +([0-9a-f]{1,16}) added/.exec(stdout)?.[1];
  if (!id) throw new Error(`etcdctl member add printed no ID: ${stdout}`);
  return id;
}

/** A `raftwire etcd-member` process and its log lines. */
export interface RaftwireEtcdMember extends Proc {
  lines: string[];
  /** Resolves with the first line containing `text` (after `from` lines). */
  line(text: string, timeoutMs: number, from?: number): Promise<string>;
}

export function spawnEtcdMember(args: string[]): RaftwireEtcdMember {
  const child = spawn(process.execPath, [CLI_MAIN, 'etcd-member', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buf = '';
  const onData = (d: Buffer) => {
    buf += d.toString('utf8');
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const p = track(child);
  started.push(p);
  return Object.assign(p, {
    lines,
    line: (text: string, timeoutMs: number, from = 0) =>
      waitFor(`a raftwire log line with ${JSON.stringify(text)}`, timeoutMs, () => lines.slice(from).find((l) => l.includes(text))),
  });
}
