/** Bytes of a response body held for a reader that has not taken them yet, before the source is paused. */
export const RESPONSE_AHEAD_BYTES = 1 << 20;

/** What a {@link ReadAhead} pauses and resumes: a socket or an IncomingMessage. */
export interface PausableSource {
  pause(): unknown;
  resume(): unknown;
  isPaused(): boolean;
}

/**
 * The chunks a flowing-mode reader ('data' events) has received and its consumer not yet taken,
 * at most `limit` bytes before the source is paused (resumed at half). Chunks are handed on as
 * they came, never joined or copied.
 */
export class ReadAhead<T extends Uint8Array> {
  private readonly chunks: (T | undefined)[] = [];
  private next = 0;
  private buffered = 0;
  private wake: (() => void) | null = null;

  constructor(
    private readonly source: PausableSource,
    private readonly limit = RESPONSE_AHEAD_BYTES,
  ) {}

  /** Queues a chunk; pauses the source past the limit. */
  push(chunk: T): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered > this.limit) this.source.pause();
    this.notify();
  }

  /** The oldest queued chunk (the source resumed once at most half the limit is left), or undefined. */
  shift(): T | undefined {
    if (this.next >= this.chunks.length) return undefined;
    const c = this.chunks[this.next] as T;
    this.chunks[this.next++] = undefined;
    if (this.next === this.chunks.length) {
      this.chunks.length = 0;
      this.next = 0;
    }
    this.buffered -= c.length;
    if (this.buffered <= this.limit / 2 && this.source.isPaused()) this.source.resume();
    return c;
  }

  /** Resolves at the next push or {@link notify}. */
  wait(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
    });
  }

  /** Wakes a waiting consumer (the source ended or failed). */
  notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}

/** What a body reader listens for on its source (a socket or an IncomingMessage). */
export interface BodyListeners {
  data(chunk: Buffer): void;
  end(): void;
  error(err: unknown): void;
  close(): void;
}

/** Attaches the four listeners; returns the function that detaches them. */
export function listenBody(source: NodeJS.EventEmitter, l: BodyListeners): () => void {
  source.on('data', l.data);
  source.on('end', l.end);
  source.on('error', l.error);
  source.on('close', l.close);
  return () => {
    source.off('data', l.data);
    source.off('end', l.end);
    source.off('error', l.error);
    source.off('close', l.close);
  };
}
