/**
 * Choosing the bars of an answer: memory over Redis history, by range and limit, and when memory
 * alone is enough (no Redis call).
 */
import { describe, expect, it } from 'vitest';
import { makeTrade } from '../../feeds/trade.js';
import { SymbolAggregate, type Bar } from '../../src/aggregate/index.js';
import { checkpointBars, needsHistory, selectBars, toApiBar } from '../../src/http/bars-query.js';
import { LagSampler } from '../../src/metrics.js';

const M = 60_000;

function bar(minute: number, trades = 1): Bar {
  return {
    intervalMs: M,
    start: minute * M,
    open: 1,
    high: 1,
    low: 1,
    close: 1,
    volume: trades,
    vwap: 1,
    trades,
    amended: false,
    complete: true,
  };
}

const range = (fromMs: number | null, toMs: number | null, limit: number) => ({ fromMs, toMs, limit });
const minutes = (bars: readonly Bar[]) => bars.map((b) => b.start / M);

describe('selectBars', () => {
  it('merges history under memory, memory winning, and keeps the newest `limit` in range', () => {
    const history = [bar(1), bar(2), bar(3, 7)];
    const recent = [bar(3, 9), bar(4), bar(6)];
    expect(selectBars(history, recent, range(null, null, 10)).map((b) => [b.start / M, b.trades])).toEqual([
      [1, 1],
      [2, 1],
      [3, 9],
      [4, 1],
      [6, 1],
    ]);
    expect(minutes(selectBars(history, recent, range(null, null, 2)))).toEqual([4, 6]);
    expect(minutes(selectBars(history, recent, range(2 * M, 4 * M, 10)))).toEqual([2, 3, 4]);
    expect(minutes(selectBars(history, recent, range(5 * M, 5 * M, 10)))).toEqual([]);
  });
});

describe('needsHistory', () => {
  const recent = [bar(10), bar(11), bar(13)];
  it('is false when memory holds `limit` bars in range or the range starts within memory', () => {
    expect(needsHistory(recent, range(null, null, 3))).toBe(false);
    expect(needsHistory(recent, range(10 * M, null, 100))).toBe(false);
    expect(needsHistory(recent, range(12 * M, 20 * M, 100))).toBe(false);
  });
  it('is true when older bars may be needed', () => {
    expect(needsHistory(recent, range(null, null, 4))).toBe(true);
    expect(needsHistory(recent, range(9 * M, null, 100))).toBe(true);
    expect(needsHistory(recent, range(null, 9 * M, 1))).toBe(true);
    expect(needsHistory([], range(null, null, 1))).toBe(true);
  });
});

describe('checkpoint bars and the API shape', () => {
  it('lists every bar a checkpoint kept, whatever this worker’s cap', () => {
    const aggregate = new SymbolAggregate('AAPL', { barIntervalsMs: [M], barCap: 500 });
    for (let m = 0; m < 200; m++)
      aggregate.apply(makeTrade({ symbol: 'AAPL', price: 10, size: 1, timeMs: m * M }));
    const bars = checkpointBars(aggregate.toCheckpoint(), M);
    expect(bars).toHaveLength(200);
    expect(bars.at(-1)?.complete).toBe(false);
    expect(checkpointBars(aggregate.toCheckpoint(), 1_000)).toEqual([]);
    expect(() => checkpointBars({ nope: 1 }, M)).toThrow(/corrupt/);
    expect(toApiBar(bar(1))).toEqual({
      start: '1970-01-01T00:01:00.000Z',
      open: 1,
      high: 1,
      low: 1,
      close: 1,
      volume: 1,
      vwap: 1,
      trades: 1,
      amended: false,
      complete: true,
    });
  });
});

describe('LagSampler', () => {
  it('samples one trade in `every` and keeps the newest samples until drained', () => {
    const sampler = new LagSampler(10, 4);
    const now = Date.now();
    for (let i = 0; i < 100; i++) sampler.sample(now - i);
    const seen: number[] = [];
    sampler.drain((ms) => seen.push(ms));
    // 10 samples taken (trades 0, 10, ..., 90); the newest 4 kept, oldest first.
    expect(seen).toHaveLength(4);
    expect(seen.map((ms) => Math.round(ms / 10) * 10)).toEqual([60, 70, 80, 90]);
    const again: number[] = [];
    sampler.drain((ms) => again.push(ms));
    expect(again).toEqual([]);
  });
});
