import { type Logger, onAbort, sleep, systemClock } from '@raftwire/core';

/**
 * Asks each peer URL in turn, `rounds` rounds one second apart, until `ask` returns an answer
 * (not null). Each attempt gets its own 2 s deadline, from a controller and a timer: Node 20 may
 * collect a timeout signal held only by AbortSignal.any. An attempt that throws is logged as
 * `unreachable` and the next peer is asked. Resolves null when no peer answered.
 */
export async function askPeers<T>(
  peers: readonly string[],
  options: { rounds: number; logger: Logger; signal: AbortSignal; unreachable: string },
  ask: (url: string, signal: AbortSignal) => Promise<T | null>,
): Promise<T | null> {
  const { signal } = options;
  for (let round = 0; round < options.rounds; round++) {
    for (const url of peers) {
      signal.throwIfAborted();
      const deadline = new AbortController();
      const timer = setTimeout(() => deadline.abort(new Error('no answer within 2 s')), 2000);
      const stop = onAbort(signal, () => deadline.abort(signal.reason));
      try {
        const answer = await ask(url, deadline.signal);
        if (answer !== null) return answer;
      } catch (err) {
        signal.throwIfAborted();
        options.logger.warn({ peer: url, error: err instanceof Error ? err.message : String(err) }, options.unreachable);
      } finally {
        clearTimeout(timer);
        stop();
      }
    }
    if (round + 1 < options.rounds) await sleep(systemClock, 1000, signal);
  }
  return null;
}
