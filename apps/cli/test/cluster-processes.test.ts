/**
 * A 3-member cluster of `raftwire member` processes over HTTP on 127.0.0.1:
 * 10 000 concurrent puts, SIGKILL of the leader, a new leader within three
 * election timeouts, every acknowledged write read back linearizably,
 * membership changes (a removed member exits by itself within 2 s), and a
 * member that joins and catches up from a snapshot.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { api, freePort, type MemberProcess, pool, spawnMember, waitFor } from './member-process.js';

const TICK_MS = 100;
const ELECTION_TICKS = 10;
const ELECTION_TIMEOUT_MS = TICK_MS * ELECTION_TICKS;
const PUTS = 10_000;

const procs: MemberProcess[] = [];
afterAll(async () => {
  for (const p of procs) if (!p.exit) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
});

describe('raftwire CLI: a cluster of member processes over HTTP', () => {
  it('serves 10 000 concurrent puts, survives SIGKILL of the leader, removes and adds members', async () => {
    const t0 = Date.now();
    const ports = await Promise.all(Array.from({ length: 8 }, freePort));
    const url = (i: number) => `http://127.0.0.1:${ports[i]}`;
    const members = [1, 2, 3].map((n, k) => ({ id: String(n), peerUrl: url(2 * k), apiUrl: url(2 * k + 1) }));
    const common = [
      '--tick-ms',
      String(TICK_MS),
      '--election-ticks',
      String(ELECTION_TICKS),
      '--snapshot-entries',
      '2000',
      '--snapshot-catch-up-entries',
      '500',
      '--log-level',
      'info',
    ];
    for (const m of members) {
      const peers = members.filter((p) => p !== m).flatMap((p) => ['--peer', `${p.id}=${p.peerUrl}`]);
      procs.push(spawnMember({ ...m, extra: [...peers, ...common] }));
    }
    const byId = (id: string) => procs.find((p) => p.id === id) as MemberProcess;
    const status = async (p: MemberProcess) => (await api(`${p.apiUrl}/v1/status`, { timeoutMs: 2000 })).body;

    const leaderOf = async (alive: MemberProcess[]) => {
      for (const p of alive) {
        const s = await status(p).catch(() => null);
        if (s && s.state === 'StateLeader') return p;
      }
      return null;
    };
    const first = await waitFor('a first leader', 20_000, () => leaderOf(procs));

    // Bad input gets 400/404 with a JSON error.
    const bad = await api(`${first.apiUrl}/v1/members`, { method: 'POST', body: '{"id":"XYZ","peerUrl":"http://127.0.0.1:1"}' });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('ERR_INVALID_ID');
    const missing = await api(`${first.apiUrl}/v1/kv/absent`);
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('ERR_KEY_NOT_FOUND');

    // 10 000 puts, spread over all members (followers forward to the leader), 64 at once.
    const acked = new Map<string, string>();
    const tPut = Date.now();
    await pool(PUTS, 64, async (i) => {
      const key = `k${i}`;
      const value = `v${i}-${'x'.repeat(i % 50)}`;
      const p = procs[i % 3] as MemberProcess;
      const r = await api(`${p.apiUrl}/v1/kv/${key}`, { method: 'PUT', body: value });
      if (r.status === 200) acked.set(key, value);
    });
    const putMs = Date.now() - tPut;
    expect(acked.size).toBe(PUTS);

    // SIGKILL the leader; the others elect a new one within three election timeouts.
    const oldLeader = (await waitFor('the leader', 10_000, () => leaderOf(procs))) as MemberProcess;
    const survivors = procs.filter((p) => p !== oldLeader);
    const tKill = Date.now();
    oldLeader.child.kill('SIGKILL');
    await oldLeader.exited;
    const newLeader = await waitFor('a new leader', 10 * ELECTION_TIMEOUT_MS, async () => {
      const l = await leaderOf(survivors);
      return l ?? null;
    });
    const electionMs = Date.now() - tKill;
    expect(electionMs).toBeLessThan(3 * ELECTION_TIMEOUT_MS);

    // Every acknowledged write is readable (linearizable GET), from both survivors.
    const tGet = Date.now();
    let wrong = 0;
    await pool(PUTS, 64, async (i) => {
      const key = `k${i}`;
      const p = survivors[i % 2] as MemberProcess;
      const r = await api(`${p.apiUrl}/v1/kv/${key}`);
      if (r.status !== 200 || r.body.value !== acked.get(key)) wrong++;
    });
    const getMs = Date.now() - tGet;
    expect(wrong).toBe(0);

    // Remove the dead member, then add a fresh one that joins and catches up (the log is compacted: snapshot).
    const rmDead = await api(`${newLeader.apiUrl}/v1/members/${oldLeader.id}`, { method: 'DELETE' });
    expect(rmDead.status).toBe(200);
    const joiner = { id: '4', peerUrl: url(6), apiUrl: url(7) };
    const add = await api(`${newLeader.apiUrl}/v1/members`, {
      method: 'POST',
      body: JSON.stringify({ id: joiner.id, peerUrl: joiner.peerUrl }),
    });
    expect(add.status).toBe(201);
    const joinPeers = survivors.flatMap((p) => ['--peer', `${p.id}=${p.peerUrl}`]);
    const j = spawnMember({ ...joiner, extra: [...joinPeers, '--join', ...common] });
    procs.push(j);
    const leaderStatus = await status(newLeader);
    await waitFor('the joiner to catch up', 30_000, async () => {
      const s = await status(j);
      return (s.applied as number) >= (leaderStatus.commit as number);
    });
    expect(j.lines.some((l) => l.includes("applied the leader's snapshot") && !l.includes('snapshot-index=1 '))).toBe(true);
    const fromJoiner = await api(`${j.apiUrl}/v1/kv/k${PUTS - 1}`);
    expect(fromJoiner.body.value).toBe(acked.get(`k${PUTS - 1}`));

    // Remove a live member that is not the leader: it stops by itself within 2 s.
    const victim = survivors.find((p) => p !== newLeader) as MemberProcess;
    const leaderNow = (await waitFor('the leader', 10_000, () => leaderOf([newLeader, victim, j]))) as MemberProcess;
    const target = leaderNow === victim ? newLeader : victim;
    const tRm = Date.now();
    const rm = await api(`${leaderNow.apiUrl}/v1/members/${target.id}`, { method: 'DELETE' });
    expect(rm.status).toBe(200);
    const exit = await Promise.race([target.exited, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
    expect(exit).not.toBeNull();
    expect((exit?.at ?? 0) - tRm).toBeLessThan(2000);
    expect(exit?.code).toBe(3);
    expect(target.lines.some((l) => l.includes('removed from the cluster'))).toBe(true);

    // The remaining two still commit.
    const rest = [leaderNow, victim, j].filter((p) => p !== target);
    const after = await api(`${(rest[1] as MemberProcess).apiUrl}/v1/kv/after`, { method: 'PUT', body: 'ok' });
    expect(after.status).toBe(200);
    expect((await api(`${(rest[0] as MemberProcess).apiUrl}/v1/kv/after`)).body.value).toBe('ok');

    console.log(
      `cli cluster: ${PUTS} puts in ${putMs} ms, new leader ${electionMs} ms after SIGKILL, ${PUTS} linearizable gets in ${getMs} ms, removed member exited after ${(exit?.at ?? 0) - tRm} ms, total ${Date.now() - t0} ms`,
    );
    void byId;
  }, 120_000);
});
