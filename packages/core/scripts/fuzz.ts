// Soak fuzzing for the decoders: `npx tsx packages/core/scripts/fuzz.ts [cases-per-decoder] [seed]`.
// Every failure prints its seed and input; rerun with that seed to reproduce.
import { DECODERS, fuzz } from '../test/fuzz-lib.js';

const cases = Number(process.argv[2] ?? 2_000_000);
let seed = Number(process.argv[3] ?? Date.now() % 2 ** 31);
const rounds = Number(process.env.ROUNDS ?? 1);
for (let round = 0; round < rounds; round++, seed++) {
  for (const name of DECODERS) {
    const t0 = performance.now();
    const r = fuzz(name, cases, seed);
    const s = (performance.now() - t0) / 1000;
    console.log(`${name.padEnd(15)} seed ${seed}: ${r.cases} cases, ${r.ok} decoded, ${r.typedErrors} typed errors, ${s.toFixed(1)} s`);
  }
}
