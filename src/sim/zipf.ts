/**
 * Zipf-weighted choice among `n` items: item `k` (0-based) is drawn with weight 1 / (k + 1)^s. Real
 * trade rates are skewed like this (a few tickers carry most prints), which is what makes load
 * balancing by symbol count alone unfair; the simulator reproduces it. `s = 0` is uniform.
 */
export class ZipfTable {
  /** cumulative[k] = sum of the weights of items 0..k, normalised so the last entry is 1. */
  private readonly cumulative: Float64Array;

  constructor(n: number, exponent: number) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`ZipfTable needs at least one item, got ${n}`);
    if (!Number.isFinite(exponent) || exponent < 0) {
      throw new RangeError(`Zipf exponent must be a finite number >= 0, got ${exponent}`);
    }
    this.cumulative = new Float64Array(n);
    let sum = 0;
    for (let k = 0; k < n; k++) {
      sum += 1 / Math.pow(k + 1, exponent);
      this.cumulative[k] = sum;
    }
    for (let k = 0; k < n; k++) this.cumulative[k] = (this.cumulative[k] ?? 0) / sum;
  }

  get size(): number {
    return this.cumulative.length;
  }

  /** The probability of item `k`. */
  probability(k: number): number {
    const upper = this.cumulative[k] ?? 0;
    return k === 0 ? upper : upper - (this.cumulative[k - 1] ?? 0);
  }

  /** Maps a uniform draw `u` in [0, 1) to an item index: the first k with cumulative[k] > u. */
  pick(u: number): number {
    const table = this.cumulative;
    let lo = 0;
    let hi = table.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((table[mid] ?? 1) > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
