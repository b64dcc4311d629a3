import { ErrorCode, RaftwireError } from '@raftwire/core';

/**
 * Where an etcd member keeps the snapshots etcd sends it: the database (etcd's bbolt file, which
 * may be gigabytes: it is streamed to storage as it arrives and never held in memory) and the
 * raftpb snapshot record beside it (metadata and the v2 store, as etcd keeps `<term>-<index>.snap`).
 * `FileEtcdSnapshotStore` (`@raftwire/raft/node`) keeps them in files.
 */
export interface EtcdSnapshotStore {
  /** Streams the database of the snapshot at `index` to storage; resolves with its size once it is durable. */
  saveDatabase(index: number, body: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<number>;
  /** Durably keeps the raftpb Snapshot bytes of the snapshot at `index`. */
  saveRecord(index: number, term: number, record: Uint8Array, signal: AbortSignal): Promise<void>;
  /** Deletes every snapshot whose index is not in `keep`. */
  prune(keep: ReadonlySet<number>): Promise<void>;
}

/** An {@link EtcdSnapshotStore} in memory, for tests: it counts database bytes and keeps records. */
export class MemoryEtcdSnapshotStore implements EtcdSnapshotStore {
  readonly databases = new Map<number, number>();
  readonly records = new Map<number, { term: number; record: Uint8Array }>();

  async saveDatabase(index: number, body: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<number> {
    let n = 0;
    for await (const chunk of body) {
      if (signal.aborted) throw new RaftwireError(ErrorCode.ABORTED, 'snapshot receive aborted');
      n += chunk.length;
    }
    this.databases.set(index, n);
    return n;
  }

  async saveRecord(index: number, term: number, record: Uint8Array): Promise<void> {
    this.records.set(index, { term, record: record.slice() });
  }

  async prune(keep: ReadonlySet<number>): Promise<void> {
    for (const i of [...this.databases.keys()]) if (!keep.has(i)) this.databases.delete(i);
    for (const i of [...this.records.keys()]) if (!keep.has(i)) this.records.delete(i);
  }
}
