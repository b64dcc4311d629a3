import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry } from '@raftwire/core';
import { createEntry, ErrorCode, isRaftwireError } from '@raftwire/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStorage } from '../src/node/file-storage.js';
import { encodeWalRecord, scanWal } from '../src/node/wal-record.js';
import type { HardState } from '../src/storage.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'raftwire-wal-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const ent = (index: number, term: number, text = `e${index}t${term}`): Entry =>
  createEntry({ index, term, data: new TextEncoder().encode(text) });

interface Expected {
  hs: HardState;
  entries: { index: number; term: number; text: string }[];
  snapIndex: number;
}

function observe(s: FileStorage): Expected {
  const first = s.firstIndex();
  const last = s.lastIndex();
  const entries = last >= first ? s.entries(first, last + 1) : [];
  return {
    hs: s.initialState().hardState,
    entries: entries.map((e) => ({ index: e.index, term: e.term, text: new TextDecoder().decode(e.data) })),
    snapIndex: s.snapshot().metadata.index,
  };
}

/** Writes a log as a sequence of acknowledged (fsynced) batches; returns the state after each and the WAL size after each. */
async function writeHistory(dir: string): Promise<{ states: Expected[]; sizes: number[] }> {
  const s = await FileStorage.open(dir);
  const states: Expected[] = [observe(s)];
  const sizes: number[] = [0];
  const steps: ((s: FileStorage) => void)[] = [
    (s) => s.setHardState({ term: 1, vote: 1n, commit: 0 }),
    (s) => s.append([ent(1, 1), ent(2, 1)]),
    (s) => {
      s.append([ent(3, 1, 'x'.repeat(40))]);
      s.setHardState({ term: 1, vote: 1n, commit: 2 });
    },
    (s) => s.setHardState({ term: 2, vote: 3n, commit: 2 }),
    (s) => s.append([ent(3, 2), ent(4, 2)]), // overwrites index 3 from term 1
    (s) => {
      s.append([ent(5, 2)]);
      s.setHardState({ term: 2, vote: 3n, commit: 5 });
    },
  ];
  for (const step of steps) {
    step(s);
    await s.sync();
    states.push(observe(s));
    sizes.push((await readFile(join(dir, 'wal.log'))).length);
  }
  await s.close();
  return { states, sizes };
}

async function openCopy(src: string, mutate: (wal: Uint8Array) => Uint8Array): Promise<FileStorage> {
  const dir = await mkdtemp(join(root, 'copy-'));
  await mkdir(join(dir, 'snap'));
  for (const f of await readdir(join(src, 'snap'))) await copyFile(join(src, 'snap', f), join(dir, 'snap', f));
  await writeFile(join(dir, 'wal.log'), mutate(await readFile(join(src, 'wal.log'))));
  return FileStorage.open(dir);
}

describe('file-backed WAL', () => {
  it('recovers after a crash at every byte of the log: nothing acknowledged is lost, the torn tail is truncated', async () => {
    const src = join(root, 'src');
    const { states, sizes } = await writeHistory(src);
    const total = sizes[sizes.length - 1] as number;
    expect(total).toBeGreaterThan(100);
    let torn = 0;
    for (let cut = 0; cut <= total; cut++) {
      const s = await openCopy(src, (b) => b.subarray(0, cut));
      // The last batch wholly on disk is what must be there: everything fsynced before it, nothing after.
      let k = 0;
      while (k + 1 < sizes.length && (sizes[k + 1] as number) <= cut) k++;
      expect(observe(s), `cut at byte ${cut}`).toEqual(states[k]);
      if (s.recovery.tornTail) torn++;
      expect(s.recovery.tornTail).toBe(cut !== sizes[k]);
      // The truncated WAL accepts new writes and they survive another reopen.
      s.append([ent(s.lastIndex() + 1, 9, 'after')]);
      await s.sync();
      const lastAfter = s.lastIndex();
      await s.close();
      const again = await FileStorage.open(s.dir);
      expect(again.lastIndex()).toBe(lastAfter);
      expect(again.recovery.tornTail).toBe(false);
      await again.close();
      await rm(s.dir, { recursive: true, force: true });
    }
    expect(torn).toBe(total + 1 - sizes.length);
  });

  it('treats a checksum failure in the last record as a torn tail, and in an earlier record as corruption', async () => {
    const src = join(root, 'src');
    const { states, sizes } = await writeHistory(src);
    const n = sizes.length - 1;
    const lastStart = sizes[n - 1] as number;
    for (let off = lastStart; off < (sizes[n] as number); off += 3) {
      const s = await openCopy(src, (b) => {
        const c = Uint8Array.from(b);
        c[off] = (c[off] as number) ^ 0x40;
        return c;
      });
      expect(observe(s)).toEqual(states[n - 1]);
      expect(s.recovery.tornTail).toBe(true);
      await s.close();
    }
    const mid = (sizes[2] as number) + 10; // inside the third record, followed by valid records
    await expect(
      openCopy(src, (b) => {
        const c = Uint8Array.from(b);
        c[mid] = (c[mid] as number) ^ 1;
        return c;
      }),
    ).rejects.toSatisfy((e: unknown) => isRaftwireError(e, ErrorCode.CORRUPT));
  });

  it('zero-filled tails (size extended, data never written) are torn tails', () => {
    const rec = encodeWalRecord({ snapshot: null, hardState: { term: 1, vote: 0n, commit: 0 }, entries: [ent(1, 1)] });
    const bytes = new Uint8Array(rec.length + 4096);
    bytes.set(rec);
    const scan = scanWal(bytes);
    expect(scan.batches).toHaveLength(1);
    expect(scan.validBytes).toBe(rec.length);
    expect(scan.tornTail).toBe(true);
  });

  it('snapshots and compaction rewrite the WAL atomically and survive restarts', async () => {
    const dir = join(root, 'snap');
    const s = await FileStorage.open(dir);
    expect(s.isEmpty()).toBe(true);
    s.append([1, 2, 3, 4, 5].map((i) => ent(i, 1)));
    s.setHardState({ term: 1, vote: 1n, commit: 5 });
    await s.sync();
    const cs = { voters: [1n, 2n, 3n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    s.createSnapshot(4, cs, new TextEncoder().encode('state@4'));
    s.compact(4);
    s.append([ent(6, 2)]);
    await s.sync();
    const want = observe(s);
    await s.close();
    const r = await FileStorage.open(dir);
    expect(observe(r)).toEqual(want);
    expect(r.firstIndex()).toBe(5);
    expect(new TextDecoder().decode(r.snapshot().data)).toBe('state@4');
    expect(r.snapshot().metadata.confState.voters).toEqual([1n, 2n, 3n]);
    expect(await readdir(join(dir, 'snap'))).toEqual(['0000000000000001-0000000000000004.snap']);
    // A snapshot received from a leader replaces the log.
    r.applySnapshot({ data: new TextEncoder().encode('leader@10'), metadata: { index: 10, term: 3, confState: cs } });
    r.append([ent(11, 3)]);
    r.setHardState({ term: 3, vote: 0n, commit: 10 });
    await r.sync();
    await r.close();
    const r2 = await FileStorage.open(dir);
    expect(r2.snapshot().metadata.index).toBe(10);
    expect(r2.lastIndex()).toBe(11);
    expect(r2.initialState().hardState).toEqual({ term: 3, vote: 0n, commit: 10 });
    expect(await readdir(join(dir, 'snap'))).toEqual(['0000000000000003-000000000000000a.snap']);
    await r2.close();
  });

  it('a crash between writing a snapshot file and rewriting the WAL recovers the old state', async () => {
    const dir = join(root, 'mid');
    const s = await FileStorage.open(dir);
    s.append([1, 2, 3].map((i) => ent(i, 1)));
    s.setHardState({ term: 1, vote: 1n, commit: 3 });
    await s.sync();
    await s.close();
    const before = await FileStorage.open(dir);
    const want = observe(before);
    await before.close();
    // Simulate: new snapshot file written, WAL tmp half written, then crash.
    const { SnapshotStore } = await import('../src/node/snapshot-store.js');
    await new SnapshotStore(join(dir, 'snap')).save({
      data: new Uint8Array([1]),
      metadata: { index: 3, term: 1, confState: { voters: [1n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } },
    });
    await writeFile(join(dir, 'wal.log.tmp'), new Uint8Array([1, 2, 3]));
    const r = await FileStorage.open(dir);
    expect(observe(r)).toEqual(want);
    expect(await readdir(dir)).not.toContain('wal.log.tmp');
    expect(await readdir(join(dir, 'snap'))).toEqual([]);
    await r.close();
  });

  it('refuses a WAL whose snapshot file is missing', async () => {
    const dir = join(root, 'missing');
    const s = await FileStorage.open(dir);
    s.append([1, 2].map((i) => ent(i, 1)));
    s.createSnapshot(2, { voters: [1n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false }, new Uint8Array(0));
    s.compact(2);
    await s.sync();
    await s.close();
    await rm(join(dir, 'snap'), { recursive: true });
    await expect(FileStorage.open(dir)).rejects.toSatisfy((e: unknown) => isRaftwireError(e, ErrorCode.CORRUPT));
  });

  it('keeps changes made while a sync (append or rewrite) is under way', async () => {
    const dir = join(root, 'concurrent');
    const s = await FileStorage.open(dir);
    s.append([1, 2, 3].map((i) => ent(i, 1)));
    const first = s.sync();
    await new Promise((resolve) => setImmediate(resolve)); // let the write start
    s.append([ent(4, 1)]); // during an append sync
    await first;
    s.createSnapshot(3, { voters: [1n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false }, new Uint8Array([3]));
    s.compact(3);
    const rewriting = s.sync();
    await new Promise((resolve) => setImmediate(resolve)); // let the rewrite start
    s.append([ent(5, 1)]); // during a rewrite
    s.setHardState({ term: 1, vote: 1n, commit: 5 });
    await rewriting;
    await s.sync();
    await s.close();
    const r = await FileStorage.open(dir);
    expect(r.firstIndex()).toBe(4);
    expect(r.lastIndex()).toBe(5);
    expect(r.initialState().hardState.commit).toBe(5);
    await r.close();
  });

  it('sync waits its turn and honours an AbortSignal while waiting', async () => {
    const s = await FileStorage.open(join(root, 'abort'));
    s.append([ent(1, 1)]);
    const first = s.sync();
    const ac = new AbortController();
    const second = s.sync(ac.signal);
    ac.abort();
    await first;
    await expect(second).rejects.toThrow();
    s.append([ent(2, 1)]);
    await s.sync();
    await s.close();
    const r = await FileStorage.open(join(root, 'abort'));
    expect(r.lastIndex()).toBe(2);
    await r.close();
  });
});
