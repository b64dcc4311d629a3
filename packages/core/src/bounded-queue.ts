import { abortError, onAbort } from './abort.js';

interface Waiter<T> {
  resolve(v: T): void;
  reject(e: unknown): void;
  dispose(): void;
}

/**
 * A FIFO with a fixed capacity. Producers never wait: `tryPush` fails when
 * full (the caller drops and reports). Consumers wait with an AbortSignal.
 * A ring buffer: slots are reused, nothing is copied or sliced per item; it
 * grows by doubling (up to the capacity) only while it fills.
 */
export class BoundedQueue<T> {
  private ring: (T | undefined)[] = new Array<T | undefined>(16);
  /** ring.length - 1 (ring.length is a power of two). */
  private mask = 15;
  private head = 0;
  private size = 0;
  private readonly waiters: Waiter<T>[] = [];

  constructor(readonly capacity: number) {}

  get length(): number {
    return this.size;
  }

  /** Hands `v` to a waiting consumer or queues it; false when full. */
  tryPush(v: T): boolean {
    if (this.waiters.length > 0) {
      const w = this.waiters.shift() as Waiter<T>;
      w.dispose();
      w.resolve(v);
      return true;
    }
    if (this.size >= this.capacity) return false;
    if (this.size === this.ring.length) this.grow();
    this.ring[(this.head + this.size) & this.mask] = v;
    this.size++;
    return true;
  }

  private grow(): void {
    const next = new Array<T | undefined>(this.ring.length * 2);
    for (let i = 0; i < this.size; i++) next[i] = this.ring[(this.head + i) & this.mask];
    this.ring = next;
    this.mask = next.length - 1;
    this.head = 0;
  }

  tryShift(): T | undefined {
    if (this.size === 0) return undefined;
    const v = this.ring[this.head] as T;
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.size--;
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
    const out = new Array<T>(this.size);
    for (let i = 0; i < this.size; i++) out[i] = this.ring[(this.head + i) & this.mask] as T;
    this.ring = new Array<T | undefined>(16);
    this.mask = 15;
    this.head = 0;
    this.size = 0;
    return out;
  }
}
