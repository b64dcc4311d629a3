import { runDriverSim } from './driver-sim.js';

/** Simulated milliseconds of chaos per transport run (then heal, converge and check). */
export const TRANSPORT_SIM_MS = 600;

export interface RangeResult {
  runs: number;
  acked: number;
  reads: number;
  crashes: number;
  ms: number;
}

/**
 * Runs seeds [from, to] of the driver simulation over core's Transport and
 * MemoryLink; throws with a reproduce command on the first violation.
 */
export async function runTransportSims(from: number, to: number): Promise<RangeResult> {
  const t0 = performance.now();
  const res: RangeResult = { runs: 0, acked: 0, reads: 0, crashes: 0, ms: 0 };
  for (let seed = from; seed <= to; seed++) {
    const r = await runDriverSim(seed, TRANSPORT_SIM_MS, { network: 'transport' }).catch((err: unknown) => {
      throw new Error(
        `transport seed ${seed} failed; reproduce: npx tsx packages/raft/scripts/soak.ts --seed ${seed} --runs 0 --driver-runs 0 --transport-runs 1 --transport-ms ${TRANSPORT_SIM_MS}`,
        { cause: err },
      );
    });
    res.runs++;
    res.acked += r.acked;
    res.reads += r.reads;
    res.crashes += r.crashes;
  }
  res.ms = performance.now() - t0;
  return res;
}
