import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/sim/prng.js';

const draws = (seed: number, n: number) => {
  const rng = new Prng(seed);
  return Array.from({ length: n }, () => rng.next());
};

describe('Prng', () => {
  it('repeats its sequence for a seed and differs between seeds', () => {
    expect(draws(7, 100)).toEqual(draws(7, 100));
    expect(draws(7, 100)).not.toEqual(draws(8, 100));
    // Seeds are folded into 32 bits deterministically, fractional and negative ones included.
    expect(draws(7.9, 10)).toEqual(draws(7, 10));
    expect(draws(-1, 10)).toEqual(draws(2 ** 32 - 1, 10));
  });

  it('draws floats in [0, 1) spread evenly', () => {
    const values = draws(123, 100_000);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    const buckets = new Array<number>(10).fill(0);
    for (const v of values) buckets[Math.floor(v * 10)]!++;
    for (const count of buckets) expect(Math.abs(count - 10_000)).toBeLessThan(500);
  });

  it('draws integers within inclusive bounds, hitting both ends', () => {
    const rng = new Prng(5);
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) seen.add(rng.int(-2, 2));
    expect([...seen].sort((a, b) => a - b)).toEqual([-2, -1, 0, 1, 2]);
  });

  it('chance(p) is true about p of the time', () => {
    const rng = new Prng(9);
    let hits = 0;
    for (let i = 0; i < 100_000; i++) if (rng.chance(0.1)) hits++;
    expect(hits).toBeGreaterThan(9_400);
    expect(hits).toBeLessThan(10_600);
  });
});
