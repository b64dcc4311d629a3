import { describe, expect, it } from 'vitest';
import { DECODERS, fuzz } from './fuzz-lib.js';

const CASES = 100_000;
const SEED = Number(process.env.RAFTWIRE_FUZZ_SEED ?? 20261121);

describe('decoder fuzzing', () => {
  it.each(DECODERS)(
    `the %s decoder answers ${CASES} random and mutated inputs with results or typed errors only`,
    (name) => {
      const r = fuzz(name, CASES, SEED);
      expect(r.ok + r.typedErrors).toBe(CASES);
      // Both outcomes must actually occur, or the mutations are not exercising the decoder.
      expect(r.typedErrors).toBeGreaterThan(CASES / 100);
      expect(r.ok).toBeGreaterThan(0);
    },
    120_000,
  );
});
