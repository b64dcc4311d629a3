import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createEntry,
  createMessage,
  type Entry,
  EntryType,
  ErrorCode,
  type Id,
  type Message,
  MessageType,
  SeededRand,
} from '@raftwire/core';
import {
  decodeEtcdRequest,
  EtcdConfChangeType,
  encodeEtcdConfChange,
  encodeEtcdConfChangeV2,
  encodeEtcdMember,
  etcdMessageCodec,
} from '@raftwire/core/etcd';
import { ManualClock } from '@raftwire/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { EtcdMember, type EtcdMemberOptions, MemoryEtcdSnapshotStore } from '../src/etcd/index.js';
import { FileEtcdSnapshotStore, FileStorage } from '../src/node/index.js';
import { MemoryStorage } from '../src/storage.js';

/** What etcd 3.4.23 sent a member added with `etcdctl member add` (core's captured fixtures). */
const live = JSON.parse(readFileSync(new URL('../../core/test/fixtures/etcd-3.4/live-added-member.json', import.meta.url), 'utf8')) as {
  addedMemberId: string;
  pipeline: { type: string; afterSnapshot: boolean; hex: string }[];
  snapshot: { envelope: string; index: number; term: number; voters: string[] };
};
const hex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (b) => Number.parseInt(b, 16));
const idOf = (s: string) => BigInt(`0x${s}`);
const SELF = idOf(live.addedMemberId);
const LEADER = idOf('96d15cc5b3a1f8d');
const captured = (i: number) => etcdMessageCodec.decode(hex((live.pipeline[i] as { hex: string }).hex));
const capturedSnap = () => etcdMessageCodec.decode(hex(live.snapshot.envelope).subarray(8));

/** Records what the member hands its transport, and when storage synced relative to the sends. */
class FakeTransport {
  readonly sent: Message[] = [];
  readonly peers = new Map<Id, string[]>();
  readonly log: string[] = [];
  send(msgs: Message[]): void {
    for (const m of msgs) {
      this.sent.push(m);
      this.log.push(`send ${m.type}`);
    }
  }
  sendSnapshot(): void {
    throw new Error('an etcd member never sends snapshots');
  }
  addPeer(id: Id, urls: string[]): void {
    this.peers.set(id, urls);
  }
  updatePeer(id: Id, urls: string[]): void {
    this.peers.set(id, urls);
  }
  removePeer(id: Id): void {
    this.peers.delete(id);
  }
  take(type: number): Message[] {
    return this.sent.filter((m) => m.type === type);
  }
}

/** MemoryStorage that notes each completed sync in the transport's log. */
class NotingStorage extends MemoryStorage {
  constructor(private readonly note: string[]) {
    super();
  }
  override async sync(): Promise<void> {
    this.note.push('sync');
  }
}

let members: EtcdMember[] = [];
let dirs: string[] = [];
afterEach(async () => {
  await Promise.all(members.map((m) => m.stop()));
  members = [];
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  dirs = [];
});

function make(extra: Partial<EtcdMemberOptions> = {}) {
  const clock = new ManualClock();
  const t = new FakeTransport();
  const storage = extra.storage ?? new NotingStorage(t.log);
  const snapshots = new MemoryEtcdSnapshotStore();
  const m = new EtcdMember({ id: SELF, name: 'rw1', storage, snapshots, transport: t, clock, rand: new SeededRand(1), ...extra });
  members.push(m);
  return { m, t, clock, storage, snapshots };
}

async function step(m: EtcdMember, msg: Message): Promise<void> {
  await m.process(msg);
  await m.whenIdle();
}

async function db(n: number): Promise<AsyncIterable<Uint8Array>> {
  return (async function* () {
    yield new Uint8Array(n).fill(7);
  })();
}

/** Joins the member as the capture did: heartbeat, MsgApp (rejected), snapshot with a database. */
async function joinByCapture(m: EtcdMember, t: FakeTransport): Promise<void> {
  await step(m, captured(0));
  await step(m, captured(1));
  const snap = capturedSnap();
  await m.receiveSnapshot(snap, await db(5000), -1, new AbortController().signal);
  await step(m, snap);
  expect(t.take(MessageType.MsgAppResp).at(-1)).toMatchObject({ to: LEADER, index: live.snapshot.index, reject: false });
}

const term = live.snapshot.term;
const app = (index: number, entries: Entry[], commit: number): Message =>
  createMessage({ type: MessageType.MsgApp, from: LEADER, to: SELF, term, logTerm: term, index, entries, commit });
const confEntry = (index: number, type: EtcdConfChangeType, nodeId: Id, urls: string[] = []) =>
  createEntry({
    type: EntryType.EntryConfChange,
    term,
    index,
    data: encodeEtcdConfChange({
      id: BigInt(index),
      type,
      nodeId,
      context:
        type === EtcdConfChangeType.RemoveNode
          ? new Uint8Array(0)
          : encodeEtcdMember({
              id: nodeId,
              peerURLs: urls,
              name: '',
              clientURLs: [],
              isLearner: type === EtcdConfChangeType.AddLearnerNode,
            }),
    }),
  });

describe('EtcdMember', () => {
  it('joins by the snapshot etcd 3.4.23 sent (captured): rejects the first MsgApp with hint 0, stores the database, takes voters and peers from it', async () => {
    const { m, t, snapshots } = make();
    const joined: unknown[] = [];
    m.on('joined', (e) => joined.push(e));
    const caught: number[] = [];
    m.on('caught-up', (e) => caught.push(e.index));
    await m.start();
    await step(m, captured(0));
    expect(t.take(MessageType.MsgHeartbeatResp)).toHaveLength(1);
    await step(m, captured(1));
    expect(t.take(MessageType.MsgAppResp)[0]).toMatchObject({ to: LEADER, reject: true, rejectHint: 0 });
    const snap = capturedSnap();
    await m.receiveSnapshot(snap, await db(5000), -1, new AbortController().signal);
    expect(snapshots.databases.get(live.snapshot.index)).toBe(5000);
    await step(m, snap);
    const st = m.status();
    expect(st.voters.map((v) => v.toString(16)).sort()).toEqual([...live.snapshot.voters].sort());
    expect(st.snapshotIndex).toBe(live.snapshot.index);
    // the transport reaches every other member at the URLs of the v2 store
    expect([...t.peers.keys()].map((v) => v.toString(16)).sort()).toEqual(
      live.snapshot.voters.filter((v) => v !== live.addedMemberId).sort(),
    );
    expect(t.peers.get(LEADER)).toEqual(['http://127.0.0.1:47162']);
    expect(joined).toEqual([{ index: live.snapshot.index, voters: 4, learner: false }]);
    // the leader's commit index (in its MsgApps) is the snapshot's: caught up once it is installed, and only once
    expect(caught).toEqual([live.snapshot.index]);
    await step(m, captured(3));
    expect(caught).toEqual([live.snapshot.index]);
    expect(m.members().find((x) => x.id === LEADER)?.name).toBe('e1');
  });

  it('acknowledges only after storage synced, and answers a vote request without ever campaigning', async () => {
    const { m, t, clock } = make();
    await m.start();
    await joinByCapture(m, t);
    t.log.length = 0;
    await step(
      m,
      app(live.snapshot.index, [createEntry({ term, index: live.snapshot.index + 1, data: Uint8Array.of(1) })], live.snapshot.index),
    );
    expect(t.log.slice(0, 2)).toEqual(['sync', `send ${MessageType.MsgAppResp}`]);
    // far past any election timeout: no (pre-)vote request ever goes out
    t.sent.length = 0;
    await clock.advance(60_000);
    expect(t.sent.filter((x) => x.type === MessageType.MsgVote || x.type === MessageType.MsgPreVote)).toEqual([]);
    expect(m.status().term).toBe(term);
    // an etcd leader handing leadership over: ignored
    await step(m, createMessage({ type: MessageType.MsgTimeoutNow, from: LEADER, to: SELF, term }));
    expect(t.sent.filter((x) => x.type === MessageType.MsgVote || x.type === MessageType.MsgPreVote)).toEqual([]);
    // a candidate with an up-to-date log gets the vote, durably recorded first
    t.log.length = 0;
    const candidate = idOf('5b4724ea2689d4f8');
    await step(
      m,
      createMessage({
        type: MessageType.MsgVote,
        from: candidate,
        to: SELF,
        term: term + 1,
        index: live.snapshot.index + 1,
        logTerm: term,
      }),
    );
    expect(t.take(MessageType.MsgVoteResp).at(-1)).toMatchObject({ to: candidate, reject: false, term: term + 1 });
    expect(t.log.slice(0, 2)).toEqual(['sync', `send ${MessageType.MsgVoteResp}`]);
  });

  it("publishes its attributes as etcd's publish() does, retrying with a new request ID until the entry commits", async () => {
    const { m, t, clock } = make({ publishTimeoutMs: 3000 });
    await m.start();
    await joinByCapture(m, t);
    const props = t.take(MessageType.MsgProp);
    expect(props).toHaveLength(1);
    const first = props[0] as Message;
    expect(first.to).toBe(LEADER);
    const req = decodeEtcdRequest((first.entries[0] as Entry).data);
    expect(req).toMatchObject({ method: 'PUT', path: `/0/members/${live.addedMemberId}/attributes`, val: '{"name":"rw1"}' });
    await clock.advance(3100);
    const again = t.take(MessageType.MsgProp);
    expect(again).toHaveLength(2);
    expect(decodeEtcdRequest(((again[1] as Message).entries[0] as Entry).data).id).not.toBe(req.id);
    const published: number[] = [];
    m.on('published', (e) => published.push(e.index));
    const i = live.snapshot.index + 1;
    await step(m, app(live.snapshot.index, [{ ...(first.entries[0] as Entry), term, index: i }], i));
    expect(published).toEqual([i]);
    expect(m.status().published).toBe(true);
    await clock.advance(10_000);
    expect(t.take(MessageType.MsgProp)).toHaveLength(2);
  });

  it("applies etcd's ConfChange entries to the transport's peers and leaves on its own RemoveNode", async () => {
    const { m, t } = make();
    const removed: unknown[] = [];
    m.on('removed', () => removed.push(true));
    await m.start();
    await joinByCapture(m, t);
    let i = live.snapshot.index;
    const newId = 0x1234n;
    await step(m, app(i, [confEntry(i + 1, EtcdConfChangeType.AddNode, newId, ['http://127.0.0.1:4000'])], i + 1));
    i++;
    expect(t.peers.get(newId)).toEqual(['http://127.0.0.1:4000']);
    expect(m.status().voters).toContain(newId);
    await step(m, app(i, [confEntry(i + 1, EtcdConfChangeType.UpdateNode, newId, ['http://127.0.0.1:4001'])], i + 1));
    i++;
    expect(t.peers.get(newId)).toEqual(['http://127.0.0.1:4001']);
    const learner = 0x5678n;
    const v2 = createEntry({
      type: EntryType.EntryConfChangeV2,
      term,
      index: i + 1,
      data: encodeEtcdConfChangeV2({
        transition: 0,
        changes: [{ type: EtcdConfChangeType.AddLearnerNode, nodeId: learner }],
        context: encodeEtcdMember({ id: learner, peerURLs: ['http://127.0.0.1:4002'], name: '', clientURLs: [], isLearner: true }),
      }),
    });
    await step(m, app(i, [v2], i + 1));
    i++;
    expect(t.peers.get(learner)).toEqual(['http://127.0.0.1:4002']);
    expect(m.status().voters).not.toContain(learner);
    expect(m.members().find((x) => x.id === learner)?.isLearner).toBe(true);
    await step(m, app(i, [confEntry(i + 1, EtcdConfChangeType.RemoveNode, newId)], i + 1));
    i++;
    expect(t.peers.has(newId)).toBe(false);
    expect(m.isIdRemoved(newId)).toBe(true);
    await expect(m.process(createMessage({ type: MessageType.MsgHeartbeat, from: newId, to: SELF, term }))).rejects.toMatchObject({
      code: ErrorCode.MEMBER_REMOVED,
    });
    expect(removed).toEqual([]);
    await step(m, app(i, [confEntry(i + 1, EtcdConfChangeType.RemoveNode, SELF)], i + 1));
    await m.stop();
    expect(removed).toEqual([true]);
    expect(m.status().removed).toBe(true);
  });

  it('compacts the committed prefix behind a state snapshot and restarts from disk with its members, keeping one etcd database', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rw-etcd-member-'));
    dirs.push(dir);
    const storage = await FileStorage.open(join(dir, 'raft'));
    const snapshots = await FileEtcdSnapshotStore.open(join(dir, 'snap'));
    const { m, t } = make({ storage, snapshots, compactEntries: 5 });
    await m.start();
    await joinByCapture(m, t);
    const base = live.snapshot.index;
    const ents = Array.from({ length: 12 }, (_, k) => createEntry({ term, index: base + 1 + k, data: Uint8Array.of(k) }));
    await step(m, app(base, ents, base + 12));
    expect(storage.firstIndex()).toBe(base + 13);
    expect(m.status().snapshotIndex).toBe(base + 12);
    expect((await readdir(join(dir, 'snap'))).sort()).toEqual([
      `${term.toString(16).padStart(16, '0')}-${base.toString(16).padStart(16, '0')}.snap`,
      `${base.toString(16).padStart(16, '0')}.snap.db`,
    ]);
    await m.stop();
    await storage.close();

    const storage2 = await FileStorage.open(join(dir, 'raft'));
    const t2 = new FakeTransport();
    const m2 = new EtcdMember({ id: SELF, name: 'rw1', storage: storage2, snapshots, transport: t2, clock: new ManualClock() });
    members.push(m2);
    await m2.start();
    expect(m2.status()).toMatchObject({ applied: base + 12, snapshotIndex: base + 12, lastIndex: base + 12, term });
    expect([...t2.peers.keys()].sort()).toEqual([...t.peers.keys()].sort());
    await m2.stop();
    await storage2.close();
  });
});
