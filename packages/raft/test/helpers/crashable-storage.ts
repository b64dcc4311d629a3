import type { Clock, Entry, SeededRand, Snapshot } from '@raftwire/core';
import { type HardState, MemoryStorage } from '../../src/storage.js';

/** A sync that was in flight when its simulated process crashed. */
export class CrashedError extends Error {}

/**
 * MemoryStorage whose durable image is taken only at sync(): `crashImage()`
 * returns a fresh storage holding exactly what was synced, so a simulated
 * crash loses everything written but not yet synced.
 */
export class CrashableStorage extends MemoryStorage {
  private image: { hs: HardState; snap: Snapshot; ents: Entry[] } = {
    hs: { term: 0, vote: 0n, commit: 0 },
    snap: this.snap,
    ents: [...this.ents],
  };
  syncs = 0;
  /** Simulated fsync latency (on the injected clock), so a crash can land while a sync is in flight. */
  latency: { clock: Clock; rand: SeededRand; maxMs: number } | null = null;
  /** Called as a sync begins: a simulation may crash the process right there. */
  onSyncStart: (() => void) | null = null;

  override async sync(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const pending = { hs: { ...this.hardState }, snap: this.snap, ents: [...this.ents] };
    this.onSyncStart?.();
    const lat = this.latency;
    if (lat) await new Promise<void>((resolve) => lat.clock.setTimeout(resolve, lat.rand.intn(lat.maxMs + 1)));
    if (this.crashed) throw new CrashedError(); // the process is gone: this sync never completes
    this.image = pending;
    this.syncs++;
  }

  private crashed = false;

  /** The storage a restarted process would find. */
  crashImage(): CrashableStorage {
    this.crashed = true;
    const s = new CrashableStorage();
    s.latency = this.latency;
    s.hardState = { ...this.image.hs };
    s.snap = this.image.snap;
    s.ents = [...this.image.ents];
    s.image = { hs: { ...this.image.hs }, snap: this.image.snap, ents: [...this.image.ents] };
    return s;
  }
}
