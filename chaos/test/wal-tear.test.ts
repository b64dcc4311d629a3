import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryType } from '@raftwire/core';
import { FileStorage } from '@raftwire/raft/node';
import { SeededRand } from '@raftwire/core';
import { afterEach, describe, expect, it } from 'vitest';
import { tearWalTail } from '../src/cluster/wal-tear.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** A data directory whose WAL holds `records` records of one entry each. */
async function walWith(records: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'chaos-wal-'));
  dirs.push(dir);
  const s = await FileStorage.open(dir);
  for (let i = 1; i <= records; i++) {
    s.append([{ index: i, term: 1, type: EntryType.EntryNormal, data: new Uint8Array(40).fill(i) }]);
    s.setHardState({ term: 1, vote: 1n, commit: i });
    await s.sync();
  }
  await s.close();
  return dir;
}

describe('torn WAL tails', () => {
  it('cut: the last record is cut at a random byte; recovery drops it and keeps the rest', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const dir = await walWith(4);
      const before = (await stat(join(dir, 'wal.log'))).size;
      const rand = new SeededRand(seed);
      const t = await tearWalTail(dir, 'cut', () => rand.next());
      expect(t.skipped).toBeUndefined();
      expect(t.bytesAfter).toBeLessThan(before);
      expect(t.bytesAfter).toBeGreaterThan(before - (before / 4 + 1));
      const s = await FileStorage.open(dir);
      expect(s.recovery.tornTail).toBe(true);
      expect(s.recovery.records).toBe(3);
      expect(s.lastIndex()).toBe(3);
      await s.close();
    }
  });

  it('extra: a partial record after the last one; recovery drops exactly it', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const dir = await walWith(3);
      const before = (await stat(join(dir, 'wal.log'))).size;
      const rand = new SeededRand(seed);
      const t = await tearWalTail(dir, 'extra', () => rand.next());
      expect(t.bytesAfter).toBeGreaterThan(before);
      const s = await FileStorage.open(dir);
      expect(s.recovery.tornTail).toBe(true);
      expect(s.recovery.truncatedBytes).toBe(t.bytesAfter - before);
      expect(s.lastIndex()).toBe(3);
      await s.close();
    }
  });

  it('never cuts the only record (a rewrite renames it into place after fsync), nor a missing WAL', async () => {
    const dir = await walWith(1);
    expect((await tearWalTail(dir, 'cut', Math.random)).skipped).toBe('only the rewrite record');
    expect((await tearWalTail(join(dir, 'nope'), 'cut', Math.random)).skipped).toBe('no WAL');
  });
});
