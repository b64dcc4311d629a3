/**
 * A follower process whose WAL lost its last records to a torn tail (the end
 * of the file cut while it was down, taking entries it had acknowledged):
 * once restarted, it answers a linearizable read of the lost key without any
 * new write in the cluster, because the leader sends the lost entries again.
 */
import { mkdtemp, readFile, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspectWalBytes } from '@raftwire/raft/node';
import { afterAll, describe, expect, it } from 'vitest';
import { api, freePort, type MemberProcess, spawnMember, waitFor } from './member-process.js';

const procs: MemberProcess[] = [];
let root = '';
afterAll(async () => {
  for (const p of procs) if (!p.exit) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  if (root) await rm(root, { recursive: true, force: true });
});

describe('raftwire CLI: a follower that lost acknowledged entries to a torn WAL tail', () => {
  it('serves reads again after its restart without waiting for a new write', async () => {
    root = await mkdtemp(join(tmpdir(), 'raftwire-torn-'));
    const ports = await Promise.all(Array.from({ length: 6 }, freePort));
    const url = (i: number) => `http://127.0.0.1:${ports[i]}`;
    const members = [1, 2, 3].map((n, k) => ({ id: String(n), peerUrl: url(2 * k), apiUrl: url(2 * k + 1) }));
    const argsOf = (m: (typeof members)[number]) => [
      ...members.filter((p) => p !== m).flatMap((p) => ['--peer', `${p.id}=${p.peerUrl}`]),
      ...['--data-dir', join(root, m.id), '--tick-ms', '50', '--election-ticks', '10', '--log-level', 'info'],
    ];
    const start = (m: (typeof members)[number]) => {
      const p = spawnMember({ ...m, extra: argsOf(m) });
      procs.push(p);
      return p;
    };
    const running = members.map(start);
    const status = async (p: MemberProcess) => (await api(`${p.apiUrl}/v1/status`, { timeoutMs: 2000 })).body;
    const leader = await waitFor('a leader', 20_000, async () => {
      for (const p of running) if ((await status(p).catch(() => null))?.state === 'StateLeader') return p;
      return null;
    });
    for (let i = 1; i <= 5; i++) {
      expect((await api(`${leader.apiUrl}/v1/kv/k${i}`, { method: 'PUT', body: `v${i}` })).status).toBe(200);
    }
    const follower = running.find((p) => p !== leader) as MemberProcess;
    const commit = (await status(leader)).commit as number;
    await waitFor('the follower to apply every write', 10_000, async () => ((await status(follower)).applied as number) >= commit);

    follower.child.kill('SIGKILL');
    await follower.exited;
    // Cut the WAL inside the last record that holds entries: that record and any after it are gone.
    const wal = join(root, follower.id, 'wal.log');
    const scan = inspectWalBytes(await readFile(wal));
    const k = scan.batches.findLastIndex((b) => b.entries.length > 0);
    expect(k).toBeGreaterThan(0);
    await truncate(wal, (scan.offsets[k] as number) + 20);

    const again = start(members.find((m) => m.id === follower.id) as (typeof members)[number]);
    await waitFor('the restarted follower to be ready', 20_000, async () => again.lines.some((l) => l.includes('member ready')));
    expect(again.lines.some((l) => l.includes('truncating torn WAL tail'))).toBe(true);
    // No write anywhere from here on; the read must be answered by this member.
    const got = await api(`${again.apiUrl}/v1/kv/k5`, { timeoutMs: 15_000 });
    expect(got.status, JSON.stringify(got.body)).toBe(200);
    expect(got.body.value).toBe('v5');
  });
});
