/**
 * A workerd member (a Durable Object: ticks from alarms, storage from the
 * object's storage, peers over outbound fetch streams) in a cluster with two
 * Node members (`raftwire member`). It replicates; killed (SIGKILL of workerd)
 * and restarted, the object boots from its storage with its log and catches
 * up; when the Node leader is SIGKILLed, the workerd member and the other Node
 * member elect a new leader (it votes) and every acknowledged write is read
 * back from both. workerd comes from node_modules; if it cannot start, the
 * test fails.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireRuntime } from '../../../tools/runtimes.mjs';
import { api, freePort, type MemberProcess, spawnMember, waitFor } from '../../cli/test/member-process.js';
import { bundleWorker } from '../bundle.mjs';
import { startWorkerd, type WorkerdMember, writeWorkerdConfig } from './workerd-process.js';

const TICK_MS = 100;
const ELECTION_TICKS = 10;

let dataRoot = '';
let bundle = '';
const nodes: MemberProcess[] = [];
const workerds: WorkerdMember[] = [];

beforeAll(async () => {
  requireRuntime('workerd');
  dataRoot = await mkdtemp(join(tmpdir(), 'raftwire-workerd-'));
  bundle = await bundleWorker();
});

afterAll(async () => {
  for (const p of nodes) if (!p.exit) p.child.kill('SIGKILL');
  for (const w of workerds) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await Promise.all([...nodes.map((p) => p.exited), ...workerds.map((w) => w.exited)]);
  if (dataRoot) await rm(dataRoot, { recursive: true, force: true });
});

describe('a workerd member in a Node cluster', () => {
  it('replicates, restarts from Durable Object storage, votes in an election, and loses no acknowledged write', async () => {
    const t0 = Date.now();
    const ports = await Promise.all(Array.from({ length: 5 }, freePort));
    const url = (i: number) => `http://127.0.0.1:${ports[i]}`;
    const wPort = ports[4] as number;
    const node = [1, 2].map((n, k) => ({ id: String(n), peerUrl: url(2 * k), apiUrl: url(2 * k + 1) }));
    const wUrl = url(4);
    const config = writeWorkerdConfig(join(dataRoot, 'workerd'), bundle, wPort, {
      id: '3',
      peerUrl: wUrl,
      peers: node.map((m) => ({ id: m.id, url: m.peerUrl })),
      tickMs: TICK_MS,
      electionTicks: ELECTION_TICKS,
    });
    const startW = async (): Promise<WorkerdMember> => {
      const w = startWorkerd(config, wPort);
      workerds.push(w);
      // The first request wakes the object; from then on its alarm keeps it ticking.
      await waitFor('the workerd member to answer', 30_000, async () => {
        if (w.child.exitCode !== null) throw new Error(`workerd exited (${w.child.exitCode}):\n${w.lines.join('\n')}`);
        return (await api(`${wUrl}/v1/status`, { timeoutMs: 2000 })).status === 200;
      });
      return w;
    };
    let w = await startW();
    for (const m of node) {
      const peers = [...node.filter((p) => p !== m).map((p) => `${p.id}=${p.peerUrl}`), `3=${wUrl}`].flatMap((p) => ['--peer', p]);
      const extra = [
        ...peers,
        '--data-dir',
        join(dataRoot, `member-${m.id}`),
        // The worker's config names no cluster ID, so it runs with the Durable Object's default.
        '--cluster-id',
        '7261667477697265',
        '--tick-ms',
        String(TICK_MS),
        '--election-ticks',
        String(ELECTION_TICKS),
      ];
      nodes.push(spawnMember({ ...m, extra }));
    }
    for (const p of nodes) {
      await waitFor(`member ${p.id} to be ready`, 30_000, async () => {
        if (p.exit) throw new Error(`member ${p.id} exited:\n${p.lines.join('\n')}`);
        return p.lines.some((l) => l.includes('member ready'));
      });
    }
    const apiOf = (id: string): string => (id === '3' ? wUrl : (node.find((m) => m.id === id)?.apiUrl as string));
    const status = async (id: string) => (await api(`${apiOf(id)}/v1/status`, { timeoutMs: 2000 })).body;
    const leader = (among: string[]) =>
      waitFor(`a leader among ${among.join(', ')}`, 30_000, async () => {
        for (const id of among) if ((await status(id).catch(() => null))?.state === 'StateLeader') return id;
        return null;
      });
    await leader(['1', '2', '3']);
    expect((await status('3')).runtime).toBe('workerd');

    const acked = new Map<string, string>();
    // A write is acknowledged by a 200 only. One that fails (a member down, a proposal made while
    // there is no leader waits out its timeout) is tried again: the same key and value, so a first
    // attempt that was applied after all changes nothing.
    const put = async (via: string, key: string, value: string): Promise<void> => {
      let last = '';
      await waitFor(`PUT ${key} via member ${via}`, 45_000, async () => {
        const r = await api(`${apiOf(via)}/v1/kv/${key}`, { method: 'PUT', body: value, timeoutMs: 5000 }).catch((err: unknown) => {
          last = String(err);
          return null;
        });
        if (r && r.status !== 200) last = JSON.stringify(r.body);
        return r?.status === 200;
      }).catch((err: Error) => {
        throw new Error(`${err.message}; last answer: ${last}`);
      });
      acked.set(key, value);
    };
    const readAll = async (from: string): Promise<string[]> => {
      const wrong: string[] = [];
      for (const [key, value] of acked) {
        const r = await api(`${apiOf(from)}/v1/kv/${key}`, { timeoutMs: 10_000 });
        if (r.status !== 200 || r.body.value !== value) wrong.push(`${from} ${key}: ${r.status} ${JSON.stringify(r.body)}`);
      }
      return wrong;
    };

    // Replication both ways: writes through Node members and through the workerd member.
    for (let i = 0; i < 20; i++) await put(String((i % 3) + 1), `a${i}`, `v${i}`);
    expect(await readAll('3')).toEqual([]);
    expect(await readAll('1')).toEqual([]);

    // workerd killed: the Node members go on; restarted, the object boots from its storage and catches up.
    const before = (await status('3')).applied as number;
    w.child.kill('SIGKILL');
    await w.exited;
    for (let i = 0; i < 10; i++) await put(String((i % 2) + 1), `b${i}`, `v${i}`);
    w = await startW();
    const ready = w.lines.find((l) => l.includes('"member ready"')) ?? '';
    const fromDisk = Number(/"last-index":(\d+)/.exec(ready)?.[1]);
    expect(fromDisk).toBeGreaterThanOrEqual(before);
    const committed = (await status('1')).commit as number;
    await waitFor('the workerd member to catch up', 30_000, async () => ((await status('3')).applied as number) >= committed);
    expect(await readAll('3')).toEqual([]);

    // The Node leader SIGKILLed: the other Node member and the workerd member elect a new leader.
    const old = await leader(['1', '2']);
    const victim = nodes.find((p) => p.id === old) as MemberProcess;
    const oldTerm = (await status(old)).term as number;
    victim.child.kill('SIGKILL');
    await victim.exited;
    const rest = ['1', '2', '3'].filter((id) => id !== old);
    const next = await leader(rest);
    expect((await status(next)).term).toBeGreaterThan(oldTerm);
    for (let i = 0; i < 10; i++) await put(rest[i % 2] as string, `c${i}`, `v${i}`);
    for (const id of rest) expect(await readAll(id)).toEqual([]);
    console.log(
      `workerd member: ${acked.size} acknowledged writes read back; log to ${fromDisk} from Durable Object storage after a SIGKILL (applied ${before} before); member ${next} leads term ${(await status(next)).term} after the Node leader's SIGKILL; total ${Date.now() - t0} ms`,
    );
  }, 150_000);
});
