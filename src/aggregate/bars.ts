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
 */
import type { BarSeriesCheckpoint } from './checkpoint.js';
import { UPDATES_VOLUME } from './conditions.js';
import { Ohlcv, priceOrNull } from './ohlcv.js';

/** A bar as the outside world sees it: plain, JSON-able, immutable. */
export interface Bar {
  readonly intervalMs: number;
  /** Start of the interval, Unix ms, aligned to a multiple of `intervalMs`. */
  readonly start: number;
  /** `null` while no trade in the bar was eligible to set prices (e.g. only odd lots). */
  readonly open: number | null;
  readonly high: number | null;
  readonly low: number | null;
  readonly close: number | null;
  readonly volume: number;
  /** Notional over volume; `null` when the volume is 0. */
  readonly vwap: number | null;
  readonly trades: number;
  /**
   * A cancel took a trade out of this bar. Volume, VWAP and the trade count are exact again, but the
   * open, high, low and close may still be the cancelled trade's: they cannot be recomputed without the
   * trades themselves, which are not kept.
   */
  readonly amended: boolean;
  /** The interval has ended (a later bar exists or the series was advanced past it). */
  readonly complete: boolean;
}

function toBar(bar: Ohlcv, intervalMs: number, complete: boolean): Bar {
  return {
    intervalMs,
    start: bar.start,
    open: priceOrNull(bar.open),
    high: priceOrNull(bar.high),
    low: priceOrNull(bar.low),
    close: priceOrNull(bar.close),
    volume: bar.volume,
    vwap: bar.vwap(),
    trades: bar.trades,
    amended: bar.amended,
    complete,
  };
}

/** Start of the interval that holds `timeMs`, also for times before 1970. */
export function alignDown(timeMs: number, intervalMs: number): number {
  return timeMs - (((timeMs % intervalMs) + intervalMs) % intervalMs);
}

export interface BarSeriesSummary {
  readonly intervalMs: number;
  /** Bars held, the open one included. */
  readonly kept: number;
  readonly lateDropped: number;
  readonly unmatchedCancels: number;
  /** Completed bars evicted and then pushed out of the outbox before anyone took them. */
  readonly unpublishedDropped: number;
}

export class BarSeries {
  /** Kept bars, oldest first; completed bars form a prefix. */
  private bars: Ohlcv[] = [];
  /**
   * The last of `bars`, where nearly every trade lands: read without going through the array and its
   * storage, two fewer memory loads per series and trade (cache misses once thousands of symbols trade).
   */
  private newest: Ohlcv | undefined = undefined;
  /** Completed bars evicted before they were taken, oldest first; at most `cap`. */
  private outbox: Ohlcv[] = [];
  /** Bars whose end is at or before this are complete. */
  private watermarkMs = -Infinity;
  lateDropped = 0;
  unmatchedCancels = 0;
  unpublishedDropped = 0;

  constructor(
    readonly intervalMs: number,
    readonly cap: number,
  ) {}

  apply(price: number, size: number, timeMs: number, timeNanos: number, mask: number): void {
    // Nearly every trade falls in the newest bar: a range check spares the float modulo of alignDown.
    const newest = this.newest;
    const bar =
      newest !== undefined && timeMs >= newest.start && timeMs - newest.start < this.intervalMs
        ? newest
        : this.barFor(alignDown(timeMs, this.intervalMs), true);
    if (bar === undefined) this.lateDropped++;
    else bar.apply(price, size, timeMs, timeNanos, mask);
  }

  /** Takes a cancelled trade back out of its bar; see `Bar.amended` for what stays as it was. */
  cancel(price: number, size: number, timeMs: number, mask: number): void {
    if ((mask & UPDATES_VOLUME) === 0) return;
    const start = alignDown(timeMs, this.intervalMs);
    const bar = this.barFor(start, false);
    if (bar === undefined) {
      const oldest = this.bars[0];
      if (oldest !== undefined && start < oldest.start) this.lateDropped++;
      else this.unmatchedCancels++;
    } else if (!bar.cancel(price, size)) {
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
      if (!this.isComplete(bar)) break;
      if (bar.dirty) {
        bar.markTaken();
        out.push(toBar(bar, this.intervalMs, true));
      }
    }
  }

  /** The newest `limit` kept bars, oldest first, the open one included. */
  list(limit = Infinity): Bar[] {
    const from = Math.max(0, this.bars.length - limit);
    return this.bars.slice(from).map((bar) => toBar(bar, this.intervalMs, this.isComplete(bar)));
  }

  summary(): BarSeriesSummary {
    return {
      intervalMs: this.intervalMs,
      kept: this.bars.length,
      lateDropped: this.lateDropped,
      unmatchedCancels: this.unmatchedCancels,
      unpublishedDropped: this.unpublishedDropped,
    };
  }

  toCheckpoint(): BarSeriesCheckpoint {
    return {
      intervalMs: this.intervalMs,
      watermarkMs: Number.isFinite(this.watermarkMs) ? this.watermarkMs : null,
      lateDropped: this.lateDropped,
      unmatchedCancels: this.unmatchedCancels,
      unpublishedDropped: this.unpublishedDropped,
      bars: this.bars.map((bar) => bar.toTuple()),
      outbox: this.outbox.map((bar) => bar.toTuple()),
    };
  }

  /**
   * Appends the pieces of `JSON.stringify(this.toCheckpoint())` to `out`, each bar's text as one:
   * completed bars keep theirs until they change (`Ohlcv.tupleJson`), so a checkpoint formats the
   * numbers of the open bar and of the bars that completed or were amended since the last one, not
   * of every kept bar. Pieces rather than a string: see `SymbolAggregate.checkpointJson`.
   */
  checkpointJson(out: string[]): void {
    const watermark = Number.isFinite(this.watermarkMs) ? String(this.watermarkMs) : 'null';
    out.push(
      `{"intervalMs":${this.intervalMs},"watermarkMs":${watermark},"lateDropped":${this.lateDropped},` +
        `"unmatchedCancels":${this.unmatchedCancels},"unpublishedDropped":${this.unpublishedDropped},"bars":[`,
    );
    this.bars.forEach((bar, i) => {
      if (i > 0) out.push(',');
      out.push(bar.tupleJson(this.isComplete(bar)));
    });
    out.push('],"outbox":[');
    this.outbox.forEach((bar, i) => {
      if (i > 0) out.push(',');
      out.push(bar.tupleJson(true));
    });
    out.push(']}');
  }

  /** Restores a series; with a smaller `cap` than the checkpoint had, the oldest bars go to the outbox. */
  static fromCheckpoint(c: BarSeriesCheckpoint, cap: number): BarSeries {
    const series = new BarSeries(c.intervalMs, cap);
    series.watermarkMs = c.watermarkMs ?? -Infinity;
    series.lateDropped = c.lateDropped;
    series.unmatchedCancels = c.unmatchedCancels;
    series.unpublishedDropped = c.unpublishedDropped;
    series.bars = c.bars.map((t) => Ohlcv.fromTuple(t));
    series.outbox = c.outbox.map((t) => Ohlcv.fromTuple(t));
    series.evict();
    return series;
  }

  private isComplete(bar: Ohlcv): boolean {
    return bar.start + this.intervalMs <= this.watermarkMs;
  }

  private completedCount(): number {
    const last = this.bars[this.bars.length - 1];
    if (last === undefined) return 0;
    return this.isComplete(last) ? this.bars.length : this.bars.length - 1;
  }

  /**
   * The kept bar starting at `start`; with `create`, a new one where the series may still hold it.
   * The newest bar is checked first: nearly every trade lands there.
   */
  private barFor(start: number, create: boolean): Ohlcv | undefined {
    const bars = this.bars;
    const newest = bars[bars.length - 1];
    if (newest !== undefined && newest.start === start) return newest;
    if (newest === undefined || start > newest.start) {
      if (!create) return undefined;
      const bar = new Ohlcv(start);
      bars.push(bar);
      this.newest = bar;
      if (start > this.watermarkMs) this.watermarkMs = start;
      this.evict();
      return bar;
    }
    // Binary search among the older bars for `start` or where it would go.
    let lo = 0;
    let hi = bars.length - 1;
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
    let excess = this.completedCount() - this.cap;
    while (excess-- > 0) {
      const bar = this.bars.shift();
      if (bar?.dirty === true) this.outbox.push(bar);
    }
    this.newest = this.bars[this.bars.length - 1];
    const overflow = this.outbox.length - this.cap;
    if (overflow > 0) {
      this.outbox.splice(0, overflow);
      this.unpublishedDropped += overflow;
    }
  }
}

/** One series per interval, fed together. */
export class BarSet {
  readonly series: readonly BarSeries[];

  constructor(intervalsMs: readonly number[], cap: number, restored: readonly BarSeriesCheckpoint[] = []) {
    this.series = intervalsMs.map((intervalMs) => {
      const saved = restored.find((c) => c.intervalMs === intervalMs);
      return saved ? BarSeries.fromCheckpoint(saved, cap) : new BarSeries(intervalMs, cap);
    });
  }

  apply(price: number, size: number, timeMs: number, timeNanos: number, mask: number): void {
    for (const series of this.series) series.apply(price, size, timeMs, timeNanos, mask);
  }

  cancel(price: number, size: number, timeMs: number, mask: number): void {
    for (const series of this.series) series.cancel(price, size, timeMs, mask);
  }

  advanceTo(timeMs: number): void {
    for (const series of this.series) series.advanceTo(timeMs);
  }

  get(intervalMs: number): BarSeries | undefined {
    return this.series.find((s) => s.intervalMs === intervalMs);
  }

  /** Bars completed or amended since the last call, by interval, oldest first. */
  takeCompleted(): Bar[] {
    const out: Bar[] = [];
    for (const series of this.series) series.takeCompleted(out);
    return out;
  }

  summary(): BarSeriesSummary[] {
    return this.series.map((s) => s.summary());
  }

  toCheckpoint(): BarSeriesCheckpoint[] {
    return this.series.map((s) => s.toCheckpoint());
  }

  /** Appends the pieces of `JSON.stringify(this.toCheckpoint())`, see `BarSeries.checkpointJson`. */
  checkpointJson(out: string[]): void {
    out.push('[');
    this.series.forEach((series, i) => {
      if (i > 0) out.push(',');
      series.checkpointJson(out);
    });
    out.push(']');
  }
}
