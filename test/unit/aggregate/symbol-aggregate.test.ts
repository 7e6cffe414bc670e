import { describe, expect, it } from 'vitest';
import { makeTrade, type Trade } from '../../../feeds/trade.js';
import { conditionRulesFor } from '../../../src/aggregate/conditions.js';
import { resolveAggregateOptions, sessionStartFor } from '../../../src/aggregate/options.js';
import { SymbolAggregate } from '../../../src/aggregate/symbol-aggregate.js';

const DAY = 86_400_000;
const MIDNIGHT = Date.UTC(2024, 2, 2); // 2024-03-02T00:00:00Z
const polygon = { conditionRules: conditionRulesFor('polygon') };

function trade(fields: Partial<Trade> & Pick<Trade, 'price' | 'size' | 'timeMs'>): Trade {
  return makeTrade({ symbol: 'AAPL', ...fields });
}

describe('SymbolAggregate', () => {
  it('reports session OHLC, volume, VWAP, count and the last trade by trade time', () => {
    const agg = new SymbolAggregate('AAPL', polygon);
    agg.apply(trade({ price: 10, size: 100, timeMs: MIDNIGHT + 1_000, id: 'a', exchange: '4' }));
    agg.apply(
      trade({ price: 12, size: 100, timeMs: MIDNIGHT + 3_000, timeNanos: 5, id: 'c', exchange: '10' }),
    );
    agg.apply(trade({ price: 8, size: 200, timeMs: MIDNIGHT + 2_000, id: 'b' })); // late: not last, not close
    agg.apply(trade({ price: 9, size: 100, timeMs: MIDNIGHT + 500, id: 'z' })); // earlier than the open
    expect(agg.snapshot()).toMatchObject({
      symbol: 'AAPL',
      sessionStart: '2024-03-02T00:00:00.000Z',
      trades: 4,
      volume: 500,
      vwap: (1000 + 1200 + 1600 + 900) / 500,
      open: 9,
      high: 12,
      low: 8,
      close: 12,
      last: { price: 12, size: 100, time: '2024-03-02T00:00:03.000000005Z', exchange: '10', id: 'c' },
      amended: false,
    });
  });

  it('applies the condition rules: an odd lot counts in volume only', () => {
    const agg = new SymbolAggregate('AAPL', polygon);
    agg.apply(trade({ price: 10, size: 100, timeMs: MIDNIGHT + 1_000, id: 'a' }));
    agg.apply(trade({ price: 99, size: 5, timeMs: MIDNIGHT + 2_000, id: 'odd', conditions: ['37'] }));
    agg.apply(
      trade({ price: 1, size: 7, timeMs: MIDNIGHT + 3_000, id: 'unknown', conditions: ['14', '987'] }),
    );
    agg.apply(trade({ price: 50, size: 1e6, timeMs: MIDNIGHT + 4_000, id: 'close', conditions: ['15'] }));
    const snap = agg.snapshot();
    expect(snap).toMatchObject({ trades: 3, volume: 112, open: 10, high: 10, low: 10, close: 10 });
    expect(snap.vwap).toBeCloseTo((1000 + 495 + 7) / 112, 12);
    expect(snap.last?.id).toBe('a');
    expect(agg.listBars(60_000)?.[0]).toMatchObject({ volume: 112, high: 10, low: 10, trades: 3 });
  });

  it('rolls the session at UTC midnight and counts trades from an older session as late', () => {
    const agg = new SymbolAggregate('AAPL', polygon);
    agg.apply(trade({ price: 10, size: 1, timeMs: MIDNIGHT - 1 }));
    expect(agg.snapshot().sessionStart).toBe('2024-03-01T00:00:00.000Z');
    agg.apply(trade({ price: 20, size: 2, timeMs: MIDNIGHT }));
    expect(agg.snapshot()).toMatchObject({
      sessionStart: '2024-03-02T00:00:00.000Z',
      trades: 1,
      volume: 2,
      open: 20,
      high: 20,
      low: 20,
      close: 20,
    });
    agg.apply(trade({ price: 1, size: 1_000, timeMs: MIDNIGHT - 2 })); // yesterday, late
    expect(agg.snapshot()).toMatchObject({ trades: 1, volume: 2, low: 20, last: { price: 20 } });
    expect(agg.snapshot().counters.lateSession).toBe(1);
  });

  it('takes the session boundary from an offset or a function', () => {
    const offset = new SymbolAggregate('AAPL', { sessionStartUtcOffsetMs: 9 * 3_600_000 });
    offset.apply(trade({ price: 1, size: 1, timeMs: MIDNIGHT + 8 * 3_600_000 }));
    expect(offset.snapshot().sessionStart).toBe('2024-03-01T09:00:00.000Z');
    offset.apply(trade({ price: 1, size: 1, timeMs: MIDNIGHT + 9 * 3_600_000 }));
    expect(offset.snapshot()).toMatchObject({ sessionStart: '2024-03-02T09:00:00.000Z', trades: 1 });
    const weekly = new SymbolAggregate('AAPL', {
      sessionStartOf: (t) => Math.floor(t / (7 * DAY)) * 7 * DAY,
    });
    weekly.apply(trade({ price: 1, size: 1, timeMs: MIDNIGHT }));
    weekly.apply(trade({ price: 1, size: 1, timeMs: MIDNIGHT + DAY }));
    expect(weekly.snapshot().trades).toBe(2);
  });

  it('shares one session function per offset, and each aggregate keeps its own offset', () => {
    const options = (offsetMs: number) => resolveAggregateOptions({ sessionStartUtcOffsetMs: offsetMs });
    expect(sessionStartFor(options(9 * 3_600_000))).toBe(sessionStartFor(options(9 * 3_600_000)));
    expect(sessionStartFor(options(0))).not.toBe(sessionStartFor(options(9 * 3_600_000)));
    // Made in turn, as a worker makes thousands: none takes another's boundary.
    const aggregates = [0, 9, 0, -5, 9].map(
      (hours) => new SymbolAggregate('AAPL', { sessionStartUtcOffsetMs: hours * 3_600_000 }),
    );
    for (const agg of aggregates) agg.apply(trade({ price: 1, size: 1, timeMs: MIDNIGHT + 8 * 3_600_000 }));
    expect(aggregates.map((agg) => agg.snapshot().sessionStart)).toEqual([
      '2024-03-02T00:00:00.000Z',
      '2024-03-01T09:00:00.000Z',
      '2024-03-02T00:00:00.000Z',
      '2024-03-01T19:00:00.000Z',
      '2024-03-01T09:00:00.000Z',
    ]);
  });

  it('amends volume, VWAP and count on a cancel, then applies the correction', () => {
    const agg = new SymbolAggregate('AAPL', polygon);
    agg.apply(trade({ price: 10, size: 100, timeMs: MIDNIGHT + 1_000, id: '1' }));
    agg.apply(trade({ price: 30, size: 100, timeMs: MIDNIGHT + 2_000, id: '2' }));
    agg.apply(trade({ price: 10, size: 100, timeMs: MIDNIGHT + 3_000, id: '3' }));
    // Trade 2 was wrong: 20 × 50. The cancel carries the original's values.
    agg.apply(
      trade({ price: 30, size: 100, timeMs: MIDNIGHT + 2_000, id: '2', kind: 'cancel', amendsId: '2' }),
    );
    expect(agg.snapshot()).toMatchObject({ trades: 2, volume: 200, vwap: 10, high: 30, amended: true });
    agg.apply(
      trade({ price: 20, size: 50, timeMs: MIDNIGHT + 2_000, id: '2', kind: 'correction', amendsId: '2' }),
    );
    expect(agg.snapshot()).toMatchObject({
      trades: 3,
      volume: 250,
      vwap: 3000 / 250,
      close: 10,
      last: { id: '3' },
    });
    expect(agg.snapshot().counters).toMatchObject({ cancels: 1, corrections: 1, unmatchedCancels: 0 });
    expect(agg.listBars(1_000)?.find((b) => b.start === MIDNIGHT + 2_000)).toMatchObject({
      trades: 1,
      volume: 50,
      vwap: 20,
      amended: true,
    });
    expect(agg.listBars(60_000)?.[0]).toMatchObject({ trades: 3, volume: 250, vwap: 12, amended: true });
  });

  it('counts cancels that find nothing to take back instead of going negative', () => {
    const agg = new SymbolAggregate('AAPL', polygon);
    agg.apply(trade({ price: 10, size: 100, timeMs: MIDNIGHT + 1_000, kind: 'cancel' }));
    agg.apply(trade({ price: 10, size: 100, timeMs: MIDNIGHT + 1_000 }));
    agg.apply(trade({ price: 10, size: 100, timeMs: MIDNIGHT + 1_000, kind: 'cancel' }));
    agg.apply(trade({ price: 10, size: 100, timeMs: MIDNIGHT + 1_000, kind: 'cancel' }));
    expect(agg.snapshot()).toMatchObject({ trades: 0, volume: 0, vwap: null });
    expect(agg.snapshot().counters.unmatchedCancels).toBe(2);
  });

  it('ignores and counts trades with impossible values or another symbol', () => {
    const agg = new SymbolAggregate('AAPL');
    agg.apply(trade({ price: NaN, size: 1, timeMs: MIDNIGHT }));
    agg.apply(trade({ price: 1, size: -1, timeMs: MIDNIGHT }));
    agg.apply(trade({ price: Infinity, size: 1, timeMs: MIDNIGHT }));
    agg.apply(makeTrade({ symbol: 'MSFT', price: 1, size: 1, timeMs: MIDNIGHT }));
    expect(agg.snapshot()).toMatchObject({
      trades: 0,
      last: null,
      sessionStart: null,
      counters: { invalid: 4 },
    });
  });

  it('tracks dirty until markClean and after every change', () => {
    const agg = new SymbolAggregate('AAPL');
    expect(agg.dirty).toBe(false);
    agg.apply(trade({ price: 1, size: 1, timeMs: MIDNIGHT }));
    expect(agg.dirty).toBe(true);
    agg.markClean();
    expect(agg.dirty).toBe(false);
    agg.advanceTo(MIDNIGHT + 60_000);
    expect(agg.dirty).toBe(false);
    expect(agg.takeCompletedBars()).toHaveLength(2); // the 1 s and 1 min bars are now complete
    // Taking bars is no change worth a checkpoint: a restored copy re-writes the same bars, harmlessly.
    expect(agg.dirty).toBe(false);
    agg.markClean();
    agg.markDirty();
    expect(agg.dirty).toBe(true);
  });

  it('stays dirty when a trade arrives while a checkpoint write is in flight', () => {
    const agg = new SymbolAggregate('AAPL');
    agg.apply(trade({ price: 1, size: 1, timeMs: MIDNIGHT }));
    const asOf = agg.changes;
    agg.toCheckpoint(); // ...written asynchronously, and meanwhile:
    agg.apply(trade({ price: 2, size: 1, timeMs: MIDNIGHT + 1 }));
    agg.markClean(asOf);
    expect(agg.dirty).toBe(true);
    agg.markClean(agg.changes);
    expect(agg.dirty).toBe(false);
  });

  it('checks its options, naming the option and the rule', () => {
    expect(() => new SymbolAggregate('AAPL', { barCap: 0 })).toThrow(/barCap must be a positive integer/);
    expect(() => new SymbolAggregate('AAPL', { barIntervalsMs: [1_000, 1_000] })).toThrow(/must not repeat/);
    expect(() => new SymbolAggregate('AAPL', { barIntervalsMs: [0.5] })).toThrow(/positive integers/);
    expect(() => new SymbolAggregate('AAPL', { sessionStartUtcOffsetMs: DAY })).toThrow(/within one day/);
  });
});
