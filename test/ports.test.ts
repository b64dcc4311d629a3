/**
 * Ports for members a test starts later: never inside the ephemeral range, where an outgoing
 * connection can take one between the check and the bind (CI once failed with "cannot listen on
 * 127.0.0.1:34030" for a member whose base port block ran past 32768).
 */
import { describe, expect, it } from 'vitest';
import { ephemeralRange, freePort, freePortBlock, MIN_PORT, portBlockCandidate } from '../tools/ports.mjs';
import { freeBasePort, freePort as memberFreePort } from '../apps/cli/test/member-process.js';

describe('test ports', () => {
  it('a block never reaches the ephemeral range, for any size and any random draw', () => {
    for (const count of [1, 2, 6, 8, 10, 64]) {
      for (const r of [0, 0.25, 0.5, 0.999, 0.999999]) {
        const base = portBlockCandidate(count, r, 32768);
        expect(base).toBeGreaterThanOrEqual(MIN_PORT);
        expect(base + count - 1).toBeLessThan(32768);
      }
    }
  });

  it('freeBasePort (raftwire cluster --base-port) stays below the ephemeral range, its whole block included', async () => {
    const [low] = ephemeralRange();
    for (let i = 0; i < 30; i++) {
      const size = 1 + (i % 5);
      const base = await freeBasePort(size);
      expect(base).toBeGreaterThanOrEqual(MIN_PORT);
      expect(base + 2 * size - 1).toBeLessThan(low);
    }
  });

  it('free ports and blocks are distinct within a process and below the ephemeral range', async () => {
    const [low] = ephemeralRange();
    const ports = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? freePort() : memberFreePort())));
    const blocks = await Promise.all(Array.from({ length: 10 }, () => freePortBlock(6)));
    const all = [...ports, ...blocks.flatMap((b) => Array.from({ length: 6 }, (_, i) => b + i))];
    expect(new Set(all).size).toBe(all.length);
    for (const p of all) expect(p).toBeLessThan(low);
  });
});
