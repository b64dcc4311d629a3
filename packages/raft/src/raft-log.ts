import type { Entry, Snapshot } from '@raftwire/core';
import { ErrorCode, isRaftwireError, RaftwireError } from '@raftwire/core';
import { invariant } from './invariant.js';
import { limitSize, type Storage } from './storage.js';

/**
 * Entries and snapshot not yet written to storage (etcd's unstable).
 * `entries[i]` has index `offset + i`.
 */
export class Unstable {
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  maybeFirstIndex(): number | null {
    return this.snapshot ? this.snapshot.metadata.index + 1 : null;
  }

  maybeLastIndex(): number | null {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot ? this.snapshot.metadata.index : null;
  }

  maybeTerm(i: number): number | null {
    if (i < this.offset) {
      if (this.snapshot && this.snapshot.metadata.index === i) return this.snapshot.metadata.term;
      return null;
    }
    const last = this.maybeLastIndex();
    if (last === null || i > last) return null;
    return (this.entries[i - this.offset] as Entry).term;
  }

  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    if (gt === null) return;
    // Only advance if the entry at i still has term t (it may have been replaced meanwhile).
    if (gt === t && i >= this.offset) {
      this.entries = this.entries.slice(i + 1 - this.offset);
      this.offset = i + 1;
    }
  }

  stableSnapTo(i: number): void {
    if (this.snapshot && this.snapshot.metadata.index === i) this.snapshot = null;
  }

  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.entries = [];
    this.snapshot = s;
  }

  truncateAndAppend(ents: readonly Entry[]): void {
    const after = (ents[0] as Entry).index;
    // In place (the array is never handed out: Ready takes a copy, slices are copies), so a
    // leader appending batch after batch does not copy its whole unstable tail each time.
    if (after <= this.offset) {
      this.offset = after;
      this.entries = [...ents];
      return;
    }
    if (after < this.offset + this.entries.length) this.entries.length = after - this.offset;
    for (const e of ents) this.entries.push(e);
  }

  slice(lo: number, hi: number): Entry[] {
    invariant(lo <= hi && lo >= this.offset && hi <= this.offset + this.entries.length, `unstable.slice[${lo},${hi}) out of bound`);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}

/** The Raft log: storage plus unstable entries, with commit and apply cursors (etcd's raftLog). */
export class RaftLog {
  readonly storage: Storage;
  readonly unstable: Unstable;
  committed: number;
  applied: number;

  constructor(storage: Storage) {
    this.storage = storage;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applied = first - 1;
  }

  /** Appends entries after checking that (index, logTerm) matches; returns the new last index or null on mismatch. */
  maybeAppend(index: number, logTerm: number, committed: number, ents: readonly Entry[]): number | null {
    if (!this.matchTerm(index, logTerm)) return null;
    const lastnewi = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      invariant(ci > this.committed, `entry ${ci} conflicts with committed entry [committed(${this.committed})]`);
      const offset = index + 1;
      this.append(ents.slice(ci - offset));
    }
    this.commitTo(Math.min(committed, lastnewi));
    return lastnewi;
  }

  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = (ents[0] as Entry).index - 1;
    invariant(after >= this.committed, `after(${after}) is out of range [committed(${this.committed})]`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) if (!this.matchTerm(e.index, e.term)) return e.index;
    return 0;
  }

  /** The largest index ≤ `index` whose term is ≤ `term` (etcd's findConflictByTerm). */
  findConflictByTerm(index: number, term: number): number {
    for (;;) {
      const t = this.termOrNull(index);
      if (t === null || t <= term) return index;
      index--;
    }
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries;
  }

  nextCommittedEnts(maxSize = Number.POSITIVE_INFINITY): Entry[] {
    const off = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed + 1 > off) return this.slice(off, this.committed + 1, maxSize);
    return [];
  }

  hasNextCommittedEnts(): boolean {
    const off = Math.max(this.applied + 1, this.firstIndex());
    return this.committed + 1 > off;
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  commitTo(tocommit: number): void {
    if (this.committed < tocommit) {
      invariant(this.lastIndex() >= tocommit, `tocommit(${tocommit}) is out of range [lastIndex(${this.lastIndex()})]`);
      this.committed = tocommit;
    }
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    invariant(
      this.committed >= i && i >= this.applied,
      `applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`,
    );
    this.applied = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  lastTerm(): number {
    const t = this.termOrNull(this.lastIndex());
    invariant(t !== null, 'unexpected error when getting the last term');
    return t;
  }

  /** Term of entry i, or null when it is compacted or not yet in the log. */
  termOrNull(i: number): number | null {
    const dummy = this.firstIndex() - 1;
    if (i < dummy || i > this.lastIndex()) return null;
    const t = this.unstable.maybeTerm(i);
    if (t !== null) return t;
    try {
      return this.storage.term(i);
    } catch (err) {
      if (isRaftwireError(err, ErrorCode.COMPACTED) || isRaftwireError(err, ErrorCode.UNAVAILABLE)) return null;
      throw err;
    }
  }

  /** Term of entry i, 0 when unknown (etcd's zeroTermOnErrCompacted). */
  term(i: number): number {
    return this.termOrNull(i) ?? 0;
  }

  /** Entries from i, at most maxSize bytes; throws ERR_COMPACTED when i is compacted. */
  entries(i: number, maxSize = Number.POSITIVE_INFINITY): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxSize);
  }

  allEntries(): Entry[] {
    return this.entries(this.firstIndex());
  }

  isUpToDate(lasti: number, term: number): boolean {
    return term > this.lastTerm() || (term === this.lastTerm() && lasti >= this.lastIndex());
  }

  matchTerm(i: number, term: number): boolean {
    const t = this.termOrNull(i);
    return t !== null && t === term;
  }

  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.term(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  restore(s: Snapshot): void {
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  slice(lo: number, hi: number, maxSize = Number.POSITIVE_INFINITY): Entry[] {
    this.mustCheckOutOfBounds(lo, hi);
    if (lo === hi) return [];
    let ents: Entry[] = [];
    if (lo < this.unstable.offset) {
      const stored = this.storage.entries(lo, Math.min(hi, this.unstable.offset), maxSize);
      if (stored.length < Math.min(hi, this.unstable.offset) - lo) return stored;
      ents = stored;
    }
    if (hi > this.unstable.offset) {
      const u = this.unstable.slice(Math.max(lo, this.unstable.offset), hi);
      ents = ents.length > 0 ? [...ents, ...u] : u;
    }
    return limitSize(ents, maxSize);
  }

  private mustCheckOutOfBounds(lo: number, hi: number): void {
    invariant(lo <= hi, `invalid slice ${lo} > ${hi}`);
    const fi = this.firstIndex();
    if (lo < fi) throw new RaftwireError(ErrorCode.COMPACTED, `slice lo ${lo} is compacted (first ${fi})`);
    invariant(hi <= this.lastIndex() + 1, `slice[${lo},${hi}) out of bound [${fi},${this.lastIndex()}]`);
  }
}
