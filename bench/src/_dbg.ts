import { Transport } from '@raftwire/core';
import { MemoryNetwork } from '@raftwire/core/testing';
import { encodeKvCommand, MemoryStorage, RaftNode } from '@raftwire/raft';
const net = new MemoryNetwork();
const mk = (lvl: string) => (o: any, m?: string) => {
  if (lvl !== 'warn' && lvl !== 'error') return;
  console.log(lvl, m, JSON.stringify(o, (_k, v) => (typeof v === 'bigint' ? String(v) : v)).slice(0, 200));
};
const logger: any = { trace: mk('trace'), debug: mk('debug'), info: mk('info'), warn: mk('warn'), error: mk('error'), child: () => logger };
const IDS = [1n, 2n, 3n];
const url = (id: bigint) => `http://127.0.0.1:${40000 + Number(id)}`;
const peers = IDS.map((id) => ({ id, url: url(id) }));
const nodes = IDS.map((id) => {
  const node = new RaftNode({ id, peers, storage: new MemoryStorage(), logger, tickMs: Number(process.env.TICK ?? 100) });
  const t = new Transport({ id, clusterId: 1n, urls: [url(id)], link: net.link(url(id)), raft: node, logger });
  net.serve(url(id), t.handler);
  t.start();
  node.setTransport(t);
  return node;
});
await Promise.all(nodes.map((n) => n.start()));
const t0 = Date.now();
let l;
while (!(l = nodes.find((n) => n.status().raftState === 'StateLeader'))) await new Promise((r) => setTimeout(r, 20));
console.log('leader', l.id, Date.now() - t0);
let lastA = performance.now();
const gaps: number[] = [];
let nApplied = 0;
l.on('applied', () => {
  const t = performance.now();
  gaps.push(t - lastA);
  lastA = t;
  nApplied++;
});
const eventLoopUtilization = (await import('node:perf_hooks')).performance.eventLoopUtilization;
const elu0 = eventLoopUtilization();
const W = Number(process.argv[2] ?? 256);
let done = 0;
let i = 0;
const tt = Date.now();
const iv = setInterval(() => console.log('done', done, l.status().commit, l.status().applied, l.status().lastIndex), 500);
await Promise.all(
  Array.from({ length: W }, async () => {
    while (Date.now() - tt < 3000) {
      await l.propose(encodeKvCommand({ op: 'put', key: `k${i++ % 1024}`, value: new Uint8Array(110) }), {
        signal: AbortSignal.timeout(10000),
      });
      done++;
    }
  }),
);
clearInterval(iv);
console.log(
  'ELU',
  eventLoopUtilization(elu0).utilization.toFixed(2),
  'applied events',
  nApplied,
  'gaps>5ms',
  gaps.filter((g) => g > 5).length,
  'sum gaps>5',
  gaps
    .filter((g) => g > 5)
    .reduce((a, b) => a + b, 0)
    .toFixed(0),
  'max',
  Math.max(...gaps).toFixed(1),
);
console.log('rate', done / ((Date.now() - tt) / 1000));
process.exit(0);
