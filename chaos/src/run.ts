/**
 * One chaos run, start to verdict: a cluster of CLI members behind the fault
 * proxy, bounded clients recording a history, the nemesis running the seeded
 * schedule; then everything healed, a leader awaited, every key read back
 * from every member, the history checked, and the report written.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { SeededRand } from '@raftwire/core';
import { checkKvHistory, type KvCheckResult } from './checker/kv-check.js';
import { deadline } from './cluster/api-client.js';
import { ChaosCluster, type Lane, type UnexpectedExit } from './cluster/chaos-cluster.js';
import { describeOp, historyToJsonl, type KvOperation } from './history.js';
import { Monitor } from './monitor.js';
import { type FaultRecord, Nemesis } from './nemesis.js';
import { formatRows, type ResultRow, row, writeRows } from './report/results.js';
import { timelineSvg } from './report/timeline-svg.js';
import { type FaultKind, type FaultStep, makeSchedule } from './schedule.js';
import { keyName, runOperation, Workload } from './workload.js';

export interface ChaosOptions {
  seed: number;
  /** How long clients and faults run, ms (healing, read-back and the check come after). */
  durationMs: number;
  kinds: readonly FaultKind[];
  /** Report directory (history, verdict, timeline, member logs and data). */
  outDir: string;
  members?: number;
  clients?: number;
  keys?: number;
  requestTimeoutMs?: number;
  /** Flags given to every member (default: 100 ms ticks, 10-tick elections, snapshots every 2 000 entries). */
  memberArgs?: readonly string[];
  /** Path of the CLI's main.js (default: apps/cli/dist/main.js of this checkout). */
  cliMain?: string;
  /** Where to write the result rows (bench/results shape); null for nowhere. */
  resultsFile?: string | null;
  /** Progress lines. */
  log?: (line: string) => void;
  progressEveryMs?: number;
  checkTimeoutMs?: number;
  /** How long the read-back after the final heal may take, ms (default 60 000). */
  readBackTimeoutMs?: number;
  /** Keep the members' data directories after a passing run (a failing run always keeps them). */
  keepData?: boolean;
  /** Headers for every client API request (a bearer token, once the API takes one). */
  apiHeaders?: Record<string, string>;
}

export interface ChaosVerdict {
  seed: number;
  durationMs: number;
  kinds: readonly FaultKind[];
  /**
   * Linearizable, no lost acknowledged write, no member exited by itself,
   * every key read back from
   * every member after the final heal, and at least one operation
   * acknowledged (an empty history proves nothing).
   */
  pass: boolean;
  linearizable: boolean | null;
  lostWrites: number;
  operations: { total: number; ok: number; fail: number; unknown: number; byKind: Record<string, number> };
  faults: number;
  /** Faults injected per kind (every kind of the run, 0 for one that never came). */
  faultsByKind: Record<string, number>;
  longestLeaderlessAfterHealMs: number | null;
  /** Members that exited without being told to (crashes, or a wrong "removed"). */
  unexpectedExits: UnexpectedExit[];
  /** Keys a member could not read back within the time allowed after the final heal. */
  finalReadFailures: { lane: string; key: string; error: string }[];
  firstIllegalKey: string | null;
  witness: KvCheckResult['witness'];
  lostWriteOps: KvOperation[];
  checker: { elapsedMs: number; keys: KvCheckResult['keys'] };
  /** Wall-clock length of the whole run, ms. */
  totalMs: number;
  /** This process's CPU share and event-loop delay per progress interval (it relays all peer traffic). */
  harness: { t: number; cpu: number; loopDelayP99Ms: number }[];
  outDir: string;
}

export const DEFAULT_MEMBER_ARGS: readonly string[] = [
  // Plain http between members and on the API, said explicitly: the CLI is
  // moving to TLS by default, and the proxy forwards TLS just as well (see
  // docs/chaos.md, "TLS and tokens").
  '--insecure',
  '--tick-ms',
  '100',
  '--election-ticks',
  '10',
  '--snapshot-entries',
  '2000',
  '--snapshot-catch-up-entries',
  '500',
  '--log-level',
  'info',
];

export function defaultCliMain(): string {
  return fileURLToPath(new URL('../../apps/cli/dist/main.js', import.meta.url));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

function fmt(ms: number): string {
  return `${(ms / 1000).toFixed(1).padStart(6)}s`;
}

export async function runChaos(o: ChaosOptions): Promise<ChaosVerdict> {
  const wall0 = performance.now();
  const say = o.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  let t0 = performance.now();
  const now = () => performance.now() - t0;
  const log = (line: string) => say(`[${fmt(now())}] ${line}`);
  const nMembers = o.members ?? 5;
  const nKeys = o.keys ?? 8;
  const rand = new SeededRand(o.seed ^ 0x5eed);
  await mkdir(o.outDir, { recursive: true });
  const schedule = makeSchedule({ seed: o.seed, durationMs: o.durationMs, kinds: o.kinds });
  log(
    `chaos: ${nMembers} members, ${o.clients ?? 12} clients, ${nKeys} keys, seed ${o.seed}, ${(o.durationMs / 1000).toFixed(0)} s, ${schedule.length} faults (${o.kinds.join(', ') || 'none'}); report in ${o.outDir}`,
  );
  const cluster = await ChaosCluster.start({
    size: nMembers,
    dir: o.outDir,
    cliMain: o.cliMain ?? defaultCliMain(),
    memberArgs: o.memberArgs ?? DEFAULT_MEMBER_ARGS,
    random: () => rand.next(),
    log,
    now: () => now(),
    ...(o.apiHeaders ? { apiHeaders: o.apiHeaders } : {}),
  });
  let monitor: Monitor | null = null;
  try {
    const first = await cluster.waitForLeader(60_000);
    if (!first) {
      const tails = cluster.lanes.map((l) => `${l.name}: ${l.proc?.tail.slice(-5).join(' | ')}`).join('\n');
      throw new Error(`no leader within 60 s of starting the cluster\n${tails}`);
    }
    t0 = performance.now();
    log(`cluster up: leader ${first.id} (${first.lane.name}); starting clients and faults`);
    monitor = new Monitor(cluster, now);
    monitor.start();
    const workload = new Workload(
      {
        members: () => cluster.members().map((l) => ({ lane: l.name, apiUrl: cluster.apiUrl(l) })),
        ...(o.apiHeaders ? { headers: o.apiHeaders } : {}),
      },
      { clients: o.clients ?? 12, keys: nKeys, requestTimeoutMs: o.requestTimeoutMs ?? 2500, seed: o.seed, now },
    );
    const nemesis = new Nemesis(cluster, monitor, schedule, { now, log });
    const end = new AbortController();
    const harness: ChaosVerdict['harness'] = [];
    workload.start();
    const faults = nemesis.run(end.signal);
    const every = o.progressEveryMs ?? (o.durationMs > 120_000 ? 30_000 : 5_000);
    // This process relays every byte between members: its own delays are the network's. Shown so a reader can tell.
    const loopDelay = monitorEventLoopDelay({ resolution: 20 });
    loopDelay.enable();
    let cpu = process.cpuUsage();
    let cpuAt = performance.now();
    const progress = setInterval(() => {
      const c = workload.counts();
      const l = monitor?.current();
      const used = process.cpuUsage(cpu);
      const share = (used.user + used.system) / 1000 / (performance.now() - cpuAt);
      cpu = process.cpuUsage();
      cpuAt = performance.now();
      const lag = loopDelay.percentile(99) / 1e6;
      loopDelay.reset();
      harness.push({ t: now(), cpu: share, loopDelayP99Ms: lag });
      log(
        `ops ${c.total}: ok ${c.ok}, fail ${c.fail}, unknown ${c.unknown}, in flight ${c.inFlight}; ${l?.leader ? `leader ${l.leader} (${l.lane}) term ${l.term}` : 'no leader'}; harness cpu ${(share * 100).toFixed(0)}%, loop delay p99 ${lag.toFixed(0)} ms`,
      );
    }, every);
    await sleep(o.durationMs - now());
    end.abort();
    await faults;
    await workload.stop();
    clearInterval(progress);
    loopDelay.disable();
    const c = workload.counts();
    log(`clients stopped: ${c.total} operations (ok ${c.ok}, fail ${c.fail}, unknown ${c.unknown})`);

    // Heal everything, wait for a leader, read every key back from every member.
    const healed = await nemesis.healAll();
    const healAt = now();
    log(`final heal: ${healed.length > 0 ? healed.join('; ') : 'nothing to heal'}`);
    const finalRecord: FaultRecord = {
      index: schedule.length,
      kind: 'final-heal',
      start: healAt,
      healed: healAt,
      lanes: [],
      detail: healed.join('; ') || 'nothing to heal',
      leaderlessAfterHeal: null,
    };
    const leader = await cluster.waitForLeader(60_000);
    finalRecord.leaderlessAfterHeal = leader ? now() - healAt : Number.NaN;
    log(leader ? `leader ${leader.id} (${leader.lane.name}) after the final heal` : 'NO LEADER within 60 s of the final heal');
    const ops = workload.ops;
    const finalReadFailures: ChaosVerdict['finalReadFailures'] = [];
    // Every key from every member, all at once, each retried until it answers or a minute has passed.
    const readDeadline = now() + (o.readBackTimeoutMs ?? 60_000);
    const readBack = async (lane: Lane, key: string): Promise<void> => {
      for (;;) {
        const op: KvOperation = {
          id: ops.length,
          client: 'final',
          member: lane.name,
          kind: 'get',
          key,
          invoke: now(),
          complete: null,
          outcome: 'unknown',
        };
        ops.push(op);
        const limit = deadline(5000);
        await runOperation(op, cluster.apiUrl(lane), limit.signal, now, undefined, o.apiHeaders).finally(limit.dispose);
        if (op.outcome === 'ok') return;
        if (now() > readDeadline) {
          finalReadFailures.push({ lane: lane.name, key, error: op.error ?? op.outcome });
          return;
        }
        await sleep(250);
      }
    };
    const running = cluster.members().filter((l) => l.state === 'running');
    await Promise.all(running.flatMap((lane) => Array.from({ length: nKeys }, (_, k) => readBack(lane, keyName(k)))));
    log(
      finalReadFailures.length === 0
        ? `read back ${nKeys} keys from every member`
        : `read back failed for ${finalReadFailures.map((f) => `${f.key}@${f.lane} (${f.error})`).join(', ')}`,
    );
    await monitor.stop();
    await nemesis.settled();
    const runEnd = now();
    await cluster.close();

    // Check.
    log(`checking ${ops.length} operations for linearizability`);
    const check = checkKvHistory(ops, { timeoutMs: o.checkTimeoutMs ?? 120_000 });
    const records = [...nemesis.records, finalRecord];
    const stretches = records.map((r) => r.leaderlessAfterHeal).filter((v): v is number => v !== null);
    const longest = stretches.length === 0 ? null : stretches.some(Number.isNaN) ? Number.NaN : Math.max(...stretches);
    const counts = { total: ops.length, ok: 0, fail: 0, unknown: 0, byKind: {} as Record<string, number> };
    for (const op of ops) {
      counts[op.outcome]++;
      counts.byKind[op.kind] = (counts.byKind[op.kind] ?? 0) + 1;
    }
    const verdict: ChaosVerdict = {
      seed: o.seed,
      durationMs: o.durationMs,
      kinds: o.kinds,
      pass:
        check.linearizable === true &&
        check.lostWrites.length === 0 &&
        cluster.unexpectedExits.length === 0 &&
        finalReadFailures.length === 0 &&
        counts.ok > 0,
      linearizable: check.linearizable,
      lostWrites: check.lostWrites.length,
      operations: counts,
      faults: nemesis.records.length,
      faultsByKind: Object.fromEntries(o.kinds.map((k) => [k, nemesis.records.filter((r) => r.kind === k).length])),
      longestLeaderlessAfterHealMs: longest,
      unexpectedExits: cluster.unexpectedExits,
      finalReadFailures,
      firstIllegalKey: check.firstIllegalKey,
      witness: check.witness,
      lostWriteOps: check.lostWrites,
      checker: { elapsedMs: check.elapsedMs, keys: check.keys },
      totalMs: performance.now() - wall0,
      harness,
      outDir: o.outDir,
    };
    await writeReport(
      o,
      verdict,
      ops,
      schedule,
      records,
      monitor,
      cluster.lanes.map((l) => l.name),
      runEnd,
      log,
    );
    if (verdict.pass && !o.keepData) await rm(join(o.outDir, 'data'), { recursive: true, force: true });
    return verdict;
  } finally {
    await monitor?.stop();
    await cluster.close();
  }
}

function crashes(v: ChaosVerdict): string {
  const parts: string[] = [];
  if (v.unexpectedExits.length > 0) parts.push(`${v.unexpectedExits.length} member crash(es)`);
  if (v.finalReadFailures.length > 0) parts.push(`${v.finalReadFailures.length} key(s) not read back`);
  return parts.length > 0 ? `, ${parts.join(', ')}` : '';
}

function summary(v: ChaosVerdict, rows: readonly ResultRow[]): string {
  const lines = [
    `chaos run, seed ${v.seed}, ${(v.durationMs / 1000).toFixed(0)} s, faults: ${v.kinds.join(', ') || 'none'}`,
    `verdict: ${v.pass ? 'PASS' : 'FAIL'} — ${
      v.linearizable === true
        ? 'linearizable'
        : v.linearizable === false
          ? 'NOT linearizable'
          : 'linearizability undecided (checker timed out)'
    }, ${v.lostWrites} lost acknowledged write(s)${crashes(v)}`,
    '',
    formatRows(rows),
  ];
  if (v.witness) lines.push('', `first non-linearizable key: ${v.firstIllegalKey}`, v.witness.explanation);
  if (v.witness?.before.length) lines.push('  order found so far ends with:', ...v.witness.before.map((op) => `    ${describeOp(op)}`));
  if (v.witness?.blocked) lines.push('  fits nowhere after it:', `    ${describeOp(v.witness.blocked)}`);
  if (v.witness?.concurrent.length)
    lines.push('  tried in its place:', ...v.witness.concurrent.slice(0, 12).map((op) => `    ${describeOp(op)}`));
  if (v.lostWriteOps.length) lines.push('', 'lost acknowledged writes:', ...v.lostWriteOps.map((op) => `  ${describeOp(op)}`));
  if (v.unexpectedExits.length) {
    lines.push('', 'members that exited by themselves:');
    for (const e of v.unexpectedExits) {
      // The ERROR lines say why; without any, the last lines.
      const shown = e.errors.length > 0 ? e.errors.slice(-8) : e.tail.slice(-8);
      lines.push(
        `  ${e.lane} (member ${e.id}) at ${(e.at / 1000).toFixed(1)} s: ${e.exit.signal ?? `exit code ${e.exit.code}`}`,
        ...shown.map((l) => `      ${l}`),
      );
    }
  }
  if (v.finalReadFailures.length)
    lines.push('', 'read-back failures:', ...v.finalReadFailures.map((f) => `  ${f.key} on ${f.lane}: ${f.error}`));
  return `${lines.join('\n')}\n`;
}

async function writeReport(
  o: ChaosOptions,
  v: ChaosVerdict,
  ops: readonly KvOperation[],
  schedule: readonly FaultStep[],
  records: readonly FaultRecord[],
  monitor: Monitor,
  lanes: string[],
  runEnd: number,
  log: (line: string) => void,
): Promise<void> {
  const rows: ResultRow[] = [
    row('seed', 'seed', v.seed),
    row('duration of the fault and client phase', 's', v.durationMs / 1000),
    row('operations', 'ops', v.operations.total),
    row('operations acknowledged (ok)', 'ops', v.operations.ok),
    row('operations with unknown outcome', 'ops', v.operations.unknown),
    row('operations that failed (known not applied)', 'ops', v.operations.fail),
    row('faults injected', 'faults', v.faults),
    ...Object.entries(v.faultsByKind).map(([kind, n]) => row(`faults: ${kind}`, 'faults', n)),
    row(
      'faults: member, fresh member joined as a learner and promoted',
      'faults',
      records.filter((r) => r.kind === 'member' && schedule[r.index]?.params.learner === true).length,
    ),
    row('lost acknowledged writes', 'writes', v.lostWrites, '== 0'),
    row('linearizable (1 yes, 0 no or undecided)', 'bool', v.linearizable === true ? 1 : 0, '== 1'),
    row(
      'longest leaderless stretch after a heal',
      'ms',
      v.longestLeaderlessAfterHealMs === null ? 0 : Math.round(v.longestLeaderlessAfterHealMs),
    ),
    row('members that exited by themselves', 'exits', v.unexpectedExits.length, '== 0'),
    row('keys a member could not read back after the final heal', 'keys', v.finalReadFailures.length, '== 0'),
    row('checker time', 'ms', Math.round(v.checker.elapsedMs)),
  ];
  const dir = o.outDir;
  const highlight = new Set<number>();
  for (const op of [...(v.witness?.before ?? []), ...(v.witness?.concurrent ?? []), ...v.lostWriteOps]) highlight.add(op.id);
  if (v.witness?.blocked) highlight.add(v.witness.blocked.id);
  await Promise.all([
    writeFile(join(dir, 'history.jsonl'), historyToJsonl(ops)),
    writeFile(join(dir, 'faults.json'), `${JSON.stringify({ schedule, records }, null, 2)}\n`),
    writeFile(join(dir, 'verdict.json'), `${JSON.stringify({ ...v, results: rows }, null, 2)}\n`),
    writeFile(join(dir, 'summary.txt'), summary(v, rows)),
    writeFile(join(dir, 'status.jsonl'), monitor.samples.map((s) => JSON.stringify(s)).join('\n') + '\n'),
    writeFile(
      join(dir, 'timeline.svg'),
      timelineSvg({
        title: `raftwire chaos — seed ${v.seed}, ${v.kinds.join(', ')} — ${v.pass ? 'PASS' : 'FAIL'}`,
        durationMs: runEnd,
        lanes,
        samples: monitor.samples,
        leaders: monitor.leaders,
        pollMs: 200,
        faults: records.filter((r) => r.kind !== 'final-heal'),
        ops,
        highlight,
      }),
    ),
  ]);
  if (o.resultsFile) await writeRows(o.resultsFile, rows);
  log(`\n${summary(v, rows)}report: ${dir}${o.resultsFile ? `\nresults: ${o.resultsFile}` : ''}`);
}
