/**
 * A sliding window of in-flight MsgApp last indexes for one follower (etcd's
 * tracker.Inflights). When full, the leader stops sending until responses
 * free slots, bounding the entries in flight per follower.
 */
export class Inflights {
  private buffer: number[] = [];
  readonly size: number;

  constructor(size: number) {
    this.size = size;
  }

  /** Records a MsgApp whose last entry index is `inflight`; indexes must increase. */
  add(inflight: number): void {
    this.buffer.push(inflight);
  }

  /** Frees every in-flight message with last index ≤ `to`. */
  freeLE(to: number): void {
    let i = 0;
    while (i < this.buffer.length && (this.buffer[i] as number) <= to) i++;
    if (i > 0) this.buffer = this.buffer.slice(i);
  }

  /** Frees the oldest in-flight message (used on heartbeat response when full). */
  freeFirstOne(): void {
    this.buffer.shift();
  }

  full(): boolean {
    return this.buffer.length >= this.size;
  }

  count(): number {
    return this.buffer.length;
  }

  reset(): void {
    this.buffer = [];
  }
}
