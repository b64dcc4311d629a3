import { describe, expect, it } from 'vitest';
import { randomOptions, SimCluster } from './sim/sim-cluster.js';

const RUNS = 1000;

describe('seeded simulation', () => {
  it(`keeps election safety, log matching, leader completeness, state machine safety and voter-only commit quorums (learners included) over ${RUNS} randomized runs`, () => {
    let reads = 0;
    let confs = 0;
    let converged = 0;
    let maxCommit = 0;
    let lostReadies = 0;
    let learners = 0;
    let promotions = 0;
    let commitChecks = 0;
    const t0 = performance.now();
    for (let seed = 1; seed <= RUNS; seed++) {
      const sim = new SimCluster(randomOptions(seed, 160));
      try {
        sim.run();
        if (sim.converge(600)) converged++;
      } catch (err) {
        throw new Error(
          `seed ${seed} failed; reproduce: npx tsx packages/raft/scripts/soak.ts --seed ${seed} --runs 1 --steps 160 --driver-runs 0`,
          { cause: err },
        );
      }
      reads += sim.readsCompleted;
      lostReadies += sim.crashesBeforePersist;
      confs += sim.confChangesApplied;
      learners += sim.learnerAdds.size;
      promotions += sim.learnerPromotions.size;
      commitChecks += sim.commitChecks;
      maxCommit = Math.max(maxCommit, sim.maxCommit);
    }
    const ms = performance.now() - t0;
    console.log(
      `simulation: ${RUNS} runs in ${ms.toFixed(0)} ms; converged ${converged}, reads ${reads}, conf changes applied ${confs} (learners added ${learners}, promoted ${promotions}), commit-quorum checks ${commitChecks}, crashes before persisting ${lostReadies}, max commit ${maxCommit}`,
    );
    // Liveness after healing: nearly every run elects a leader and catches everyone up.
    expect(converged).toBeGreaterThan(RUNS * 0.95);
    expect(reads).toBeGreaterThan(100);
    expect(confs).toBeGreaterThan(10);
    expect(learners).toBeGreaterThan(10);
    expect(promotions).toBeGreaterThan(5);
    expect(commitChecks).toBeGreaterThan(10_000);
    expect(lostReadies).toBeGreaterThan(100);
  }, 120_000);
});
