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
 * The last row compares the HTTP figure with the target of 100 000/s
 * (a target, not a measurement). Options: --seconds N (load per cluster, default 5),
 * --window N (proposals in flight, default 4096).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Id, type Logger, Transport } from '@raftwire/core';
import { MemoryNetwork } from '@raftwire/core/testing';
import { NodeHttpLink, startRaftServer } from '@raftwire/adapters/http/node';
import { encodeKvCommand, MemoryStorage, RaftNode } from '@raftwire/raft';
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
}

/** 128-byte KV put commands (keys cycle over 1024 so snapshots stay small); made once, outside the measured path. */
const COMMANDS = Array.from({ length: 1024 }, (_, i) => {
  const key = `k${i}`;
  const head = encodeKvCommand({ op: 'put', key, value: new Uint8Array(0) }).length;
  return encodeKvCommand({ op: 'put', key, value: new Uint8Array(PAYLOAD_BYTES - head).fill(i & 0xff) });
});
const command = (i: number): Uint8Array => COMMANDS[i % COMMANDS.length] as Uint8Array;

/** Keeps `window` proposals in flight on `node` for warmup + `seconds`; measures the part after warmup. */
async function runLoad(node: RaftNode, seconds: number, window: number): Promise<LoadResult> {
  const lat: number[] = [];
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
  let tMeasure = performance.now();
  const one = async (): Promise<void> => {
    while (!stop) {
      const data = command(i++);
      const t = performance.now();
      await node.propose(data);
      if (measuring && !stop) {
        committed++;
        lat.push(performance.now() - t);
      }
      // Over MemoryLink the whole propose → replicate → apply cycle runs in microtasks: every
      // few ms all workers wait for one macrotask turn so timers (raft ticks, the bench's own
      // clock) still run. Over HTTP, I/O gives those turns anyway.
      if (performance.now() - sliceStart > 5) {
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
  tMeasure = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (performance.now() - tMeasure) / 1000;
  const done = committed;
  stop = true;
  await Promise.allSettled(workers);
  clearTimeout(watchdog);
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? Number.NaN;
  return { committed: done, seconds: elapsed, p50: pct(0.5), p99: pct(0.99) };
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
  const r = await runLoad(leader, SECONDS, WINDOW);
  for (const p of parts) {
    await p.node.stop();
    await p.transport.stop();
    p.unserve();
  }
  net.close();
  return r;
}

// --- HTTP: one member per process -------------------------------------------------

type ToWorker = { kind: 'load'; seconds: number; window: number } | { kind: 'stop' };
type FromWorker = { kind: 'ready'; port: number } | { kind: 'leader'; leader: string } | { kind: 'result'; result: LoadResult };

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
      void runLoad(node, m.seconds, m.window).then((result) => send({ kind: 'result', result }));
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

async function freePorts(n: number): Promise<number[]> {
  const { createServer } = await import('node:net');
  const out: number[] = [];
  const servers = [];
  for (let k = 0; k < n; k++) {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const a = s.address();
    out.push(typeof a === 'object' && a ? a.port : 0);
    servers.push(s);
  }
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return out;
}

async function httpCluster(): Promise<LoadResult> {
  const ports = await freePorts(3);
  const self = fileURLToPath(import.meta.url);
  const leaders = new Map<string, string>();
  const children = IDS.map((id) =>
    fork(self, ['--worker', String(id), '--ports', ports.join(',')], {
      execArgv: ['--import', 'tsx', ...(process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : [])],
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
    const res = await new Promise<LoadResult>((resolve) => {
      lc.on('message', (m: FromWorker) => {
        if (m.kind === 'result') resolve(m.result);
      });
      lc.send({ kind: 'load', seconds: SECONDS, window: WINDOW } satisfies ToWorker);
    });
    return res;
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
  const mem = await memoryCluster();
  console.log(
    `memory: ${mem.committed} committed in ${mem.seconds.toFixed(2)} s = ${Math.round(mem.committed / mem.seconds)}/s, p50 ${mem.p50.toFixed(1)} ms, p99 ${mem.p99.toFixed(1)} ms`,
  );
  const http = await httpCluster();
  console.log(
    `http:   ${http.committed} committed in ${http.seconds.toFixed(2)} s = ${Math.round(http.committed / http.seconds)}/s, p50 ${http.p50.toFixed(1)} ms, p99 ${http.p99.toFixed(1)} ms`,
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
        null,
      ),
      result('3 members over HTTP: commit latency p50', 'ms', http.p50, mem.p50, null),
      result('3 members over HTTP: commit latency p99', 'ms', http.p99, mem.p99, null),
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
