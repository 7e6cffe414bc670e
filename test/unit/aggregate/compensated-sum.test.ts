import { describe, expect, it } from 'vitest';
import { CompensatedSum } from '../../../src/aggregate/compensated-sum.js';
import { mulberry32, relErr, toFixed } from './reference.js';

describe('CompensatedSum', () => {
  it('keeps the low-order bits a naive float sum throws away', () => {
    const terms = [1e16, 1, -1e16];
    const sum = new CompensatedSum();
    for (const x of terms) sum.add(x);
    expect(terms.reduce((a, b) => a + b, 0)).toBe(0); // what plain summation gives
    expect(sum.value).toBe(1);
  });

  it('is exact when a term is larger than the running sum (where plain Kahan fails)', () => {
    const sum = new CompensatedSum();
    for (const x of [1, 1e100, 1, -1e100]) sum.add(x);
    expect(sum.value).toBe(2);
  });

  it('stays within a few ulps over a million cent-priced notionals, where naive summation drifts', () => {
    const random = mulberry32(7);
    const sum = new CompensatedSum();
    let naive = 0;
    let exact = 0n; // price in cents × size
    for (let i = 0; i < 1_000_000; i++) {
      const cents = 1 + Math.floor(random() * 50_000);
      const size = 1 + Math.floor(random() * 500);
      const notional = (cents / 100) * size;
      sum.add(notional);
      naive += notional;
      exact += BigInt(cents) * BigInt(size);
    }
    const expected = Number(exact) / 100;
    expect(relErr(sum.value, expected)).toBeLessThan(4e-16);
    expect(relErr(naive, expected)).toBeGreaterThan(relErr(sum.value, expected));
  });

  it('sums decimal crypto sizes to the exact decimal total', () => {
    const sizes = ['0.011467', '5.23512', '0.00000001', '100', '0.1', '0.2', '0.3'];
    const sum = new CompensatedSum();
    for (let round = 0; round < 10_000; round++) for (const s of sizes) sum.add(Number(s));
    const exact = sizes.reduce((a, s) => a + toFixed(s, 8), 0n) * 10_000n;
    expect(relErr(sum.value, Number(exact) / 1e8)).toBeLessThan(2.3e-16);
  });

  it('round-trips through its [sum, compensation] pair, continuing bit for bit', () => {
    const a = new CompensatedSum();
    for (const x of [0.1, 0.2, 0.3, 1e15, 0.7]) a.add(x);
    const b = CompensatedSum.from(JSON.parse(JSON.stringify(a)) as [number, number]);
    expect(b.toJSON()).toEqual(a.toJSON());
    a.add(0.1);
    b.add(0.1);
    expect(b.value).toBe(a.value);
    expect(b.compensation).toBe(a.compensation);
  });

  it('writes -0 as 0 so a JSON round trip changes nothing', () => {
    const sum = new CompensatedSum(-0, -0);
    expect(Object.is(sum.toJSON()[0], 0)).toBe(true);
    expect(Object.is(sum.toJSON()[1], 0)).toBe(true);
  });
});
