/**
 * `pnpm bench cluster`: committed 128-byte proposals per second and commit
 * latency (p50/p99) of a 3-member Raft cluster (RaftNode + KvStateMachine +
 * core Transport), measured two ways in the same run:
 *
 * - in one process over `MemoryLink` (the baseline: Raft, codecs and the
 *   transport without sockets);
 * - in three processes over HTTP on 127.0.0.1 (NodeHttpLink + startRaftServer),
 *   one member per process. The load generator runs inside the leader's
 *   process and calls `RaftNode.propose` directly (no client API in the path),
 *   keeping `WINDOW` proposals in flight; a proposal counts when it has been
 *   committed by a quorum and applied on the leader.
 *
 * The last row compares the HTTP figure with the issue's target of 100 000/s
 * (a target, not a measurement). Options: --seconds N (load per cluster, default 5),
 * --window N (proposals in flight, default 4096).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Id, type Logger, Transport } from '@raftwire/core';
import { MemoryNetwork } from '@raftwire/core/testing';
import { NodeHttpLink, startRaftServer } from '@raftwire/adapters/http/node';
import { encodeKvCommand, MemoryStorage, RaftNode } from '@raftwire/raft';
import { freePort } from '../../tools/ports.mjs';
import { report, result } from './report.js';

const PAYLOAD_BYTES = 128;
const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? def : Number(process.argv[i + 1]);
};
const SECONDS = arg('seconds', 5);
const WINDOW = arg('window', 4096);
const WARMUP_MS = 1000;
const IDS: Id[] = [1n, 2n, 3n];

interface LoadResult {
  committed: number;
  seconds: number;
  p50: number;
  p99: number;
  /** CPU time (user + system) this process spent while measuring, in µs. */
  cpuMicros: number;
}

/** 128-byte KV put commands (keys cycle over 1024 so snapshots stay small); made once, outside the measured path. */
const COMMANDS = Array.from({ length: 1024 }, (_, i) => {
  const key = `k${i}`;
  const head = encodeKvCommand({ op: 'put', key, value: new Uint8Array(0) }).length;
  return encodeKvCommand({ op: 'put', key, value: new Uint8Array(PAYLOAD_BYTES - head).fill(i & 0xff) });
});
const command = (i: number): Uint8Array => COMMANDS[i % COMMANDS.length] as Uint8Array;

/**
 * Commit latencies in 50 µs buckets up to 10 s (slower ones exact): recording one allocates
 * nothing, unlike an array of every sample, which grew by megabytes per second and was a
 * fifth of the bytes the MemoryLink run allocated.
 */
class LatencyHistogram {
  private static readonly STEP_MS = 0.05;
  private readonly buckets = new Uint32Array(Math.ceil(10_000 / LatencyHistogram.STEP_MS));
  private readonly slow: number[] = [];
  count = 0;

  add(ms: number): void {
    const b = Math.floor(ms / LatencyHistogram.STEP_MS);
    if (b < this.buckets.length) this.buckets[b] = (this.buckets[b] as number) + 1;
    else this.slow.push(ms);
    this.count++;
  }

  /** The p-quantile (upper edge of its bucket), NaN when empty. */
  quantile(p: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.min(this.count - 1, Math.floor(this.count * p));
    let seen = 0;
    for (let b = 0; b < this.buckets.length; b++) {
      seen += this.buckets[b] as number;
      if (seen > rank) return (b + 1) * LatencyHistogram.STEP_MS;
    }
    this.slow.sort((x, y) => x - y);
    return this.slow[rank - seen] ?? Number.NaN;
  }
}

const cpuNow = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

interface LoadHooks {
  /** The measured interval starts / ends (the HTTP parent reads every member's CPU then). */
  measuring?(on: boolean): void;
}

/**
 * Keeps `window` proposals in flight through `propose` for warmup + `seconds`; measures the
 * part after warmup. Each of the `window` workers proposes, awaits the commit, and proposes
 * again; per proposal the generator itself only takes two clock reads and a histogram add.
 */
async function runLoad(
  propose: (data: Uint8Array) => Promise<unknown>,
  seconds: number,
  window: number,
  hooks: LoadHooks = {},
): Promise<LoadResult> {
  const lat = new LatencyHistogram();
  let i = 0;
  let committed = 0;
  let measuring = false;
  let sliceStart = performance.now();
  let gate: Promise<void> | null = null;
  let stop = false;
  // No per-proposal signal: a timer or an abort listener per proposal costs more than the
  // proposal (EventTarget listener adds are linear in the listener count). A watchdog
  // ends the whole run instead if the cluster stops committing.
  const watchdog = setTimeout(
    () => {
      console.error(`cluster bench: no progress for ${(WARMUP_MS + seconds * 1000) * 2 + 30_000} ms; giving up`);
      process.exit(1);
    },
    (WARMUP_MS + seconds * 1000) * 2 + 30_000,
  );
  const one = async (): Promise<void> => {
    while (!stop) {
      const data = command(i++);
      const t = performance.now();
      await propose(data);
      const now = performance.now();
      if (measuring && !stop) {
        committed++;
        lat.add(now - t);
      }
      // Over MemoryLink the whole propose → replicate → apply cycle runs in microtasks: every
      // few ms all workers wait for one macrotask turn so timers (raft ticks, the bench's own
      // clock) still run. Over HTTP, I/O gives those turns anyway.
      if (now - sliceStart > 5) {
        gate ??= new Promise<void>((r) =>
          setImmediate(() => {
            gate = null;
            sliceStart = performance.now();
            r();
          }),
        );
      }
      if (gate) await gate;
    }
  };
  const workers = Array.from({ length: window }, one);
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  measuring = true;
  hooks.measuring?.(true);
  const cpu0 = cpuNow();
  const tMeasure = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (performance.now() - tMeasure) / 1000;
  const cpuMicros = cpuNow() - cpu0;
  const done = committed;
  measuring = false;
  hooks.measuring?.(false);
  stop = true;
  await Promise.allSettled(workers);
  clearTimeout(watchdog);
  return { committed: done, seconds: elapsed, p50: lat.quantile(0.5), p99: lat.quantile(0.99), cpuMicros };
}

/**
 * The load generator's own cost: the same workers and window against a stub whose proposals
 * all resolve together at the next macrotask turn (as a committed batch does), so what is
 * measured is the generator plus one promise per proposal, an upper bound on what it adds to
 * the leader's process.
 */
async function generatorAlone(seconds: number, window: number): Promise<LoadResult> {
  let pending: (() => void)[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const all = pending;
    pending = [];
    for (const r of all) r();
  };
  const propose = (_data: Uint8Array): Promise<void> =>
    new Promise<void>((resolve) => {
      pending.push(resolve);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  return runLoad(propose, seconds, window);
}

function waitLeader(nodes: RaftNode[]): Promise<RaftNode> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 20_000;
    const check = () => {
      const l = nodes.find((n) => n.status().raftState === 'StateLeader');
      if (l) resolve(l);
      else if (Date.now() > deadline) reject(new Error('no leader within 20 s'));
      else setTimeout(check, 20);
    };
    check();
  });
}

async function memoryCluster(): Promise<LoadResult> {
  const net = new MemoryNetwork();
  const url = (id: Id) => `http://127.0.0.1:${40_000 + Number(id)}`; // names only: MemoryLink opens no socket
  const peers = IDS.map((id) => ({ id, url: url(id) }));
  const parts = IDS.map((id) => {
    const node = new RaftNode({ id, peers, storage: new MemoryStorage(), tickMs: 100 });
    const transport = new Transport({ id, clusterId: 1n, urls: [url(id)], link: net.link(url(id)), raft: node });
    const unserve = net.serve(url(id), transport.handler);
    transport.start();
    node.setTransport(transport);
    return { node, transport, unserve };
  });
  await Promise.all(parts.map((p) => p.node.start()));
  const leader = await waitLeader(parts.map((p) => p.node));
  const r = await runLoad((d) => leader.propose(d), SECONDS, WINDOW);
  for (const p of parts) {
    await p.node.stop();
    await p.transport.stop();
    p.unserve();
  }
  net.close();
  return r;
}

// --- HTTP: one member per process -------------------------------------------------

type ToWorker = { kind: 'load'; seconds: number; window: number } | { kind: 'cpu' } | { kind: 'stop' };
type FromWorker =
  | { kind: 'ready'; port: number }
  | { kind: 'leader'; leader: string }
  | { kind: 'measuring'; on: boolean }
  | { kind: 'cpu'; micros: number }
  | { kind: 'result'; result: LoadResult };

/** Set BENCH_LOG=warn (or info, debug) to see the members' logs on stderr. */
function benchLogger(): Logger | undefined {
  const level = process.env.BENCH_LOG;
  if (!level) return undefined;
  const order = ['trace', 'debug', 'info', 'warn', 'error'];
  const min = order.indexOf(level);
  const mk =
    (lvl: string) =>
    (o: Record<string, unknown> | string, m?: string): void => {
      if (order.indexOf(lvl) < min) return;
      if (typeof o === 'string') return void process.stderr.write(`${lvl} ${o}\n`);
      process.stderr.write(`${lvl} ${m ?? ''} ${JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString(16) : v))}\n`);
    };
  const l: Logger = { trace: mk('trace'), debug: mk('debug'), info: mk('info'), warn: mk('warn'), error: mk('error'), child: () => l };
  return l;
}

async function worker(): Promise<void> {
  const id = BigInt(arg('worker', 1));
  const ports = (process.argv[process.argv.indexOf('--ports') + 1] ?? '').split(',').map(Number);
  const url = (k: Id) => `http://127.0.0.1:${ports[Number(k) - 1]}`;
  const peers = IDS.map((k) => ({ id: k, url: url(k) }));
  const logger = benchLogger();
  const node = new RaftNode({ id, peers, storage: new MemoryStorage(), tickMs: 100, ...(logger ? { logger } : {}) });
  const link = new NodeHttpLink();
  const transport = new Transport({ id, clusterId: 1n, urls: [url(id)], link, raft: node, ...(logger ? { logger } : {}) });
  const server = await startRaftServer({ handler: transport.handler, host: '127.0.0.1', port: ports[Number(id) - 1] ?? 0 });
  transport.start();
  node.setTransport(transport);
  await node.start();
  const send = (m: FromWorker) => process.send?.(m);
  node.on('leader-change', ({ leader }) => send({ kind: 'leader', leader: leader.toString(16) }));
  process.on('message', (m: ToWorker) => {
    if (m.kind === 'load') {
      const hooks: LoadHooks = { measuring: (on) => send({ kind: 'measuring', on }) };
      void runLoad((d) => node.propose(d), m.seconds, m.window, hooks).then((result) => send({ kind: 'result', result }));
    } else if (m.kind === 'cpu') {
      send({ kind: 'cpu', micros: cpuNow() });
    } else {
      void (async () => {
        await node.stop();
        await transport.stop();
        await server.close({ signal: AbortSignal.timeout(1000) });
        link.close();
        process.exit(0);
      })();
    }
  });
  send({ kind: 'ready', port: server.port });
}

/** Ports the members bind later: below the ephemeral range, so no outgoing connection takes one meanwhile. */
const freePorts = (n: number): Promise<number[]> => Promise.all(Array.from({ length: n }, () => freePort()));

interface HttpResult extends LoadResult {
  /** CPU µs each member's process spent while the leader measured (index 0: member 1). */
  memberCpuMicros: number[];
  leaderIndex: number;
}

async function httpCluster(): Promise<HttpResult> {
  const ports = await freePorts(3);
  const self = fileURLToPath(import.meta.url);
  const leaders = new Map<string, string>();
  const children = IDS.map((id) =>
    fork(self, ['--worker', String(id), '--ports', ports.join(',')], {
      // BENCH_PROF=dir: a CPU profile per member; BENCH_WORKER_ARGS: more node flags for the members (e.g. a heap sampler).
      execArgv: [
        '--import',
        'tsx',
        ...(process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : []),
        ...(process.env.BENCH_WORKER_ARGS?.split(' ').filter((a) => a !== '') ?? []),
      ],
      stdio: 'inherit',
    }),
  );
  try {
    await Promise.all(
      children.map(
        (c, k) =>
          new Promise<void>((resolve, reject) => {
            c.on('message', (m: FromWorker) => {
              if (m.kind === 'ready') resolve();
              if (m.kind === 'leader') leaders.set(String(k + 1), m.leader);
            });
            c.once('exit', (code) => reject(new Error(`worker ${k + 1} exited with ${code}`)));
          }),
      ),
    );
    const deadline = Date.now() + 20_000;
    let leader = '0';
    while (Date.now() < deadline) {
      const seen = [...leaders.values()].filter((l) => l !== '0');
      if (seen.length === 3 && new Set(seen).size === 1) {
        leader = seen[0] as string;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    if (leader === '0') throw new Error('no agreed leader within 20 s');
    const lc = children[Number.parseInt(leader, 16) - 1];
    if (!lc) throw new Error(`unknown leader ${leader}`);
    // Every member's CPU is read when the leader starts and stops measuring (one IPC round each).
    const readCpu = (): Promise<number[]> =>
      Promise.all(
        children.map(
          (c) =>
            new Promise<number>((resolve) => {
              const on = (m: FromWorker) => {
                if (m.kind !== 'cpu') return;
                c.off('message', on);
                resolve(m.micros);
              };
              c.on('message', on);
              c.send({ kind: 'cpu' } satisfies ToWorker);
            }),
        ),
      );
    let cpuStart: Promise<number[]> = Promise.resolve([]);
    let cpuEnd: Promise<number[]> = Promise.resolve([]);
    const res = await new Promise<LoadResult>((resolve) => {
      lc.on('message', (m: FromWorker) => {
        if (m.kind === 'measuring') {
          if (m.on) cpuStart = readCpu();
          else cpuEnd = readCpu();
        }
        if (m.kind === 'result') resolve(m.result);
      });
      lc.send({ kind: 'load', seconds: SECONDS, window: WINDOW } satisfies ToWorker);
    });
    const [a, b] = await Promise.all([cpuStart, cpuEnd]);
    return { ...res, memberCpuMicros: b.map((x, k) => x - (a[k] ?? 0)), leaderIndex: Number.parseInt(leader, 16) - 1 };
  } finally {
    for (const c of children) {
      c.removeAllListeners('exit');
      if (c.connected) c.send({ kind: 'stop' } satisfies ToWorker);
    }
    const force = setTimeout(() => {
      for (const c of children) c.kill('SIGKILL');
    }, 5000);
    await Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once('exit', r)))));
    clearTimeout(force);
  }
}

async function main(): Promise<void> {
  // --only memory|http: run one cluster alone (for profiling; writes no results).
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
  if (only === 'memory' || only === 'http') {
    const r = only === 'memory' ? await memoryCluster() : await httpCluster();
    console.log(`${only}: ${r.committed} committed in ${r.seconds.toFixed(2)} s = ${Math.round(r.committed / r.seconds)}/s`);
    return;
  }
  const mem = await memoryCluster();
  const perOp = (cpu: number, n: number) => (n === 0 ? Number.NaN : cpu / n);
  const memCpu = perOp(mem.cpuMicros, mem.committed);
  console.log(
    `memory: ${mem.committed} committed in ${mem.seconds.toFixed(2)} s = ${Math.round(mem.committed / mem.seconds)}/s, p50 ${mem.p50.toFixed(1)} ms, p99 ${mem.p99.toFixed(1)} ms, CPU ${memCpu.toFixed(2)} µs/proposal (the process: 3 members + load)`,
  );
  const gen = await generatorAlone(Math.min(SECONDS, 3), WINDOW);
  const genCpu = perOp(gen.cpuMicros, gen.committed);
  console.log(`load generator alone: ${Math.round(gen.committed / gen.seconds)}/s, CPU ${genCpu.toFixed(2)} µs/proposal`);
  const http = await httpCluster();
  const httpCpu = http.memberCpuMicros.map((c) => perOp(c, http.committed));
  const httpCpuAll = httpCpu.reduce((a, b) => a + b, 0);
  const leaderCpu = httpCpu[http.leaderIndex] ?? Number.NaN;
  console.log(
    `http:   ${http.committed} committed in ${http.seconds.toFixed(2)} s = ${Math.round(http.committed / http.seconds)}/s, p50 ${http.p50.toFixed(1)} ms, p99 ${http.p99.toFixed(1)} ms, ` +
      `CPU µs/proposal per member ${httpCpu.map((c, k) => `${k + 1}${k === http.leaderIndex ? ' (leader + load)' : ''}: ${c.toFixed(2)}`).join(', ')}`,
  );
  const memRate = mem.committed / mem.seconds;
  const httpRate = http.committed / http.seconds;
  report(
    'cluster',
    [
      result(
        `3 members, 3 processes over HTTP: committed ${PAYLOAD_BYTES} B proposals (window ${WINDOW})`,
        'ops/s',
        httpRate,
        memRate,
        '>= 0.8',
      ),
      result('3 members over HTTP: commit latency p50', 'ms', http.p50, mem.p50, null),
      result('3 members over HTTP: commit latency p99', 'ms', http.p99, mem.p99, null),
      result(
        '3 members over HTTP: CPU per committed proposal, all 3 processes (baseline: the MemoryLink process)',
        'µs',
        httpCpuAll,
        memCpu,
        null,
      ),
      result(
        '3 members over HTTP: CPU per committed proposal, leader process incl. load (baseline: all 3 processes)',
        'µs',
        leaderCpu,
        httpCpuAll,
        null,
      ),
      result(
        'load generator alone, stub node, same window: CPU per proposal (baseline: HTTP leader process)',
        'µs',
        genCpu,
        leaderCpu,
        '<= 0.2',
      ),
      result('TARGET (not a measurement): HTTP ops/s vs the issue goal of 100 000/s', 'ops/s', httpRate, 100_000, '>= 1'),
    ],
    '1 process over MemoryLink',
  );
}

if (process.argv.includes('--worker')) {
  void worker();
} else {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
