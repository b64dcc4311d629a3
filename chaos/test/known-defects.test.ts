import { describe, expect, it } from 'vitest';
import { KNOWN_CRASHES, knownCrash } from '../src/known-defects.js';

describe('known member crashes', () => {
  it('are told apart by the ERROR line the member logs, and nothing else matches', () => {
    const line =
      '2026-12-02T04:15:09.869Z ERROR raft node failed local-member-id=1 err="RaftError: applied(118) is out of range [prevApplied(120), committed(120)]"';
    expect(knownCrash([line])?.name).toBe('ready-loop-reentry');
    expect(
      knownCrash(['2026-12-02T04:15:09.869Z ERROR raft node failed err="RaftError: tocommit(9) is out of range [lastIndex(8)]"']),
    ).toBeNull();
    expect(knownCrash([])).toBeNull();
    for (const d of KNOWN_CRASHES) expect(d.description.length).toBeGreaterThan(40);
  });
});
