import { abortError, onAbort } from './abort.js';

interface Waiter<T> {
  resolve(v: T): void;
  reject(e: unknown): void;
  dispose(): void;
}

/**
 * A FIFO with a fixed capacity. Producers never wait: `tryPush` fails when
 * full (the caller drops and reports). Consumers wait with an AbortSignal.
 */
export class BoundedQueue<T> {
  private items: T[] = [];
  private head = 0;
  private readonly waiters: Waiter<T>[] = [];

  constructor(readonly capacity: number) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** Hands `v` to a waiting consumer or queues it; false when full. */
  tryPush(v: T): boolean {
    const w = this.waiters.shift();
    if (w) {
      w.dispose();
      w.resolve(v);
      return true;
    }
    if (this.length >= this.capacity) return false;
    this.items.push(v);
    return true;
  }

  tryShift(): T | undefined {
    if (this.length === 0) return undefined;
    const v = this.items[this.head] as T;
    this.items[this.head] = undefined as T;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return v;
  }

  /** The next item; rejects with ERR_ABORTED when `signal` aborts first. */
  shift(signal?: AbortSignal): Promise<T> {
    if (this.length > 0) return Promise.resolve(this.tryShift() as T);
    if (signal?.aborted) return Promise.reject(abortError(signal.reason));
    return new Promise<T>((resolve, reject) => {
      const w: Waiter<T> = {
        resolve,
        reject,
        dispose: () => {},
      };
      w.dispose = onAbort(signal, () => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(abortError(signal?.reason));
      });
      this.waiters.push(w);
    });
  }

  /** Removes and returns everything queued. */
  clear(): T[] {
    const out = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return out;
  }
}
