import { describe, expect, it } from 'vitest';
import { runDriverSim } from './sim/driver-sim.js';

const RUNS = 100;

describe('seeded driver simulation', () => {
  it(`RaftNode clusters keep acknowledged writes and linearizable reads through drops, partitions and crashes (${RUNS} runs)`, async () => {
    let acked = 0;
    let reads = 0;
    let crashes = 0;
    let snapshots = 0;
    const t0 = performance.now();
    for (let seed = 1; seed <= RUNS; seed++) {
      const res = await runDriverSim(seed, 2000).catch((err: unknown) => {
        throw new Error(
          `seed ${seed} failed; reproduce: npx tsx packages/raft/scripts/soak.ts --seed ${seed} --runs 0 --driver-runs 1 --driver-ms 2000`,
          { cause: err },
        );
      });
      acked += res.acked;
      reads += res.reads;
      crashes += res.crashes;
      snapshots += res.snapshots > 0 ? 1 : 0;
    }
    console.log(
      `driver simulation: ${RUNS} runs in ${(performance.now() - t0).toFixed(0)} ms; acked ${acked}, reads ${reads}, crashes ${crashes}, runs with snapshots ${snapshots}`,
    );
    expect(acked).toBeGreaterThan(RUNS * 20);
    expect(reads).toBeGreaterThan(RUNS * 5);
    expect(crashes).toBeGreaterThan(20);
  }, 120_000);
});
