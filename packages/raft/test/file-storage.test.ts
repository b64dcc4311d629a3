import { constants } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, isRaftwireError } from '@raftwire/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStorage } from '../src/node/file-storage.js';
import { encodeWalRecord, scanWal, WalCorruptionError, walFileHeader } from '../src/node/wal-record.js';
import { ent, observe, openMutatedCopy, writeHistory } from './helpers/wal-history.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'raftwire-wal-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});
const openCopy = (src: string, mutate: (wal: Uint8Array) => Uint8Array): Promise<FileStorage> => openMutatedCopy(root, src, mutate);

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
      // Cut at 0, the file is simply empty (a new WAL); anywhere else but a record boundary, a torn tail.
      expect(s.recovery.tornTail).toBe(cut !== 0 && cut !== sizes[k]);
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
    expect(torn).toBe(total - sizes.length);
  });

  it('a flipped byte anywhere refuses to open with ERR_CORRUPT naming the file and offset; only in the last record may it read as a torn tail', async () => {
    const src = join(root, 'src');
    const { states, sizes } = await writeHistory(src);
    const n = sizes.length - 1;
    const total = sizes[n] as number;
    const lastStart = sizes[n - 1] as number;
    let corrupt = 0;
    for (let at = 0; at < total; at++) {
      // The record the byte belongs to starts at the largest boundary at or below it (0: the file header).
      const recordStart = at < (sizes[0] as number) ? 0 : (sizes.filter((z) => z <= at).pop() as number);
      let opened: FileStorage | null = null;
      let error: unknown = null;
      try {
        opened = await openCopy(src, (b) => {
          const c = Uint8Array.from(b);
          c[at] = (c[at] as number) ^ (1 << (at % 8));
          return c;
        });
      } catch (err) {
        error = err;
      }
      if (opened === null) {
        expect(isRaftwireError(error, ErrorCode.CORRUPT), `flip at ${at}: ${String(error)}`).toBe(true);
        const e = error as WalCorruptionError;
        expect(e).toBeInstanceOf(WalCorruptionError);
        expect(e.offset, `flip at ${at}`).toBe(recordStart);
        expect(e.file.endsWith('wal.log')).toBe(true);
        expect(e.message).toContain(`byte offset ${recordStart}`);
        corrupt++;
        continue;
      }
      // Never silently accepted, and a torn tail only ever drops the damaged last record.
      expect(opened.recovery.tornTail, `flip at ${at} was accepted`).toBe(true);
      expect(at, `flip at ${at} read as a torn tail`).toBeGreaterThanOrEqual(lastStart);
      expect(observe(opened)).toEqual(states[n - 1]);
      await opened.close();
    }
    expect(corrupt).toBeGreaterThan(lastStart);
  });

  it('zero-filled tails (size extended, data never written) are torn tails', () => {
    const rec = encodeWalRecord({ snapshot: null, hardState: { term: 1, vote: 0n, commit: 0 }, entries: [ent(1, 1)] });
    const bytes = new Uint8Array(8 + rec.length + 4096);
    bytes.set(walFileHeader());
    bytes.set(rec, 8);
    const scan = scanWal(bytes);
    expect(scan.batches).toHaveLength(1);
    expect(scan.validBytes).toBe(8 + rec.length);
    expect(scan.damage?.torn).toBe(true);
    // The last record's data never reached the disk from a sector boundary on: also a torn tail.
    const two = encodeWalRecord({ snapshot: null, hardState: null, entries: [ent(2, 1, 'y'.repeat(2000))] });
    const partial = new Uint8Array(8 + rec.length + two.length); // the rest stays zero
    partial.set(walFileHeader());
    partial.set(rec, 8);
    partial.set(two.subarray(0, 1024 - 8 - rec.length), 8 + rec.length);
    expect(partial.length).toBeGreaterThan(1024 + 16);
    const scan2 = scanWal(partial);
    expect(scan2.batches).toHaveLength(1);
    expect(scan2.damage?.torn).toBe(true);
  });

  it.runIf(process.platform === 'linux')(
    'on Linux the WAL is written through an O_DSYNC descriptor (each write durable when it resolves), before and after a rewrite',
    async () => {
      const dir = join(root, 'dsync');
      const flagsOfWal = async (s: FileStorage): Promise<number> => {
        const fd = (s as unknown as { fh: { fd: number } }).fh.fd;
        const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8');
        return Number.parseInt(/^flags:\s*([0-7]+)/m.exec(info)?.[1] ?? '0', 8);
      };
      const s = await FileStorage.open(dir);
      expect((await flagsOfWal(s)) & constants.O_DSYNC).toBe(constants.O_DSYNC);
      s.append([ent(1, 1, 'a'), ent(2, 1, 'b')]);
      s.setHardState({ term: 1, vote: 1n, commit: 2 });
      await s.sync();
      const cs = { voters: [1n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
      s.createSnapshot(1, cs, new TextEncoder().encode('state@1'));
      s.compact(1); // rewrites the WAL and reopens it
      await s.sync();
      expect((await flagsOfWal(s)) & constants.O_DSYNC).toBe(constants.O_DSYNC);
      s.append([ent(3, 1, 'c')]);
      await s.sync();
      await s.close();
      const again = await FileStorage.open(dir);
      expect(again.lastIndex()).toBe(3);
      await again.close();
    },
  );

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
