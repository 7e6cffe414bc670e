/**
 * A symbol's bar series, one per interval (1 s, 1 min, 5 min by default), fed together; each is a
 * `BarSeries` (`bar-series.ts`), and what they hand out is a `Bar` (`bar.ts`).
 */
import { type Bar, type BarSeriesSummary } from './bar.js';
import { BarSeries, SERIES_LENGTH } from './bar-series.js';
import type { BarSeriesCheckpoint } from './checkpoint.js';
import { FlatRecord } from './flat-slab.js';

export { alignDown, type Bar, type BarSeriesSummary } from './bar.js';
export { applyOpenBar, BarSeries, SERIES_LENGTH } from './bar-series.js';

/** One series per interval, fed together. */
export class BarSet {
  readonly series: readonly BarSeries[];

  /**
   * @param record the record holding the series' blocks, one after another from `offset`; by default
   *   an array of its own (see `BarSeries`)
   */
  constructor(
    intervalsMs: readonly number[],
    cap: number,
    restored: readonly BarSeriesCheckpoint[] = [],
    record: FlatRecord = new FlatRecord(intervalsMs.length * SERIES_LENGTH, 'own'),
    offset = 0,
  ) {
    this.series = intervalsMs.map((intervalMs, i) => {
      const saved = restored.find((c) => c.intervalMs === intervalMs);
      const at = offset + i * SERIES_LENGTH;
      return saved
        ? BarSeries.fromCheckpoint(saved, cap, record, at)
        : new BarSeries(intervalMs, cap, record, at);
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
}
