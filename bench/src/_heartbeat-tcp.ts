/**
 * The floor under the heartbeat rows of `pnpm bench http`: the same open-loop round trip (one
 * 8-byte ping every 1 ms on a fixed schedule, each RTT counted from its scheduled send time,
 * answered at once by the peer) between two bare Node processes over raw TCP, idle and while
 * 1 GiB bulk transfers go between the same two processes on a second connection (1 MiB writes
 * of a reused buffer, backpressured; the receiver CRC-32s every chunk as the member fixture does
 * a snapshot body). No HTTP, no transport, no raft: what the machine and Node themselves do to a
 * small message beside a bulk stream.
 *
 * One side per process: `echo` listens and answers pings; `ping <port> <minSamples> <bulkBytes>`
 * runs the measurement and prints `{idle, busy, mbs}` (RTTs in ms).
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { crc32 } from '../../packages/adapters/test/http/fixtures/crc32.js';
import { percentile } from './_heartbeat.js';
import { type Result, result } from './report.js';

const now = (): number => performance.timeOrigin + performance.now();

async function echo(): Promise<void> {
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    s.on('error', () => {});
    s.once('data', (first: Buffer) => {
      if (first[0] === 0x50) {
        // 'P': the ping connection; pings are 8 bytes, answered as they come.
        let acc: Buffer = first.subarray(1);
        const answer = (): void => {
          const n = acc.length - (acc.length % 8);
          if (n > 0) s.write(acc.subarray(0, n));
          acc = acc.subarray(n);
        };
        answer();
        s.on('data', (d: Buffer) => {
          acc = acc.length === 0 ? d : Buffer.concat([acc, d]);
          answer();
        });
      } else {
        let c = crc32(first.subarray(1));
        s.on('data', (d: Buffer) => {
          c = crc32(d, c);
        });
      }
    });
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: (server.address() as net.AddressInfo).port })}\n`));
}

async function ping(port: number, minSamples: number, bulkBytes: number): Promise<void> {
  const dial = async (tag: string): Promise<net.Socket> => {
    const s = net.connect(port, '127.0.0.1');
    s.setNoDelay(true);
    await new Promise((r) => s.once('connect', r));
    s.write(tag);
    return s;
  };
  const p = await dial('P');
  const bulk = await dial('B');
  const sent = new Map<number, number>();
  const idle: number[] = [];
  const busy: number[] = [];
  let busyOn = false;
  let acc: Buffer = Buffer.alloc(0);
  p.on('data', (d: Buffer) => {
    acc = acc.length === 0 ? d : Buffer.concat([acc, d]);
    const t = now();
    let i = 0;
    for (; i + 8 <= acc.length; i += 8) {
      const seq = acc.readDoubleLE(i);
      const at = sent.get(seq);
      if (at === undefined) continue;
      sent.delete(seq);
      (busyOn ? busy : idle).push(t - at);
    }
    acc = acc.subarray(i);
  });
  const t0 = now();
  let due = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = (): void => {
    const t = now();
    while (t0 + due <= t) {
      const b = Buffer.alloc(8);
      b.writeDoubleLE(due);
      sent.set(due, t0 + due);
      p.write(b);
      due++;
    }
    timer = setTimeout(tick, Math.max(0, t0 + due - now()));
  };
  tick();
  await new Promise((r) => setTimeout(r, minSamples * 1.2 + 200));
  busyOn = true;
  const chunk = Buffer.alloc(1 << 20, 0x5a);
  let bytes = 0;
  const start = now();
  while (busy.length < minSamples || bytes === 0) {
    for (let w = 0; w < bulkBytes; w += chunk.length) {
      if (!bulk.write(chunk)) await new Promise((r) => bulk.once('drain', r));
    }
    bytes += bulkBytes;
  }
  const ms = now() - start;
  clearTimeout(timer);
  process.stdout.write(`${JSON.stringify({ idle, busy, mbs: bytes / 1e6 / (ms / 1000) })}\n`);
  p.destroy();
  bulk.destroy();
}

/** Runs the floor on two fresh processes; returns its rows. */
export async function tcpHeartbeatRows(opts: { quick?: boolean; log?: (line: string) => void } = {}): Promise<Result[]> {
  const log = opts.log ?? console.log;
  const minSamples = opts.quick ? 500 : 3000;
  const size = opts.quick ? 256 << 20 : 1 << 30;
  const self = fileURLToPath(import.meta.url);
  const run = (args: string[]) => spawn(process.execPath, ['--import', 'tsx', self, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = (child: ReturnType<typeof run>): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      let buf = '';
      child.stdout?.on('data', (d: Buffer) => {
        buf += d.toString();
        const nl = buf.indexOf('\n');
        if (nl !== -1) resolve(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
      });
      child.once('exit', (code) => reject(new Error(`tcp heartbeat peer exited ${code}`)));
    });
  const peer = run(['echo']);
  try {
    const { port } = (await line(peer)) as { port: number };
    const r = (await line(run(['ping', String(port), String(minSamples), String(size)]))) as {
      idle: number[];
      busy: number[];
      mbs: number;
    };
    log(
      `(raw TCP floor: ${r.idle.length} pings idle, ${r.busy.length} during ${size >> 20} MiB bulk transfers at ${r.mbs.toFixed(0)} MB/s)`,
    );
    const idleP99 = percentile(r.idle, 99);
    return [
      result('raw TCP ping RTT p99 (idle, open loop 1/ms; floor)', 'ms', idleP99, idleP99, null),
      result(`raw TCP ping RTT p99 during ${size >> 20} MiB bulk transfer (floor)`, 'ms', percentile(r.busy, 99), idleP99, null),
    ];
  } finally {
    peer.kill();
  }
}

const [mode, a, b, c] = process.argv.slice(2);
if (mode === 'echo') void echo();
else if (mode === 'ping') void ping(Number(a), Number(b), Number(c)).then(() => process.exit(0));
