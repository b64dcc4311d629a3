/**
 * `pnpm bench edge`: msgapp stream throughput when the sending member's raft
 * protocol is served by `createFetchHandler` on Deno (Deno.serve) and on Bun
 * (Bun.serve), beside the Node server (`startRaftServer`, node:http) in the
 * same run. The sender is a child process on each runtime
 * (`_edge-sender.ts`); the receiver is a Node Transport in this process,
 * dialling the sender's msgapp stream with NodeHttpLink, timing the first and
 * last arrival. Same wire bytes for every runtime; the ratio is runtime / Node.
 *
 * Options: `--quick` (smaller counts, for a smoke run).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NodeHttpLink, startRaftServer } from '../../packages/adapters/src/http/node/index.js';
import { MessageType, type ProtocolHandler, Transport } from '../../packages/core/src/index.js';
import { requireRuntime, runtimeCommand } from '../../tools/runtimes.mjs';
import { msgappWireBytes } from './_msgapp-bytes.js';
import { type Result, report, result } from './report.js';

const quick = process.argv.includes('--quick');
const sender = fileURLToPath(new URL('./_edge-sender.ts', import.meta.url));
const RUNTIMES = ['node', 'deno', 'bun'] as const;
type Runtime = (typeof RUNTIMES)[number];

const now = (): number => performance.timeOrigin + performance.now();

/** The receiver: counts MsgApps from member 1 with first and last arrival times. */
async function receiver() {
  let received = 0;
  let firstAt = 0;
  let lastAt = 0;
  let want = Number.POSITIVE_INFINITY;
  let reached: (() => void) | undefined;
  let handler: ProtocolHandler | undefined;
  const server = await startRaftServer({
    handler: (req) => (handler ? handler(req) : Promise.resolve({ status: 503, headers: {} })),
    host: '127.0.0.1',
    port: 0,
  });
  const link = new NodeHttpLink({});
  const transport = new Transport({
    id: 2n,
    clusterId: 0x1000n,
    urls: [server.url],
    link,
    raft: {
      process(m) {
        if (m.type !== MessageType.MsgApp) return;
        const t = now();
        if (received === 0) firstAt = t;
        lastAt = t;
        received++;
        if (received >= want) reached?.();
      },
      isIdRemoved: () => false,
      reportUnreachable() {},
      reportSnapshot() {},
      async receiveSnapshot() {},
    },
  });
  handler = transport.handler;
  transport.start();
  return {
    url: server.url,
    /** Receives `count` MsgApps from a sender at `url`; resolves with the seconds from first to last. */
    async run(url: string, count: number): Promise<number> {
      received = 0;
      want = count;
      const done = new Promise<void>((resolve) => {
        reached = resolve;
      });
      transport.addPeer(1n, [url]);
      const timeout = setTimeout(() => reached?.(), 180_000);
      await done;
      clearTimeout(timeout);
      transport.removePeer(1n);
      if (received < count) throw new Error(`only ${received} of ${count} MsgApps arrived in 180 s`);
      return (lastAt - firstAt) / 1000;
    },
    async close() {
      await transport.stop();
      link.close();
      await server.close();
    },
  };
}

async function measure(rx: Awaited<ReturnType<typeof receiver>>, runtime: Runtime, count: number, entryBytes: number, perMsg: number) {
  const args = [rx.url, String(count), String(entryBytes), String(perMsg)];
  const cmd =
    runtime === 'node' ? { command: process.execPath, args: ['--import', 'tsx', sender, ...args] } : runtimeCommand(runtime, sender, args);
  const child = spawn(cmd.command, cmd.args, { stdio: ['ignore', 'pipe', 'inherit'], cwd: fileURLToPath(new URL('..', import.meta.url)) });
  try {
    const first = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`${runtime} sender exited (${code}) before listening`)));
      createInterface({ input: child.stdout }).once('line', resolve);
    });
    const { url } = JSON.parse(first) as { url: string };
    const seconds = await rx.run(url, count);
    return msgappWireBytes(count, entryBytes, perMsg) / seconds;
  } finally {
    child.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  for (const r of ['deno', 'bun']) requireRuntime(r);
  const rx = await receiver();
  const results: Result[] = [];
  const MB = 1e6;
  try {
    for (const [entryBytes, perMsg] of [
      [1024, 1],
      [1024, 64],
    ] as const) {
      const count = perMsg === 1 ? (quick ? 5_000 : 50_000) : quick ? 200 : 2_000;
      const shape = `${entryBytes} B entries, ${perMsg} per MsgApp`;
      const rate = new Map<Runtime, number>();
      for (const runtime of RUNTIMES) rate.set(runtime, await measure(rx, runtime, count, entryBytes, perMsg));
      const node = rate.get('node') as number;
      const bytesPerEntry = msgappWireBytes(count, entryBytes, perMsg) / (count * perMsg);
      for (const runtime of ['deno', 'bun'] as const) {
        const v = rate.get(runtime) as number;
        results.push(result(`msgapp stream served by the fetch handler on ${runtime}, ${shape}`, 'MB/s', v / MB, node / MB, null));
        results.push(
          result(
            `msgapp stream served by the fetch handler on ${runtime}, ${shape} (entries)`,
            'entries/s',
            v / bytesPerEntry,
            node / bytesPerEntry,
            null,
          ),
        );
      }
    }
  } finally {
    await rx.close();
  }
  report('edge', results, 'Node server, node:http');
}

await main();
