/**
 * `pnpm bench http`: the HTTP adapter carrying a real Transport between two
 * Node processes on 127.0.0.1 (each a `member.ts` child: Transport served by
 * startRaftServer, NodeHttpLink client).
 *
 * (a) msgapp stream throughput with 1 KiB and 64 B entries, 1 and 64 per MsgApp, measured at the
 *     receiver's `process` (first to last arrival), beside raw node:net TCP
 *     moving the same wire bytes between two processes in the same run; for 64 B × 1 (where
 *     the codec, not the socket, is the limit) also beside the bare codec's encode + decode rate
 *     of the same frames in this process (bench/src/_msgapp-codec.ts). Goals are issue 12's.
 *     Then heap bytes allocated per 64 B MsgApp, sender + receiver (both members measure their
 *     own, packages/adapters/test/http/fixtures/alloc-meter.ts), beside the bare
 *     codec's allocation per encode + decode measured the same way, and the budget.
 * (b) heartbeat round trip (MsgHeartbeat → MsgHeartbeatResp over the message
 *     streams), open loop at 1/ms, p50/p99 idle and while 1 GiB snapshots go to the same peer,
 *     with GC counts of both processes: bench/src/_heartbeat.ts, after the same round trip between
 *     two bare Node processes over raw TCP beside a bulk stream (the floor, _heartbeat-tcp.ts); then again on a fresh pair with
 *     the sender's adaptive snapshotPacing on (off by default; those rows say so).
 * (c) pipeline POSTs per second (4 concurrent) with NodeHttpLink and
 *     FetchLink, beside a bare node:http keep-alive client.
 *
 * Options: `--quick` (smaller counts, for a smoke run), `--snapshot-rate-limit <bytes/s>`,
 * `--msgapp-only` (section (a) alone, not written to bench/results), `--only heartbeat`
 * (section (b)'s first run alone, printed, not written; with `--snapshot-pacing` that run paced).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type MemberEvent, MemberProcess } from '../../packages/adapters/test/http/fixtures/member-process.js';
import { heartbeatRows } from './_heartbeat.js';
import { tcpHeartbeatRows } from './_heartbeat-tcp.js';
import { msgappWireBytes } from './_msgapp-bytes.js';
import { codecAllocPerMessage, codecRate } from './_msgapp-codec.js';
import { type Result, report, result } from './report.js';

const quick = process.argv.includes('--quick');
/** `--msgapp-only`: section (a) alone, for profiling the hot path; nothing is written. */
const msgappOnly = process.argv.includes('--msgapp-only');
const rateAt = process.argv.indexOf('--snapshot-rate-limit');
/** `--snapshot-rate-limit <bytes/s>`: the heartbeat rows run with the Transport's snapshotRateLimit (their names say so). */
const rateLimit = rateAt === -1 ? undefined : Number(process.argv[rateAt + 1]);
/** `--snapshot-pacing`: with `--only heartbeat`, the heartbeat rows run with the Transport's snapshotPacing alone. */
const pacingOnly = process.argv.includes('--snapshot-pacing');
const onlyAt = process.argv.indexOf('--only');
/** `--only heartbeat`: run section (b) alone (no msgapp or pipeline rows); prints the rows and writes nothing. */
const only = onlyAt === -1 ? undefined : process.argv[onlyAt + 1];
const CLUSTER = '1000';
const tcpPeer = fileURLToPath(new URL('./_tcp-peer.ts', import.meta.url));

function lineOf(child: ReturnType<typeof spawn>): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl !== -1) {
        child.stdout!.off('data', onData);
        const rest = buf.slice(nl + 1);
        resolve(JSON.parse(buf.slice(0, nl)) as Record<string, number>);
        if (rest) child.stdout!.unshift(Buffer.from(rest));
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`tcp peer exited ${code}`)));
  });
}

/** Raw TCP between two processes: bytes per second from first to last byte at the sink. */
async function rawTcp(total: number, chunk: number): Promise<number> {
  const run = (args: string[]) => spawn(process.execPath, ['--import', 'tsx', tcpPeer, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const sink = run(['sink', String(total)]);
  const { port } = await lineOf(sink);
  const source = run(['source', String(port), String(total), String(chunk)]);
  const done = await lineOf(sink);
  await Promise.all([sink, source].map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
  return (done.bytes as number) / (((done.lastAt as number) - (done.firstAt as number)) / 1000);
}

async function pair(): Promise<{ a: MemberProcess; b: MemberProcess; close(): Promise<void> }> {
  const [a, b] = await Promise.all([
    MemberProcess.start({ id: '1', clusterId: CLUSTER, respond: true }),
    MemberProcess.start({ id: '2', clusterId: CLUSTER, respond: true }),
  ]);
  a.command({ cmd: 'addPeer', id: '2', url: b.url });
  b.command({ cmd: 'addPeer', id: '1', url: a.url });
  const attached = (m: MemberProcess, type: string) =>
    m.find((e: MemberEvent) => e.ev === 'attached' && e['type'] === type && e['direction'] === 'out', 20_000, `${type} writer`);
  await Promise.all([attached(a, 'msgappv2'), attached(a, 'message'), attached(b, 'message')]);
  return { a, b, close: async () => void (await Promise.all([a.stop(), b.stop()])) };
}

async function throughput(a: MemberProcess, b: MemberProcess, count: number, entryBytes: number, perMsg = 1): Promise<number> {
  await b.ask({ cmd: 'reset' }, 'reset-done');
  const reached = b.next((e) => e.ev === 'reached', 120_000, `${count} MsgApps`);
  b.command({ cmd: 'expect', count });
  a.command({ cmd: 'flood', to: '2', count, entryBytes, perMsg });
  const r = await reached;
  const seconds = ((r['lastAt'] as number) - (r['firstAt'] as number)) / 1000;
  return msgappWireBytes(count, entryBytes, perMsg) / seconds;
}

async function main(): Promise<void> {
  const results: Result[] = [];
  if (only !== undefined) {
    if (only !== 'heartbeat') throw new Error(`--only: unknown section ${only} (known: heartbeat)`);
    results.push(...(await tcpHeartbeatRows({ quick })));
    results.push(...(await heartbeatRows({ quick, pacing: pacingOnly, ...(rateLimit !== undefined ? { rateLimit } : {}) })));
    report('http', results, 'idle', { write: false });
    process.exit(0);
  }
  const MB = 1e6;
  const { a, b, close } = await pair();
  try {
    // (a) msgapp stream throughput vs raw TCP, same wire bytes. Two shapes: one entry per MsgApp
    // (etcd's BenchmarkSendingMsgApp), and 64 entries per MsgApp, as raft batches them under load.
    // Goals from issue 12: the socket is the limit for big frames, the codec for 64 B × 1.
    for (const [entryBytes, entries, perMsg, goal] of [
      [1024, quick ? 20_000 : 200_000, 1, '>= 0.5'],
      [64, quick ? 50_000 : 500_000, 1, null],
      [1024, quick ? 20_000 * 8 : 200_000 * 4, 64, '>= 0.8'],
      [64, quick ? 50_000 * 8 : 500_000 * 4, 64, '>= 0.5'],
    ] as const) {
      const count = entries / perMsg;
      const shape = perMsg === 1 ? `${entryBytes} B entries, 1 per MsgApp` : `${entryBytes} B entries, ${perMsg} per MsgApp`;
      // Warm-up: twice 100 000 MsgApps (400 000 entries for the 64-entry shapes), whatever the
      // measured count, so both members' hot code is optimized before the measured run (a
      // 5 000-message warm-up left the 1-entry shapes at a third of their rate).
      const warm = Math.min(100_000, Math.ceil(400_000 / perMsg));
      for (let w = 0; w < 2; w++) await throughput(a, b, warm, entryBytes, perMsg);
      const wire = msgappWireBytes(count, entryBytes, perMsg);
      const transport = await throughput(a, b, count, entryBytes, perMsg);
      const tcp = await rawTcp(wire, 64 * 1024);
      results.push(result(`msgapp stream, ${shape}`, 'MB/s', transport / MB, tcp / MB, goal));
      const bytesPerEntry = wire / entries;
      results.push(result(`msgapp stream, ${shape} (entries)`, 'entries/s', transport / bytesPerEntry, tcp / bytesPerEntry, null));
      if (entryBytes === 64 && perMsg === 1) {
        const codec = codecRate(entryBytes, perMsg, 50_000);
        results.push(result(`msgapp stream, ${shape} (vs the bare codec's encode + decode)`, 'MB/s', transport / MB, codec / MB, '>= 0.8'));
      }
    }

    // Heap bytes allocated per 64 B MsgApp, sender + receiver, each member measuring its own
    // (messages built before the sender's meter starts: that is raft's allocation).
    {
      const count = quick ? 20_000 : 100_000;
      await throughput(a, b, 5000, 64, 1); // warm-up
      await b.ask({ cmd: 'reset' }, 'reset-done');
      const reached = b.next((e) => e.ev === 'reached', 120_000, `${count} MsgApps`);
      b.command({ cmd: 'expect', count, measureAlloc: true });
      a.command({ cmd: 'flood', to: '2', count, entryBytes: 64, perMsg: 1, measureAlloc: true });
      const received = await reached;
      const sent = await a.ask({ cmd: 'alloc-stop' }, 'alloc');
      const perMsgApp = ((sent['bytes'] as number) + (received['allocBytes'] as number)) / count;
      const codec = codecAllocPerMessage(64, 1, count);
      results.push(
        result("heap bytes allocated per 64 B MsgApp, sent + received (vs the bare codec's encode + decode)", 'B', perMsgApp, codec, null),
      );
      results.push(
        result('TARGET (not a measurement): heap bytes per 64 B MsgApp vs the issue budget of 256 B', 'B', perMsgApp, 256, '<= 1'),
      );
    }

    if (msgappOnly) {
      report('http', results, 'raw TCP / bare codec', { write: false });
      return;
    }
    // (c) pipeline POSTs per second, 4 concurrent, each link beside a bare node:http client
    const posts = quick ? 2000 : 10_000;
    const run = async (link: string, count: number): Promise<number> => {
      const r = await a.ask({ cmd: 'pipeline', url: b.url, to: '2', count, concurrency: 4, link }, 'pipeline-done', 120_000);
      if (r['ok'] !== count) throw new Error(`pipeline ${link}: ${r['ok']}/${count} answered 204 (last ${r['status']})`);
      return (count * 1000) / (r['ms'] as number);
    };
    // Each client warmed up (JIT, connections) right before it is measured.
    const rate = async (link: string): Promise<number> => {
      await run(link, Math.ceil(posts / 4));
      return run(link, posts);
    };
    const raw = await rate('raw');
    const nodeLink = await rate('node');
    const fetchLink = await rate('fetch');
    results.push(result('pipeline POST /raft, NodeHttpLink (vs bare node:http)', 'req/s', nodeLink, raw, null));
    results.push(result('pipeline POST /raft, FetchLink (vs NodeHttpLink)', 'req/s', fetchLink, nodeLink, null));
  } finally {
    await close();
  }
  // (b) heartbeats idle and during 1 GiB snapshots, on a fresh pair (bench/src/_heartbeat.ts), after
  // the same round trip over bare TCP beside a bulk stream (the floor, bench/src/_heartbeat-tcp.ts).
  results.push(...(await tcpHeartbeatRows({ quick })));
  results.push(...(await heartbeatRows({ quick, ...(rateLimit !== undefined ? { rateLimit } : {}) })));
  // The same on another fresh pair with the sender's snapshotPacing on (off by default): rows named so.
  results.push(...(await heartbeatRows({ quick, pacing: true })));
  report('http', results, 'raw TCP / idle / bare node:http');
  process.exit(0);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
