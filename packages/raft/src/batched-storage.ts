import { type ConfState, createEntry, createSnapshot, type Entry, ErrorCode, RaftwireError, type Snapshot } from '@raftwire/core';
import { type HardState, MemoryStorage } from './storage.js';

/** A log entry as a key-value store keeps it (its index is the key). */
export interface EntryRecord {
  term: number;
  type: number;
  data: Uint8Array;
}

/** A snapshot as a key-value store keeps it. */
export interface SnapshotRecord {
  index: number;
  term: number;
  confState: ConfState;
  data: Uint8Array;
}

/** What one {@link BatchedStorage.sync} must write, all or nothing. */
export interface StorageBatch {
  hardState?: HardState;
  snapshot?: SnapshotRecord;
  /** Delete every entry from `rewriteFrom` on, then put `entries` (consecutive, starting at `rewriteFrom` or later). */
  rewriteFrom?: number;
  entries: { index: number; record: EntryRecord }[];
  /** Delete every entry below this index (0: none). */
  trimBelow: number;
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
 * A {@link MemoryStorage} (reads are synchronous, as Raft needs) that keeps a
 * copy in a key-value store which writes in batches: IndexedDB in a browser,
 * a Durable Object's storage in workerd. It tracks what changed since the
 * last {@link sync}, which hands one {@link StorageBatch} to {@link write}
 * and resolves once the store has committed it. What was not synced is gone
 * after a crash, exactly as raft's `WritableStorage` contract allows.
 * Syncs run one at a time, in order; after a failed write every later sync fails.
 */
export abstract class BatchedStorage extends MemoryStorage {
  /** Lowest log index changed since the last sync (entries from it on are rewritten). */
  private dirtyFrom = Number.POSITIVE_INFINITY;
  private hardStateDirty = false;
  private snapshotDirty = false;
  /** Entries below the first index must be deleted (compaction, or a snapshot replaced the log). */
  private trimDirty = false;
  private queue: Promise<void> = Promise.resolve();
  private failed: Error | undefined;
  protected closed = false;

  /** Names the store in errors (`IndexedDB raftwire-demo-…-2`). */
  protected abstract readonly label: string;

  /** Writes `batch` atomically; resolves once it is durable. A rejection fails this storage for good. */
  protected abstract write(batch: StorageBatch): Promise<void>;

  /** The error a failed {@link write} becomes (default: ERR_STOPPED naming the store). */
  protected writeFailed(err: unknown): Error {
    return new RaftwireError(ErrorCode.STOPPED, `${this.label}: write failed: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }

  protected corrupt(what: string): RaftwireError {
    return new RaftwireError(ErrorCode.CORRUPT, `${this.label}: ${what}`);
  }

  /**
   * Loads what the store holds: hard state and snapshot records (undefined when
   * absent) and the log records in ascending index order. Throws ERR_CORRUPT on
   * a malformed record or a gap in the log.
   */
  protected load(hs: unknown, snap: unknown, records: Iterable<[unknown, unknown]>): void {
    if (hs !== undefined && !isHardState(hs)) throw this.corrupt('hard state record is malformed');
    if (snap !== undefined && !isSnapshotRecord(snap)) throw this.corrupt('snapshot record is malformed');
    const base = snap ?? { index: 0, term: 0 };
    const ents: Entry[] = [createEntry({ index: base.index, term: base.term })];
    for (const [k, v] of records) {
      if (typeof k !== 'number' || !isEntryRecord(v)) throw this.corrupt(`log record ${String(k)} is malformed`);
      if (k <= base.index) continue; // left over from before a compaction that was not trimmed yet
      const want = (ents[ents.length - 1] as Entry).index + 1;
      if (k !== want) throw this.corrupt(`log has a gap: entry ${want} is missing, ${k} follows`);
      ents.push(createEntry({ index: k, term: v.term, type: v.type as Entry['type'], data: v.data }));
    }
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

  /** Writes every change since the last sync in one batch; resolves once it committed. */
  override sync(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const job = this.queue.then(() => this.flush());
    this.queue = job.catch(() => {});
    return job;
  }

  /** Resolves once every sync asked for so far has settled. */
  protected settled(): Promise<void> {
    return this.queue;
  }

  private async flush(): Promise<void> {
    if (this.failed) throw this.failed;
    if (this.closed) throw new RaftwireError(ErrorCode.STOPPED, `${this.label} is closed`);
    // What this batch writes: the state now (later changes go to the next sync).
    const offset = (this.ents[0] as Entry).index;
    const from = this.dirtyFrom;
    const batch: StorageBatch = { entries: [], trimBelow: this.trimDirty ? this.firstIndex() : 0 };
    if (this.hardStateDirty) batch.hardState = { ...this.hardState };
    if (this.snapshotDirty) {
      const m = this.snap.metadata;
      batch.snapshot = { index: m.index, term: m.term, confState: m.confState, data: ownBytes(this.snap.data) };
    }
    if (Number.isFinite(from)) {
      batch.rewriteFrom = from;
      for (const e of this.ents.slice(Math.max(1, from - offset))) {
        batch.entries.push({ index: e.index, record: { term: e.term, type: e.type, data: ownBytes(e.data) } });
      }
    }
    this.hardStateDirty = false;
    this.snapshotDirty = false;
    this.trimDirty = false;
    this.dirtyFrom = Number.POSITIVE_INFINITY;
    if (!batch.hardState && !batch.snapshot && batch.rewriteFrom === undefined && batch.trimBelow === 0) return;
    try {
      await this.write(batch);
    } catch (err) {
      this.failed = this.writeFailed(err);
      throw this.failed;
    }
  }
}

/**
 * `b`, or a copy when it is a view of a larger buffer: stores that structured-clone a record
 * (IndexedDB, a Durable Object's storage) write a view's whole underlying buffer, and entry data
 * are views of shared slabs (proposal envelopes) or of received chunks.
 */
function ownBytes(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : b.slice();
}
