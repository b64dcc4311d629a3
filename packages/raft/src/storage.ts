import type { ConfState, Entry, Id, Snapshot } from '@raftwire/core';
import { createEntry, createSnapshot, emptyConfState, ErrorCode, RaftwireError } from '@raftwire/core';

/** etcd's raftpb.HardState: what must be durable before messages that depend on it are sent. */
export interface HardState {
  term: number;
  vote: Id;
  commit: number;
}

/** The empty hard state. */
export function emptyHardState(): HardState {
  return { term: 0, vote: 0n, commit: 0 };
}

/** Field-wise equality of hard states. */
export function hardStatesEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** True for the zero hard state (nothing persisted). */
export function isEmptyHardState(h: HardState): boolean {
  return h.term === 0 && h.vote === 0n && h.commit === 0;
}

/** Approximate encoded size of an entry, used for message size limits. */
export function entrySize(e: Entry): number {
  return e.data.length + 24;
}

/** Cuts `ents` to at most `maxSize` bytes, always keeping the first entry: `ents` itself when all fit, else a copy of its head. */
export function limitSize(ents: Entry[], maxSize: number): Entry[] {
  if (ents.length === 0 || maxSize === Number.POSITIVE_INFINITY) return ents;
  let size = entrySize(ents[0] as Entry);
  let limit = 1;
  for (; limit < ents.length; limit++) {
    size += entrySize(ents[limit] as Entry);
    if (size > maxSize) break;
  }
  return limit === ents.length ? ents : ents.slice(0, limit);
}

/**
 * The read side of Raft's log storage (etcd's raft.Storage). Reads are
 * synchronous: the state machine consults storage while stepping. Methods
 * throw a `RaftwireError` `ERR_COMPACTED` / `ERR_UNAVAILABLE` as etcd returns
 * ErrCompacted / ErrUnavailable.
 */
export interface Storage {
  /** The saved HardState and ConfState. */
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at most `maxSize` bytes (at least one entry if any). */
  entries(lo: number, hi: number, maxSize?: number): Entry[];
  /** Term of entry `i`, which must be in [firstIndex()-1, lastIndex()]. */
  term(i: number): number;
  /** Index of the last entry in the log. */
  lastIndex(): number;
  /** Index of the first entry that may be read (older ones are in the snapshot). */
  firstIndex(): number;
  /** The most recent snapshot. */
  snapshot(): Snapshot;
}

/**
 * Storage a driver can write: the mutators change what reads return at once;
 * {@link WritableStorage.sync} makes every change so far durable (fsync for
 * file-backed storage) and must resolve before the driver sends any message
 * of the same Ready (etcd's Ready contract).
 */
export interface WritableStorage extends Storage {
  /** Appends entries, truncating any existing entries at or after the first one's index. */
  append(entries: readonly Entry[]): void;
  setHardState(hs: HardState): void;
  /** Replaces the log with a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): void;
  /** Records a snapshot of the applied state at `index` (≤ lastIndex). */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot;
  /** Discards entries up to and including `index` (which must be covered by a snapshot). */
  compact(index: number): void;
  /** Makes all changes durable. Resolves only when they are. */
  sync(signal?: AbortSignal): Promise<void>;
}

/**
 * In-memory storage (etcd's MemoryStorage). `ents[0]` is a dummy entry
 * holding the snapshot's index and term.
 */
export class MemoryStorage implements WritableStorage {
  protected hardState: HardState = emptyHardState();
  protected snap: Snapshot = createSnapshot();
  protected ents: Entry[] = [createEntry()];

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: this.snap.metadata.confState };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  entries(lo: number, hi: number, maxSize = Number.POSITIVE_INFINITY): Entry[] {
    const offset = (this.ents[0] as Entry).index;
    if (lo <= offset) throw new RaftwireError(ErrorCode.COMPACTED, `requested index ${lo} is compacted (first ${offset + 1})`);
    if (hi > this.lastIndex() + 1) {
      throw new RaftwireError(ErrorCode.UNAVAILABLE, `entries' hi(${hi}) is out of bound lastindex(${this.lastIndex()})`);
    }
    if (this.ents.length === 1) throw new RaftwireError(ErrorCode.UNAVAILABLE, 'no entries');
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSize);
  }

  term(i: number): number {
    const offset = (this.ents[0] as Entry).index;
    if (i < offset) throw new RaftwireError(ErrorCode.COMPACTED, `term(${i}) is compacted`);
    if (i - offset >= this.ents.length) throw new RaftwireError(ErrorCode.UNAVAILABLE, `term(${i}) is unavailable`);
    return (this.ents[i - offset] as Entry).term;
  }

  lastIndex(): number {
    return (this.ents[0] as Entry).index + this.ents.length - 1;
  }

  firstIndex(): number {
    return (this.ents[0] as Entry).index + 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  applySnapshot(snap: Snapshot): void {
    const cur = this.snap.metadata.index;
    if (cur >= snap.metadata.index) throw new RaftwireError(ErrorCode.SNAP_OUT_OF_DATE, `snapshot ${snap.metadata.index} ≤ ${cur}`);
    this.snap = snap;
    this.ents = [createEntry({ term: snap.metadata.term, index: snap.metadata.index })];
  }

  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) throw new RaftwireError(ErrorCode.SNAP_OUT_OF_DATE, `snapshot ${index} is out of date`);
    const offset = (this.ents[0] as Entry).index;
    if (index > this.lastIndex())
      throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `snapshot ${index} is out of bound lastindex(${this.lastIndex()})`);
    this.snap = createSnapshot({
      data,
      metadata: { index, term: (this.ents[index - offset] as Entry).term, confState: cloneConfState(confState) },
    });
    return this.snap;
  }

  compact(index: number): void {
    const offset = (this.ents[0] as Entry).index;
    if (index <= offset) throw new RaftwireError(ErrorCode.COMPACTED, `compact(${index}) is already compacted`);
    if (index > this.lastIndex())
      throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `compact ${index} is out of bound lastindex(${this.lastIndex()})`);
    const i = index - offset;
    const head = this.ents[i] as Entry;
    this.ents = [createEntry({ index: head.index, term: head.term }), ...this.ents.slice(i + 1)];
  }

  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = (entries[0] as Entry).index + entries.length - 1;
    if (last < first) return; // all compacted
    const ents = first > (entries[0] as Entry).index ? entries.slice(first - (entries[0] as Entry).index) : entries;
    const offset = (ents[0] as Entry).index - (this.ents[0] as Entry).index;
    if (offset > this.ents.length) {
      throw new RaftwireError(ErrorCode.INVARIANT, `missing log entry [last: ${this.lastIndex()}, append at: ${(ents[0] as Entry).index}]`);
    }
    // In place: copying the whole log on every append made appends O(log length).
    if (offset < this.ents.length) this.ents.length = offset;
    for (const e of ents) this.ents.push(e);
  }

  async sync(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
  }
}

/** A deep copy of a ConfState. */
export function cloneConfState(cs: ConfState): ConfState {
  return {
    voters: [...cs.voters],
    learners: [...cs.learners],
    votersOutgoing: [...cs.votersOutgoing],
    learnersNext: [...cs.learnersNext],
    autoLeave: cs.autoLeave,
  };
}

export { emptyConfState };
