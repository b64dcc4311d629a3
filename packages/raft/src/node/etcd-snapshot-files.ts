import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, RaftwireError } from '@raftwire/core';
import type { EtcdSnapshotStore } from '../etcd/snapshot-store.js';
import { fsyncDir, writeFileAtomic } from './snapshot-store.js';

const hex16 = (n: number): string => n.toString(16).padStart(16, '0');
/** etcd's names: `<index>.snap.db` for a database, `<term>-<index>.snap` for the raftpb snapshot record. */
const DB = /^([0-9a-f]{16})\.snap\.db$/;
const RECORD = /^[0-9a-f]{16}-([0-9a-f]{16})\.snap$/;

/**
 * Keeps etcd's snapshots in a directory, named as etcd names them: each database streamed to
 * `<index>.snap.db` (a `.tmp` file, fsynced, renamed, directory fsynced: a crash leaves either the
 * whole file or none), and the raftpb record to `<term>-<index>.snap`.
 */
export class FileEtcdSnapshotStore implements EtcdSnapshotStore {
  private constructor(readonly dir: string) {}

  static async open(dir: string): Promise<FileEtcdSnapshotStore> {
    await mkdir(dir, { recursive: true });
    return new FileEtcdSnapshotStore(dir);
  }

  static databaseName(index: number): string {
    return `${hex16(index)}.snap.db`;
  }

  async saveDatabase(index: number, body: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<number> {
    const name = FileEtcdSnapshotStore.databaseName(index);
    const tmp = join(this.dir, `${name}.tmp`);
    const fh = await open(tmp, 'w');
    let bytes = 0;
    let ok = false;
    try {
      for await (const chunk of body) {
        if (signal.aborted) throw new RaftwireError(ErrorCode.ABORTED, 'snapshot receive aborted', { cause: signal.reason });
        // write() may take part of a chunk: loop until all of it is on its way to the disk.
        for (let at = 0; at < chunk.length; ) {
          const { bytesWritten } = await fh.write(chunk, at, chunk.length - at, bytes + at);
          at += bytesWritten;
        }
        bytes += chunk.length;
      }
      await fh.sync();
      ok = true;
    } finally {
      await fh.close();
      if (!ok) await rm(tmp, { force: true });
    }
    await rename(tmp, join(this.dir, name));
    await fsyncDir(this.dir);
    return bytes;
  }

  async saveRecord(index: number, term: number, record: Uint8Array): Promise<void> {
    await writeFileAtomic(this.dir, `${hex16(term)}-${hex16(index)}.snap`, record);
  }

  async prune(keep: ReadonlySet<number>): Promise<void> {
    for (const name of await readdir(this.dir)) {
      const m = DB.exec(name) ?? RECORD.exec(name);
      if (name.endsWith('.tmp') || (m && !keep.has(Number.parseInt(m[1] as string, 16)))) await rm(join(this.dir, name), { force: true });
    }
  }
}
