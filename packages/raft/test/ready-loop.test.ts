import { type Message, createMessage, createSnapshot, type Entry, EntryType, MessageType, SeededRand, silentLogger } from '@raftwire/core';
import { ManualClock, settle } from '@raftwire/core/testing';
import { describe, expect, it } from 'vitest';
import { RawNode, type Ready } from '../src/raw-node.js';
import { ReadyLoop, type ReadyHandler } from '../src/ready-loop.js';
import { MemoryStorage } from '../src/storage.js';
import { raftOf } from './helpers/raft-of.js';
import { StateType } from '../src/raft.js';

/** Memory storage whose fsync resolves only when the test releases it (or at once while `auto`). */
class GatedStorage extends MemoryStorage {
  auto = true;
  private waiting: Array<() => void> = [];
  get pending(): number {
    return this.waiting.length;
  }
  override sync(): Promise<void> {
    if (this.auto) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    for (const r of this.waiting.splice(0)) r();
  }
}

/** Member 1 of three, a follower of member 2. */
function follower(storage: MemoryStorage = new MemoryStorage()): { rn: RawNode; storage: MemoryStorage } {
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

  /** A ReadyLoop over `rn` whose transport records what it sends. */
  function recordingLoop(rn: RawNode, storage: MemoryStorage): { loop: ReadyLoop; sent: Message[]; errors: unknown[] } {
    const sent: Message[] = [];
    const errors: unknown[] = [];
    const handler: ReadyHandler = {
      beforeReady() {},
      hasQueuedWork: () => false,
      leaderChanged() {},
      apply() {},
      applied: async () => {},
      removedSelf: () => false,
      onRemoved() {},
      onError(err) {
        errors.push(err);
      },
    };
    const transport = { send: (msgs: Message[]) => sent.push(...msgs), sendSnapshot() {} };
    const loop = new ReadyLoop({
      rn,
      storage,
      clock: new ManualClock(),
      tickMs: 100,
      snapshotChunkBytes: 1 << 16,
      logger: silentLogger,
      transport: () => transport,
      handler,
    });
    return { loop, sent, errors };
  }

  async function turn(rn: RawNode, loop: ReadyLoop, m?: Message): Promise<void> {
    if (m) rn.step(m);
    loop.kick();
    await settle();
  }

  /** Member 1 elected leader of term 2 with its empty entry (index 2) committed on all three. */
  async function leader(): Promise<{ rn: RawNode; storage: GatedStorage; loop: ReadyLoop; sent: Message[]; errors: unknown[] }> {
    const storage = new GatedStorage();
    const { rn } = follower(storage);
    const rec = recordingLoop(rn, storage);
    rn.campaign();
    await turn(rn, rec.loop);
    // Pre-vote round (if enabled), then the vote round.
    for (let i = 0; i < 2 && raftOf(rn).state !== StateType.Leader; i++) {
      const reqs = rec.sent.filter((m) => m.type === MessageType.MsgPreVote || m.type === MessageType.MsgVote);
      const last = reqs[reqs.length - 1];
      if (!last) break;
      const respType = last.type === MessageType.MsgPreVote ? MessageType.MsgPreVoteResp : MessageType.MsgVoteResp;
      await turn(rn, rec.loop, createMessage({ type: respType, from: 2n, to: 1n, term: last.term }));
      await rec.loop.whenIdle();
    }
    expect(raftOf(rn).lead).toBe(1n);
    await rec.loop.whenIdle();
    for (const from of [2n, 3n]) await turn(rn, rec.loop, createMessage({ type: MessageType.MsgAppResp, from, to: 1n, term: 2, index: 2 }));
    await rec.loop.whenIdle();
    expect(raftOf(rn).raftLog.committed).toBe(2);
    rec.sent.length = 0;
    return { rn, storage, ...rec };
  }

  it("sends the leader's MsgApp before its own fsync resolves, and commits only once it is durable", async () => {
    const { rn, storage, loop, sent, errors } = await leader();
    storage.auto = false;
    rn.propose(new Uint8Array([7]));
    await turn(rn, loop);
    // (a) The append left while the leader's own write of entry 3 is still being synced.
    expect(storage.pending).toBe(1);
    const apps = sent.filter((m) => m.type === MessageType.MsgApp && m.entries.some((e) => e.index === 3));
    expect(apps.map((m) => m.to).sort()).toEqual([2n, 3n]);
    // (c) One follower acks entry 3: the leader plus that follower would be a quorum, but the
    // leader does not have it durably yet, so entry 3 must not commit.
    rn.step(createMessage({ type: MessageType.MsgAppResp, from: 2n, to: 1n, term: 2, index: 3 }));
    expect(raftOf(rn).raftLog.committed).toBe(2);
    expect(raftOf(rn).prs.get(1n)?.match).toBe(2);
    storage.auto = true;
    storage.release();
    await loop.whenIdle();
    await settle();
    await loop.whenIdle();
    // The self-ack at advance completes the quorum.
    expect(raftOf(rn).prs.get(1n)?.match).toBe(3);
    expect(raftOf(rn).raftLog.committed).toBe(3);
    await loop.stop();
    expect(errors).toEqual([]);
  });

  it('does not commit an entry that only the leader has durably', async () => {
    // (c) No follower acks: the leader's own durable copy is not a quorum.
    const { rn, storage, loop, errors } = await leader();
    rn.propose(new Uint8Array([8]));
    await turn(rn, loop);
    await loop.whenIdle();
    expect(storage.lastIndex()).toBe(3);
    expect(raftOf(rn).prs.get(1n)?.match).toBe(3);
    expect(raftOf(rn).raftLog.committed).toBe(2);
    await loop.stop();
    expect(errors).toEqual([]);
  });

  it('sends MsgAppResp and vote responses only after the fsync', async () => {
    // (b) A follower acks an append only once the entry is durable.
    const storage = new GatedStorage();
    const { rn } = follower(storage);
    const { loop, sent, errors } = recordingLoop(rn, storage);
    storage.auto = false;
    const entry = { type: EntryType.EntryNormal, term: 2, index: 2, data: new Uint8Array([1]) };
    await turn(
      rn,
      loop,
      createMessage({ type: MessageType.MsgApp, from: 2n, to: 1n, term: 2, logTerm: 1, index: 1, entries: [entry], commit: 1 }),
    );
    expect(storage.pending).toBe(1);
    expect(sent.filter((m) => m.type === MessageType.MsgAppResp)).toEqual([]);
    storage.release();
    await settle();
    await loop.whenIdle();
    expect(sent.filter((m) => m.type === MessageType.MsgAppResp).map((m) => m.index)).toEqual([2]);
    storage.auto = true;
    await loop.stop();
    expect(errors).toEqual([]);
  });

  it('sends a vote only once the new term and vote are durable', async () => {
    // (b) A member that knows no leader (no lease to respect) grants a vote in a new term.
    const storage = new GatedStorage();
    const { rn } = follower(storage);
    const { loop, sent, errors } = recordingLoop(rn, storage);
    storage.auto = false;
    await turn(rn, loop, createMessage({ type: MessageType.MsgVote, from: 3n, to: 1n, term: 5, logTerm: 1, index: 1 }));
    expect(storage.pending).toBe(1);
    expect(sent.filter((m) => m.type === MessageType.MsgVoteResp)).toEqual([]);
    storage.release();
    await settle();
    await loop.whenIdle();
    expect(sent.filter((m) => m.type === MessageType.MsgVoteResp && !m.reject).map((m) => m.to)).toEqual([3n]);
    storage.auto = true;
    await loop.stop();
    expect(errors).toEqual([]);
  });
});
