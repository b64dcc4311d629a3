// WebRTC benchmark: the transport's msgapp stream beside a raw data channel of
// the same stack, and raft heartbeat round trips idle vs during a snapshot to
// the same peer — for @roamhq/wrtc, node-datachannel, and Chromium ↔ Chromium
// (one page, driven through playwright-core). All measured in this run. Each Node
// member runs in its own process (`_webrtc-member.ts`), signalling through an HTTP
// relay this process serves on 127.0.0.1; RAFTWIRE_BENCH_CPU_PROF=<dir> profiles them, and
// RAFTWIRE_BENCH_HB_TRACE=<prefix> records where each heartbeat's round trip goes (_webrtc-hb-trace.ts).
//   pnpm bench webrtc [roam|node-datachannel|chromium ...]
// Re-executes itself inside tools/loopback-only (WebRTC must only see `lo`) and ends
// with process.exit(): @roamhq/wrtc crashes at a natural exit after a peer connection.
import { type ChildProcess, fork, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createSignalingRelay } from '@raftwire/adapters/webrtc/node';
import { quantile } from './_webrtc-cases.js';
import { type Result, report, result } from './report.js';
import { CHROMIUM_PATH, CHROMIUM_WEBRTC_ARGS, CHROMIUM_WEBRTC_PERMISSIONS } from '../../tools/chromium.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
if (process.env.RAFTWIRE_IN_LOOPBACK_NS !== '1') {
  const r = spawnSync(
    `${root}tools/loopback-only`,
    [process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  process.exit(r.status ?? 1);
}

const MiB = 1024 * 1024;
/** Cluster ID of the Node members (as in _webrtc-member.ts). */
const BENCH_CLUSTER = 0xbe4cn;
const rateAt = process.argv.indexOf('--snapshot-rate-limit');
/**
 * `--snapshot-rate-limit <bytes/s>`: the Node members' Transports run with snapshotRateLimit (off by
 * default: the last resort of issue 12); the heartbeat rows' names say so. Chromium runs without.
 */
const rateLimit = rateAt === -1 ? undefined : Number(process.argv[rateAt + 1]);
const onlyAt = process.argv.indexOf('--only');
/**
 * `--only msgapp` / `--only heartbeat`: one section alone, for quick interleaved before/after runs;
 * prints the rows and writes nothing to bench/results.
 */
const only = onlyAt === -1 ? undefined : process.argv[onlyAt + 1];
if (only !== undefined && only !== 'msgapp' && only !== 'heartbeat')
  throw new Error(`--only: unknown section ${only} (known: msgapp, heartbeat)`);
const pacingAt = process.argv.indexOf('--snapshot-pacing');
/**
 * `--snapshot-pacing`: the Node members' Transports run with `snapshotPacing: true` (core's opt-in
 * delay-based pacer, off by default); the heartbeat rows' names say so. Chromium runs without.
 */
const pacing = pacingAt !== -1;
if (pacing) process.env.RAFTWIRE_BENCH_SNAPSHOT_PACING = '1'; // the member processes inherit it
const flagArgs = new Set([rateAt, rateAt + 1, onlyAt, onlyAt + 1, pacingAt].filter((i) => i >= 2));
const wanted = process.argv.slice(2).filter((_, i) => !flagArgs.has(i + 2));
const want = (name: string) => wanted.length === 0 || wanted.includes(name);
const results: Result[] = [];

interface Cases {
  raw(total: number): Promise<number>;
  transport(total: number): Promise<{ mbps: number; dropped: number }>;
  /** CPU ms (user + system, all threads) each member process used per MB over the raw and transport runs. */
  cpu?: { raw: [number, number]; transport: [number, number] };
  heartbeat(size: number): Promise<{ idle: number[]; during: number[]; snapshotMbps: number; note?: string }>;
}

async function measure(
  name: string,
  cases: Cases,
  total: number,
  snapshot: number,
  rounds: number,
  limit?: number,
  paced = false,
): Promise<void> {
  const tag = (limit === undefined ? '' : `, snapshotRateLimit ${(limit / 1e6).toFixed(0)} MB/s`) + (paced ? ', snapshotPacing' : '');
  // Alternate raw and transport runs and keep each one's best, so both see the same machine load.
  let raw = 0;
  let tr = 0;
  let dropped = 0;
  for (let i = 0; i < (only === 'heartbeat' ? 0 : rounds); i++) {
    raw = Math.max(raw, await cases.raw(total));
    const t = await cases.transport(total);
    tr = Math.max(tr, t.mbps);
    dropped += t.dropped;
  }
  if (dropped > 0) throw new Error(`${name}: the transport dropped ${dropped} messages`);
  const cpu = cases.cpu;
  if (only === 'msgapp') {
    console.log(`${name}: raw ${raw.toFixed(1)} MB/s, transport ${tr.toFixed(1)} MB/s`);
    if (cpu)
      console.log(
        `${name}: CPU ms per MB: raw sender ${cpu.raw[0].toFixed(1)}, receiver ${cpu.raw[1].toFixed(1)}; transport sender ${cpu.transport[0].toFixed(1)}, receiver ${cpu.transport[1].toFixed(1)}`,
      );
    results.push(result(`${name}: msgapp stream via Transport (raw channel)`, 'MB/s', tr, raw, '>= 0.9'));
    return;
  }
  if (cpu && only !== 'heartbeat') {
    const c = ([s, r]: [number, number]) => `sender ${s.toFixed(1)}, receiver ${r.toFixed(1)}`;
    console.log(`${name}: CPU ms per MB moved (process total, all threads): raw ${c(cpu.raw)}; transport ${c(cpu.transport)}`);
  }
  // Node members report their own event-loop delay per phase (each in its own process). With both
  // Chromium members in one page this process's delay only covers the driver, printed for completeness.
  const eld = monitorEventLoopDelay({ resolution: 1 });
  eld.enable();
  const hb = await cases.heartbeat(snapshot);
  eld.disable();
  const f = (xs: number[]) =>
    `p50 ${quantile(xs, 0.5).toFixed(2)} p99 ${quantile(xs, 0.99).toFixed(2)} max ${Math.max(...xs).toFixed(1)} (${xs.length})`;
  console.log(
    `${name}: raw ${raw.toFixed(1)} MB/s, transport ${tr.toFixed(1)} MB/s; heartbeat RTT idle ${f(hb.idle)} ms, ` +
      `during ${snapshot / MiB} MiB snapshots (${hb.snapshotMbps.toFixed(1)} MB/s) ${f(hb.during)} ms; ` +
      (hb.note ?? `driver event-loop delay over it p99 ${(eld.percentile(99) / 1e6).toFixed(1)} max ${(eld.max / 1e6).toFixed(1)} ms`),
  );
  if (only === undefined) results.push(result(`${name}: msgapp stream via Transport (raw channel)`, 'MB/s', tr, raw, '>= 0.9'));
  results.push(
    result(`${name}: heartbeat RTT p50 during snapshot (idle)${tag}`, 'ms', quantile(hb.during, 0.5), quantile(hb.idle, 0.5), null),
  );
  results.push(
    result(`${name}: heartbeat RTT p99 during snapshot (idle)${tag}`, 'ms', quantile(hb.during, 0.99), quantile(hb.idle, 0.99), '<= 2'),
  );
}

/** Node members, one process each (`_webrtc-member.ts`), signalling through an HTTP relay served here on 127.0.0.1. */
class MemberProc {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private constructor(
    readonly id: number,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (m: { id: number } & Record<string, unknown>) => {
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      this.pending.delete(m.id);
      if (typeof m.error === 'string') p.reject(new Error(`member ${id}: ${m.error}`));
      else p.resolve(m);
    });
    child.on('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`member ${id} exited (${code})`));
      this.pending.clear();
    });
  }

  static async start(stack: string, id: number, relay: string): Promise<MemberProc> {
    const prof = process.env.RAFTWIRE_BENCH_CPU_PROF;
    const args = [stack, String(id), relay, ...(rateLimit === undefined ? [] : [String(rateLimit)])];
    const child = fork(fileURLToPath(new URL('./_webrtc-member.ts', import.meta.url)), args, {
      execArgv: ['--import', 'tsx', ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [])],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const m = new MemberProc(id, child);
    await new Promise<void>((resolve, reject) => {
      m.pending.set(0, { resolve: () => resolve(), reject });
    });
    return m;
  }

  ask(cmd: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, cmd, ...args });
    });
  }

  async exit(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    this.child.send({ id: -1, cmd: 'exit' });
    await Promise.race([gone, sleep(5000)]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function nodeCases(stack: string, relay: string): Promise<{ cases: Cases; close(): Promise<void> }> {
  const [a, b] = await Promise.all([MemberProc.start(stack, 1, relay), MemberProc.start(stack, 2, relay)]);
  await Promise.all([a.ask('raw-join'), b.ask('raw-join')]);
  let round = 0;
  const cpu = { raw: [0, 0, 0] as number[], transport: [0, 0, 0] as number[] };
  const addCpu = async (acc: number[], total: number): Promise<void> => {
    const [x, y] = await Promise.all([a.ask('cpu'), b.ask('cpu')]);
    acc[0] = (acc[0] ?? 0) + (x.cpuMs as number);
    acc[1] = (acc[1] ?? 0) + (y.cpuMs as number);
    acc[2] = (acc[2] ?? 0) + total / 1e6;
  };
  const perMb = (acc: number[]): [number, number] => [(acc[0] ?? 0) / (acc[2] ?? 1), (acc[1] ?? 0) / (acc[2] ?? 1)];
  const cases: Cases = {
    get cpu() {
      return { raw: perMb(cpu.raw), transport: perMb(cpu.transport) };
    },
    raw: async (total) => {
      round++;
      await Promise.all([a.ask('cpu-mark'), b.ask('cpu-mark')]);
      const rx = b.ask('raw', { round, total });
      const tx = await a.ask('raw', { round, total });
      const done = await rx;
      await addCpu(cpu.raw, total);
      await Promise.all([a.ask('raw-close'), b.ask('raw-close')]);
      return total / 1e6 / (((done.t1 as number) - (tx.t0 as number)) / 1000);
    },
    transport: async (total) => {
      await Promise.all([a.ask('up'), b.ask('up')]);
      try {
        await b.ask('expect', { total });
        await Promise.all([a.ask('cpu-mark'), b.ask('cpu-mark')]);
        const tx = await a.ask('flood', { total });
        const rx = await b.ask('received');
        await addCpu(cpu.transport, total);
        return { mbps: total / 1e6 / (((rx.t1 as number) - (tx.t0 as number)) / 1000), dropped: tx.dropped as number };
      } finally {
        await Promise.all([a.ask('down'), b.ask('down')]);
      }
    },
    heartbeat: async (size) => {
      const ROUNDS = 5;
      await Promise.all([a.ask('up'), b.ask('up')]);
      try {
        await Promise.all([a.ask('hb-start', { periodMs: 5 }), b.ask('hb-start', { periodMs: 1e9 })]);
        await sleep(200); // warm-up
        let snapshotMs = 0;
        for (let r = 0; r < ROUNDS; r++) {
          await Promise.all([a.ask('phase', { phase: 'idle' }), b.ask('phase', { phase: 'idle' })]);
          await sleep(1000);
          await Promise.all([a.ask('phase', { phase: 'none' }), b.ask('phase', { phase: 'during' })]);
          const s = await a.ask('snapshot', { size, index: 9 + r });
          await b.ask('phase', { phase: 'none' });
          if (s.status !== 'finish') throw new Error(`snapshot ${String(s.status)}`);
          snapshotMs += s.ms as number;
        }
        const [ra, rb] = await Promise.all([a.ask('hb-stop'), b.ask('hb-stop')]);
        type Eld = { p50: number; p99: number; max: number };
        const e = (x: unknown) => `${(x as Eld).p50.toFixed(1)}/${(x as Eld).p99.toFixed(1)}/${(x as Eld).max.toFixed(0)}`;
        return {
          idle: ra.idle as number[],
          during: ra.during as number[],
          snapshotMbps: (ROUNDS * size) / 1e6 / (snapshotMs / 1000),
          note:
            `event-loop delay p50/p99/max ms: sender idle ${e(ra.eldIdle)}, during ${e(ra.eldDuring)}; ` +
            `receiver idle ${e(rb.eldIdle)}, during ${e(rb.eldDuring)}`,
        };
      } finally {
        await Promise.all([a.ask('down'), b.ask('down')]);
      }
    },
  };
  return { cases, close: async () => void (await Promise.all([a.exit(), b.exit()])) };
}

const nodeStacks = (['roam', 'node-datachannel'] as const).filter(want);
if (nodeStacks.length > 0) {
  const relay = createSignalingRelay({ clusterId: BENCH_CLUSTER, insecure: true });
  const server = createServer((rq, rs) => {
    if (!relay.handle(rq, rs)) rs.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/raft-signal`;
  try {
    for (const stack of nodeStacks) {
      const { cases, close } = await nodeCases(stack, base);
      try {
        await measure(stack, cases, 64 * MiB, 32 * MiB, 3, rateLimit, pacing);
      } finally {
        await close();
      }
    }
  } finally {
    relay.close();
    server.closeAllConnections();
    server.close();
  }
}

if (want('chromium') && existsSync(CHROMIUM_PATH)) {
  const { build } = await import('esbuild');
  const { chromium } = await import('playwright-core');
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL('./_webrtc-page.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    inject: [`${root}packages/adapters/test/webrtc/chromium/shims.js`],
    define: { global: 'globalThis' },
    alias: {
      '@raftwire/core': `${root}packages/core/src/index.ts`,
      '@raftwire/adapters/webrtc': `${root}packages/adapters/src/webrtc/index.ts`,
    },
    logLevel: 'error',
  });
  const js = bundle.outputFiles[0]?.text ?? '';
  const server: Server = createServer((rq, rs) => {
    rs.setHeader('content-type', rq.url === '/app.js' ? 'text/javascript' : 'text/html');
    rs.end(rq.url === '/app.js' ? js : '<!doctype html><title>raftwire bench</title><script type="module" src="/app.js"></script>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_WEBRTC_ARGS],
  });
  try {
    const ctx = await browser.newContext({ permissions: [...CHROMIUM_WEBRTC_PERMISSIONS] });
    const page = await ctx.newPage();
    page.on('pageerror', (e) => console.error('page error:', e));
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => 'bench' in window);
    type Bench = { bench: Cases };
    await measure(
      'chromium↔chromium',
      {
        raw: (total) => page.evaluate((n) => (window as unknown as Bench).bench.raw(n), total),
        transport: (total) => page.evaluate((n) => (window as unknown as Bench).bench.transport(n), total),
        heartbeat: (size) => page.evaluate((n) => (window as unknown as Bench).bench.heartbeat(n), size),
      },
      32 * MiB,
      16 * MiB,
      3,
    );
  } finally {
    await browser.close();
    server.close();
  }
}

report('webrtc', results, 'raw channel / idle', { write: only === undefined });
process.exit(0);
