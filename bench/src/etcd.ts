/**
 * `pnpm bench etcd [--quick]`: three raftwire CLI members beside three etcd 3.4 members, both with
 * data dirs on the same disk and fsync on, loaded in turn (interleaved rounds, so both see the same
 * machine noise) by the same bounded closed-loop load generator: 128 B values, 64 and 256 concurrent
 * clients, keep-alive HTTP (raftwire `PUT /v1/kv/<key>`, etcd's JSON gateway `POST /v3/kv/put`) and
 * etcd's gRPC through the `etcd3` client. Figures: puts/s, p50, p99, and CPU seconds (user + system,
 * from /proc/<pid>/stat) of each system's three processes per 1 000 puts.
 *
 * Debian's etcd-server is installed with apt-get when /usr/bin/etcd is missing. Everything listens on
 * 127.0.0.1, ports 23400–23415. `--quick` is a smoke run (one short round, nothing written).
 *
 * Profiling and A/B runs (docs/bench-etcd.md, "Profiling the members"): `--raftwire-only` starts and
 * loads only the raftwire members (no etcd), `--clients <n>` loads at that one concurrency,
 * `--rounds <n>` / `--seconds <s>` set the rounds and the measured time per run; any of them makes
 * the run write nothing to bench/results. RAFTWIRE_BENCH_MEMBER_NODE_FLAGS (space-separated) are
 * node flags given to each raftwire member, e.g. `--cpu-prof --cpu-prof-dir=<dir>`;
 * RAFTWIRE_BENCH_CLI runs another build's apps/cli/dist/main.js as the members.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { cpuSeconds, KeepAliveClient, type LoadResult, percentile, runLoad } from './_loadgen.js';
import { type Result, report, result } from './report.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = process.env.RAFTWIRE_BENCH_CLI || join(root, 'apps', 'cli', 'dist', 'main.js');
const MEMBER_NODE_FLAGS = (process.env.RAFTWIRE_BENCH_MEMBER_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f !== '');
const ETCD = '/usr/bin/etcd';
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const rwOnly = argv.includes('--raftwire-only');
function numArg(flag: string): number | null {
  const i = argv.indexOf(flag);
  if (i < 0) return null;
  const n = Number(argv[i + 1]);
  if (!(n > 0)) {
    console.error(`${flag} needs a positive number`);
    process.exit(2);
  }
  return n;
}
const onlyClients = numArg('--clients');
const roundsArg = numArg('--rounds');
const secondsArg = numArg('--seconds');
/** A partial run (one system, one concurrency, other times) is never written to bench/results. */
const partial = rwOnly || onlyClients !== null || roundsArg !== null || secondsArg !== null;
const ROUNDS = roundsArg ?? (quick ? 1 : 3);
const RUN_MS = secondsArg !== null ? secondsArg * 1000 : quick ? 1_000 : 6_000;
const WARM_MS = quick ? 300 : 1_500;
const MAX_OPS = 300_000;
const CONCURRENCY = onlyClients !== null ? [onlyClients] : [64, 256];
const KEYS = 10_000;
const BASE = 23_400;

function ensureEtcd(): void {
  if (existsSync(ETCD)) return;
  console.log('installing Debian etcd-server with apt-get (/usr/bin/etcd is missing)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const asRoot = process.getuid?.() === 0;
  const apt = (args: string[]) =>
    (asRoot ? spawnSync('apt-get', args, { stdio: 'inherit', env }) : spawnSync('sudo', ['apt-get', ...args], { stdio: 'inherit', env }))
      .status;
  if (apt(['update']) !== 0 || apt(['install', '-y', '--no-install-recommends', 'etcd-server']) !== 0 || !existsSync(ETCD)) {
    console.error(`✖ ${ETCD} is missing and apt-get install etcd-server failed; install it as root and run again.`);
    process.exit(1);
  }
}

if (!existsSync(CLI)) {
  console.error(`${CLI} is missing: run pnpm run build first`);
  process.exit(2);
}
if (!rwOnly) ensureEtcd();

// Both systems' data dirs on the same disk as the repository (not /tmp, which may be tmpfs).
const runDir = join(root, '.cache', 'bench-etcd', String(process.pid));
rmSync(runDir, { recursive: true, force: true });
mkdirSync(runDir, { recursive: true });

const children: ChildProcess[] = [];
function killAll(signal: NodeJS.Signals): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
}
process.on('exit', () => killAll('SIGKILL'));
for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, () => process.exit(130));

function start(cmd: string, args: string[], log: string): ChildProcess {
  const out = openSync(log, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', out, out] });
  child.on('exit', (code, sig) => {
    if (!stopping) {
      console.error(`✖ ${cmd} ${args.slice(0, 3).join(' ')} exited (${code ?? sig}); log: ${log}`);
      process.exit(1);
    }
  });
  children.push(child);
  return child;
}
let stopping = false;

const rw = [1, 2, 3].map((i) => ({
  id: String(i),
  peer: `http://127.0.0.1:${BASE + 2 * (i - 1)}`,
  api: `http://127.0.0.1:${BASE + 2 * (i - 1) + 1}`,
}));
const et = [1, 2, 3].map((i) => ({
  name: `e${i}`,
  client: `http://127.0.0.1:${BASE + 10 + 2 * (i - 1)}`,
  peer: `http://127.0.0.1:${BASE + 10 + 2 * (i - 1) + 1}`,
}));

const rwPids = rw.map((m) => {
  const dir = join(runDir, `raftwire-${m.id}`);
  mkdirSync(dir, { recursive: true });
  const peers = rw.filter((x) => x !== m).flatMap((x) => ['--peer', `${x.id}=${x.peer}`]);
  const args = [CLI, 'member', '--id', m.id, '--listen', m.peer, '--api', m.api, ...peers, '--data-dir', join(dir, 'data')];
  return start(process.execPath, [...MEMBER_NODE_FLAGS, ...args, '--insecure', '--log-level', 'warn'], join(dir, 'member.log'))
    .pid as number;
});
const initial = et.map((e) => `${e.name}=${e.peer}`).join(',');
const etPids = (rwOnly ? [] : et).map((e) => {
  const dir = join(runDir, `etcd-${e.name}`);
  mkdirSync(dir, { recursive: true });
  const args = [
    ...['--name', e.name, '--data-dir', join(dir, 'data')],
    ...['--listen-client-urls', e.client, '--advertise-client-urls', e.client],
    ...['--listen-peer-urls', e.peer, '--initial-advertise-peer-urls', e.peer],
    ...['--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', 'raftwire-bench'],
    ...['--logger', 'zap', '--log-outputs', 'stderr', '--log-level', 'warn'],
  ];
  return start(ETCD, args, join(dir, 'etcd.log')).pid as number;
});

const value = new Uint8Array(128).fill(0x61);
const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64');
const etcdJsonBody = (i: number) => Buffer.from(JSON.stringify({ key: b64(`k${i % KEYS}`), value: b64(value) }));

async function waitFor(what: string, ms: number, f: () => Promise<unknown>): Promise<void> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      await f();
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`timed out waiting for ${what}: ${String(last)}`);
}

interface System {
  label: string;
  pids: number[];
  /** Makes the per-run client(s) for `concurrency`; returns the op and a close function. */
  open: (concurrency: number) => { op: (i: number, c: number) => Promise<void>; close: () => Promise<void> | void };
}

const allSystems: System[] = [
  {
    label: 'raftwire HTTP',
    pids: rwPids,
    open: (n) => {
      const clients = rw.map((m) => new KeepAliveClient(m.api, Math.ceil(n / rw.length)));
      return {
        op: async (i, c) => {
          await (clients[c % clients.length] as KeepAliveClient).send('PUT', `/v1/kv/k${i % KEYS}`, value, 'application/octet-stream');
        },
        close: () => {
          for (const k of clients) k.close();
        },
      };
    },
  },
  {
    label: 'etcd JSON gateway',
    pids: etPids,
    open: (n) => {
      const clients = et.map((e) => new KeepAliveClient(e.client, Math.ceil(n / et.length)));
      return {
        op: async (i, c) => {
          await (clients[c % clients.length] as KeepAliveClient).send('POST', '/v3/kv/put', etcdJsonBody(i), 'application/json');
        },
        close: () => {
          for (const k of clients) k.close();
        },
      };
    },
  },
  {
    label: 'etcd gRPC (etcd3)',
    pids: etPids,
    open: () => {
      const client = new Etcd3({ hosts: et.map((e) => e.client) });
      const buf = Buffer.from(value);
      return {
        op: async (i) => {
          await client.put(`k${i % KEYS}`).value(buf);
        },
        close: () => client.close(),
      };
    },
  },
];

const systems = rwOnly ? allSystems.slice(0, 1) : allSystems;

interface Acc {
  ops: number;
  errors: number;
  seconds: number;
  cpu: number;
  lat: Float64Array[];
}

async function measure(s: System, n: number, ms: number): Promise<{ r: LoadResult; cpu: number }> {
  const { op, close } = s.open(n);
  try {
    await runLoad({ concurrency: n, durationMs: WARM_MS, maxOps: MAX_OPS, op });
    const c0 = cpuSeconds(s.pids);
    const r = await runLoad({ concurrency: n, durationMs: ms, maxOps: MAX_OPS, op });
    const cpu = cpuSeconds(s.pids) - c0;
    if (r.errors > 0) console.log(`  ${s.label}: ${r.errors} failed puts (first: ${r.firstError})`);
    return { r, cpu };
  } finally {
    await close();
  }
}

async function main(): Promise<void> {
  console.log(`etcd bench: data in ${runDir}; ${ROUNDS} round(s) × ${RUN_MS} ms per system and concurrency`);
  const http = new KeepAliveClient(rw[0]?.api as string, 1);
  await waitFor('raftwire to serve a put', 30_000, () => http.send('PUT', '/v1/kv/boot', value, 'application/octet-stream'));
  http.close();
  if (!rwOnly) {
    const eh = new KeepAliveClient(et[0]?.client as string, 1);
    await waitFor('etcd to serve a put', 30_000, () => eh.send('POST', '/v3/kv/put', etcdJsonBody(0), 'application/json'));
    eh.close();
  }

  const acc = new Map<string, Acc>();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const n of CONCURRENCY) {
      // Alternate the order each round so neither system always runs right after the other.
      const order = round % 2 ? systems : [...systems].reverse();
      for (const s of order) {
        const { r, cpu } = await measure(s, n, RUN_MS);
        const key = `${s.label}@${n}`;
        const a = acc.get(key) ?? { ops: 0, errors: 0, seconds: 0, cpu: 0, lat: [] };
        a.ops += r.ops;
        a.errors += r.errors;
        a.seconds += r.seconds;
        a.cpu += cpu;
        a.lat.push(r.latenciesMs);
        acc.set(key, a);
        console.log(
          `  round ${round} ${n} clients ${s.label}: ${Math.round(r.opsPerSecond)} puts/s, ` +
            `p50 ${percentile(r.latenciesMs, 50).toFixed(1)} ms, p99 ${percentile(r.latenciesMs, 99).toFixed(1)} ms, ` +
            `${((cpu * 1000) / Math.max(1, r.ops)).toFixed(3)} CPU s/1000 puts`,
        );
      }
    }
  }

  const fig = (key: string) => {
    const a = acc.get(key) as Acc;
    const all = new Float64Array(a.lat.reduce((s, l) => s + l.length, 0));
    let o = 0;
    for (const l of a.lat) {
      all.set(l, o);
      o += l.length;
    }
    all.sort();
    return {
      rate: a.ops / a.seconds,
      p50: percentile(all, 50),
      p99: percentile(all, 99),
      cpuPerK: (a.cpu * 1000) / Math.max(1, a.ops),
    };
  };
  if (rwOnly) {
    for (const n of CONCURRENCY) {
      const me = fig(`raftwire HTTP@${n}`);
      console.log(
        `raftwire HTTP, ${n} clients, all rounds: ${Math.round(me.rate)} puts/s, p50 ${me.p50.toFixed(1)} ms, ` +
          `p99 ${me.p99.toFixed(1)} ms, ${me.cpuPerK.toFixed(3)} CPU s/1000 puts (raftwire only: nothing written)`,
      );
    }
    return;
  }
  const results: Result[] = [];
  for (const n of CONCURRENCY) {
    const me = fig(`raftwire HTTP@${n}`);
    for (const base of ['etcd JSON gateway', 'etcd gRPC (etcd3)']) {
      const b = fig(`${base}@${n}`);
      const what = `${n} clients, 128 B, fsync on: raftwire HTTP (baseline: ${base})`;
      results.push(result(`KV puts/s, ${what}`, 'puts/s', me.rate, b.rate, '>= 2'));
      results.push(result(`KV put p50, ${what}`, 'ms', me.p50, b.p50, null));
      results.push(result(`KV put p99, ${what}`, 'ms', me.p99, b.p99, '<= 1'));
      results.push(result(`CPU s per 1000 puts (3 processes), ${what}`, 's', me.cpuPerK, b.cpuPerK, null));
    }
  }
  report('etcd', results, 'etcd 3.4, same run', { write: !quick && !partial });
}

main()
  .then(async () => {
    stopping = true;
    killAll('SIGTERM');
    // Members given node flags (--cpu-prof) write their profiles as they exit: give them time.
    await new Promise((r) => setTimeout(r, MEMBER_NODE_FLAGS.length > 0 ? 5000 : 1000));
    killAll('SIGKILL');
    rmSync(runDir, { recursive: true, force: true });
    process.exit(0);
  })
  .catch((err) => {
    console.error(err);
    stopping = true;
    killAll('SIGKILL');
    process.exit(1);
  });
