/**
 * Time and timers, injected so tests can track every timer the transport
 * creates (and prove none is left after `stop()`).
 */
export type TimerHandle = unknown;

export interface Clock {
  /** Wall-clock milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The platform's timers (`globalThis.setTimeout`), isomorphic. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof globalThis.setTimeout>),
};

/** A repeating timer built on `clock.setTimeout`; `stop()` cancels it. */
export function every(clock: Clock, ms: number, fn: () => void): { stop(): void } {
  let handle: TimerHandle | undefined;
  let stopped = false;
  const arm = (): void => {
    handle = clock.setTimeout(() => {
      handle = undefined;
      if (stopped) return;
      arm();
      fn();
    }, ms);
  };
  arm();
  return {
    stop() {
      stopped = true;
      if (handle !== undefined) clock.clearTimeout(handle);
      handle = undefined;
    },
  };
}
