import { createMessage, createSnapshot, type Entry, EntryType, MessageType, SeededRand, silentLogger } from '@raftwire/core';
import { ManualClock, settle } from '@raftwire/core/testing';
import { describe, expect, it } from 'vitest';
import { RawNode, type Ready } from '../src/raw-node.js';
import { ReadyLoop, type ReadyHandler } from '../src/ready-loop.js';
import { MemoryStorage } from '../src/storage.js';

/** Member 1 of three, a follower of member 2. */
function follower(): { rn: RawNode; storage: MemoryStorage } {
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
  const rn = new RawNode({ id: 1n, storage, electionTick: 10, heartbeatTick: 1, rand: new SeededRand(3), applied: 1 });
  return { rn, storage };
}

describe('ReadyLoop', () => {
  it('runs one turn at a time even when applying an entry kicks it again synchronously', async () => {
    // Finishing a ReadIndex round or a transport reporting a peer unreachable calls kick()
    // from inside the turn. When a turn's first Ready needs no fsync, nothing has awaited
    // yet at that point; a second turn must not start and take the same Ready again.
    const { rn, storage } = follower();
    const clock = new ManualClock();
    const applied: number[] = [];
    const errors: unknown[] = [];
    let loop: ReadyLoop | undefined;
    const handler: ReadyHandler = {
      beforeReady() {},
      hasQueuedWork: () => false,
      leaderChanged() {},
      apply(rd: Ready) {
        for (const e of rd.committedEntries as Entry[]) applied.push(e.index);
        if (rd.committedEntries.length > 0) loop?.kick();
      },
      applied: async () => {},
      removedSelf: () => false,
      onRemoved() {},
      onError(err) {
        errors.push(err);
      },
    };
    loop = new ReadyLoop({
      rn,
      storage,
      clock,
      tickMs: 100,
      snapshotChunkBytes: 1 << 16,
      logger: silentLogger,
      transport: () => null,
      handler,
    });
    for (let i = 0; i < 20; i++) {
      // The leader's entry (persisted with an fsync), then the heartbeat that commits it: that
      // turn's Ready carries committed entries and a commit change only, so it needs no fsync.
      const index = i + 2;
      const entry = { type: EntryType.EntryNormal, term: 2, index, data: new Uint8Array([i]) };
      rn.step(
        createMessage({
          type: MessageType.MsgApp,
          from: 2n,
          to: 1n,
          term: 2,
          logTerm: index === 2 ? 1 : 2,
          index: index - 1,
          entries: [entry],
          commit: index - 1,
        }),
      );
      loop.kick();
      await loop.whenIdle();
      rn.step(createMessage({ type: MessageType.MsgHeartbeat, from: 2n, to: 1n, term: 2, commit: index }));
      loop.kick();
      await loop.whenIdle();
      await settle();
    }
    await loop.stop();
    expect(errors).toEqual([]);
    // Every entry applied exactly once, in order.
    expect(applied).toEqual([...new Set(applied)].sort((a, b) => a - b));
    expect(applied).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
  });
});
