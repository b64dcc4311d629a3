import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_KINDS, EXCLUDED_KINDS, FAULT_KINDS, type FaultKind, makeSchedule, parseKinds } from '../src/schedule.js';

describe('fault schedule', () => {
  it('is a function of the seed: same seed, same schedule; another seed, another one', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), (seed) => {
        const a = makeSchedule({ seed, durationMs: 60_000, kinds: FAULT_KINDS });
        const b = makeSchedule({ seed, durationMs: 60_000, kinds: FAULT_KINDS });
        expect(b).toEqual(a);
        const c = makeSchedule({ seed: seed + 1, durationMs: 60_000, kinds: FAULT_KINDS });
        expect(c).not.toEqual(a);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps faults apart and inside the run, with only the chosen kinds, each of them in a long enough run', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.subarray([...FAULT_KINDS], { minLength: 1 }),
        fc.integer({ min: 20_000, max: 600_000 }),
        (seed, kinds, durationMs) => {
          const s = makeSchedule({ seed, durationMs, kinds, warmupMs: 3000, cooldownMs: 4000, minGapMs: 1500 });
          let end = 0;
          for (const [i, step] of s.entries()) {
            expect(step.index).toBe(i);
            expect(kinds).toContain(step.kind);
            expect(step.at).toBeGreaterThanOrEqual(Math.max(3000, end));
            expect(step.at + step.durationMs).toBeLessThanOrEqual(durationMs - 4000);
            expect(step.durationMs).toBeGreaterThanOrEqual(1500);
            for (const t of step.targets) expect(t.pick >= 0 && t.pick < 1).toBe(true);
            end = step.at + step.durationMs + 1500;
          }
          // Kinds come in shuffled rounds: after k·|kinds| faults every kind has come k times.
          const rounds = Math.floor(s.length / kinds.length);
          for (const k of kinds) expect(s.filter((x) => x.kind === k).length).toBeGreaterThanOrEqual(rounds);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('gives a 60-second run of the default kinds enough faults to matter', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const s = makeSchedule({ seed, durationMs: 60_000, kinds: DEFAULT_KINDS });
      expect(s.length).toBeGreaterThanOrEqual(7);
    }
  });

  it('aims each kind where it should: isolate the leader, minorities of 1–2, distinct pairs to cut', () => {
    const s = makeSchedule({ seed: 3, durationMs: 3_600_000, kinds: FAULT_KINDS });
    const of = (k: FaultKind) => s.filter((x) => x.kind === k);
    for (const x of of('isolate')) expect(x.targets).toEqual([{ role: 'leader', pick: 0 }]);
    for (const x of of('partition')) expect([1, 2]).toContain(x.targets.length);
    for (const x of of('kill')) expect([1, 2]).toContain(x.targets.length);
    for (const x of of('cut')) expect(x.targets).toHaveLength(2 * Number(x.params.pairs));
    for (const x of of('oneway')) expect(['mute', 'deaf']).toContain(x.params.direction);
    for (const x of of('member')) expect(x.targets[0]?.role).toBe('follower');
    for (const x of of('delay')) expect(Number(x.params.delayMs)).toBeGreaterThan(0);
    expect(s.some((x) => x.targets.some((t) => t.role === 'leader'))).toBe(true);
    expect(s.some((x) => x.targets.some((t) => t.role === 'follower'))).toBe(true);
  });

  it('parses fault lists and names unknown kinds', () => {
    expect(parseKinds('kill, stop,kill')).toEqual(['kill', 'stop']);
    expect(() => parseKinds('kill,explode')).toThrow(/unknown fault kind\(s\) explode/);
    expect(makeSchedule({ seed: 1, durationMs: 60_000, kinds: [] })).toEqual([]);
    for (const k of Object.keys(EXCLUDED_KINDS)) expect(DEFAULT_KINDS).not.toContain(k);
  });

  it('adds a fresh member as a learner (then promoted) in about half the membership changes', () => {
    const steps = makeSchedule({ seed: 7, durationMs: 600_000, kinds: ['member'] });
    expect(steps.length).toBeGreaterThan(40);
    for (const st of steps) expect(typeof st.params.learner).toBe('boolean');
    const learners = steps.filter((st) => st.params.learner === true).length;
    expect(learners).toBeGreaterThan(steps.length * 0.2);
    expect(learners).toBeLessThan(steps.length * 0.8);
  });
});
