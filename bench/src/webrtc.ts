// WebRTC benchmark: the transport's msgapp stream beside a raw data channel of
// the same stack, and raft heartbeat round trips idle vs during a snapshot to
// the same peer — for @roamhq/wrtc, node-datachannel, and Chromium ↔ Chromium
// (one page, driven through playwright-core). All measured in this run.
//   pnpm bench webrtc [roam|node-datachannel|chromium ...]
// Re-executes itself inside tools/loopback-only (WebRTC must only see `lo`) and ends
// with process.exit(): @roamhq/wrtc crashes at a natural exit after a peer connection.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { nodePeerConnectionFactory } from '@raftwire/adapters/webrtc/node';
import { heartbeatRtt, quantile, rawThroughput, transportThroughput } from './_webrtc-cases.js';
import { type Result, report, result } from './report.js';

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
const CHROMIUM = '/usr/bin/chromium';
const wanted = process.argv.slice(2);
const want = (name: string) => wanted.length === 0 || wanted.includes(name);
const results: Result[] = [];

interface Cases {
  raw(total: number): Promise<number>;
  transport(total: number): Promise<{ mbps: number; dropped: number }>;
  heartbeat(size: number): Promise<{ idle: number[]; during: number[]; snapshotMbps: number }>;
}

async function measure(name: string, cases: Cases, total: number, snapshot: number, rounds: number): Promise<void> {
  // Alternate raw and transport runs and keep each one's best, so both see the same machine load.
  let raw = 0;
  let tr = 0;
  let dropped = 0;
  for (let i = 0; i < rounds; i++) {
    raw = Math.max(raw, await cases.raw(total));
    const t = await cases.transport(total);
    tr = Math.max(tr, t.mbps);
    dropped += t.dropped;
  }
  if (dropped > 0) throw new Error(`${name}: the transport dropped ${dropped} messages`);
  // This process's event-loop delay over the heartbeat case: with both members in the Chromium page
  // it only covers the driver, but for Node members it shows how long the one JS thread was held
  // (GC, or the process waiting for a core on a loaded machine) — the tail the heartbeats see too.
  const eld = monitorEventLoopDelay({ resolution: 1 });
  eld.enable();
  const hb = await cases.heartbeat(snapshot);
  eld.disable();
  const f = (xs: number[]) =>
    `p50 ${quantile(xs, 0.5).toFixed(2)} p99 ${quantile(xs, 0.99).toFixed(2)} max ${Math.max(...xs).toFixed(1)} (${xs.length})`;
  console.log(
    `${name}: raw ${raw.toFixed(1)} MB/s, transport ${tr.toFixed(1)} MB/s; heartbeat RTT idle ${f(hb.idle)} ms, ` +
      `during ${snapshot / MiB} MiB snapshots (${hb.snapshotMbps.toFixed(1)} MB/s) ${f(hb.during)} ms; ` +
      `Node event-loop delay over it p99 ${(eld.percentile(99) / 1e6).toFixed(1)} max ${(eld.max / 1e6).toFixed(1)} ms`,
  );
  results.push(result(`${name}: msgapp stream via Transport (raw channel)`, 'MB/s', tr, raw, '>= 0.9'));
  results.push(result(`${name}: heartbeat RTT p50 during snapshot (idle)`, 'ms', quantile(hb.during, 0.5), quantile(hb.idle, 0.5), null));
  results.push(
    result(`${name}: heartbeat RTT p99 during snapshot (idle)`, 'ms', quantile(hb.during, 0.99), quantile(hb.idle, 0.99), '<= 2'),
  );
}

for (const stack of ['roam', 'node-datachannel'] as const) {
  if (!want(stack)) continue;
  const factory = () => nodePeerConnectionFactory({ stack });
  await measure(
    stack,
    {
      raw: (total) => rawThroughput(factory(), total),
      transport: (total) => transportThroughput(factory(), total),
      heartbeat: (size) => heartbeatRtt(factory(), size),
    },
    64 * MiB,
    32 * MiB,
    3,
  );
}

if (want('chromium') && existsSync(CHROMIUM)) {
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
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--allow-loopback-in-peer-connection',
    ],
  });
  try {
    const ctx = await browser.newContext({ permissions: ['camera', 'microphone'] });
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

report('webrtc', results, 'raw channel / idle');
process.exit(0);
