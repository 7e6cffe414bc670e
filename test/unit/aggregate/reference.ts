/**
 * An independent model of what the aggregate should report, for tests: exact bigint fixed-point sums,
 * explicit orderings and its own condition table, sharing no code with src/aggregate.
 */
export interface RefFlags {
  volume: boolean;
  highLow: boolean;
  openClose: boolean;
  last: boolean;
}

export const ALL: RefFlags = { volume: true, highLow: true, openClose: true, last: true };
export const VOLUME_ONLY: RefFlags = { volume: true, highLow: false, openClose: false, last: false };
export const VOLUME_HIGH_LOW: RefFlags = { volume: true, highLow: true, openClose: false, last: false };
export const NOTHING: RefFlags = { volume: false, highLow: false, openClose: false, last: false };

/** Any "no" wins. */
export function combine(flags: readonly RefFlags[]): RefFlags {
  return {
    volume: flags.every((f) => f.volume),
    highLow: flags.every((f) => f.highLow),
    openClose: flags.every((f) => f.openClose),
    last: flags.every((f) => f.last),
  };
}

/** Exact decimal text → bigint scaled by 10^scale (e.g. "161.87", 6 → 161870000n). */
export function toFixed(text: string, scale: number): bigint {
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) throw new Error(`not a decimal: ${text}`);
  const fraction = (match[3] ?? '').padEnd(scale, '0');
  if (fraction.length > scale) throw new Error(`${text} has more than ${scale} decimals`);
  const value = BigInt(match[2]! + fraction);
  return match[1] === '-' ? -value : value;
}

export interface Timed {
  /** Exact price as the fixed-point integer, and the float the aggregate was given. */
  priceFixed: bigint;
  price: number;
  timeMs: number;
  timeNanos: number;
  arrival: number;
}

function before(a: Timed, b: Timed): boolean {
  if (a.timeMs !== b.timeMs) return a.timeMs < b.timeMs;
  if (a.timeNanos !== b.timeNanos) return a.timeNanos < b.timeNanos;
  return a.arrival < b.arrival;
}

/** One bucket (a session or a bar) of the reference model. */
export class RefBucket {
  volume = 0n;
  /** Σ price·size at scale priceScale + sizeScale. */
  notional = 0n;
  trades = 0;
  /** A cancel took something out. */
  amended = false;
  open: Timed | null = null;
  close: Timed | null = null;
  high: Timed | null = null;
  low: Timed | null = null;
  last: (Timed & { id: string; size: number }) | null = null;

  add(t: Timed & { sizeFixed: bigint; size: number; id: string }, flags: RefFlags): void {
    if (flags.volume) {
      this.volume += t.sizeFixed;
      this.notional += t.priceFixed * t.sizeFixed;
      this.trades++;
    }
    if (flags.highLow) {
      if (this.high === null || t.priceFixed > this.high.priceFixed) this.high = t;
      if (this.low === null || t.priceFixed < this.low.priceFixed) this.low = t;
    }
    if (flags.openClose) {
      if (this.open === null || before(t, this.open)) this.open = t;
      if (this.close === null || before(this.close, t)) this.close = t;
    }
    if (flags.last && (this.last === null || before(this.last, t))) this.last = t;
  }

  remove(priceFixed: bigint, sizeFixed: bigint, flags: RefFlags): void {
    if (!flags.volume) return;
    this.volume -= sizeFixed;
    this.notional -= priceFixed * sizeFixed;
    this.trades--;
    this.amended = true;
  }

  /** VWAP as a float, from exact integers: notional / volume / 10^priceScale. */
  vwap(priceScale: number): number | null {
    if (this.volume === 0n) return null;
    // Keep 18 significant digits of the quotient in bigint before going to float.
    const q = (this.notional * 10n ** 18n) / this.volume;
    return Number(q) / 10 ** 18 / 10 ** priceScale;
  }
}

/** Relative difference, for comparing a float result with the exact reference. */
export function relErr(actual: number, expected: number): number {
  if (expected === 0) return Math.abs(actual);
  return Math.abs(actual - expected) / Math.abs(expected);
}

/** Deterministic PRNG (mulberry32), so a failing random run can be replayed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
