/**
 * The accumulator behind both a bar and a session: open, high, low, close, volume, notional and trade
 * count over one period. Open and close follow the trades' own timestamps, not arrival order, so a late
 * trade earlier than the current open becomes the open; on equal timestamps the first arrival stays the
 * open and the last arrival becomes the close.
 *
 * A cancel takes size, notional and one trade count back out. Open, high, low and close cannot be
 * recomputed without the trades themselves, which are not kept: they stay, and `amended` says so.
 */
import type { BarTuple, SessionCheckpoint } from './checkpoint.js';
import { UPDATES_HIGH_LOW, UPDATES_OPEN_CLOSE, UPDATES_VOLUME } from './conditions.js';

/** True when time (aMs, aNs) is strictly before (bMs, bNs). */
export function isBefore(aMs: number, aNs: number, bMs: number, bNs: number): boolean {
  return aMs < bMs || (aMs === bMs && aNs < bNs);
}

/** Prices are NaN while unset inside the accumulator and `null` outside it. */
export function priceOrNull(x: number): number | null {
  return Number.isNaN(x) ? null : x;
}

const FLAG_AMENDED = 1;
const FLAG_DIRTY = 2;

export class Ohlcv {
  open = NaN;
  openMs = 0;
  openNs = 0;
  high = NaN;
  low = NaN;
  close = NaN;
  closeMs = 0;
  closeNs = 0;
  /**
   * Volume and notional as Neumaier sums (see `compensated-sum.ts`, whose arithmetic this repeats
   * exactly): kept as plain fields rather than two `CompensatedSum` objects, so the per-trade update
   * touches one object instead of three (a bar is updated on every trade, for every interval).
   */
  volumeSum = 0;
  volumeC = 0;
  notionalSum = 0;
  notionalC = 0;
  trades = 0;
  /** A cancel took a trade out; the prices may still be the cancelled trade's. */
  amended = false;
  /** Changed since it was last taken for publishing (bars only); cleared by `markTaken`. */
  dirty = false;
  /** @param start start of the period, Unix ms */
  constructor(readonly start: number) {}

  apply(price: number, size: number, timeMs: number, timeNanos: number, mask: number): void {
    this.dirty = true;
    if ((mask & UPDATES_VOLUME) !== 0) {
      this.addVolume(size, price * size);
      this.trades++;
    }
    // `!(price <= x)` is also true while x is NaN (unset).
    if ((mask & UPDATES_HIGH_LOW) !== 0) {
      if (!(price <= this.high)) this.high = price;
      if (!(price >= this.low)) this.low = price;
    }
    if ((mask & UPDATES_OPEN_CLOSE) !== 0) {
      if (Number.isNaN(this.open) || isBefore(timeMs, timeNanos, this.openMs, this.openNs)) {
        this.open = price;
        this.openMs = timeMs;
        this.openNs = timeNanos;
      }
      if (Number.isNaN(this.close) || !isBefore(timeMs, timeNanos, this.closeMs, this.closeNs)) {
        this.close = price;
        this.closeMs = timeMs;
        this.closeNs = timeNanos;
      }
    }
  }

  /** Adds to both sums as `CompensatedSum.add` does (Fast2Sum on the larger operand). */
  private addVolume(size: number, notional: number): void {
    let sum = this.volumeSum;
    let t = sum + size;
    if (Math.abs(sum) >= Math.abs(size)) this.volumeC += sum - t + size;
    else this.volumeC += size - t + sum;
    this.volumeSum = t;
    sum = this.notionalSum;
    t = sum + notional;
    if (Math.abs(sum) >= Math.abs(notional)) this.notionalC += sum - t + notional;
    else this.notionalC += notional - t + sum;
    this.notionalSum = t;
  }

  /** The volume: the sum plus what rounding took from it. */
  get volume(): number {
    return this.volumeSum + this.volumeC;
  }

  get notional(): number {
    return this.notionalSum + this.notionalC;
  }

  /** Takes a trade's volume back out; false when no trade is left it could have come from. */
  cancel(price: number, size: number): boolean {
    if (this.trades === 0) return false;
    this.trades--;
    if (this.trades === 0) {
      // Nothing left: make the sums exactly zero rather than a rounding residue.
      this.volumeSum = 0;
      this.volumeC = 0;
      this.notionalSum = 0;
      this.notionalC = 0;
    } else {
      this.addVolume(-size, -(price * size));
    }
    this.amended = true;
    this.dirty = true;
    return true;
  }

  /** Taken for publishing: clears `dirty`, which the tuple carries too. */
  markTaken(): void {
    this.dirty = false;
  }

  /** Notional over volume; `null` when the volume is 0. */
  vwap(): number | null {
    const volume = this.volume;
    return volume > 0 ? this.notional / volume : null;
  }

  toTuple(): BarTuple {
    // `+ 0` turns -0 into 0, as `CompensatedSum.toJSON` does, so a JSON round trip changes nothing.
    const volume = this.volumeSum + 0;
    const volumeC = this.volumeC + 0;
    const notional = this.notionalSum + 0;
    const notionalC = this.notionalC + 0;
    return [
      this.start,
      priceOrNull(this.open),
      this.openMs,
      this.openNs,
      priceOrNull(this.high),
      priceOrNull(this.low),
      priceOrNull(this.close),
      this.closeMs,
      this.closeNs,
      volume,
      volumeC,
      notional,
      notionalC,
      this.trades,
      (this.amended ? FLAG_AMENDED : 0) | (this.dirty ? FLAG_DIRTY : 0),
    ];
  }

  /** The session's form: named fields, since people read it in Redis; without the bar-only flags. */
  toSession(): SessionCheckpoint {
    return {
      startMs: this.start,
      open: priceOrNull(this.open),
      openMs: this.openMs,
      openNs: this.openNs,
      high: priceOrNull(this.high),
      low: priceOrNull(this.low),
      close: priceOrNull(this.close),
      closeMs: this.closeMs,
      closeNs: this.closeNs,
      volume: [this.volumeSum + 0, this.volumeC + 0],
      notional: [this.notionalSum + 0, this.notionalC + 0],
      trades: this.trades,
      amended: this.amended,
    };
  }

  static fromSession(s: Readonly<SessionCheckpoint>): Ohlcv {
    return Ohlcv.fromTuple([
      s.startMs,
      s.open,
      s.openMs,
      s.openNs,
      s.high,
      s.low,
      s.close,
      s.closeMs,
      s.closeNs,
      s.volume[0],
      s.volume[1],
      s.notional[0],
      s.notional[1],
      s.trades,
      s.amended ? FLAG_AMENDED : 0,
    ]);
  }

  static fromTuple(t: Readonly<BarTuple>): Ohlcv {
    const o = new Ohlcv(t[0]);
    o.open = t[1] ?? NaN;
    o.openMs = t[2];
    o.openNs = t[3];
    o.high = t[4] ?? NaN;
    o.low = t[5] ?? NaN;
    o.close = t[6] ?? NaN;
    o.closeMs = t[7];
    o.closeNs = t[8];
    o.volumeSum = t[9];
    o.volumeC = t[10];
    o.notionalSum = t[11];
    o.notionalC = t[12];
    o.trades = t[13];
    o.amended = (t[14] & FLAG_AMENDED) !== 0;
    o.dirty = (t[14] & FLAG_DIRTY) !== 0;
    return o;
  }
}
