import { type ConfState, type Entry, ErrorCode, RaftwireError, type Snapshot, createEntry, createSnapshot } from '@raftwire/core';
import { type HardState, MemoryStorage } from '../storage.js';

const META = 'meta';
const ENTRIES = 'entries';
const OWNER = 'owner';
const HARD_STATE = 'hardState';
const SNAPSHOT = 'snapshot';

interface EntryRecord {
  term: number;
  type: number;
  data: Uint8Array;
}

interface SnapshotRecord {
  index: number;
  term: number;
  confState: ConfState;
  data: Uint8Array;
}

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

function corrupt(name: string, what: string): RaftwireError {
  return new RaftwireError(ErrorCode.CORRUPT, `IndexedDB ${name}: ${what}`);
}

function isHardState(v: unknown): v is HardState {
  const h = v as HardState;
  return (
    typeof v === 'object' && v !== null && Number.isSafeInteger(h.term) && typeof h.vote === 'bigint' && Number.isSafeInteger(h.commit)
  );
}

function isSnapshotRecord(v: unknown): v is SnapshotRecord {
  const s = v as SnapshotRecord;
  return (
    typeof v === 'object' &&
    v !== null &&
    Number.isSafeInteger(s.index) &&
    Number.isSafeInteger(s.term) &&
    s.data instanceof Uint8Array &&
    Array.isArray(s.confState?.voters)
  );
}

function isEntryRecord(v: unknown): v is EntryRecord {
  const e = v as EntryRecord;
  return (
    typeof v === 'object' && v !== null && Number.isSafeInteger(e.term) && Number.isSafeInteger(e.type) && e.data instanceof Uint8Array
  );
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
export class IndexedDbStorage extends MemoryStorage {
  /** Lowest log index changed since the last sync (entries from it on are rewritten). */
  private dirtyFrom = Number.POSITIVE_INFINITY;
  private hardStateDirty = false;
  private snapshotDirty = false;
  /** Entries below the first index must be deleted (compaction, or a snapshot replaced the log). */
  private trimDirty = false;
  private queue: Promise<void> = Promise.resolve();
  private failed: Error | undefined;
  private closed = false;

  private constructor(
    private readonly db: IDBDatabase,
    readonly name: string,
    private readonly owner: string,
    private readonly durability: IDBTransactionDurability,
  ) {
    super();
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
      s.load(hs, snap, keys, values);
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

  private load(hs: unknown, snap: unknown, keys: IDBValidKey[], values: unknown[]): void {
    if (hs !== undefined && !isHardState(hs)) throw corrupt(this.name, 'hard state record is malformed');
    if (snap !== undefined && !isSnapshotRecord(snap)) throw corrupt(this.name, 'snapshot record is malformed');
    const base = snap ?? { index: 0, term: 0 };
    const ents: Entry[] = [createEntry({ index: base.index, term: base.term })];
    keys.forEach((k, i) => {
      const v = values[i];
      if (typeof k !== 'number' || !isEntryRecord(v)) throw corrupt(this.name, `log record ${String(k)} is malformed`);
      if (k <= base.index) return; // left over from before a compaction that was not trimmed yet
      const want = (ents[ents.length - 1] as Entry).index + 1;
      if (k !== want) throw corrupt(this.name, `log has a gap: entry ${want} is missing, ${k} follows`);
      ents.push(createEntry({ index: k, term: v.term, type: v.type as Entry['type'], data: v.data }));
    });
    if (hs) this.hardState = { ...hs };
    if (snap) this.snap = createSnapshot({ data: snap.data, metadata: { index: snap.index, term: snap.term, confState: snap.confState } });
    this.ents = ents;
  }

  override setHardState(hs: HardState): void {
    super.setHardState(hs);
    this.hardStateDirty = true;
  }

  override append(entries: readonly Entry[]): void {
    super.append(entries);
    const first = entries[0];
    if (first) this.dirtyFrom = Math.min(this.dirtyFrom, Math.max(first.index, this.firstIndex()));
  }

  override applySnapshot(snap: Snapshot): void {
    super.applySnapshot(snap);
    this.snapshotDirty = true;
    this.trimDirty = true;
    this.dirtyFrom = Math.min(this.dirtyFrom, snap.metadata.index + 1);
  }

  override createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    const s = super.createSnapshot(index, confState, data);
    this.snapshotDirty = true;
    return s;
  }

  override compact(index: number): void {
    super.compact(index);
    this.trimDirty = true;
  }

  /** Writes every change since the last sync in one transaction; resolves once it committed. */
  override sync(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const job = this.queue.then(() => this.flush());
    this.queue = job.catch(() => {});
    return job;
  }

  private async flush(): Promise<void> {
    if (this.failed) throw this.failed;
    if (this.closed) throw new RaftwireError(ErrorCode.STOPPED, `IndexedDB ${this.name} is closed`);
    // What this transaction writes: the state now (later changes go to the next sync).
    const hs = this.hardStateDirty ? { ...this.hardState } : undefined;
    const snap = this.snapshotDirty ? this.snap : undefined;
    const offset = (this.ents[0] as Entry).index;
    const from = this.dirtyFrom;
    const rewrite = Number.isFinite(from) ? this.ents.slice(Math.max(1, from - offset)) : undefined;
    const trimBelow = this.trimDirty ? this.firstIndex() : 0;
    this.hardStateDirty = false;
    this.snapshotDirty = false;
    this.trimDirty = false;
    this.dirtyFrom = Number.POSITIVE_INFINITY;
    if (!hs && !snap && !rewrite && trimBelow === 0) return;
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
    if (snap) {
      const rec: SnapshotRecord = {
        index: snap.metadata.index,
        term: snap.metadata.term,
        confState: snap.metadata.confState,
        data: snap.data,
      };
      meta.put(rec, SNAPSHOT);
    }
    if (hs) meta.put(hs, HARD_STATE);
    if (rewrite) {
      entries.delete(IDBKeyRange.lowerBound(from));
      for (const e of rewrite) entries.put({ term: e.term, type: e.type, data: e.data } satisfies EntryRecord, e.index);
    }
    if (trimBelow > 1) entries.delete(IDBKeyRange.upperBound(trimBelow - 1));
    try {
      await finished;
    } catch (err) {
      this.failed = fenced
        ? new RaftwireError(ErrorCode.STOPPED, `IndexedDB ${this.name} was taken over by another copy of this member (another tab)`)
        : new RaftwireError(
            ErrorCode.STOPPED,
            `IndexedDB ${this.name}: write failed: ${err instanceof Error ? err.message : String(err)}`,
            { cause: err },
          );
      throw this.failed;
    }
  }

  /** Closes the database (after the last sync settles). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue;
    this.closed = true;
    this.db.close();
  }
}
