import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/sim/prng.js';
import { ZipfTable } from '../../src/sim/zipf.js';

describe('ZipfTable', () => {
  it('gives item k a weight proportional to 1/(k+1)^s', () => {
    const table = new ZipfTable(100, 1);
    let sum = 0;
    for (let k = 0; k < 100; k++) sum += table.probability(k);
    expect(sum).toBeCloseTo(1, 12);
    expect(table.probability(0) / table.probability(1)).toBeCloseTo(2, 9);
    expect(table.probability(0) / table.probability(9)).toBeCloseTo(10, 9);
    const flat = new ZipfTable(4, 0);
    for (let k = 0; k < 4; k++) expect(flat.probability(k)).toBeCloseTo(0.25, 12);
  });

  it('maps uniform draws to items by binary search over the cumulative table', () => {
    const table = new ZipfTable(4, 0);
    expect([0, 0.2499, 0.25, 0.5, 0.74, 0.75, 0.999999].map((u) => table.pick(u))).toEqual([
      0, 0, 1, 2, 2, 3, 3,
    ]);
    expect(new ZipfTable(1, 2).pick(0.7)).toBe(0);
  });

  it('reproduces the distribution when driven by the PRNG', () => {
    const n = 50;
    const table = new ZipfTable(n, 1.2);
    const rng = new Prng(1);
    const counts = new Array<number>(n).fill(0);
    const draws = 200_000;
    for (let i = 0; i < draws; i++) counts[table.pick(rng.next())]!++;
    for (const k of [0, 1, 5, 20]) {
      expect(counts[k]! / draws).toBeCloseTo(table.probability(k), 2);
    }
  });

  it('refuses an empty table or a negative exponent', () => {
    expect(() => new ZipfTable(0, 1)).toThrow(RangeError);
    expect(() => new ZipfTable(3, -1)).toThrow(/exponent/);
  });
});
