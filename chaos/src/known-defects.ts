/**
 * Member crashes this suite has found and that are not fixed yet, told apart
 * by the ERROR line the member logs. A run still reports every crash; a
 * crash that matches one of these does not fail it (unless asked to be
 * strict), so the rest of what the run checks stays useful meanwhile. Remove
 * an entry when its fix lands: from then on that crash fails runs again.
 */
export interface KnownDefect {
  name: string;
  /** Matched against the member's ERROR lines. */
  pattern: RegExp;
  description: string;
}

export const KNOWN_CRASHES: readonly KnownDefect[] = [
  {
    name: 'ready-loop-reentry',
    pattern: /applied\(\d+\) is out of range \[prevApplied\(\d+\), committed\(\d+\)\]/,
    description:
      'RaftNode can run two Ready loops at once: kick() sets `loop` only after runLoop() returns, and a Ready handled ' +
      'without an fsync runs synchronously into code that calls kick() again (finishing a ReadIndex round starts the next ' +
      'one; a send that finds a full buffer reports the peer unreachable). The loops then advance out of order and the ' +
      'applied-index invariant stops the member (exit 1).',
  },
];

/** The known defect an exit's ERROR lines match, or null. */
export function knownCrash(errorLines: readonly string[], defects: readonly KnownDefect[] = KNOWN_CRASHES): KnownDefect | null {
  for (const d of defects) if (errorLines.some((l) => d.pattern.test(l))) return d;
  return null;
}
