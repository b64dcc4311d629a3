import { MessageType } from '@raftwire/core';
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../src/storage.js';
import { RawNetwork } from './helpers/raw-network.js';

/**
 * A follower whose disk lost its last acknowledged entries (a torn WAL tail
 * that took a record that was fsynced and answered): Raft assumes this never
 * happens, and the leader still counts those entries as the follower's. It
 * must find out and send them again without waiting for a new write, or the
 * follower serves no read (a read waits to apply the leader's commit index).
 */
function loseLastEntry(net: RawNetwork, id: number): number {
  const n = net.node(id);
  const old = n.storage;
  const last = old.lastIndex() - 1;
  const hs = old.initialState().hardState;
  const s = new MemoryStorage();
  s.applySnapshot(old.snapshot());
  const first = old.firstIndex();
  if (last >= first) s.append(old.entries(first, last + 1));
  s.setHardState({ ...hs, commit: Math.min(hs.commit, last) });
  n.storage = s;
  return last;
}

describe('a follower that lost acknowledged entries', () => {
  it('gets them again from the leader on the next heartbeat, with no new write, and serves reads', () => {
    const net = new RawNetwork([1, 2, 3]);
    net.campaign(1);
    net.propose(1, 'a');
    net.propose(1, 'b');
    const leaderLast = net.raft(1).raftLog.lastIndex();
    expect(net.raft(3).raftLog.lastIndex()).toBe(leaderLast);
    net.crash(3);
    expect(loseLastEntry(net, 3)).toBe(leaderLast - 1);
    net.start(3);
    expect(net.raft(3).raftLog.lastIndex()).toBe(leaderLast - 1);
    // Heartbeats only: nothing is proposed.
    net.tickAll(3);
    expect(net.raft(1).raftLog.lastIndex()).toBe(leaderLast);
    expect(net.raft(3).raftLog.lastIndex()).toBe(leaderLast);
    expect(net.appliedData(3)).toEqual(['a', 'b']);
    expect(net.raft(1).prs.get(3n)?.match).toBe(leaderLast);
    // A linearizable read on the follower is answered and its index is applied there.
    net.node(3).rn?.readIndex(new Uint8Array([9]));
    net.stabilize();
    const rs = net.node(3).readStates.at(-1);
    expect(rs?.index).toBe(leaderLast);
    expect(net.raft(3).raftLog.applied).toBeGreaterThanOrEqual(leaderLast);
  });

  it('a stale report of lost entries only costs a resend: the follower acknowledges again', () => {
    const net = new RawNetwork([1, 2, 3]);
    net.campaign(1);
    net.propose(1, 'a');
    const last = net.raft(1).raftLog.lastIndex();
    // A report that arrives after the follower caught up (delivered late): the leader resends, and match comes back.
    net.node(1).rn?.step({
      ...net.sent.find((m) => m.type === MessageType.MsgAppResp && m.from === 3n && !m.reject)!,
      reject: true,
      index: last,
      rejectHint: last - 1,
      logTerm: net.raft(1).raftLog.term(last - 1),
      context: new TextEncoder().encode('raftwire:lost-entries'),
    });
    net.stabilize();
    expect(net.raft(1).prs.get(3n)?.match).toBe(last);
    expect(net.raft(3).raftLog.lastIndex()).toBe(last);
    expect(net.appliedData(3)).toEqual(['a']);
  });
});
