/**
 * A bar as the outside world sees it, made from the `Ohlcv` a series keeps, and the alignment of bars
 * to their interval.
 */
import type { Ohlcv } from './ohlcv.js';
import { priceOrNull } from './ohlcv.js';

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

export function toBar(bar: Ohlcv, intervalMs: number, complete: boolean): Bar {
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
