/**
 * Long seeded soak of the Raft simulations.
 *
 *   npx tsx packages/raft/scripts/soak.ts [--seed 1] [--runs 10000] [--steps 400] [--driver-runs 500] [--driver-ms 4000]
 *                                         [--transport-runs 2000] [--transport-ms 2000]
 *
 * Runs `--runs` state-machine simulations (seeds seed..seed+runs-1) and
 * `--driver-runs` RaftNode driver simulations over the in-test network and
 * `--transport-runs` driver simulations over core's Transport + MemoryLink, checking election safety, log
 * matching, leader completeness, state machine safety, durability of
 * acknowledged writes and read linearizability. On a violation it prints the
 * seed and the exact command that reproduces it, and exits 1.
 * (Needs @raftwire/core built: `pnpm run build`.)
 */
import { runDriverSim } from '../test/sim/driver-sim.js';
import { randomOptions, SimCluster } from '../test/sim/sim-cluster.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(v) || v < 0) {
    console.error(`--${name} needs a non-negative integer`);
    process.exit(2);
  }
  return v;
}

const seed0 = arg('seed', 1);
const runs = arg('runs', 10_000);
const steps = arg('steps', 400);
const driverRuns = arg('driver-runs', 500);
const driverMs = arg('driver-ms', 4000);
const transportRuns = arg('transport-runs', 2000);
const transportMs = arg('transport-ms', 2000);

const t0 = performance.now();
let converged = 0;
for (let i = 0; i < runs; i++) {
  const seed = seed0 + i;
  try {
    const sim = new SimCluster(randomOptions(seed, steps));
    sim.run();
    if (sim.converge(600)) converged++;
    else console.warn(`seed ${seed}: did not converge after healing (liveness, not safety)`);
  } catch (err) {
    console.error(`FAIL state-machine simulation seed ${seed}: ${err instanceof Error ? err.message : String(err)}`);
    console.error(`reproduce: npx tsx packages/raft/scripts/soak.ts --seed ${seed} --runs 1 --steps ${steps} --driver-runs 0`);
    process.exit(1);
  }
  if ((i + 1) % 1000 === 0) console.log(`state machine: ${i + 1}/${runs} runs, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
console.log(`state machine: ${runs} runs ok (${converged} converged) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const t1 = performance.now();
let acked = 0;
for (let i = 0; i < driverRuns; i++) {
  const seed = seed0 + i;
  try {
    acked += (await runDriverSim(seed, driverMs)).acked;
  } catch (err) {
    console.error(`FAIL driver simulation seed ${seed}: ${err instanceof Error ? err.message : String(err)}`);
    console.error(`reproduce: npx tsx packages/raft/scripts/soak.ts --seed ${seed} --runs 0 --driver-runs 1 --driver-ms ${driverMs}`);
    process.exit(1);
  }
  if ((i + 1) % 100 === 0) console.log(`driver: ${i + 1}/${driverRuns} runs, ${((performance.now() - t1) / 1000).toFixed(1)} s`);
}
console.log(`driver: ${driverRuns} runs ok (${acked} acknowledged writes checked) in ${((performance.now() - t1) / 1000).toFixed(1)} s`);

const t2 = performance.now();
let tAcked = 0;
for (let i = 0; i < transportRuns; i++) {
  const seed = seed0 + i;
  try {
    tAcked += (await runDriverSim(seed, transportMs, { network: 'transport' })).acked;
  } catch (err) {
    console.error(`FAIL transport simulation seed ${seed}: ${err instanceof Error ? err.message : String(err)}`);
    console.error(
      `reproduce: npx tsx packages/raft/scripts/soak.ts --seed ${seed} --runs 0 --driver-runs 0 --transport-runs 1 --transport-ms ${transportMs}`,
    );
    process.exit(1);
  }
  if ((i + 1) % 100 === 0) console.log(`transport: ${i + 1}/${transportRuns} runs, ${((performance.now() - t2) / 1000).toFixed(1)} s`);
}
console.log(
  `transport: ${transportRuns} runs ok (${tAcked} acknowledged writes checked) in ${((performance.now() - t2) / 1000).toFixed(1)} s`,
);
