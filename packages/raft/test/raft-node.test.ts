import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Id, Logger } from '@raftwire/core';
import { createMessage, ErrorCode, isRaftwireError, MessageType } from '@raftwire/core';
import { ManualClock } from '@raftwire/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStorage } from '../src/node/file-storage.js';
import { RaftNode } from '../src/raft-node.js';
import { MemoryStorage } from '../src/storage.js';
import { Cluster, dec, put, startedThree, three, url } from './helpers/node-cluster.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

describe('RaftNode driver', () => {
  it('elects a leader, commits proposals with their apply result, and serves linearizable reads on any member', async () => {
    const c = new Cluster(1);
    cleanup.push(() => c.stopAll());
    for (const m of three()) await c.add(m.id, three());
    const changes: Id[] = [];
    c.node(2n).on('leader-change', (e) => changes.push(e.leader));
    await c.until(() => c.leader() !== undefined);
    const leader = c.leader() as RaftNode;
    const r1 = await c.run(leader.propose(put('a', '1')));
    expect(r1).toEqual({ prev: null });
    const follower = [...c.nodes.values()].find((n) => n !== leader) as RaftNode;
    const r2 = (await c.run(follower.propose(put('a', '2')))) as { prev: Uint8Array | null };
    expect(dec(r2.prev ?? undefined)).toBe('1');
    for (const n of c.nodes.values()) expect(dec(await c.run(n.read('a')))).toBe('2');
    const st = follower.status();
    expect(st.leader).toBe(leader.id);
    expect(st.term).toBeGreaterThanOrEqual(2);
    expect(st.applied).toBeGreaterThanOrEqual(4);
    expect(st.commit).toBeGreaterThanOrEqual(st.applied);
    expect(st.members.map((m) => m.id)).toEqual([1n, 2n, 3n]);
    expect(changes).toContain(leader.id);
  });

  it('rejects proposals and reads with ERR_ABORTED when the signal fires, and ERR_STOPPED after stop', async () => {
    const c = new Cluster(2);
    cleanup.push(() => c.stopAll());
    for (const m of three()) await c.add(m.id, three());
    await c.until(() => c.leader() !== undefined);
    const leader = c.leader() as RaftNode;
    c.net.partition([[leader.id], [...c.nodes.keys()].filter((id) => id !== leader.id)]);
    const ac = new AbortController();
    const p = leader.propose(put('x', 'y'), { signal: ac.signal });
    const r = leader.readIndex({ signal: ac.signal });
    await c.clock.advance(50);
    ac.abort();
    await expect(p).rejects.toSatisfy((e: unknown) => isRaftwireError(e, 'ERR_ABORTED'));
    await expect(r).rejects.toSatisfy((e: unknown) => isRaftwireError(e, 'ERR_ABORTED'));
    const pending = leader.propose(put('x', 'z'));
    await leader.stop();
    await expect(pending).rejects.toSatisfy((e: unknown) => isRaftwireError(e, 'ERR_STOPPED'));
    await expect(leader.propose(put('x', 'w'))).rejects.toSatisfy((e: unknown) => isRaftwireError(e, 'ERR_STOPPED'));
  });

  it('steps proposals made before any leader is known once one is elected, each applied once, and never one aborted meanwhile', async () => {
    const c = new Cluster(4);
    cleanup.push(() => c.stopAll());
    for (const m of three()) await c.add(m.id, three());
    const n1 = c.node(1n);
    expect(n1.status().leader).toBe(0n);
    const early = Array.from({ length: 50 }, (_, i) => n1.propose(put(`early${i}`, `v${i}`)));
    const ac = new AbortController();
    const aborted = n1.propose(put('aborted', 'x'), { signal: ac.signal });
    await c.clock.advance(1); // the batch is stepped (and dropped: no leader yet)
    ac.abort();
    await expect(aborted).rejects.toSatisfy((e: unknown) => isRaftwireError(e, 'ERR_ABORTED'));
    const results = await c.run(Promise.all(early));
    expect(results).toEqual(early.map(() => ({ prev: null })));
    const leader = c.leader() as RaftNode;
    await c.run(leader.propose(put('last', '1')));
    await c.until(() => [...c.nodes.values()].every((n) => n.stateMachine.get('last') !== undefined));
    for (const n of c.nodes.values()) {
      for (let i = 0; i < 50; i++) expect(dec(n.stateMachine.get(`early${i}`))).toBe(`v${i}`);
      expect(n.stateMachine.get('aborted')).toBeUndefined();
    }
  });

  it('adds a member that catches up through a streamed snapshot, removes one that then stops itself', async () => {
    const c = new Cluster(3);
    cleanup.push(() => c.stopAll());
    for (const m of three()) await c.add(m.id, three(), new MemoryStorage(), { snapshotChunkBytes: 16 });
    await c.until(() => c.leader() !== undefined);
    const leader = c.leader() as RaftNode;
    for (let i = 0; i < 40; i++) await c.run(leader.propose(put(`k${i}`, `v${i}`)));
    expect(leader.status().snapshotIndex).toBeGreaterThan(20);
    const members = await c.run(leader.addMember(4n, url(4n)));
    expect(members.map((m) => m.id)).toEqual([1n, 2n, 3n, 4n]);
    const n4 = await c.add(4n, undefined); // joins with empty storage, no peers
    await c.until(() => n4.status().applied >= leader.status().commit);
    expect(c.net.snapshotsDelivered).toBeGreaterThan(0);
    expect(dec(n4.stateMachine.get('k39'))).toBe('v39');
    expect(n4.status().members.map((m) => m.url)).toEqual([1n, 2n, 3n, 4n].map(url));
    expect(dec(await c.run(n4.read('k7')))).toBe('v7');

    const victim = [...c.nodes.values()].find((n) => n !== leader && n !== n4) as RaftNode;
    let removed = false;
    victim.on('removed', () => {
      removed = true;
    });
    await c.run(leader.removeMember(victim.id));
    await c.until(() => removed && victim.status().stopped);
    expect(leader.isIdRemoved(victim.id)).toBe(true);
    await c.run(leader.propose(put('after', 'removal')));
    expect(dec(await c.run(n4.read('after')))).toBe('removal');
  });

  it('logs through a pino-shaped logger with etcd field names, and process() rejects bad senders', async () => {
    const lines: { bindings: Record<string, unknown>; obj: Record<string, unknown>; msg: string | undefined }[] = [];
    const mk = (bindings: Record<string, unknown>): Logger => {
      const log =
        () =>
        (obj: Record<string, unknown> | string, msg?: string): void => {
          if (typeof obj === 'string') lines.push({ bindings, obj: {}, msg: obj });
          else lines.push({ bindings, obj, msg });
        };
      return { trace: log(), debug: log(), info: log(), warn: log(), error: log(), child: (b) => mk({ ...bindings, ...b }) };
    };
    const c = new Cluster(6);
    cleanup.push(() => c.stopAll());
    for (const m of three()) await c.add(m.id, three(), new MemoryStorage(), m.id === 1n ? { logger: mk({}) } : {});
    await c.until(() => c.leader() !== undefined);
    expect(lines.some((l) => l.bindings['local-member-id'] === '1' && l.msg === 'raft node started')).toBe(true);
    expect(lines.some((l) => l.msg === 'leader changed' && typeof l.obj.leader === 'string')).toBe(true);
    const n1 = c.node(1n);
    await expect(n1.process(createMessage({ type: MessageType.MsgHeartbeat, from: 2n, to: 9n }))).rejects.toSatisfy((e: unknown) =>
      isRaftwireError(e, ErrorCode.INVALID_ARGUMENT),
    );
    const leader = c.leader() as RaftNode;
    const victim = [2n, 3n].find((id) => id !== leader.id) as Id;
    await c.run(leader.removeMember(victim));
    await c.until(() => c.node(1n).isIdRemoved(victim));
    await expect(c.node(1n).process(createMessage({ type: MessageType.MsgHeartbeat, from: victim, to: 1n }))).rejects.toSatisfy(
      (e: unknown) => isRaftwireError(e, 'ERR_MEMBER_REMOVED'),
    );
  });

  it('a removed leader steps down and stops; the rest elect a new leader', async () => {
    const c = new Cluster(4);
    cleanup.push(() => c.stopAll());
    for (const m of three()) await c.add(m.id, three());
    await c.until(() => c.leader() !== undefined);
    const old = c.leader() as RaftNode;
    await c.run(old.propose(put('a', '1')));
    await c.run(old.removeMember(old.id));
    await c.until(() => old.status().stopped);
    expect(old.status().removed).toBe(true);
    await c.until(() => c.leader() !== undefined && c.leader() !== old);
    const next = c.leader() as RaftNode;
    await c.run(next.propose(put('b', '2')));
    expect(next.status().members.map((m) => m.id)).not.toContain(old.id);
  });

  it('survives restarts from file-backed storage without losing acknowledged writes', async () => {
    const root = await mkdtemp(join(tmpdir(), 'raftwire-node-'));
    const c = new Cluster(5);
    c.realIo = true;
    cleanup.push(async () => {
      await c.stopAll();
      for (const s of c.storages.values()) if (s instanceof FileStorage) await s.close();
      await rm(root, { recursive: true, force: true });
    });
    for (const m of three()) await c.add(m.id, three(), await FileStorage.open(join(root, String(m.id))));
    await c.until(() => c.leader() !== undefined);
    for (let i = 0; i < 30; i++) await c.run((c.leader() as RaftNode).propose(put(`k${i}`, `v${i}`)));
    // Restart every member, one at a time.
    for (const id of [1n, 2n, 3n]) {
      await c.node(id).stop();
      await (c.storages.get(id) as FileStorage).close();
      c.net.unregister(id);
      const st = await FileStorage.open(join(root, String(id)));
      expect(st.recovery.tornTail).toBe(false);
      await c.add(id, three(), st); // peers are ignored when storage has state
      await c.until(() => c.leader() !== undefined);
      await c.run((c.leader() as RaftNode).propose(put(`after${id}`, 'x')));
    }
    for (const id of [1n, 2n, 3n]) {
      const n = c.node(id);
      expect(dec(await c.run(n.read('k29')))).toBe('v29');
      expect(dec(await c.run(n.read('after1')))).toBe('x');
    }
  });
});

describe('RaftNode waiters', () => {
  const track = (outcomes: string[], p: Promise<unknown>, name: string) =>
    p.then(
      () => outcomes.push(`${name} resolved`),
      (e: unknown) => outcomes.push(`${name} ${isRaftwireError(e) ? e.code : String(e)}`),
    );

  /**
   * A follower whose MsgApps are dropped learns a read index from the leader
   * that it has not applied yet: its reads wait for the apply.
   */
  async function readsWaitingForApply(seed: number) {
    const { c, leader } = await startedThree(seed);
    cleanup.push(() => c.stopAll());
    const follower = [...c.nodes.values()].find((n) => n !== leader) as RaftNode;
    await c.until(() => follower.status().applied === leader.status().applied);
    c.net.drop = (m) => m.type === MessageType.MsgApp && m.to === follower.id;
    await c.run(leader.propose(put('a', '2')));
    const behind = follower.status().applied;
    expect(leader.status().commit).toBeGreaterThan(behind);
    const ac = new AbortController();
    const outcomes: string[] = [];
    const reads = [follower.readIndex({ signal: ac.signal }), follower.readIndex(), follower.readIndex()];
    reads.forEach((p, i) => void track(outcomes, p, `read${i}`));
    // Every read got its index from the leader; none can resolve before the follower applies it.
    await c.clock.advance(500);
    expect(outcomes).toEqual([]);
    expect(follower.status().applied).toBe(behind);
    return { c, leader, follower, ac, reads, outcomes };
  }

  it('aborting one read waiting for an applied index rejects only that read; the others resolve once applied', async () => {
    const { c, leader, follower, ac, reads, outcomes } = await readsWaitingForApply(11);
    ac.abort();
    await expect(reads[0]).rejects.toSatisfy((e: unknown) => isRaftwireError(e, 'ERR_ABORTED'));
    c.net.drop = null;
    const [i1, i2] = [await c.run(reads[1] as Promise<number>), await c.run(reads[2] as Promise<number>)];
    expect(i1).toBe(i2);
    expect(i1).toBeGreaterThan(0);
    expect(follower.status().applied).toBeGreaterThanOrEqual(i1);
    expect(i1).toBeLessThanOrEqual(leader.status().commit);
    expect(outcomes.sort()).toEqual(['read0 ERR_ABORTED', 'read1 resolved', 'read2 resolved']);
  });

  it('stop() rejects every pending read and proposal with ERR_STOPPED, also after another read was aborted', async () => {
    const { c, follower, ac, reads, outcomes } = await readsWaitingForApply(12);
    ac.abort();
    await expect(reads[0]).rejects.toSatisfy((e: unknown) => isRaftwireError(e, 'ERR_ABORTED'));
    c.net.partition([[follower.id], [...c.nodes.keys()].filter((id) => id !== follower.id)]);
    void track(outcomes, follower.propose(put('b', '1')), 'proposal');
    void track(outcomes, follower.readIndex(), 'fresh read');
    await c.clock.advance(50);
    await follower.stop();
    await c.clock.advance(10);
    expect(outcomes.sort()).toEqual([
      'fresh read ERR_STOPPED',
      'proposal ERR_STOPPED',
      'read0 ERR_ABORTED',
      'read1 ERR_STOPPED',
      'read2 ERR_STOPPED',
    ]);
  });
});

describe('RaftNode before start()', () => {
  const fresh = () => new RaftNode({ id: 1n, peers: three(), storage: new MemoryStorage(), clock: new ManualClock() });

  it('status() says the node is not started, not that it is a follower', () => {
    const st = fresh().status();
    expect(st.started).toBe(false);
    expect(st.stopped).toBe(false);
    expect(st.raftState).toBe('StateNotStarted');
    expect(st.leader).toBe(0n);
  });

  it('propose, readIndex and addMember reject with ERR_NOT_STARTED, naming start()', async () => {
    const n = fresh();
    for (const call of [() => n.propose(put('a', '1')), () => n.readIndex(), () => n.addMember(4n, url(4n))]) {
      await expect(call()).rejects.toSatisfy((e: unknown) => isRaftwireError(e, 'ERR_NOT_STARTED') && /not started/.test(String(e)));
    }
  });

  it('after stop() without start() calls reject with ERR_STOPPED', async () => {
    const n = fresh();
    await n.stop();
    await expect(n.propose(put('a', '1'))).rejects.toSatisfy((e: unknown) => isRaftwireError(e, 'ERR_STOPPED'));
    expect(n.status().stopped).toBe(true);
  });
});
