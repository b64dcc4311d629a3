import { expect, test } from '@playwright/test';

// The page members' Raft log storage (`IndexedDbStorage` from @raftwire/raft/browser) in Chromium's real
// IndexedDB, through the handle the demo page puts on globalThis for the devtools.
test('IndexedDbStorage keeps what was synced, loses what was not, compacts, and fences a second owner', async ({ browser }) => {
  // A page without media permission: the demo does not start a cluster, the storage class is there.
  const context = await browser.newContext({ permissions: [] });
  const page = await context.newPage();
  await page.goto('/');
  await page.waitForFunction(() => 'raftwireDemo' in globalThis);
  const r = await page.evaluate(async () => {
    type Entry = { type: 0; term: number; index: number; data: Uint8Array };
    type S = {
      append(e: Entry[]): void;
      setHardState(h: { term: number; vote: bigint; commit: number }): void;
      initialState(): { hardState: { term: number; vote: bigint; commit: number } };
      entries(lo: number, hi: number): Entry[];
      term(i: number): number;
      firstIndex(): number;
      lastIndex(): number;
      snapshot(): { metadata: { index: number; term: number; confState: { voters: bigint[] } }; data: Uint8Array };
      createSnapshot(i: number, cs: unknown, data: Uint8Array): unknown;
      applySnapshot(s: unknown): void;
      compact(i: number): void;
      sync(): Promise<void>;
      close(): Promise<void>;
    };
    const { IndexedDbStorage } = (
      globalThis as unknown as {
        raftwireDemo: { IndexedDbStorage: { open(o: { name: string; owner?: string }): Promise<S>; delete(n: string): Promise<void> } };
      }
    ).raftwireDemo;
    const name = `raftwire-storage-test-${Math.random().toString(36).slice(2)}`;
    const enc = new TextEncoder();
    const dec = new TextDecoder();
    const e = (index: number, term: number, text: string): Entry => ({ type: 0, term, index, data: enc.encode(text) });
    const view = (s: S) => ({
      first: s.firstIndex(),
      last: s.lastIndex(),
      hs: (({ term, vote, commit }) => `${term}/${vote}/${commit}`)(s.initialState().hardState),
      log:
        s.lastIndex() >= s.firstIndex()
          ? s.entries(s.firstIndex(), s.lastIndex() + 1).map((x) => `${x.index}:${x.term}:${dec.decode(x.data)}`)
          : [],
      snap: `${s.snapshot().metadata.index}/${s.snapshot().metadata.term}/${s.snapshot().metadata.confState.voters.join(',')}/${dec.decode(s.snapshot().data)}`,
    });
    const out: Record<string, unknown> = {};
    let s = await IndexedDbStorage.open({ name });
    out['empty'] = view(s);
    s.append([e(1, 1, 'a'), e(2, 1, 'b'), e(3, 2, 'c')]);
    s.setHardState({ term: 2, vote: 3n, commit: 2 });
    await s.sync();
    // Not synced: a crash (here: closing without sync) loses it, as the storage contract allows.
    s.append([e(3, 3, 'c2'), e(4, 3, 'd')]);
    await s.close();
    s = await IndexedDbStorage.open({ name });
    out['synced'] = view(s);
    // A conflicting append truncates the log from its first index.
    s.append([e(3, 3, 'c2'), e(4, 3, 'd')]);
    s.setHardState({ term: 3, vote: 1n, commit: 4 });
    await s.sync();
    await s.close();
    s = await IndexedDbStorage.open({ name });
    out['truncated'] = view(s);
    const cs = { voters: [1n, 2n, 3n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    s.createSnapshot(3, cs, enc.encode('state@3'));
    s.compact(3);
    await s.sync();
    await s.close();
    s = await IndexedDbStorage.open({ name });
    out['compacted'] = view(s);
    // A snapshot from the leader replaces the whole log.
    s.applySnapshot({ data: enc.encode('state@10'), metadata: { index: 10, term: 4, confState: cs } });
    await s.sync();
    await s.close();
    s = await IndexedDbStorage.open({ name, owner: 'tab-a' });
    out['snapshot'] = view(s);
    // A second owner (a copy of the tab) takes the database over: the first can no longer write.
    const b = await IndexedDbStorage.open({ name, owner: 'tab-b' });
    s.setHardState({ term: 9, vote: 2n, commit: 10 });
    out['fenced'] = await s.sync().then(
      () => 'wrote',
      (err: Error) => err.message,
    );
    b.setHardState({ term: 5, vote: 3n, commit: 10 });
    await b.sync();
    await b.close();
    await s.close();
    s = await IndexedDbStorage.open({ name });
    out['owner-b'] = view(s);
    await s.close();
    await IndexedDbStorage.delete(name);
    return out;
  });
  expect(r['empty']).toEqual({ first: 1, last: 0, hs: '0/0/0', log: [], snap: '0/0//' });
  expect(r['synced']).toEqual({ first: 1, last: 3, hs: '2/3/2', log: ['1:1:a', '2:1:b', '3:2:c'], snap: '0/0//' });
  expect(r['truncated']).toEqual({ first: 1, last: 4, hs: '3/1/4', log: ['1:1:a', '2:1:b', '3:3:c2', '4:3:d'], snap: '0/0//' });
  expect(r['compacted']).toEqual({ first: 4, last: 4, hs: '3/1/4', log: ['4:3:d'], snap: '3/3/1,2,3/state@3' });
  expect(r['snapshot']).toEqual({ first: 11, last: 10, hs: '3/1/4', log: [], snap: '10/4/1,2,3/state@10' });
  expect(r['fenced']).toMatch(/taken over by another copy of this member/);
  expect(r['owner-b']).toEqual({ first: 11, last: 10, hs: '5/3/10', log: [], snap: '10/4/1,2,3/state@10' });
  await context.close();
});
