import { concatBytes } from '../bytes.js';
import { type Clock, type TimerHandle, systemClock } from '../clock.js';
import { ErrorCode, RaftwireError } from '../errors.js';
import type { Id } from '../ids.js';
import type { Message } from '../message.js';
import type { RaftCallbacks, SnapshotStatus } from '../options.js';

/** Polls `cond` until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  what = 'condition',
  timeoutMs = 10_000,
  intervalMs = 5,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * A clock over the platform timers that counts live timers, so a test can
 * assert that nothing the transport scheduled outlives `stop()`.
 */
export class TrackingClock implements Clock {
  private readonly live = new Set<TimerHandle>();
  /** Timers created so far. */
  created = 0;

  constructor(private readonly inner: Clock = systemClock) {}

  now(): number {
    return this.inner.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    this.created++;
    const h: { inner?: TimerHandle } = {};
    h.inner = this.inner.setTimeout(() => {
      this.live.delete(h);
      fn();
    }, ms);
    this.live.add(h);
    return h;
  }

  clearTimeout(handle: TimerHandle): void {
    const h = handle as { inner?: TimerHandle };
    if (this.live.delete(h)) this.inner.clearTimeout(h.inner);
  }

  /** Timers scheduled and neither fired nor cleared. */
  get activeTimers(): number {
    return this.live.size;
  }
}

/** A received snapshot as {@link RecordingRaft} saw it. */
export interface ReceivedSnapshot {
  msg: Message;
  size: number;
  /** Bytes received (the body when kept, else empty). */
  data: Uint8Array;
  received: number;
  /** FNV-1a over the body, to compare large bodies without keeping them. */
  checksum: number;
  error?: RaftwireError;
}

/** FNV-1a 32-bit, incremental. */
export function fnv1a(bytes: Uint8Array, h = 0x811c9dc5): number {
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i] as number;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * Raft callbacks that record everything (etcd's fakeRaft). `removed` marks
 * IDs as removed; `processError` makes `process` reject.
 */
export class RecordingRaft implements RaftCallbacks {
  readonly received: Message[] = [];
  readonly unreachable: Id[] = [];
  readonly snapshotReports: { id: Id; status: SnapshotStatus }[] = [];
  readonly snapshots: ReceivedSnapshot[] = [];
  readonly removed = new Set<Id>();
  processError: Error | undefined;
  /** Keep snapshot bodies up to this size in `data`. */
  keepSnapshotBytes = 1 << 20;
  /** Called on every processed message. */
  onMessage: ((m: Message) => void) | undefined;

  process(m: Message): void {
    if (this.processError) throw this.processError;
    this.received.push(m);
    this.onMessage?.(m);
  }

  isIdRemoved(id: Id): boolean {
    return this.removed.has(id);
  }

  reportUnreachable(id: Id): void {
    this.unreachable.push(id);
  }

  reportSnapshot(id: Id, status: SnapshotStatus): void {
    this.snapshotReports.push({ id, status });
  }

  async receiveSnapshot(msg: Message, body: AsyncIterable<Uint8Array>, size: number): Promise<void> {
    const rec: ReceivedSnapshot = { msg, size, data: new Uint8Array(0), received: 0, checksum: 0x811c9dc5 };
    this.snapshots.push(rec);
    // size -1: the wire declares none (the etcd profile); the body is kept while it stays small.
    const keep = size >= 0 && size <= this.keepSnapshotBytes ? new Uint8Array(size) : null;
    const parts: Uint8Array[] | null = size < 0 ? [] : null;
    try {
      for await (const chunk of body) {
        if (keep) keep.set(chunk, rec.received);
        rec.received += chunk.length;
        rec.checksum = fnv1a(chunk, rec.checksum);
        if (parts && rec.received <= this.keepSnapshotBytes) parts.push(chunk.slice());
      }
    } catch (err) {
      rec.error = err instanceof RaftwireError ? err : new RaftwireError(ErrorCode.LINK, String(err));
      throw err;
    }
    if (keep) rec.data = keep;
    if (parts && rec.received <= this.keepSnapshotBytes) rec.data = concatBytes(parts);
  }
}

/** `n` bytes of a seeded pattern, produced in chunks of `chunkSize` without holding them all. */
export async function* patternBody(n: number, chunkSize = 64 * 1024, seed = 7): AsyncGenerator<Uint8Array> {
  let sent = 0;
  let x = seed >>> 0;
  while (sent < n) {
    const len = Math.min(chunkSize, n - sent);
    const c = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      c[i] = x >>> 24;
    }
    sent += len;
    yield c;
  }
}

/** FNV-1a of {@link patternBody}(n, chunkSize, seed). */
export async function patternChecksum(n: number, chunkSize = 64 * 1024, seed = 7): Promise<number> {
  let h = 0x811c9dc5;
  for await (const c of patternBody(n, chunkSize, seed)) h = fnv1a(c, h);
  return h;
}
