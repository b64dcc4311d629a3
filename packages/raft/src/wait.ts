import { abortError } from '@raftwire/core';

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
  /** The signal it was registered with (undefined: none). */
  signal: AbortSignal | undefined;
  onAborted: (() => void) | undefined;
}

/** The waiters registered with one signal, and the one abort listener they share. */
interface SignalGroup<K> {
  keys: Set<K>;
  listener: () => void;
}

/**
 * Waiters registered under keys, each settled once (etcd's `pkg/wait`). Each
 * waiter has its own entry: one whose signal aborts is removed alone and
 * rejects with ERR_ABORTED, and the others stay registered.
 *
 * Waiters given the same signal share one abort listener on it (a caller may hand every request
 * that starts within a few ms one timeout signal): registering and settling a waiter adds it to and
 * removes it from that signal's set, not an `addEventListener`/`removeEventListener` per waiter.
 * The listener is removed once the last waiter of its signal settles, so none outlives its waits.
 */
export class Wait<K, T> {
  private readonly waiters = new Map<K, Waiter<T>>();
  private readonly groups = new Map<AbortSignal, SignalGroup<K>>();

  /**
   * @param onSettled runs as each waiter settles, `failed` true when it rejects (aborted, failed,
   *   `rejectAll`, or a signal aborted before it registered): a metrics count without a `then`
   *   on every waiter's promise.
   */
  constructor(private readonly onSettled?: (failed: boolean) => void) {}

  /**
   * Registers a waiter under `key` (unused until it settles). `onAbort` runs
   * when the signal removes the waiter, so a caller can forget the key too.
   */
  register(key: K, signal?: AbortSignal, onAborted?: () => void): Promise<T> {
    if (signal?.aborted) {
      this.onSettled?.(true);
      return Promise.reject(abortError(signal.reason));
    }
    return new Promise<T>((resolve, reject) => {
      const prev = this.waiters.get(key);
      if (prev?.signal !== undefined) this.release(prev.signal, key);
      this.waiters.set(key, { resolve, reject, signal, onAborted });
      if (signal === undefined) return;
      let g = this.groups.get(signal);
      if (g === undefined) {
        const keys = new Set<K>();
        g = { keys, listener: () => this.abortGroup(signal, keys) };
        signal.addEventListener('abort', g.listener, { once: true });
        this.groups.set(signal, g);
      }
      g.keys.add(key);
    });
  }

  isRegistered(key: K): boolean {
    return this.waiters.has(key);
  }

  /** Resolves the waiter under `key`, if any; false when none is registered. */
  trigger(key: K, value: T): boolean {
    const w = this.take(key);
    if (w === undefined) return false;
    this.onSettled?.(false);
    w.resolve(value);
    return true;
  }

  /** Rejects the waiter under `key`, if any. */
  fail(key: K, err: unknown): boolean {
    const w = this.take(key);
    if (w === undefined) return false;
    this.onSettled?.(true);
    w.reject(err);
    return true;
  }

  /** Rejects every waiter (the node stops). */
  rejectAll(err: unknown): void {
    const all = [...this.waiters.values()];
    this.waiters.clear();
    for (const [signal, g] of this.groups) signal.removeEventListener('abort', g.listener);
    this.groups.clear();
    for (const w of all) {
      this.onSettled?.(true);
      w.reject(err);
    }
  }

  get size(): number {
    return this.waiters.size;
  }

  private take(key: K): Waiter<T> | undefined {
    const w = this.waiters.get(key);
    if (w === undefined) return undefined;
    this.waiters.delete(key);
    if (w.signal !== undefined) this.release(w.signal, key);
    return w;
  }

  /** `key` no longer waits on `signal`: the last one to leave removes the listener. */
  private release(signal: AbortSignal, key: K): void {
    const g = this.groups.get(signal);
    if (g === undefined) return;
    g.keys.delete(key);
    if (g.keys.size > 0) return;
    signal.removeEventListener('abort', g.listener);
    this.groups.delete(signal);
  }

  /** `signal` aborted: every waiter still registered with it is removed and rejects with ERR_ABORTED. */
  private abortGroup(signal: AbortSignal, keys: Set<K>): void {
    if (this.groups.get(signal)?.keys === keys) this.groups.delete(signal);
    const err = abortError(signal.reason);
    for (const key of keys) {
      const w = this.waiters.get(key);
      if (w === undefined || w.signal !== signal) continue;
      this.waiters.delete(key);
      w.onAborted?.();
      this.onSettled?.(true);
      w.reject(err);
    }
    keys.clear();
  }
}

/**
 * Waiters for a point on a monotonic scale, such as an applied index or a
 * leader epoch (etcd's `WaitTime`): `trigger(d)` resolves every waiter whose
 * deadline is at most `d`. Each waiter is keyed on its own, so aborting one
 * leaves every other waiter for the same deadline in place.
 */
export class WaitTime {
  private readonly waiters = new Wait<number, void>();
  private readonly deadlines = new Map<number, number>();
  private nextId = 0;

  /** Resolves once `trigger` reaches `deadline`. */
  wait(deadline: number, signal?: AbortSignal): Promise<void> {
    const id = ++this.nextId;
    const p = this.waiters.register(id, signal, () => this.deadlines.delete(id));
    if (this.waiters.isRegistered(id)) this.deadlines.set(id, deadline);
    return p;
  }

  /** Resolves every waiter whose deadline is at most `deadline`, in the order they began waiting. */
  trigger(deadline: number): void {
    for (const [id, d] of this.deadlines) {
      if (d > deadline) continue;
      this.deadlines.delete(id);
      this.waiters.trigger(id);
    }
  }

  rejectAll(err: unknown): void {
    this.deadlines.clear();
    this.waiters.rejectAll(err);
  }

  get size(): number {
    return this.waiters.size;
  }
}
