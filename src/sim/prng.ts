/**
 * A small seeded pseudo-random generator for the simulator. `Math.random` cannot be seeded, and the
 * simulator promises that the same seed yields the same trades, so every random draw in the market
 * comes from here. mulberry32: one 32-bit state word, fast, and plenty for synthetic market data
 * (it is not for anything that needs unpredictability).
 */
export class Prng {
  private state: number;

  constructor(seed: number) {
    // Fold any finite number (negative, fractional, above 2^32) into one 32-bit word, deterministically.
    this.state = Math.trunc(seed) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }
}
