/**
 * Membership changes through RaftNode, as etcd makes them safe: URLs validated and unique,
 * one change at a time (a second one fails at once with ERR_CONFLICT), strict
 * reconfiguration (a change that would leave the started voters short of a quorum is
 * refused), and learners that catch up before they are promoted.
 */
import { ErrorCode, isRaftwireError, MessageType } from '@raftwire/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { KvStateMachine } from '../src/kv.js';
import type { RaftNode } from '../src/raft-node.js';
import { type Cluster, dec, put, startedThree, url } from './helpers/node-cluster.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

const code = (c: string) => (e: unknown) => isRaftwireError(e) && e.code === c;

async function started(seed: number): Promise<{ c: Cluster; leader: RaftNode }> {
  const r = await startedThree(seed);
  cleanup.push(() => r.c.stopAll());
  return r;
}

describe('membership changes', () => {
  it("refuses a URL another member has, and normalises one with its scheme's default port", async () => {
    const { c, leader } = await started(31);
    await expect(leader.addMember(4n, url(2n))).rejects.toSatisfy(code(ErrorCode.CONFLICT));
    await expect(leader.addMember(4n, 'HTTP://127.0.0.1:2381/')).rejects.toSatisfy(code(ErrorCode.CONFLICT)); // = url(2n)
    await expect(leader.addMember(4n, 'http://127.0.0.1')).rejects.toSatisfy(code(ErrorCode.INVALID_URL));
    await expect(leader.addMember(2n, 'http://127.0.0.1:2399')).rejects.toSatisfy(code(ErrorCode.CONFLICT));
    const members = await c.run(leader.addMember(4n, 'http://127.0.0.1:80', { learner: true }));
    expect(members.find((m) => m.id === 4n)).toEqual({ id: 4n, url: 'http://127.0.0.1:80', learner: true });
  });

  it('takes one change at a time: a second change fails at once with ERR_CONFLICT, also when proposed on another member', async () => {
    const { c, leader } = await started(32);
    const follower = [...c.nodes.values()].find((n) => n !== leader) as RaftNode;
    const other = [...c.nodes.values()].find((n) => n !== leader && n !== follower) as RaftNode;
    // The first change cannot commit yet: the leader hears from nobody.
    c.net.partition([[leader.id], [follower.id, other.id]]);
    const first = leader.addMember(4n, url(4n), { learner: true });
    first.catch(() => {});
    await c.clock.advance(10);
    await expect(leader.addMember(5n, url(5n), { learner: true })).rejects.toSatisfy(code(ErrorCode.CONFLICT));
    await expect(leader.removeMember(follower.id)).rejects.toSatisfy(code(ErrorCode.CONFLICT));
    c.net.heal();
    await c.run(first);
    await c.until(() => follower.status().applied === leader.status().applied);

    // A race: the follower proposes before the leader's change reaches it (and before it can
    // commit). The leader refuses it and says so with an entry, which fails the follower's call
    // as soon as it applies.
    c.net.drop = (m) => m.type === MessageType.MsgApp;
    const racing = leader.removeMember(4n);
    racing.catch(() => {});
    await c.clock.advance(10);
    const t0 = c.clock.now();
    const refused = follower.addMember(5n, url(5n), { learner: true });
    let settled = false;
    refused.then(
      () => {},
      () => {
        settled = true;
      },
    );
    await Promise.resolve();
    expect(settled).toBe(false); // the follower's own log shows nothing pending: it proposes
    await c.clock.advance(20);
    c.net.drop = null;
    await expect(c.run(refused)).rejects.toSatisfy(
      (e: unknown) => isRaftwireError(e, ErrorCode.CONFLICT) && /another membership change is in progress/.test(String(e)),
    );
    // Answered within a few round trips of simulated time, far below an election timeout.
    expect(c.clock.now() - t0).toBeLessThan(1000);
    await c.run(racing);
    expect(leader.status().members.map((m) => m.id)).toEqual([1n, 2n, 3n]);
  });

  it('strict reconfiguration: refuses voters whose quorum would depend on members that are not started', async () => {
    const { c, leader } = await started(33);
    // Voters that never start: 4 of 4 voters with 3 started is fine, so is 5 with 3...
    await c.run(leader.addMember(4n, url(4n)));
    await c.run(leader.addMember(5n, url(5n)));
    // ... but a sixth would need 4 started of 6: refused, and the cluster stays writable.
    await expect(leader.addMember(6n, url(6n))).rejects.toSatisfy(
      (e: unknown) => isRaftwireError(e, ErrorCode.CONFLICT) && /add it as a learner/.test(String(e)),
    );
    // A learner never changes the quorum.
    await c.run(leader.addMember(6n, url(6n), { learner: true }));
    // Removing a started voter would leave 2 started of 4: refused; removing a voter that never started is fine.
    const follower = [...c.nodes.values()].find((n) => n !== leader) as RaftNode;
    await expect(leader.removeMember(follower.id)).rejects.toSatisfy(code(ErrorCode.CONFLICT));
    await c.run(leader.removeMember(5n));
    await c.run(leader.removeMember(4n));
    await c.run(leader.propose(put('b', '2')));
    expect(leader.status().voters).toEqual([1n, 2n, 3n]);
  });

  it('strict reconfiguration counts a voter that is down as not started', async () => {
    const { c, leader } = await started(34);
    const [down, up] = [...c.nodes.values()].filter((n) => n !== leader) as [RaftNode, RaftNode];
    await down.stop();
    // 3 voters, 2 started: removing the live follower would leave 1 started of 2.
    await expect(leader.removeMember(up.id)).rejects.toSatisfy(code(ErrorCode.CONFLICT));
    // A fourth voter would need 3 started of 4.
    await expect(leader.addMember(4n, url(4n))).rejects.toSatisfy(code(ErrorCode.CONFLICT));
    // Removing the member that is down is safe: 2 started of 2.
    await c.run(leader.removeMember(down.id));
    expect(leader.status().voters).toEqual([leader.id, up.id].sort((a, b) => (a < b ? -1 : 1)));
  });

  it('a learner catches up without voting, is refused promotion while it lags, then promoted', async () => {
    const { c, leader } = await started(35);
    await c.run(leader.addMember(4n, url(4n), { learner: true }));
    const n4 = await c.add(4n, undefined); // joins with empty storage
    await c.until(() => n4.status().applied >= leader.status().commit);
    expect(n4.status().learners).toEqual([4n]);
    expect(n4.status().raftState).toBe('StateFollower');
    for (const n of c.nodes.values()) expect(n.status().learners).toEqual([4n]);
    // The learner falls behind.
    c.net.drop = (m) => m.to === 4n && (m.type === MessageType.MsgApp || m.type === MessageType.MsgSnap);
    for (let i = 0; i < 60; i++) await c.run(leader.propose(put(`k${i}`, `v${i}`)));
    await expect(c.run(leader.promoteMember(4n))).rejects.toSatisfy(
      (e: unknown) => isRaftwireError(e, ErrorCode.CONFLICT) && /has not caught up/.test(String(e)),
    );
    expect(leader.status().voters).toEqual([1n, 2n, 3n]);
    c.net.drop = null;
    await c.until(() => n4.status().applied >= leader.status().commit);
    const members = await c.run(leader.promoteMember(4n));
    expect(members.find((m) => m.id === 4n)?.learner).toBe(false);
    await c.until(() => n4.status().voters.includes(4n));
    expect(dec((n4.stateMachine as KvStateMachine).get('k59'))).toBe('v59');
    await expect(leader.promoteMember(4n)).rejects.toSatisfy(code(ErrorCode.CONFLICT)); // a voter already
    await expect(leader.promoteMember(9n)).rejects.toSatisfy(code(ErrorCode.MEMBER_NOT_FOUND));
  });
});
