/**
 * Neumaier summation ("improved Kahan"): a running float64 sum plus a second float64 that collects the
 * low-order bits each addition rounds away. Volume and notional (price × size) of a busy symbol are sums
 * of millions of terms; a naive float sum drifts by up to n·ε·Σ|x|, while this one stays within about
 * 2ε·|S| + O(nε²)·Σ|x|, i.e. one or two units in the last place of the true total for any realistic n.
 * Unlike plain Kahan, Neumaier's variant also stays exact when a term is larger than the running sum
 * (the first trade of a day, a block print, a cancel that subtracts).
 *
 * Why not bigint fixed-point, which would be exact? The per-trade path would allocate two BigInts per
 * trade (each a heap object) and run 10–50× slower, and it needs a decimal scale per provider (cents for
 * stocks, 1e-8 or finer for crypto) chosen up front. Float64 already carries the provider's numbers only
 * to 53 bits, so a sum accurate to an ulp of the total loses nothing the input had. Integer terms below
 * 2^53 in total (share volumes) are summed exactly either way.
 *
 * The error term is part of the state: checkpoints store both numbers so a restored sum continues
 * bit-for-bit where it left off.
 */
export class CompensatedSum {
  /** The rounded running sum. */
  sum = 0;
  /** What rounding has taken away from `sum` so far; the best estimate is `sum + compensation`. */
  compensation = 0;

  constructor(sum = 0, compensation = 0) {
    this.sum = sum;
    this.compensation = compensation;
  }

  add(x: number): void {
    const sum = this.sum;
    const t = sum + x;
    // The smaller operand is the one whose low bits were lost; recover them exactly (Fast2Sum).
    if (Math.abs(sum) >= Math.abs(x)) this.compensation += sum - t + x;
    else this.compensation += x - t + sum;
    this.sum = t;
  }

  get value(): number {
    return this.sum + this.compensation;
  }

  reset(): void {
    this.sum = 0;
    this.compensation = 0;
  }

  /** `[sum, compensation]`, the form checkpoints store; `-0` becomes `0` so JSON keeps it unchanged. */
  toJSON(): [number, number] {
    return [this.sum + 0, this.compensation + 0];
  }

  static from(pair: readonly [number, number]): CompensatedSum {
    return new CompensatedSum(pair[0], pair[1]);
  }
}
