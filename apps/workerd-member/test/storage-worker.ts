/**
 * A test Worker for DurableObjectRaftStorage in workerd's real Durable Object
 * storage: `GET /` runs the storage contract (what was synced is kept, what
 * was not is gone, a conflicting append truncates, compaction, a snapshot
 * replacing the log) reopening the storage from the object's storage after
 * each step, and answers what each reopen saw.
 */
import { type ConfState, createEntry, type Entry } from '@raftwire/core';
import { DurableObjectRaftStorage, type DurableObjectStorageLike } from '@raftwire/raft/durable-object';

const enc = new TextEncoder();
const dec = new TextDecoder();
const e = (index: number, term: number, text: string): Entry => createEntry({ index, term, data: enc.encode(text) });

function view(s: DurableObjectRaftStorage): Record<string, unknown> {
  const { hardState } = s.initialState();
  const snap = s.snapshot();
  return {
    first: s.firstIndex(),
    last: s.lastIndex(),
    hs: `${hardState.term}/${hardState.vote}/${hardState.commit}`,
    log:
      s.lastIndex() >= s.firstIndex()
        ? s.entries(s.firstIndex(), s.lastIndex() + 1).map((x) => `${x.index}:${x.term}:${dec.decode(x.data)}`)
        : [],
    snap: `${snap.metadata.index}/${snap.metadata.term}/${snap.metadata.confState.voters.join(',')}/${dec.decode(snap.data)}`,
  };
}

export class RaftMember {
  constructor(private readonly state: { storage: DurableObjectStorageLike & { deleteAll(): Promise<void> } }) {}

  async fetch(): Promise<Response> {
    const storage = this.state.storage;
    await storage.deleteAll();
    const out: Record<string, unknown> = {};
    let s = await DurableObjectRaftStorage.open(storage);
    out.empty = view(s);
    s.append([e(1, 1, 'a'), e(2, 1, 'b'), e(3, 2, 'c')]);
    s.setHardState({ term: 2, vote: 3n, commit: 2 });
    await s.sync();
    // Not synced: a crash loses it, as the storage contract allows.
    s.append([e(3, 3, 'c2'), e(4, 3, 'd')]);
    s = await DurableObjectRaftStorage.open(storage);
    out.synced = view(s);
    // A conflicting append truncates the log from its first index.
    s.append([e(3, 3, 'c2'), e(4, 3, 'd')]);
    s.setHardState({ term: 3, vote: 1n, commit: 4 });
    await s.sync();
    s = await DurableObjectRaftStorage.open(storage);
    out.truncated = view(s);
    const cs: ConfState = { voters: [1n, 2n, 3n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    s.createSnapshot(3, cs, enc.encode('state@3'));
    s.compact(3);
    await s.sync();
    s = await DurableObjectRaftStorage.open(storage);
    out.compacted = view(s);
    out.keysAfterCompaction = [...(await storage.list({ prefix: 'raft/e/' })).keys()];
    // A snapshot from the leader replaces the whole log.
    s.applySnapshot({ data: enc.encode('state@10'), metadata: { index: 10, term: 4, confState: cs } });
    await s.sync();
    s = await DurableObjectRaftStorage.open(storage);
    out.snapshot = view(s);
    out.keysAfterSnapshot = [...(await storage.list({ prefix: 'raft/e/' })).keys()];
    // 300 entries in one sync: more keys than one put takes (128), still one transaction.
    s.append(Array.from({ length: 300 }, (_, i) => e(11 + i, 4, `x${i}`)));
    await s.sync();
    s = await DurableObjectRaftStorage.open(storage);
    out.many = { first: s.firstIndex(), last: s.lastIndex(), at200: dec.decode(s.entries(200, 201)[0]?.data ?? new Uint8Array()) };
    // A malformed record is refused with ERR_CORRUPT, not loaded.
    await storage.transaction(async (txn) => txn.put({ 'raft/hs': { term: 'x' } }));
    out.corrupt = await DurableObjectRaftStorage.open(storage).then(
      () => 'opened',
      (err: { code?: string; message?: string }) => `${err.code}: ${err.message}`,
    );
    return Response.json(out);
  }
}

export default {
  fetch(request: Request, env: { MEMBER: { idFromName(n: string): unknown; get(id: unknown): { fetch(r: Request): Promise<Response> } } }) {
    return env.MEMBER.get(env.MEMBER.idFromName('storage')).fetch(request);
  },
};
