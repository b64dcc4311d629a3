import { abortError, onAbort } from '@raftwire/core';

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

/**
 * Waiters registered under keys, each settled once (etcd's `pkg/wait`). Each
 * waiter has its own entry: one whose signal aborts is removed alone and
 * rejects with ERR_ABORTED, and the others stay registered.
 */
export class Wait<K, T> {
  private readonly waiters = new Map<K, Waiter<T>>();

  /**
   * Registers a waiter under `key` (unused until it settles). `onAbort` runs
   * when the signal removes the waiter, so a caller can forget the key too.
   */
  register(key: K, signal?: AbortSignal, onAborted?: () => void): Promise<T> {
    if (signal === undefined) {
      // Nothing to dispose: the promise's own functions are the waiter (the proposal hot path).
      return new Promise<T>((resolve, reject) => {
        this.waiters.set(key, { resolve, reject });
      });
    }
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortError(signal.reason));
        return;
      }
      const dispose = onAbort(signal, () => {
        if (this.waiters.get(key) !== waiter) return;
        this.waiters.delete(key);
        onAborted?.();
        reject(abortError(signal?.reason));
      });
      const waiter: Waiter<T> = {
        resolve: (v) => {
          dispose();
          resolve(v);
        },
        reject: (e) => {
          dispose();
          reject(e);
        },
      };
      this.waiters.set(key, waiter);
    });
  }

  isRegistered(key: K): boolean {
    return this.waiters.has(key);
  }

  /** Resolves the waiter under `key`, if any; false when none is registered. */
  trigger(key: K, value: T): boolean {
    const w = this.take(key);
    w?.resolve(value);
    return w !== undefined;
  }

  /** Rejects the waiter under `key`, if any. */
  fail(key: K, err: unknown): boolean {
    const w = this.take(key);
    w?.reject(err);
    return w !== undefined;
  }

  /** Rejects every waiter (the node stops). */
  rejectAll(err: unknown): void {
    const all = [...this.waiters.values()];
    this.waiters.clear();
    for (const w of all) w.reject(err);
  }

  get size(): number {
    return this.waiters.size;
  }

  private take(key: K): Waiter<T> | undefined {
    const w = this.waiters.get(key);
    this.waiters.delete(key);
    return w;
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
