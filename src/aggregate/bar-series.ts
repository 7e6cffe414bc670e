/**
 * Time-aligned bars (1 s, 1 min, 5 min by default) built from the trades' own timestamps. A bar's
 * interval is `[start, start + intervalMs)`; a trade exactly at a boundary opens the next bar.
 *
 * A series keeps its newest bar (still open) plus at most `cap` completed ones. A late trade amends the
 * bar it belongs to while that bar is kept (or fills a gap between kept bars); one older than every
 * kept bar of a full series is dropped and counted in `lateDropped`. A bar is complete once a trade
 * opened a later bar or `advanceTo` moved past its end; the bars that completed, or changed after
 * completing, since the last `takeCompleted()` are handed out once each, so the cluster layer can
 * write them to Redis and re-write a bar a late trade or a cancel amended. Completed bars evicted before
 * they were taken wait in an outbox of at most `cap` bars, so `takeCompleted()` must run at least once
 * per `cap` intervals (every 2 minutes for 1 s bars by default); bars lost beyond that are counted.
 *
 * The open bar, which nearly every trade updates, lives in a `FlatSlab` record (see `flat-slab.ts`
 * for why), the completed ones in `Ohlcv` objects.
 */
import { alignDown, toBar, type Bar, type BarSeriesSummary } from './bar.js';
import type { BarSeriesCheckpoint } from './checkpoint.js';
import { UPDATES_VOLUME } from './conditions.js';
import {
  applyAt,
  cancelAt,
  isDirtyAt,
  markTakenAt,
  OHLCV_LENGTH,
  ohlcvAt,
  resetAt,
  startAt,
  storeAt,
  tupleAt,
} from './flat-ohlcv.js';
import { FlatRecord, type FlatSlab } from './flat-slab.js';
import { Ohlcv } from './ohlcv.js';
import { PACKED_SERIES_HEADER } from './packed-checkpoint.js';

/** A series block in a `FlatSlab` record: the interval, then the open bar as a flat `Ohlcv`. */
export const SERIES_LENGTH = 1 + OHLCV_LENGTH;

/**
 * The per-trade fast path of a series block at `block` of `d`: applies the trade to the open bar and
 * returns true when the trade falls in it (nearly always; a range check spares the float modulo of
 * `alignDown`); false, touching nothing, when `BarSeries.apply` must place it.
 */
export function applyOpenBar(
  d: Float64Array,
  block: number,
  price: number,
  size: number,
  timeMs: number,
  timeNanos: number,
  mask: number,
): boolean {
  // NaN (no open bar yet) fails both comparisons.
  const start = startAt(d, block + 1);
  if (!(timeMs >= start && timeMs - start < (d[block] as number))) return false;
  applyAt(d, block + 1, price, size, timeMs, timeNanos, mask);
  return true;
}

/** `BarSeries.barFor`'s answer for the open bar, which lives in the slab rather than in an `Ohlcv`. */
const OPEN = 'open';

export class BarSeries {
  /** Kept bars older than the open one, oldest first; all complete. */
  private bars: Ohlcv[] = [];
  /** Completed bars evicted before they were taken, oldest first; at most `cap`. */
  private outbox: Ohlcv[] = [];
  /** Bars whose end is at or before this are complete. */
  private watermarkMs = -Infinity;
  lateDropped = 0;
  unmatchedCancels = 0;
  unpublishedDropped = 0;
  /** The record holding this series' block, kept from reuse while the series lives (see `FlatRecord`). */
  readonly record: FlatRecord;
  private readonly slab: FlatSlab;
  /** Where the open bar (the newest kept bar, if any) is in the slab; the interval is just before it. */
  private readonly at: number;

  /**
   * @param record the record holding this series' block, at `offset`; by default an array of its own
   *   (a series alone is read, as by the HTTP API, not fed per trade; a symbol's aggregate puts its
   *   series in its own record of the shared slab)
   */
  constructor(
    readonly intervalMs: number,
    readonly cap: number,
    record: FlatRecord = new FlatRecord(SERIES_LENGTH, 'own'),
    offset = 0,
  ) {
    this.record = record;
    this.slab = record.slab;
    this.at = record.at + offset + 1;
    const d = this.slab.data;
    d[this.at - 1] = intervalMs;
    resetAt(d, this.at, NaN);
  }

  apply(price: number, size: number, timeMs: number, timeNanos: number, mask: number): void {
    const d = this.slab.data;
    if (applyOpenBar(d, this.at - 1, price, size, timeMs, timeNanos, mask)) return;
    const bar = this.barFor(alignDown(timeMs, this.intervalMs), true);
    if (bar === undefined) this.lateDropped++;
    else if (bar === OPEN) applyAt(d, this.at, price, size, timeMs, timeNanos, mask);
    else bar.apply(price, size, timeMs, timeNanos, mask);
  }

  /** Takes a cancelled trade back out of its bar; see `Bar.amended` for what stays as it was. */
  cancel(price: number, size: number, timeMs: number, mask: number): void {
    if ((mask & UPDATES_VOLUME) === 0) return;
    const start = alignDown(timeMs, this.intervalMs);
    const bar = this.barFor(start, false);
    if (bar === undefined) {
      // NaN (nothing kept) compares false: unmatched.
      const oldest = this.bars[0]?.start ?? this.openStart();
      if (start < oldest) this.lateDropped++;
      else this.unmatchedCancels++;
    } else if (!(bar === OPEN ? cancelAt(this.slab.data, this.at, price, size) : bar.cancel(price, size))) {
      this.unmatchedCancels++;
    }
  }

  /** Completes every bar that ends at or before `timeMs` (e.g. Redis time, for symbols that went quiet). */
  advanceTo(timeMs: number): void {
    if (timeMs > this.watermarkMs) {
      this.watermarkMs = timeMs;
      this.evict();
    }
  }

  /** Appends the bars completed or amended since the last call, oldest first, and marks them taken. */
  takeCompleted(out: Bar[]): void {
    for (const bar of this.outbox) out.push(toBar(bar, this.intervalMs, true));
    this.outbox = [];
    for (const bar of this.bars) {
      if (!this.isComplete(bar.start)) return;
      if (bar.dirty) {
        bar.markTaken();
        out.push(toBar(bar, this.intervalMs, true));
      }
    }
    const d = this.slab.data;
    if (this.isComplete(this.openStart()) && isDirtyAt(d, this.at)) {
      markTakenAt(d, this.at);
      out.push(toBar(ohlcvAt(d, this.at), this.intervalMs, true));
    }
  }

  /** The newest `limit` kept bars, oldest first, the open one included. */
  list(limit = Infinity): Bar[] {
    const bars = this.keptBars();
    const from = Math.max(0, bars.length - limit);
    return bars.slice(from).map((bar) => toBar(bar, this.intervalMs, this.isComplete(bar.start)));
  }

  summary(): BarSeriesSummary {
    return {
      intervalMs: this.intervalMs,
      kept: this.bars.length + (Number.isNaN(this.openStart()) ? 0 : 1),
      lateDropped: this.lateDropped,
      unmatchedCancels: this.unmatchedCancels,
      unpublishedDropped: this.unpublishedDropped,
    };
  }

  toCheckpoint(): BarSeriesCheckpoint {
    const bars = this.bars.map((bar) => bar.toTuple());
    if (!Number.isNaN(this.openStart())) bars.push(tupleAt(this.slab.data, this.at));
    return {
      intervalMs: this.intervalMs,
      watermarkMs: Number.isFinite(this.watermarkMs) ? this.watermarkMs : null,
      lateDropped: this.lateDropped,
      unmatchedCancels: this.unmatchedCancels,
      unpublishedDropped: this.unpublishedDropped,
      bars,
      outbox: this.outbox.map((bar) => bar.toTuple()),
    };
  }

  /** Doubles `packInto` writes. */
  packedLength(): number {
    const open = Number.isNaN(this.openStart()) ? 0 : 1;
    return PACKED_SERIES_HEADER + (this.bars.length + open + this.outbox.length) * OHLCV_LENGTH;
  }

  /**
   * Writes `toCheckpoint()` at `at` of `d` as `packed-checkpoint.ts` lays it out, the open bar copied
   * from the slab; returns where it ended.
   */
  packInto(d: Float64Array, at: number): number {
    const hasOpen = !Number.isNaN(this.openStart());
    d[at] = this.intervalMs;
    d[at + 1] = Number.isFinite(this.watermarkMs) ? this.watermarkMs : NaN;
    d[at + 2] = this.lateDropped;
    d[at + 3] = this.unmatchedCancels;
    d[at + 4] = this.unpublishedDropped;
    d[at + 5] = this.bars.length + (hasOpen ? 1 : 0);
    d[at + 6] = this.outbox.length;
    let o = at + PACKED_SERIES_HEADER;
    for (const bar of this.bars) {
      storeAt(d, o, bar);
      o += OHLCV_LENGTH;
    }
    if (hasOpen) {
      d.set(this.slab.data.subarray(this.at, this.at + OHLCV_LENGTH), o);
      o += OHLCV_LENGTH;
    }
    for (const bar of this.outbox) {
      storeAt(d, o, bar);
      o += OHLCV_LENGTH;
    }
    return o;
  }

  /**
   * Restores a series; with a smaller `cap` than the checkpoint had, the oldest bars go to the outbox.
   * `record` and `offset` as for the constructor.
   */
  static fromCheckpoint(c: BarSeriesCheckpoint, cap: number, record?: FlatRecord, offset = 0): BarSeries {
    const series = new BarSeries(c.intervalMs, cap, record, offset);
    series.watermarkMs = c.watermarkMs ?? -Infinity;
    series.lateDropped = c.lateDropped;
    series.unmatchedCancels = c.unmatchedCancels;
    series.unpublishedDropped = c.unpublishedDropped;
    series.bars = c.bars.map((t) => Ohlcv.fromTuple(t));
    const open = series.bars.pop();
    if (open !== undefined) storeAt(series.slab.data, series.at, open);
    series.outbox = c.outbox.map((t) => Ohlcv.fromTuple(t));
    series.evict();
    return series;
  }

  /** Start of the open bar; NaN before the first trade. */
  private openStart(): number {
    return startAt(this.slab.data, this.at);
  }

  /** Every kept bar, oldest first, the open one as a copy. */
  private keptBars(): Ohlcv[] {
    if (Number.isNaN(this.openStart())) return [...this.bars];
    return [...this.bars, ohlcvAt(this.slab.data, this.at)];
  }

  private isComplete(start: number): boolean {
    return start + this.intervalMs <= this.watermarkMs;
  }

  private completedCount(): number {
    const open = this.openStart();
    // No open bar means nothing kept: older bars are only ever pushed by a newer open one.
    if (Number.isNaN(open)) return 0;
    return this.isComplete(open) ? this.bars.length + 1 : this.bars.length;
  }

  /**
   * The kept bar starting at `start`, `OPEN` for the open one; with `create`, a new one where the
   * series may still hold it. A bar later than the open one becomes the open one, the old one turning
   * into an `Ohlcv` among the completed bars.
   */
  private barFor(start: number, create: boolean): Ohlcv | typeof OPEN | undefined {
    const d = this.slab.data;
    const open = startAt(d, this.at);
    if (open === start) return OPEN;
    if (Number.isNaN(open) || start > open) {
      if (!create) return undefined;
      if (!Number.isNaN(open)) this.bars.push(ohlcvAt(d, this.at));
      resetAt(d, this.at, start);
      if (start > this.watermarkMs) this.watermarkMs = start;
      this.evict();
      return OPEN;
    }
    // Binary search among the older bars for `start` or where it would go (at the end: before the open one).
    const bars = this.bars;
    let lo = 0;
    let hi = bars.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((bars[mid]?.start ?? Infinity) < start) lo = mid + 1;
      else hi = mid;
    }
    const found = bars[lo];
    if (found !== undefined && found.start === start) return found;
    if (!create) return undefined;
    if (lo === 0 && this.completedCount() >= this.cap) return undefined;
    const bar = new Ohlcv(start);
    bars.splice(lo, 0, bar);
    this.evict();
    return bar;
  }

  /** Drops the oldest completed bars beyond `cap`; those not yet taken wait in the outbox. */
  private evict(): void {
    // At most every older bar: `cap` >= 1 keeps the open one.
    let excess = this.completedCount() - this.cap;
    while (excess-- > 0) {
      const bar = this.bars.shift();
      if (bar?.dirty === true) this.outbox.push(bar);
    }
    const overflow = this.outbox.length - this.cap;
    if (overflow > 0) {
      this.outbox.splice(0, overflow);
      this.unpublishedDropped += overflow;
    }
  }
}
