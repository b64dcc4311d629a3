/**
 * Seeded randomness: every random choice in raftwire (Raft election
 * timeouts, the memory network's faults, simulations) draws from an
 * injected source, so a run is reproduced from its seed.
 */

/** A source of uniformly distributed integers. */
export interface Rand {
  /** An integer in [0, n). */
  intn(n: number): number;
}

/** Seeded PRNG (mulberry32). Same seed, same sequence, on every platform. */
export class SeededRand implements Rand {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  intn(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** The same generator as a bare function returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  const r = new SeededRand(seed);
  return () => r.next();
}
