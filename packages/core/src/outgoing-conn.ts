import { onAbort } from './abort.js';
import type { Clock, TimerHandle } from './clock.js';
import { ErrorCode, RaftwireError } from './errors.js';

interface PendingWrite {
  chunk: Uint8Array;
  resolve(): void;
  reject(e: unknown): void;
  timer: TimerHandle | undefined;
}

/**
 * A response body whose consumer can hand written chunks back for reuse (the stream writer's
 * batch buffers). A consumer that calls `acceptReleases()` promises to call `releaseChunk(c)` for
 * each chunk it took, once and only once the wire no longer reads it (Node: the `write`
 * callback); the producer may then overwrite it. A consumer that never accepts gets chunks it
 * may keep for good (every other adapter: the producer allocates a fresh buffer per chunk).
 */
export interface ReleasableBody extends AsyncIterable<Uint8Array> {
  acceptReleases(): void;
  releaseChunk(chunk: Uint8Array): void;
}

export function isReleasableBody(body: unknown): body is ReleasableBody {
  return (
    typeof body === 'object' &&
    body !== null &&
    typeof (body as ReleasableBody).acceptReleases === 'function' &&
    typeof (body as ReleasableBody).releaseChunk === 'function'
  );
}

/**
 * The body of a stream response (etcd's outgoingConn): the stream writer
 * `write`s chunks, the adapter iterates them and writes each to the wire.
 * A write completes when the adapter has taken the chunk, so a consumer that
 * stops pulling stalls the writer, and a write that stalls past its timeout
 * kills the connection (half-open detection). `return()` from the adapter
 * (the requester went away) or the request's signal closes it.
 */
export class OutgoingConn implements ReleasableBody {
  private pending: PendingWrite | null = null;
  private releases = false;
  private onRelease: ((chunk: Uint8Array) => void) | null = null;
  private reader: { resolve(r: IteratorResult<Uint8Array>): void } | null = null;
  private closedReason: string | null = null;
  private readonly closeListeners: ((reason: string) => void)[] = [];
  private readonly disposeSignal: () => void;

  constructor(
    private readonly clock: Clock,
    signal?: AbortSignal,
  ) {
    this.disposeSignal = onAbort(signal, () => this.close('requester went away'));
  }

  get closed(): boolean {
    return this.closedReason !== null;
  }

  /** True once the consumer promised to hand every chunk back ({@link ReleasableBody}). */
  get releasesChunks(): boolean {
    return this.releases;
  }

  /** The consumer's promise ({@link ReleasableBody}). */
  acceptReleases(): void {
    this.releases = true;
  }

  /** The consumer is done with `chunk`: handed to the producer's handler, if any. */
  releaseChunk(chunk: Uint8Array): void {
    this.onRelease?.(chunk);
  }

  /** The producer's side: `fn` gets every chunk the consumer hands back. */
  onChunkReleased(fn: ((chunk: Uint8Array) => void) | null): void {
    this.onRelease = fn;
  }

  onClose(fn: (reason: string) => void): void {
    if (this.closedReason !== null) fn(this.closedReason);
    else this.closeListeners.push(fn);
  }

  /** Hands one chunk to the consumer; rejects with ERR_LINK when closed, ERR_TIMEOUT after `timeoutMs`. */
  write(chunk: Uint8Array, timeoutMs: number): Promise<void> {
    if (this.closedReason !== null) return Promise.reject(this.closedError());
    if (this.pending) return Promise.reject(new RaftwireError(ErrorCode.LINK, 'concurrent write on a stream'));
    return new Promise<void>((resolve, reject) => {
      const reader = this.reader;
      if (reader) {
        this.reader = null;
        reader.resolve({ done: false, value: chunk });
        resolve();
        return;
      }
      const p: PendingWrite = { chunk, resolve, reject, timer: undefined };
      p.timer = this.clock.setTimeout(() => {
        p.timer = undefined;
        this.close(`write timed out after ${timeoutMs} ms`);
      }, timeoutMs);
      this.pending = p;
    });
  }

  /** Ends the stream; a pending write rejects, the consumer sees the end. */
  close(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    this.disposeSignal();
    const p = this.pending;
    this.pending = null;
    if (p) {
      if (p.timer !== undefined) this.clock.clearTimeout(p.timer);
      p.reject(this.closedError());
    }
    const r = this.reader;
    this.reader = null;
    r?.resolve({ done: true, value: undefined });
    for (const fn of this.closeListeners.splice(0)) fn(reason);
  }

  private closedError(): RaftwireError {
    return new RaftwireError(ErrorCode.LINK, `stream closed: ${this.closedReason}`);
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: () => {
        if (this.pending) {
          const p = this.pending;
          this.pending = null;
          if (p.timer !== undefined) this.clock.clearTimeout(p.timer);
          p.resolve();
          return Promise.resolve({ done: false, value: p.chunk });
        }
        if (this.closedReason !== null) return Promise.resolve({ done: true, value: undefined });
        return new Promise<IteratorResult<Uint8Array>>((resolve) => {
          this.reader = { resolve };
        });
      },
      return: () => {
        this.close('requester went away');
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }
}
