/**
 * One cluster, three runtimes: `raftwire member` on Node (node:http), on Deno
 * (Deno.serve + createFetchHandler, FetchLink) and on Bun (Bun.serve +
 * createFetchHandler, FetchLink), each with a data dir. It elects and
 * replicates; then each member in turn is SIGKILLed while writes go on, and
 * restarted from its data dir: it comes back with its log (applied index at
 * least what it had), catches up, and no acknowledged write is lost, read
 * back linearizably from every member. Deno and Bun come from node_modules;
 * one that cannot start fails the test.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ScriptRuntime, requireRuntime } from '../../../tools/runtimes.mjs';
import { api, freePort, type MemberProcess, pool, spawnMember, waitFor } from './member-process.js';

const RUNTIMES: ScriptRuntime[] = ['node', 'deno', 'bun'];
const TICK_MS = 100;
const ELECTION_TICKS = 10;

const procs: MemberProcess[] = [];
let dataRoot = '';

beforeAll(async () => {
  for (const r of RUNTIMES) requireRuntime(r);
  dataRoot = await mkdtemp(join(tmpdir(), 'raftwire-mixed-'));
});

afterAll(async () => {
  for (const p of procs) if (!p.exit) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  if (dataRoot) await rm(dataRoot, { recursive: true, force: true });
});

describe('raftwire CLI: a cluster with one member each on Node, Deno and Bun', () => {
  it('elects, replicates, and loses no acknowledged write when each member is SIGKILLed and restarted in turn', async () => {
    const t0 = Date.now();
    const ports = await Promise.all(Array.from({ length: 6 }, freePort));
    const url = (i: number) => `http://127.0.0.1:${ports[i]}`;
    const specs = RUNTIMES.map((runtime, k) => ({ runtime, id: String(k + 1), peerUrl: url(2 * k), apiUrl: url(2 * k + 1) }));
    const current = new Map<string, MemberProcess>();
    const start = (s: (typeof specs)[number]): MemberProcess => {
      const peers = specs.filter((p) => p !== s).flatMap((p) => ['--peer', `${p.id}=${p.peerUrl}`]);
      const extra = [
        ...peers,
        '--data-dir',
        join(dataRoot, `member-${s.id}`),
        '--tick-ms',
        String(TICK_MS),
        '--election-ticks',
        String(ELECTION_TICKS),
      ];
      const p = spawnMember({ id: s.id, peerUrl: s.peerUrl, apiUrl: s.apiUrl, extra }, s.runtime);
      procs.push(p);
      current.set(s.id, p);
      return p;
    };
    const status = async (p: MemberProcess) => (await api(`${p.apiUrl}/v1/status`, { timeoutMs: 2000 })).body;
    const ready = (p: MemberProcess, runtime: ScriptRuntime) =>
      waitFor(`member ${p.id} on ${runtime} to be ready`, 30_000, async () => {
        if (p.exit) throw new Error(`member ${p.id} on ${runtime} exited (${p.exit.signal ?? p.exit.code}):\n${p.lines.join('\n')}`);
        return p.lines.some((l) => l.includes('member ready') && l.includes(`runtime=${runtime}`));
      });
    const leader = () =>
      waitFor('a leader', 20_000, async () => {
        for (const p of current.values()) {
          const s = await status(p).catch(() => null);
          if (s?.state === 'StateLeader') return p;
        }
        return null;
      });

    for (const s of specs) start(s);
    for (const s of specs) await ready(current.get(s.id) as MemberProcess, s.runtime);
    await leader();

    // Writes go on all the time, round-robin over the members, a few at once; only a 200 counts as acknowledged.
    const acked = new Map<string, string>();
    let writing = true;
    let seq = 0;
    const writer = pool(4, 4, async () => {
      while (writing) {
        const i = seq++;
        const key = `k${i}`;
        const value = `v${i}`;
        const target = current.get(String((i % 3) + 1)) as MemberProcess;
        const r = await api(`${target.apiUrl}/v1/kv/${key}`, { method: 'PUT', body: value, timeoutMs: 5000 }).catch(() => null);
        if (r?.status === 200) acked.set(key, value);
        else await new Promise((res) => setTimeout(res, 20));
      }
    });
    await waitFor('writes replicated on every runtime', 20_000, async () => acked.size >= 50);

    const restarts: string[] = [];
    for (const s of specs) {
      const victim = current.get(s.id) as MemberProcess;
      const before = (await status(victim)).applied as number;
      const ackedBefore = acked.size;
      victim.child.kill('SIGKILL');
      const exit = await victim.exited;
      expect(exit.signal).toBe('SIGKILL');
      // The other two go on committing without it.
      await waitFor(`writes while member ${s.id} (${s.runtime}) is down`, 20_000, async () => acked.size >= ackedBefore + 20);
      const tRestart = Date.now();
      const back = start(s);
      await ready(back, s.runtime);
      const recovered = (await status(back)).applied as number;
      // Restarted from its data dir: its log, read before it hears from anyone, holds every entry
      // it had applied (entries are fsynced before they are applied). Its commit index may lag, as
      // in etcd: a Ready that only moves the commit index is not fsynced; the leader tells it again.
      const fromDisk = /restarted from WAL at index (\d+)/.exec(back.lines.find((l) => l.includes('restarted from WAL')) ?? '');
      expect(Number(fromDisk?.[1])).toBeGreaterThanOrEqual(before);
      // Caught up: it applies what another member had committed once it was back, and new writes go on.
      const peer = current.get(specs[(specs.indexOf(s) + 1) % 3]?.id as string) as MemberProcess;
      const committed = (await status(peer)).commit as number;
      const ackedAtRestart = acked.size;
      await waitFor(`member ${s.id} (${s.runtime}) to catch up`, 30_000, async () => {
        const mine = await status(back);
        return (mine.applied as number) >= committed && (mine.applied as number) > recovered && acked.size > ackedAtRestart;
      });
      restarts.push(
        `${s.runtime}: applied ${before} before the kill, log to ${fromDisk?.[1]} on disk, caught up in ${Date.now() - tRestart} ms`,
      );
    }
    writing = false;
    await writer;

    // Every acknowledged write, read back linearizably from every member (each runtime answers).
    const keys = [...acked.keys()];
    const wrong: string[] = [];
    for (const s of specs) {
      const p = current.get(s.id) as MemberProcess;
      await pool(keys.length, 8, async (i) => {
        const key = keys[i] as string;
        const r = await api(`${p.apiUrl}/v1/kv/${key}`, { timeoutMs: 10_000 });
        if (r.status !== 200 || r.body.value !== acked.get(key)) wrong.push(`${s.runtime} ${key}: ${r.status} ${JSON.stringify(r.body)}`);
      });
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    console.log(
      `mixed runtimes: ${acked.size} acknowledged writes, all read back from node, deno and bun; ${restarts.join('; ')}; total ${Date.now() - t0} ms`,
    );
  }, 150_000);
});
