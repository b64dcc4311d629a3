/**
 * Seeded simulation over the real transport, part 2 of 2 (seeds 501–1000): RaftNode
 * drivers over core's Transport and MemoryLink with seeded connection drops and resets,
 * latency, partitions, crashes that lose unsynced writes, and restarts. After every step:
 * election safety, log matching, leader completeness, state machine safety; at the end,
 * durability of acknowledged writes and read linearizability.
 */
import { describe, expect, it } from 'vitest';
import { runTransportSims, TRANSPORT_SIM_MS } from './sim/transport-sim-runs.js';

describe('seeded simulation over Transport + MemoryLink (part 2/2)', () => {
  it(`keeps Raft's safety properties in 500 runs of ${TRANSPORT_SIM_MS} simulated ms (seeds 501–1000)`, async () => {
    const r = await runTransportSims(501, 1000);
    console.log(
      `transport simulation seeds 501–1000: ${r.runs} runs in ${r.ms.toFixed(0)} ms; acked ${r.acked}, reads ${r.reads}, crashes ${r.crashes}`,
    );
    expect(r.runs).toBe(500);
    expect(r.acked).toBeGreaterThan(r.runs * 5);
    expect(r.reads).toBeGreaterThan(r.runs);
    expect(r.crashes).toBeGreaterThan(50);
  }, 300_000);
});
