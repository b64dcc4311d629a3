/**
 * Counts the 'abort' listeners that raftwire code adds to each AbortSignal while a test runs.
 * A listener left on a signal that never aborts is a leak: on a long-lived signal (the
 * transport's own, or a caller's signal shared by many requests) it piles up with every
 * request. Uses no test framework.
 *
 * ```ts
 * const tracker = new AbortListenerTracker();
 * tracker.install();
 * try { ...traffic with one caller signal...; assert(tracker.on(caller.signal) === 0); }
 * finally { tracker.uninstall(); }
 * ```
 */
export class AbortListenerTracker {
  private readonly live = new Map<AbortSignal, Set<unknown>>();
  private readonly add = EventTarget.prototype.addEventListener;
  private readonly remove = EventTarget.prototype.removeEventListener;

  /**
   * @param sources Matches the file of the code that calls `addEventListener` (the frame just
   *   above the tracker's): by default raftwire's own sources, in the repository or installed.
   *   Listeners a platform library adds (undici on its request signals, say) are not counted.
   */
  constructor(private readonly sources: RegExp = /packages\/(core|adapters|raft)\/(src|dist)\/|@raftwire\//) {}

  /** Patches `EventTarget.prototype` until {@link uninstall}. */
  install(): void {
    const live = this.live;
    const add = this.add;
    const remove = this.remove;
    const sources = this.sources;
    EventTarget.prototype.addEventListener = function (this: EventTarget, type: string, fn: unknown, opts?: unknown) {
      if (type === 'abort' && this instanceof AbortSignal && fn && sources.test(callerFrame(new Error().stack))) {
        let set = live.get(this);
        if (!set) live.set(this, (set = new Set()));
        set.add(fn);
      }
      return add.call(this, type, fn as EventListener, opts as AddEventListenerOptions);
    } as typeof EventTarget.prototype.addEventListener;
    EventTarget.prototype.removeEventListener = function (this: EventTarget, type: string, fn: unknown, opts?: unknown) {
      if (type === 'abort' && this instanceof AbortSignal) live.get(this)?.delete(fn);
      return remove.call(this, type, fn as EventListener, opts as EventListenerOptions);
    } as typeof EventTarget.prototype.removeEventListener;
  }

  uninstall(): void {
    EventTarget.prototype.addEventListener = this.add;
    EventTarget.prototype.removeEventListener = this.remove;
    this.live.clear();
  }

  /** Listeners on `signal` (0 once it aborted: they fired or can never fire). */
  on(signal: AbortSignal): number {
    return signal.aborted ? 0 : (this.live.get(signal)?.size ?? 0);
  }

  /** The most listeners held by any signal that has not aborted. */
  maxOnLiveSignal(): number {
    let max = 0;
    for (const [signal, set] of this.live) if (!signal.aborted) max = Math.max(max, set.size);
    return max;
  }

  /** Listeners held by signals that have not aborted, summed. */
  totalOnLiveSignals(): number {
    let n = 0;
    for (const [signal, set] of this.live) if (!signal.aborted) n += set.size;
    return n;
  }
}

/** The first stack frame outside this file: the code that called `addEventListener`. */
function callerFrame(stack: string | undefined): string {
  const frames = (stack ?? '').split('\n').slice(1);
  return frames.find((f) => !/abort-listener-tracker\.(ts|js)/.test(f)) ?? '';
}
