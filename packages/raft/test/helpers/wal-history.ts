import { copyFile, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Entry } from '@raftwire/core';
import { createEntry } from '@raftwire/core';
import { FileStorage } from '../../src/node/file-storage.js';
import type { HardState } from '../../src/storage.js';

/** A small WAL history for recovery tests: acknowledged batches, the state after each and the file size after each. */
export const ent = (index: number, term: number, text = `e${index}t${term}`): Entry =>
  createEntry({ index, term, data: new TextEncoder().encode(text) });

export interface Expected {
  hs: HardState;
  entries: { index: number; term: number; text: string }[];
  snapIndex: number;
}

export function observe(s: FileStorage): Expected {
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
export async function writeHistory(dir: string): Promise<{ states: Expected[]; sizes: number[] }> {
  const s = await FileStorage.open(dir);
  const states: Expected[] = [observe(s)];
  const sizes: number[] = [(await readFile(join(dir, 'wal.log'))).length]; // the file header
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

export async function openMutatedCopy(root: string, src: string, mutate: (wal: Uint8Array) => Uint8Array): Promise<FileStorage> {
  const dir = await mkdtemp(join(root, 'copy-'));
  await mkdir(join(dir, 'snap'));
  for (const f of await readdir(join(src, 'snap'))) await copyFile(join(src, 'snap', f), join(dir, 'snap', f));
  await writeFile(join(dir, 'wal.log'), mutate(await readFile(join(src, 'wal.log'))));
  return FileStorage.open(dir);
}
