/**
 * The heartbeat section of `pnpm bench http` (kept apart from the msgapp rows of http.ts): heartbeat
 * round trips over the message streams between two member processes, open loop (one MsgHeartbeat
 * every 1 ms on a fixed schedule whatever the answers; each RTT counted from its scheduled send
 * time, so a stalled sender loop counts too), idle and while 1 GiB snapshots go to the same peer.
 * Every snapshot body is CRC-32 checked on arrival against the sender's bytes. GC counts by kind
 * (PerformanceObserver 'gc') of both processes are printed beside the figures.
 *
 * `rateLimit` (bytes/s) sets the Transport's snapshotRateLimit (off by default); rows measured with
 * it say so in their names; so do those of `pacing` (the Transport's snapshotPacing, off by default).
 *
 * Standalone: `node --import tsx bench/src/_heartbeat.ts [--quick] [--rate-limit <bytes/s>] [--pacing]`
 * (prints the rows, writes nothing).
 */
import { blocksCrc } from '../../packages/adapters/test/http/fixtures/crc32.js';
import { type MemberEvent, MemberProcess } from '../../packages/adapters/test/http/fixtures/member-process.js';
import { type Result, report, result } from './report.js';

const CLUSTER = '1000';

export function percentile(xs: readonly number[], p: number): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}

export interface HeartbeatOptions {
  quick?: boolean;
  /** Transport snapshotRateLimit, bytes/s; undefined: unlimited (the default). */
  rateLimit?: number;
  /** Transport snapshotPacing on the sender (off by default). */
  pacing?: boolean;
  log?: (line: string) => void;
}

const gcText = (s: MemberEvent): string => {
  const g = (s['gc'] ?? {}) as Record<string, number>;
  return `minor ${g['minor'] ?? 0}, major ${g['major'] ?? 0}, incremental ${g['incremental'] ?? 0}, weakcb ${g['weakcb'] ?? 0} (${(s['gcMs'] as number).toFixed(0)} ms)`;
};

/** Runs the section on a fresh pair of members; returns its rows. */
export async function heartbeatRows(opts: HeartbeatOptions = {}): Promise<Result[]> {
  const log = opts.log ?? console.log;
  const minSamples = opts.quick ? 500 : 3000;
  const snapSize = opts.quick ? 256 * 1024 * 1024 : 1024 * 1024 * 1024;
  const limit = opts.rateLimit;
  const pacing = opts.pacing === true;
  const [a, b] = await Promise.all([
    MemberProcess.start({
      id: '1',
      clusterId: CLUSTER,
      respond: true,
      ...(limit !== undefined ? { snapshotRateLimit: limit } : {}),
      ...(pacing ? { snapshotPacing: true } : {}),
    }),
    MemberProcess.start({ id: '2', clusterId: CLUSTER, respond: true, crc: true }),
  ]);
  try {
    a.command({ cmd: 'addPeer', id: '2', url: b.url });
    b.command({ cmd: 'addPeer', id: '1', url: a.url });
    const attached = (m: MemberProcess, type: string) =>
      m.find((e: MemberEvent) => e.ev === 'attached' && e['type'] === type && e['direction'] === 'out', 20_000, `${type} writer`);
    await Promise.all([attached(a, 'message'), attached(b, 'message')]);
    const expectedCrc = blocksCrc(snapSize);
    const resetBoth = () => Promise.all([a.ask({ cmd: 'reset' }, 'reset-done'), b.ask({ cmd: 'reset' }, 'reset-done')]);
    const stats = () => Promise.all([a.ask({ cmd: 'stats' }, 'stats'), b.ask({ cmd: 'stats' }, 'stats')]);
    const loop = (s: MemberEvent) => `${(s['loopDelayP50'] as number).toFixed(1)}/${(s['loopDelayP99'] as number).toFixed(1)}`;
    interface Hb {
      samples: number[];
      flags: boolean[];
      sendLag: number[];
      forward: number[];
      lost: number;
    }
    const hb = async (during: () => Promise<void>): Promise<Hb> => {
      const done = a.next((e) => e.ev === 'hb', 600_000, 'heartbeats');
      a.command({ cmd: 'hb', to: '2', intervalMs: 1 });
      await during();
      a.command({ cmd: 'hb-stop' });
      const r = await done;
      return {
        samples: r['samples'] as number[],
        flags: r['during'] as boolean[],
        sendLag: r['sendLag'] as number[],
        forward: r['forward'] as number[],
        lost: r['lost'] as number,
      };
    };
    // Where a round trip's time goes (same clock in both processes): the sender's timer running late,
    // scheduled → arrival at the receiver (sender loop + wire + receiver loop), arrival → answer back.
    const legs = (h: Hb, keep: (i: number) => boolean): string => {
      const pick = (xs: number[]) => xs.filter((_, i) => keep(i));
      const back = h.samples.map((x, i) => x - (h.forward[i] as number));
      const f = (xs: number[]) => `${percentile(pick(xs), 50).toFixed(1)}/${percentile(pick(xs), 99).toFixed(1)}`;
      return `p50/p99 ms: sender timer late ${f(h.sendLag)}, scheduled → at receiver ${f(h.forward)}, receiver → answer back ${f(back)}`;
    };

    // Warm-up (JIT, connections): a short heartbeat run and one small snapshot.
    await hb(() => new Promise((r) => setTimeout(r, 500)));
    await a.ask({ cmd: 'snapshot', to: '2', size: 32 << 20, blocks: true }, 'snapshot-sent', 120_000);

    await resetBoth();
    const idle = await hb(async () => {
      // ≥ minSamples at 1/ms; 20 % spare for the answers still in flight.
      await new Promise((r) => setTimeout(r, minSamples * 1.2 + 200));
    });
    const [ia, ib] = await stats();
    log(
      `(idle: ${idle.samples.length} heartbeats, ${idle.lost} lost; event-loop delay p50/p99 ms sender ${loop(ia)}, receiver ${loop(ib)})`,
    );
    log(`(idle legs, ${legs(idle, () => true)})`);
    log(`(idle GCs: sender ${gcText(ia)}; receiver ${gcText(ib)})`);

    await resetBoth();
    let snapshots = 0;
    let snapMs = 0;
    let busyCount = 0;
    const busy = await hb(async () => {
      // Back-to-back 1 GiB snapshots until ≥ minSamples heartbeats went out during one.
      while (busyCount < minSamples || snapshots === 0) {
        const s = await a.ask({ cmd: 'snapshot', to: '2', size: snapSize, blocks: true }, 'snapshot-sent', 600_000);
        if (s['status'] !== 'finish') throw new Error(`snapshot ${String(s['status'])}`);
        snapshots++;
        snapMs += s['ms'] as number;
        busyCount += Math.floor(s['ms'] as number); // one heartbeat per ms
      }
    });
    const [sa, sb] = await stats();
    const got = sb['snapshots'] as { size: number; received: number; crc: number; chunks: number; maxChunk: number }[];
    log(`(receiver body chunks per snapshot: ${got.map((g) => `${g.chunks} (largest ${g.maxChunk} B)`).join(', ')})`);
    if (got.length !== snapshots) throw new Error(`receiver saw ${got.length} of ${snapshots} snapshots`);
    for (const g of got) {
      if (g.received !== snapSize || g.crc !== expectedCrc) {
        throw new Error(`snapshot arrived wrong: ${g.received} of ${snapSize} bytes, crc ${g.crc} != ${expectedCrc}`);
      }
    }
    const during = busy.samples.filter((_, i) => busy.flags[i]);
    const GiB = snapSize / (1 << 20);
    const mbs = (snapshots * snapSize) / 1e6 / (snapMs / 1000);
    const tag = (limit !== undefined ? `, snapshotRateLimit ${(limit / 1e6).toFixed(0)} MB/s` : '') + (pacing ? ', snapshotPacing on' : '');
    if (pacing) {
      const p = (sa['pacers'] as Record<string, Record<string, number | null>>)['2'] ?? {};
      const rate = p['rate'];
      log(
        `(sender's pacer: idle RTT p99 ${(p['idleRttP99'] ?? Number.NaN).toFixed(2)} ms, target ${(p['targetMs'] ?? Number.NaN).toFixed(2)} ms, ${p['crowded']} of ${p['samplesDuring']} round trips during the snapshots over it, paced ${((p['waitedMs'] ?? 0) / 1000).toFixed(1)} s, rate now ${rate === null || rate === undefined ? 'unlimited' : `${(rate / 1e6).toFixed(0)} MB/s`})`,
      );
    }
    log(
      `(during: ${snapshots} × ${GiB} MiB snapshots at ${mbs.toFixed(0)} MB/s${tag}, CRC-32 checked on arrival: ok; ${during.length} heartbeats during them, ${busy.lost} lost; event-loop delay p50/p99 ms sender ${loop(sa)}, receiver ${loop(sb)})`,
    );
    log(`(during legs, ${legs(busy, (i) => busy.flags[i] === true)})`);
    log(`(during GCs: sender ${gcText(sa)}; receiver ${gcText(sb)})`);
    if (idle.samples.length < minSamples || during.length < minSamples) {
      throw new Error(`too few heartbeat samples: ${idle.samples.length} idle, ${during.length} during`);
    }
    const idleP50 = percentile(idle.samples, 50);
    const idleP99 = percentile(idle.samples, 99);
    const what = `${GiB} MiB snapshot${tag}`;
    const run = tag === '' ? '' : `, run${tag}`;
    return [
      result(`heartbeat RTT p50 (idle, open loop 1/ms)${run}`, 'ms', idleP50, idleP50, null),
      result(`heartbeat RTT p99 (idle, open loop 1/ms)${run}`, 'ms', idleP99, idleP99, null),
      result(`heartbeat RTT p50 during ${what}`, 'ms', percentile(during, 50), idleP50, null),
      result(`heartbeat RTT p99 during ${what}`, 'ms', percentile(during, 99), idleP99, '<= 2'),
      result(`snapshot throughput during heartbeats${tag}`, 'MB/s', mbs, mbs, null),
    ];
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--rate-limit');
  const rateLimit = i === -1 ? undefined : Number(process.argv[i + 1]);
  heartbeatRows({
    quick: process.argv.includes('--quick'),
    pacing: process.argv.includes('--pacing'),
    ...(rateLimit !== undefined ? { rateLimit } : {}),
  })
    .then((rows) => {
      report('http-heartbeat', rows, 'idle', { write: false });
      process.exit(0);
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
