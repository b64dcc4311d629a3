import type { Clock, TimerHandle } from './clock.js';
import { ErrorCode, RaftwireError, isRaftwireError } from './errors.js';

/** The error every aborted wait rejects with. */
export function abortError(reason?: unknown): RaftwireError {
  if (isRaftwireError(reason)) return reason;
  const text = reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
  return new RaftwireError(ErrorCode.ABORTED, text, reason === undefined ? undefined : { cause: reason });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal.reason);
}

/**
 * Runs `onAbort` once when `signal` aborts; returns a disposer that removes
 * the listener (call it when the wait ends, so no listener outlives it).
 */
export function onAbort(signal: AbortSignal | undefined, onAbortFn: () => void): () => void {
  if (!signal) return () => {};
  if (signal.aborted) {
    onAbortFn();
    return () => {};
  }
  const fn = (): void => onAbortFn();
  signal.addEventListener('abort', fn, { once: true });
  return () => signal.removeEventListener('abort', fn);
}

/** Resolves after `ms`; rejects with ERR_ABORTED when `signal` aborts first. No timer or listener survives. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal.reason));
      return;
    }
    let handle: TimerHandle | undefined;
    const dispose = onAbort(signal, () => {
      if (handle !== undefined) clock.clearTimeout(handle);
      reject(abortError(signal?.reason));
    });
    handle = clock.setTimeout(() => {
      dispose();
      resolve();
    }, ms);
  });
}

/** Settles like `promise`, or rejects with ERR_ABORTED when `signal` aborts first. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const dispose = onAbort(signal, () => reject(abortError(signal.reason)));
    promise.then(
      (v) => {
        dispose();
        resolve(v);
      },
      (e: unknown) => {
        dispose();
        reject(e);
      },
    );
  });
}

/**
 * A child controller that aborts when the parent aborts (or after `timeoutMs`
 * when given). `dispose()` removes the parent listener and the timer.
 */
export class ChildAbort {
  readonly controller = new AbortController();
  private readonly disposeParent: () => void;
  private timer: TimerHandle | undefined;

  constructor(
    parent: AbortSignal | undefined,
    private readonly clock?: Clock,
    timeoutMs?: number,
    timeoutReason?: () => unknown,
  ) {
    this.disposeParent = onAbort(parent, () => this.abort(parent?.reason));
    if (clock && timeoutMs !== undefined && timeoutMs > 0 && !this.signal.aborted) {
      this.timer = clock.setTimeout(() => {
        this.timer = undefined;
        this.abort(timeoutReason ? timeoutReason() : new RaftwireError(ErrorCode.TIMEOUT, `timed out after ${timeoutMs} ms`));
      }, timeoutMs);
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Cancels the timeout but keeps the parent link. */
  clearTimeout(): void {
    if (this.timer !== undefined && this.clock) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  abort(reason?: unknown): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
    this.dispose();
  }

  dispose(): void {
    this.clearTimeout();
    this.disposeParent();
  }
}
