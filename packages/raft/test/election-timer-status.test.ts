import { describe, expect, it } from 'vitest';
import { SeededRand } from '@raftwire/core';
import { RawNode } from '../src/raw-node.js';
import { MemoryStorage } from '../src/storage.js';
import { createSnapshot } from '@raftwire/core';

function node(): RawNode {
  const storage = new MemoryStorage();
  storage.applySnapshot(
    createSnapshot({
      metadata: {
        index: 1,
        term: 1,
        confState: { voters: [1n, 2n, 3n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      },
    }),
  );
  storage.setHardState({ term: 1, vote: 0n, commit: 1 });
  return new RawNode({ id: 1n, storage, electionTick: 10, heartbeatTick: 1, preVote: true, checkQuorum: true, rand: new SeededRand(7) });
}

describe('RawNode.status() election timer', () => {
  it('reports ticks elapsed and the randomized timeout a follower campaigns at', () => {
    const rn = node();
    const st = rn.status();
    expect(st.electionElapsed).toBe(0);
    expect(st.electionTimeout).toBeGreaterThanOrEqual(10);
    expect(st.electionTimeout).toBeLessThan(20);
    for (let i = 1; i < st.electionTimeout; i++) {
      rn.tick();
      expect(rn.status().electionElapsed).toBe(i);
      expect(rn.status().raftState).toBe('StateFollower');
    }
    // The tick that reaches the timeout starts a (pre-)election and resets the timer.
    rn.tick();
    const after = rn.status();
    expect(after.raftState).toBe('StatePreCandidate');
    expect(after.electionElapsed).toBe(0);
    expect(after.electionTimeout).toBeGreaterThanOrEqual(10);
    expect(after.electionTimeout).toBeLessThan(20);
  });
});
