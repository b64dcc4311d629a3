/**
 * Learners at the state-machine level (etcd's raft learner tests): a learner gets the log,
 * never counts toward a commit or an election, never campaigns, and is promoted only once it
 * has caught up; the leader takes one conf change at a time and answers a refused one with an
 * entry in its place.
 */
import { EntryType, MessageType } from '@raftwire/core';
import { describe, expect, it } from 'vitest';
import { ConfChangeRefusal, ConfChangeType, decodeRefusedConfChange } from '../src/conf-change.js';
import { StateType } from '../src/raft.js';
import { RawNetwork } from './helpers/raw-network.js';

/** Reasons of the refused conf changes `id` applied, in order. */
function refusals(net: RawNetwork, id: number): number[] {
  return net
    .node(id)
    .applied.filter((e) => e.type === EntryType.EntryNormal)
    .map((e) => decodeRefusedConfChange(e.data)?.reason)
    .filter((r): r is ConfChangeRefusal => r !== undefined);
}

describe('learners', () => {
  it('a learner receives and applies the log but is not a voter', () => {
    const net = new RawNetwork([1, 2, 3], {}, [1, 2]);
    net.campaign(1);
    net.addLearner(1, 3);
    net.propose(1, 'a');
    expect(net.raft(1).voters()).toEqual([1n, 2n]);
    expect(net.raft(1).learners()).toEqual([3n]);
    expect(net.raft(3).learners()).toEqual([3n]);
    expect(net.appliedData(3)).toEqual(['a']);
    expect(net.raft(1).confState()).toMatchObject({ voters: [1n, 2n], learners: [3n] });
  });

  it('is never counted in the commit quorum: two voters, one down, a learner up: nothing commits', () => {
    const net = new RawNetwork([1, 2, 3], { checkQuorum: false }, [1, 2]);
    net.campaign(1);
    net.addLearner(1, 3);
    net.propose(1, 'a');
    const committed = net.raft(1).raftLog.committed;
    net.crash(2);
    net.propose(1, 'b');
    // The learner holds 'b' and acknowledged it; with it, 2 of 3 would be a majority.
    expect(net.raft(3).raftLog.lastIndex()).toBe(net.raft(1).raftLog.lastIndex());
    expect(net.raft(1).raftLog.committed).toBe(committed);
    net.start(2);
    net.tickAll(3);
    expect(net.raft(1).raftLog.committed).toBe(net.raft(1).raftLog.lastIndex());
    expect(net.appliedData(3)).toEqual(['a', 'b']);
  });

  it('never campaigns, and its vote does not make a leader', () => {
    const net = new RawNetwork([1, 2, 3], { preVote: false, checkQuorum: false }, [1, 2]);
    net.campaign(1);
    net.addLearner(1, 3);
    net.crash(1);
    // The learner's election timer runs out many times over: it stays a follower.
    for (let i = 0; i < 100; i++) net.node(3).rn?.tick();
    net.stabilize();
    expect(net.raft(3).state).toBe(StateType.Follower);
    expect(net.sent.some((m) => m.from === 3n && (m.type === MessageType.MsgVote || m.type === MessageType.MsgPreVote))).toBe(false);
    // Voter 2 campaigns: the learner may grant its vote, but 2 of {1, 2} is not reached without 1.
    net.campaign(2);
    expect(net.raft(2).state).toBe(StateType.Candidate);
  });

  it('is promoted by AddNode only once caught up; the refusal is an entry the proposer sees', () => {
    const net = new RawNetwork([1, 2, 3], {}, [1, 2]);
    net.campaign(1);
    net.addLearner(1, 3);
    for (let i = 0; i < 20; i++) net.propose(1, `v${i}`);
    // The learner falls far behind: every MsgApp to it is lost.
    net.filter = (m) => !(m.to === 3n && m.type === MessageType.MsgApp);
    for (let i = 0; i < 40; i++) net.propose(1, `w${i}`);
    net.addNode(1, 3);
    expect(net.raft(1).learners()).toEqual([3n]);
    expect(refusals(net, 1)).toEqual([ConfChangeRefusal.LearnerNotReady]);
    // Caught up: the promotion goes through, and the former learner counts from then on.
    net.heal();
    net.tickAll(3);
    net.addNode(1, 3);
    expect(net.raft(1).voters()).toEqual([1n, 2n, 3n]);
    expect(net.raft(3).voters()).toEqual([1n, 2n, 3n]);
    expect(net.raft(3).promotable()).toBe(true);
    net.crash(2);
    net.propose(1, 'x');
    expect(net.appliedData(3).at(-1)).toBe('x');
  });

  it('takes one conf change at a time: the second of two proposed together is refused with an entry in its place', () => {
    const net = new RawNetwork([1, 2, 3, 4], {}, [1, 2]);
    net.campaign(1);
    const rn = net.node(1).rn;
    rn?.proposeConfChange({ type: ConfChangeType.AddLearnerNode, nodeId: 3n, context: new Uint8Array(0) });
    rn?.proposeConfChange({ type: ConfChangeType.AddLearnerNode, nodeId: 4n, context: new Uint8Array(0) });
    net.stabilize();
    expect(net.raft(1).learners()).toEqual([3n]);
    expect(refusals(net, 1)).toEqual([ConfChangeRefusal.Pending]);
    expect(refusals(net, 2)).toEqual([ConfChangeRefusal.Pending]);
    expect(raftPending(net, 1)).toBe(false);
  });

  it('a restarted member keeps its learners (ConfState from a snapshot, then the log)', () => {
    const net = new RawNetwork([1, 2, 3], {}, [1, 2]);
    net.campaign(1);
    net.addLearner(1, 3);
    net.propose(1, 'a');
    const n2 = net.node(2);
    n2.storage.createSnapshot(n2.storage.lastIndex(), net.raft(2).confState(), new Uint8Array(0));
    net.crash(2);
    net.start(2);
    expect(net.raft(2).learners()).toEqual([3n]);
    expect(net.raft(2).voters()).toEqual([1n, 2n]);
  });
});

function raftPending(net: RawNetwork, id: number): boolean {
  return net.raft(id).hasPendingConfChange();
}
