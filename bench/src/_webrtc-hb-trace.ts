/**
 * Where a heartbeat's round trip goes during a snapshot, from the per-hop timestamps that
 * `RAFTWIRE_BENCH_HB_TRACE=<prefix> pnpm bench webrtc <node stack> --only heartbeat` makes
 * each Node member write (`<prefix>-1.json`, `<prefix>-2.json`; `_webrtc-member.ts`):
 *   node --import tsx bench/src/_webrtc-hb-trace.ts <prefix>
 * Member 1 sends the heartbeats, member 2 answers. Per heartbeat sent during a snapshot:
 *   aQ  member 1: heartbeat created → its data-channel frame handed to the stack (`send`)
 *   ab  member 1's `send` → member 2's `onMessage` of that frame (both SCTP stacks, the kernel,
 *       the wake-up of member 2's event loop)
 *   bP  member 2: frame received → MsgHeartbeat processed
 *   bQ  member 2: processed → answer frame handed to its stack
 *   ba  member 2's `send` → member 1's `onMessage` of the answer
 *   aP  member 1: answer received → MsgHeartbeatResp processed
 *   ahead  snapshot bytes member 2 received between member 1's `send` of the heartbeat and
 *       member 2's receipt of it (snapshot data that was inside the stacks ahead of it)
 * Timestamps are each process's `performance.timeOrigin + performance.now()` (one machine).
 */
import { readFileSync } from 'node:fs';

type Trace = { origin: number } & Record<'msgSend' | 'msgRecv' | 'snapSend' | 'snapRecv' | 'hbProc' | 'resp', number[]>;
const prefix = process.argv[2];
if (prefix === undefined) throw new Error('usage: _webrtc-hb-trace.ts <prefix>');
const load = (n: number): Trace => JSON.parse(readFileSync(`${prefix}-${n}.json`, 'utf8')) as Trace;
const A = load(1);
const B = load(2);
const tuples = (xs: number[], k: number): number[][] => {
  const out: number[][] = [];
  for (let i = 0; i + k <= xs.length; i += k) out.push(xs.slice(i, i + k));
  return out;
};
const times = (xs: number[]): number[] => tuples(xs, 2).map((p) => p[0] as number);
const aSend = times(A.msgSend);
const bRecv = times(B.msgRecv);
const bSend = times(B.msgSend);
const aRecv = times(A.msgRecv);
const snapRecv = tuples(B.snapRecv, 2);
const processed = new Map(tuples(B.hbProc, 2).map(([seq, t]) => [seq as number, t as number]));
/** First element ≥ t (sorted input). */
const firstAtOrAfter = (xs: number[], t: number): number => {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if ((xs[m] as number) < t) lo = m + 1;
    else hi = m;
  }
  return xs[lo] ?? Number.NaN;
};
/** Last element ≤ t (sorted input). */
const lastAtOrBefore = (xs: number[], t: number): number => {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if ((xs[m] as number) <= t) lo = m + 1;
    else hi = m;
  }
  return xs[lo - 1] ?? Number.NaN;
};
type Row = Record<'rtt' | 'aQ' | 'ab' | 'bP' | 'bQ' | 'ba' | 'aP' | 'ahead', number>;
const rows: Row[] = [];
for (const [seq, t4, at] of tuples(A.resp, 3) as [number, number, number][]) {
  const t0 = A.origin + at;
  const t2 = processed.get(seq);
  if (t2 === undefined) continue;
  const t1 = firstAtOrAfter(aSend, t0);
  const t1r = lastAtOrBefore(bRecv, t2);
  const t3 = firstAtOrAfter(bSend, t2);
  const t3r = lastAtOrBefore(aRecv, t4);
  let ahead = 0;
  for (const [t, n] of snapRecv) if ((t as number) > t1 && (t as number) <= t1r) ahead += n as number;
  rows.push({ rtt: t4 - t0, aQ: t1 - t0, ab: t1r - t1, bP: t2 - t1r, bQ: t3 - t2, ba: t3r - t3, aP: t4 - t3r, ahead });
}
rows.sort((x, y) => x.rtt - y.rtt);
const fmt = (r: Row): string =>
  Object.entries(r)
    .map(([k, v]) => (k === 'ahead' ? `ahead ${(v / 1024).toFixed(0)} KiB` : `${k} ${v.toFixed(2)}`))
    .join('  ');
const mean = (rs: Row[]): Row => {
  const m = { rtt: 0, aQ: 0, ab: 0, bP: 0, bQ: 0, ba: 0, aP: 0, ahead: 0 };
  for (const r of rs) for (const k of Object.keys(m) as (keyof Row)[]) m[k] += r[k] / rs.length;
  return m;
};
console.log(`${rows.length} heartbeats during snapshots (ms)`);
for (const p of [0.5, 0.9, 0.99])
  console.log(`p${p * 100} by rtt: ${fmt(rows[Math.min(rows.length - 1, Math.floor(rows.length * p))] as Row)}`);
console.log(`mean, slowest 10 %: ${fmt(mean(rows.slice(Math.floor(rows.length * 0.9))))}`);
console.log(`mean, all:          ${fmt(mean(rows))}`);
