import { ErrorCode, RaftwireError } from '@raftwire/core';
import { BatchedStorage, type StorageBatch } from '../batched-storage.js';

const META = 'meta';
const ENTRIES = 'entries';
const OWNER = 'owner';
const HARD_STATE = 'hardState';
const SNAPSHOT = 'snapshot';

export interface IndexedDbStorageOptions {
  /** The IndexedDB database (one per member). */
  name: string;
  /**
   * Who writes: opening takes the database over from any earlier owner, whose
   * next {@link IndexedDbStorage.sync} then fails (a second copy of a member,
   * in another tab, can never write over the first one's log). Random by default.
   */
  owner?: string;
  /** `strict` (default): a sync resolves once the browser has flushed the write to disk. */
  durability?: IDBTransactionDurability;
}

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new DOMException('transaction aborted', 'AbortError'));
    tx.onerror = () => reject(tx.error);
  });
}

function openDb(name: string): Promise<IDBDatabase> {
  const r = indexedDB.open(name, 1);
  r.onupgradeneeded = () => {
    r.result.createObjectStore(META);
    r.result.createObjectStore(ENTRIES);
  };
  return request(r);
}

/**
 * Raft log storage in the browser's IndexedDB: a {@link MemoryStorage} (reads
 * are synchronous, as Raft needs) whose changes {@link sync} writes in one
 * IndexedDB transaction, resolving once it is committed — durably, with the
 * default `strict` durability. What was not synced is gone after a reload or
 * crash, exactly as raft's {@link WritableStorage} contract allows.
 *
 * One database per member: store `meta` holds the hard state, the snapshot and
 * the owner; store `entries` the log, keyed by index. Each sync first checks it
 * still owns the database (see {@link IndexedDbStorageOptions.owner}).
 */
export class IndexedDbStorage extends BatchedStorage {
  protected readonly label: string;

  private constructor(
    private readonly db: IDBDatabase,
    readonly name: string,
    private readonly owner: string,
    private readonly durability: IDBTransactionDurability,
  ) {
    super();
    this.label = `IndexedDB ${name}`;
  }

  /** Opens (or creates, empty) the database `name`, takes it over, and loads it. */
  static async open(options: IndexedDbStorageOptions): Promise<IndexedDbStorage> {
    const owner = options.owner ?? crypto.randomUUID();
    const db = await openDb(options.name);
    const s = new IndexedDbStorage(db, options.name, owner, options.durability ?? 'strict');
    try {
      const tx = db.transaction([META, ENTRIES], 'readwrite', { durability: s.durability });
      const meta = tx.objectStore(META);
      const entries = tx.objectStore(ENTRIES);
      const [hs, snap, keys, values] = await Promise.all([
        request(meta.get(HARD_STATE)),
        request(meta.get(SNAPSHOT)),
        request(entries.getAllKeys()),
        request(entries.getAll()),
        request(meta.put(owner, OWNER)),
      ]);
      await done(tx);
      s.load(
        hs,
        snap,
        keys.map((k, i) => [k, values[i]] as [unknown, unknown]),
      );
    } catch (err) {
      db.close();
      throw err;
    }
    return s;
  }

  /** Deletes a member's database (its cluster is over). Resolves once it is gone. */
  static async delete(name: string): Promise<void> {
    await request(indexedDB.deleteDatabase(name) as IDBRequest<unknown>);
  }

  /** Writes one batch in one IndexedDB transaction, after checking this copy still owns the database. */
  protected async write(batch: StorageBatch): Promise<void> {
    const tx = this.db.transaction([META, ENTRIES], 'readwrite', { durability: this.durability });
    const finished = done(tx);
    const meta = tx.objectStore(META);
    const entries = tx.objectStore(ENTRIES);
    let fenced = false;
    // Requests run in order: the owner check is answered before any write of this transaction commits.
    meta.get(OWNER).onsuccess = (e) => {
      if ((e.target as IDBRequest<unknown>).result !== this.owner) {
        fenced = true;
        tx.abort();
      }
    };
    if (batch.snapshot) meta.put(batch.snapshot, SNAPSHOT);
    if (batch.hardState) meta.put(batch.hardState, HARD_STATE);
    if (batch.rewriteFrom !== undefined) {
      entries.delete(IDBKeyRange.lowerBound(batch.rewriteFrom));
      for (const e of batch.entries) entries.put(e.record, e.index);
    }
    if (batch.trimBelow > 1) entries.delete(IDBKeyRange.upperBound(batch.trimBelow - 1));
    try {
      await finished;
    } catch (err) {
      if (fenced) throw new RaftwireError(ErrorCode.STOPPED, `${this.label} was taken over by another copy of this member (another tab)`);
      throw err;
    }
  }

  protected override writeFailed(err: unknown): Error {
    return err instanceof RaftwireError ? err : super.writeFailed(err);
  }

  /** Closes the database (after the last sync settles). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.settled();
    this.closed = true;
    this.db.close();
  }
}
