import { describe, expect, it } from 'vitest';
import { alignDown, BarSeries, BarSet, type Bar } from '../../../src/aggregate/bars.js';
import { UPDATES_ALL, UPDATES_VOLUME } from '../../../src/aggregate/conditions.js';

const T0 = Date.UTC(2024, 2, 1, 14, 30); // a minute boundary

function starts(series: BarSeries): number[] {
  return series.list().map((b) => b.start - T0);
}

describe('bar alignment', () => {
  it('aligns to the interval start, also before 1970', () => {
    expect(alignDown(T0 + 59_999, 60_000)).toBe(T0);
    expect(alignDown(T0 + 60_000, 60_000)).toBe(T0 + 60_000);
    expect(alignDown(-1, 1_000)).toBe(-1_000);
    expect(alignDown(-1_000, 1_000)).toBe(-1_000);
  });

  it('starts a new bar with a trade exactly on the boundary', () => {
    const series = new BarSeries(60_000, 10);
    series.apply(10, 1, T0, 0, UPDATES_ALL);
    series.apply(11, 1, T0 + 59_999, 999_999, UPDATES_ALL);
    series.apply(12, 1, T0 + 60_000, 0, UPDATES_ALL);
    const [first, second] = series.list();
    expect(first).toMatchObject({ start: T0, open: 10, close: 11, trades: 2, complete: true });
    expect(second).toMatchObject({ start: T0 + 60_000, open: 12, close: 12, trades: 1, complete: false });
  });

  it('builds OHLC, volume and VWAP from the trades of the bar', () => {
    const series = new BarSeries(1_000, 5);
    series.apply(10, 100, T0 + 100, 0, UPDATES_ALL);
    series.apply(12, 50, T0 + 200, 0, UPDATES_ALL);
    series.apply(9, 50, T0 + 300, 0, UPDATES_ALL);
    series.apply(11, 100, T0 + 400, 0, UPDATES_ALL);
    series.apply(50, 10, T0 + 500, 0, UPDATES_VOLUME); // an odd lot: volume only
    expect(series.list()[0]).toEqual({
      intervalMs: 1_000,
      start: T0,
      open: 10,
      high: 12,
      low: 9,
      close: 11,
      volume: 310,
      vwap: (1000 + 600 + 450 + 1100 + 500) / 310,
      trades: 5,
      amended: false,
      complete: false,
    });
  });

  it('keeps prices null in a bar that only saw volume-only trades', () => {
    const series = new BarSeries(1_000, 5);
    series.apply(50, 10, T0, 0, UPDATES_VOLUME);
    expect(series.list()[0]).toMatchObject({
      open: null,
      high: null,
      low: null,
      close: null,
      volume: 10,
      vwap: 50,
    });
  });
});

describe('late trades', () => {
  it('amend the kept bar they belong to, by their own timestamp', () => {
    const series = new BarSeries(60_000, 10);
    series.apply(10, 1, T0 + 10_000, 0, UPDATES_ALL);
    series.apply(20, 1, T0 + 70_000, 0, UPDATES_ALL);
    // Late, and earlier than the first bar's open: it becomes the open; not later than its close.
    series.apply(5, 3, T0 + 5_000, 0, UPDATES_ALL);
    expect(series.list()[0]).toMatchObject({ open: 5, high: 10, low: 5, close: 10, volume: 4, trades: 2 });
    // Same timestamp as the close: the later arrival is the close.
    series.apply(7, 1, T0 + 10_000, 0, UPDATES_ALL);
    expect(series.list()[0]).toMatchObject({ close: 7, trades: 3 });
  });

  it('fill a gap between kept bars', () => {
    const series = new BarSeries(1_000, 10);
    series.apply(1, 1, T0, 0, UPDATES_ALL);
    series.apply(3, 1, T0 + 3_000, 0, UPDATES_ALL);
    series.apply(2, 1, T0 + 2_500, 0, UPDATES_ALL);
    expect(starts(series)).toEqual([0, 2_000, 3_000]);
  });

  it('are dropped and counted once older than every kept bar of a full series', () => {
    const series = new BarSeries(1_000, 3);
    for (let s = 0; s < 6; s++) series.apply(1, 1, T0 + s * 1_000, 0, UPDATES_ALL);
    expect(starts(series)).toEqual([2_000, 3_000, 4_000, 5_000]); // 3 completed + the open one
    series.apply(1, 1, T0 + 1_999, 0, UPDATES_ALL);
    expect(series.lateDropped).toBe(1);
    series.apply(1, 1, T0 + 2_000, 0, UPDATES_ALL); // the oldest kept bar still takes it
    expect(series.lateDropped).toBe(1);
    expect(series.list()[0]).toMatchObject({ start: T0 + 2_000, trades: 2 });
    expect(series.summary()).toEqual({
      intervalMs: 1_000,
      kept: 4,
      lateDropped: 1,
      unmatchedCancels: 0,
      unpublishedDropped: 0,
    });
  });

  it('may still be inserted at the front while the series is not full', () => {
    const series = new BarSeries(1_000, 3);
    series.apply(1, 1, T0 + 5_000, 0, UPDATES_ALL);
    series.apply(1, 1, T0 + 1_000, 0, UPDATES_ALL);
    expect(starts(series)).toEqual([1_000, 5_000]);
    expect(series.lateDropped).toBe(0);
  });
});

describe('taking completed bars', () => {
  it('hands each completed bar out once, and again after a late trade or cancel amends it', () => {
    const set = new BarSet([1_000, 60_000], 10);
    set.apply(10, 1, T0, 0, UPDATES_ALL);
    expect(set.takeCompleted()).toEqual([]); // nothing complete yet
    set.apply(11, 1, T0 + 1_000, 0, UPDATES_ALL);
    expect(set.takeCompleted().map((b) => [b.intervalMs, b.start - T0, b.trades])).toEqual([[1_000, 0, 1]]);
    expect(set.takeCompleted()).toEqual([]);
    set.apply(9, 2, T0 + 500, 0, UPDATES_ALL); // late into the taken bar
    expect(set.takeCompleted()).toMatchObject([{ start: T0, trades: 2, volume: 3, low: 9, complete: true }]);
    set.cancel(9, 2, T0 + 500, UPDATES_ALL);
    expect(set.takeCompleted()).toMatchObject([{ start: T0, trades: 1, volume: 1, vwap: 10, amended: true }]);
  });

  it('completes quiet bars with advanceTo, and keeps evicted bars nobody took in an outbox', () => {
    const series = new BarSeries(1_000, 2);
    series.apply(1, 1, T0, 0, UPDATES_ALL);
    series.advanceTo(T0 + 999);
    const none: Bar[] = [];
    series.takeCompleted(none);
    expect(none).toEqual([]);
    series.advanceTo(T0 + 1_000);
    for (let s = 1; s <= 4; s++) series.apply(s, 1, T0 + s * 1_000, 0, UPDATES_ALL);
    const out: Bar[] = [];
    series.takeCompleted(out);
    expect(out.map((b) => b.start - T0)).toEqual([0, 1_000, 2_000, 3_000]);
    expect(starts(series)).toEqual([2_000, 3_000, 4_000]);
  });
});

describe('cancels', () => {
  it('take volume, VWAP and count back out and flag what they could not amend', () => {
    const series = new BarSeries(60_000, 10);
    series.apply(10, 100, T0 + 1, 0, UPDATES_ALL);
    series.apply(30, 100, T0 + 2, 0, UPDATES_ALL);
    series.cancel(30, 100, T0 + 2, UPDATES_ALL);
    expect(series.list()[0]).toMatchObject({
      volume: 100,
      vwap: 10,
      trades: 1,
      high: 30,
      close: 30,
      amended: true,
    });
  });

  it('count a cancel with nothing to take back, and one too old to find its bar', () => {
    const series = new BarSeries(1_000, 2);
    series.cancel(1, 1, T0, UPDATES_ALL); // no bar at all
    for (let s = 0; s < 4; s++) series.apply(1, 1, T0 + s * 1_000, 0, UPDATES_ALL);
    series.cancel(1, 1, T0, UPDATES_ALL); // bar evicted long ago
    series.cancel(1, 1, T0 + 3_000, UPDATES_ALL);
    series.cancel(1, 1, T0 + 3_000, UPDATES_ALL); // the bar has no trade left
    series.cancel(1, 1, T0 + 3_000, 0); // not volume-eligible: nothing was counted, nothing to do
    expect(series.summary()).toMatchObject({ lateDropped: 1, unmatchedCancels: 2 });
    expect(series.list().at(-1)).toMatchObject({ trades: 0, volume: 0, vwap: null });
  });
});
