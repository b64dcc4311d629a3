import type { Message } from '@raftwire/core';
import { EntryType, MessageType } from '@raftwire/core';
import { describe, expect, it } from 'vitest';
import { ProgressState } from '../src/progress.js';
import { StateType } from '../src/raft.js';
import { raftOf } from './helpers/raft-of.js';
import { RawNetwork } from './helpers/raw-network.js';

const hasEntryOfTerm = (t: number) => (m: Message) => m.type === MessageType.MsgApp && m.entries.some((e) => e.term === t);

describe('Raft paper figure 8', () => {
  it('does not commit an entry from an earlier term by counting replicas; only a current-term entry commits it', () => {
    // maxSizePerMsg 1: one entry per MsgApp, so the older entry can be replicated alone.
    const net = new RawNetwork([1, 2, 3, 4, 5], { preVote: false, checkQuorum: false, maxSizePerMsg: 1 });
    // (a) S1 leads term 2 and replicates index 3 ("x", term 2) to S2 only.
    net.campaign(1);
    expect(net.raft(1).state).toBe(StateType.Leader);
    expect(net.raft(1).term).toBe(2);
    for (const o of [3, 4, 5]) net.cut(1, o);
    net.propose(1, 'x');
    expect(net.raft(2).raftLog.term(3)).toBe(2);
    expect(net.raft(1).raftLog.committed).toBe(2);
    // (b) S1 crashes; S5 wins term 3 with votes of S3, S4 and writes index 3 (term 3) locally only.
    net.crash(1);
    net.heal();
    net.filter = (m) => !(m.from === 5n && m.type === MessageType.MsgApp);
    net.campaign(5);
    expect(net.raft(5).state).toBe(StateType.Leader);
    expect(net.raft(5).term).toBe(3);
    expect(net.raft(5).raftLog.term(3)).toBe(3);
    // (c) S5 crashes; S1 restarts and leads term 4; it replicates index 3 (term 2) to a majority,
    // but its own term-4 entry does not get out.
    net.crash(5);
    net.heal();
    net.start(1);
    // The term-4 entry is lost in flight: strip it from every MsgApp.
    net.rewrite = (m) => (hasEntryOfTerm(4)(m) ? { ...m, entries: m.entries.filter((e) => e.term !== 4) } : m);
    net.tickAll(0);
    net.campaign(1);
    if (net.raft(1).state !== StateType.Leader) net.campaign(1);
    expect(net.raft(1).state).toBe(StateType.Leader);
    expect(net.raft(1).term).toBe(4);
    for (let i = 0; i < 3; i++) {
      net.node(1).rn?.tick(); // heartbeats let the probes continue
      net.stabilize();
    }
    const holders = [1, 2, 3, 4].filter((id) => net.raft(id).raftLog.term(3) === 2);
    expect(holders.length).toBeGreaterThanOrEqual(3); // on a majority of 5
    // The crux: counting replicas must not commit an entry from an older term.
    expect(net.raft(1).raftLog.committed).toBe(2);
    // (d) S1 crashes before its term-4 entry spreads; S5 can still win (its last term 3 > 2) and
    // overwrite index 3 everywhere. That is safe only because index 3 was never committed.
    net.crash(1);
    net.heal();
    net.start(5);
    net.campaign(5);
    if (net.raft(5).state !== StateType.Leader) net.campaign(5);
    expect(net.raft(5).state).toBe(StateType.Leader);
    net.propose(5, 'y');
    net.start(1);
    net.tickAll(3);
    for (const id of [1, 2, 3, 4, 5]) {
      expect(net.raft(id).raftLog.term(3)).toBe(3);
      expect(net.appliedData(id)).not.toContain('x');
      expect(net.appliedData(id)).toEqual(['y']);
    }
  });

  it('commits the earlier-term entry together with a current-term entry (figure 8 e)', () => {
    const net = new RawNetwork([1, 2, 3, 4, 5], { preVote: false, checkQuorum: false, maxSizePerMsg: 1 });
    net.campaign(1);
    for (const o of [3, 4, 5]) net.cut(1, o);
    net.propose(1, 'x');
    net.crash(1);
    net.heal();
    net.start(1);
    net.campaign(1);
    if (net.raft(1).state !== StateType.Leader) net.campaign(1);
    expect(net.raft(1).state).toBe(StateType.Leader);
    expect(net.raft(1).raftLog.committed).toBe(4);
    for (const id of [1, 2, 3, 4, 5]) expect(net.appliedData(id)).toEqual(['x']);
  });
});

describe('membership changes', () => {
  it('adds a voter that catches up, then removes a follower and finally the leader, which steps down', () => {
    const net = new RawNetwork([1, 2, 3, 4], {}, [1, 2, 3]);
    net.campaign(1);
    net.propose(1, 'a');
    net.addNode(1, 4);
    net.tickAll(3);
    expect(net.raft(1).voters()).toEqual([1n, 2n, 3n, 4n]);
    expect(net.raft(4).voters()).toEqual([1n, 2n, 3n, 4n]);
    expect(net.appliedData(4)).toEqual(['a']);
    // With four voters the quorum is three: 1, 2, 4 commit without 3.
    net.crash(3);
    net.propose(1, 'b');
    expect(net.appliedData(4)).toEqual(['a', 'b']);
    net.start(3);
    net.tickAll(3);
    expect(net.appliedData(3)).toEqual(['a', 'b']);

    net.removeNode(1, 2);
    expect(net.raft(1).voters()).toEqual([1n, 3n, 4n]);
    net.crash(2);
    net.propose(1, 'c');
    expect(net.appliedData(3)).toEqual(['a', 'b', 'c']);

    // Only one conf change may be pending: a second one proposed before the first applies is ignored.
    net.node(1).rn?.proposeConfChange({ type: 0, nodeId: 9n, context: new Uint8Array(0) });
    net.node(1).rn?.proposeConfChange({ type: 0, nodeId: 8n, context: new Uint8Array(0) });
    net.stabilize();
    expect(net.raft(1).voters()).toEqual([1n, 3n, 4n, 9n]);
    net.removeNode(1, 9);

    net.removeNode(1, 1);
    expect(net.raft(1).state).toBe(StateType.Follower);
    expect(net.raft(1).promotable()).toBe(false);
    net.tickAll(40);
    const leaders = [3, 4].filter((id) => net.raft(id).state === StateType.Leader);
    expect(leaders).toHaveLength(1);
    expect(net.raft(1).state).not.toBe(StateType.Leader);
    net.propose(leaders[0] as number, 'd');
    expect(net.appliedData(3)).toEqual(['a', 'b', 'c', 'd']);
    expect(net.appliedData(4)).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('snapshots', () => {
  function lagging() {
    const net = new RawNetwork([1, 2, 3]);
    net.campaign(1);
    net.isolate(3);
    for (let i = 0; i < 20; i++) net.propose(1, `v${i}`);
    const leader = net.node(1);
    const applied = leader.rn ? raftOf(leader.rn).raftLog.applied : 0;
    leader.storage.createSnapshot(
      applied,
      leader.rn?.confState() ?? { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      new Uint8Array([7]),
    );
    leader.storage.compact(applied);
    net.heal();
    // Heartbeats until the leader tries to send entries that are gone and turns to a snapshot.
    for (let i = 0; i < 20 && !net.queue.some((m) => m.type === MessageType.MsgSnap); i++) {
      net.node(1).rn?.tick();
      net.deliverOnly((m) => m.type !== MessageType.MsgSnap);
      net.deliverOnly((m) => m.type !== MessageType.MsgSnap);
    }
    return { net, applied };
  }

  it('sends MsgSnap to a follower whose entries were compacted; it restores and catches up', () => {
    const { net, applied } = lagging();
    const snap = net.queue.find((m) => m.type === MessageType.MsgSnap);
    expect(snap?.to).toBe(3n);
    expect(snap?.snapshot?.metadata.index).toBe(applied);
    const pr = net.node(1).rn?.status().progress.get(3n);
    expect(pr?.state).toBe(ProgressState.Snapshot);
    expect(pr?.pendingSnapshot).toBe(applied);
    // Paused while the snapshot is in flight: no MsgApp to 3.
    net.node(1).rn?.propose(new TextEncoder().encode('during'));
    net.flushReady();
    expect(net.queue.filter((m) => m.to === 3n && m.type === MessageType.MsgApp)).toHaveLength(0);
    net.stabilize();
    net.node(1).rn?.reportSnapshot(3n, 'finish');
    net.tickAll(2);
    expect(net.node(3).restoredSnapshots).toContain(applied);
    const after = net.node(1).rn?.status().progress.get(3n);
    expect(after?.state).toBe(ProgressState.Replicate);
    expect(after?.match).toBe(net.raft(1).raftLog.lastIndex());
    expect(net.raft(3).raftLog.committed).toBe(net.raft(1).raftLog.committed);
    expect(net.appliedData(3)).toEqual(['during']); // entries before the snapshot arrive inside it
  });

  it('on snapshot failure goes to probe with the pending snapshot cleared, then retries', () => {
    const { net, applied } = lagging();
    net.queue = net.queue.filter((m) => m.type !== MessageType.MsgSnap); // the transport lost it
    net.node(1).rn?.reportSnapshot(3n, 'failure');
    const pr = net.raft(1).prs.get(3n);
    expect(pr?.state).toBe(ProgressState.Probe);
    expect(pr?.pendingSnapshot).toBe(0);
    expect(pr?.isPaused()).toBe(true); // waits for a heartbeat response before probing again
    net.node(1).rn?.tick();
    net.stabilize();
    expect(net.node(3).restoredSnapshots).toContain(applied);
    expect(net.raft(1).prs.get(3n)?.state).toBe(ProgressState.Replicate);
  });

  it('reportUnreachable moves a replicating follower to probe; a probing one stays', () => {
    const net = new RawNetwork([1, 2, 3]);
    net.campaign(1);
    net.propose(1, 'a');
    expect(net.raft(1).prs.get(2n)?.state).toBe(ProgressState.Replicate);
    net.node(1).rn?.reportUnreachable(2n);
    const pr = net.raft(1).prs.get(2n);
    expect(pr?.state).toBe(ProgressState.Probe);
    expect(pr?.next).toBe((pr?.match ?? 0) + 1);
    net.node(1).rn?.reportUnreachable(2n);
    expect(net.raft(1).prs.get(2n)?.state).toBe(ProgressState.Probe);
    net.propose(1, 'b');
    expect(net.raft(1).prs.get(2n)?.state).toBe(ProgressState.Replicate);
    expect(net.appliedData(2)).toEqual(['a', 'b']);
  });

  it('limits in-flight MsgApps per follower in replicate state', () => {
    const net = new RawNetwork([1, 2, 3], { maxInflightMsgs: 3, maxSizePerMsg: 1 });
    net.campaign(1);
    net.filter = (m) => m.type !== MessageType.MsgAppResp; // responses never come back
    for (let i = 0; i < 10; i++) net.propose(1, `p${i}`);
    const apps = net.sent.filter((m) => m.type === MessageType.MsgApp && m.to === 2n && m.entries.some((e) => e.data.length > 0));
    expect(apps).toHaveLength(3);
    expect(net.raft(1).prs.get(2n)?.inflights.full()).toBe(true);
    net.heal();
    net.tickAll(15);
    expect(net.appliedData(2)).toHaveLength(10);
  });
});

describe('pre-vote and check-quorum', () => {
  function partitionedFollower(preVote: boolean) {
    const net = new RawNetwork([1, 2, 3], { preVote, checkQuorum: preVote });
    net.campaign(1);
    net.isolate(3);
    for (let i = 0; i < 60; i++) {
      net.node(3).rn?.tick();
      net.stabilize();
    }
    const isolatedTerm = net.raft(3).term;
    net.heal();
    net.tickAll(5);
    return { net, isolatedTerm };
  }

  it('a partitioned node with pre-vote does not bump its term nor disrupt the leader on rejoin', () => {
    const { net, isolatedTerm } = partitionedFollower(true);
    expect(isolatedTerm).toBe(2);
    expect(net.raft(1).state).toBe(StateType.Leader);
    expect(net.raft(1).term).toBe(2);
    expect(net.raft(3).lead).toBe(1n);
  });

  it('without pre-vote the same partition disrupts the leader (control)', () => {
    const { net, isolatedTerm } = partitionedFollower(false);
    expect(isolatedTerm).toBeGreaterThan(2);
    expect(net.raft(1).term).toBeGreaterThan(2);
  });

  it('an isolated leader steps down after an election timeout without a quorum (check-quorum)', () => {
    const net = new RawNetwork([1, 2, 3]);
    net.campaign(1);
    net.tickAll(25);
    expect(net.raft(1).state).toBe(StateType.Leader); // control: connected leader keeps leading
    net.isolate(1);
    for (let i = 0; i < 20; i++) {
      net.node(1).rn?.tick();
      net.stabilize();
    }
    expect(net.raft(1).state).toBe(StateType.Follower);
  });

  it('followers ignore a vote request while the leader lease holds', () => {
    const net = new RawNetwork([1, 2, 3]);
    net.campaign(1);
    net.node(2).rn?.campaign();
    net.stabilize();
    expect(net.raft(1).state).toBe(StateType.Leader);
    expect(net.raft(1).term).toBe(2);
  });
});

describe('read index', () => {
  it('answers only after a quorum acknowledged a heartbeat round carrying the request', () => {
    const net = new RawNetwork([1, 2, 3]);
    net.campaign(1);
    net.propose(1, 'a');
    const leader = net.node(1);
    leader.rn?.readIndex(new TextEncoder().encode('r1'));
    net.flushReady();
    expect(leader.readStates).toHaveLength(0);
    const hbs = net.queue.filter((m) => m.type === MessageType.MsgHeartbeat);
    expect(hbs).toHaveLength(2);
    expect(new TextDecoder().decode(hbs[0]?.context)).toBe('r1');
    net.deliverOnly((m) => m.type === MessageType.MsgHeartbeat);
    expect(leader.readStates).toHaveLength(0); // acks not back yet
    net.deliverOnly((m) => m.type === MessageType.MsgHeartbeatResp && m.from === 2n);
    expect(leader.readStates).toHaveLength(1); // self + 2 = quorum
    expect(leader.readStates[0]?.index).toBe(net.raft(1).raftLog.committed);
    expect(new TextDecoder().decode(leader.readStates[0]?.requestCtx)).toBe('r1');
  });

  it('never answers without a quorum', () => {
    const net = new RawNetwork([1, 2, 3], { checkQuorum: false });
    net.campaign(1);
    net.isolate(1);
    net.node(1).rn?.readIndex(new TextEncoder().encode('r'));
    net.tickAll(30);
    expect(net.node(1).readStates).toHaveLength(0);
  });

  it('a follower read is forwarded to the leader and answered with the leader commit', () => {
    const net = new RawNetwork([1, 2, 3]);
    net.campaign(1);
    net.propose(1, 'a');
    net.node(2).rn?.readIndex(new TextEncoder().encode('f'));
    net.stabilize();
    expect(net.node(2).readStates).toHaveLength(1);
    expect(net.node(2).readStates[0]?.index).toBe(net.raft(1).raftLog.committed);
  });

  it('a new leader defers reads until it commits an entry in its term', () => {
    const net = new RawNetwork([1, 2, 3]);
    net.campaign(1);
    net.crash(1);
    net.filter = (m) => !(m.type === MessageType.MsgAppResp); // the new term's first entry cannot commit
    let l = 0;
    for (let i = 0; i < 60 && l === 0; i++) {
      net.tickAll(1);
      l = [2, 3].find((id) => net.raft(id).state === StateType.Leader) ?? 0;
    }
    expect(l).not.toBe(0);
    net.node(l).rn?.readIndex(new TextEncoder().encode('x'));
    net.stabilize();
    expect(net.node(l).readStates).toHaveLength(0);
    expect(net.raft(l).pendingReadIndexMessages).toHaveLength(1);
    net.heal();
    net.tickAll(2);
    expect(net.node(l).readStates).toHaveLength(1);
    expect(net.raft(l).raftLog.term(net.node(l).readStates[0]?.index ?? 0)).toBe(net.raft(l).term);
    expect(EntryType.EntryNormal).toBe(0);
  });
});
