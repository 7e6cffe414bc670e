/**
 * `SymbolAggregate.checkpointJson()` writes the checkpoint's text itself and reuses each completed
 * bar's text until the bar changes. Its text must always be `JSON.stringify(toCheckpoint())`: a
 * remembered text that outlived a change of its bar would checkpoint a stale bar, silently.
 */
import { describe, expect, it } from 'vitest';
import { makeTrade, type Trade } from '../../../feeds/trade.js';
import { CheckpointJson, parseCheckpoint } from '../../../src/aggregate/checkpoint.js';
import { conditionRulesFor } from '../../../src/aggregate/conditions.js';
import { SymbolAggregate } from '../../../src/aggregate/symbol-aggregate.js';
import { mulberry32 } from './reference.js';

const T0 = Date.UTC(2024, 2, 1, 23, 58);
const options = { conditionRules: conditionRulesFor('polygon'), barCap: 3 };

function trade(fields: Partial<Trade> & Pick<Trade, 'price' | 'size' | 'timeMs'>): Trade {
  return makeTrade({ symbol: 'AAPL', ...fields });
}

/** The checkpoint text, checked against the objects' own; returned to compare versions. */
function text(agg: SymbolAggregate): string {
  const json = agg.checkpointJson();
  expect(json).toBeInstanceOf(CheckpointJson);
  expect(json.text).toBe(JSON.stringify(agg.toCheckpoint()));
  return json.text;
}

/** The 1 s bar starting at `start` as the checkpoint holds it. */
function secondBar(agg: SymbolAggregate, start: number): unknown[] | undefined {
  const series = parseCheckpoint(JSON.parse(agg.checkpointJson().text)).bars.find(
    (s) => s.intervalMs === 1_000,
  );
  return series?.bars.find((bar) => bar[0] === start);
}

describe('checkpointJson', () => {
  it('is the text of toCheckpoint for an empty aggregate, and one restored from a checkpoint', () => {
    const empty = new SymbolAggregate('BTC-USD');
    text(empty);
    const agg = new SymbolAggregate('AAPL', options);
    for (let s = 0; s < 6; s++) agg.apply(trade({ price: 10 + s, size: 1, timeMs: T0 + s * 1_000 }));
    const restored = SymbolAggregate.fromCheckpoint(parseCheckpoint(JSON.parse(text(agg))), options);
    expect(text(restored)).toBe(text(agg));
    // The restored bars were never serialized by this aggregate: a change reaches the text at once.
    restored.apply(trade({ price: 99, size: 5, timeMs: T0 + 4_500 }));
    expect(secondBar(restored, T0 + 4_000)?.[4]).toBe(99); // high
    text(restored);
  });

  it('re-writes a bar that completes: the open bar is not remembered', () => {
    const agg = new SymbolAggregate('AAPL', options);
    agg.apply(trade({ price: 10, size: 1, timeMs: T0 }));
    text(agg);
    agg.apply(trade({ price: 11, size: 2, timeMs: T0 + 500 })); // same open bar
    expect(secondBar(agg, T0)?.[9]).toBe(3); // volume
    agg.apply(trade({ price: 12, size: 1, timeMs: T0 + 1_000 })); // completes the first bar
    text(agg);
    agg.advanceTo(T0 + 5_000); // completes the second without a trade
    text(agg);
  });

  it('re-writes a remembered completed bar when a late trade, a cancel or a correction amends it', () => {
    const agg = new SymbolAggregate('AAPL', options);
    for (let s = 0; s < 3; s++) agg.apply(trade({ price: 10, size: 10, timeMs: T0 + s * 1_000 }));
    agg.takeCompletedBars();
    const before = text(agg); // the first two bars are complete, taken and remembered now
    agg.apply(trade({ price: 8, size: 5, timeMs: T0 + 200 }));
    const late = text(agg);
    expect(late).not.toBe(before);
    expect(secondBar(agg, T0)).toMatchObject({ 5: 8, 9: 15, 13: 2, 14: 2 }); // low, volume, trades, dirty
    agg.takeCompletedBars();
    expect(secondBar(agg, T0)?.[14]).toBe(0); // taken: the flag the tuple carries changed too
    text(agg);
    agg.apply(trade({ price: 10, size: 10, timeMs: T0 + 1_000, kind: 'cancel' }));
    expect(secondBar(agg, T0 + 1_000)).toMatchObject({ 9: 0, 13: 0, 14: 3 }); // amended | dirty
    text(agg);
    agg.takeCompletedBars();
    text(agg);
    agg.apply(trade({ price: 10.5, size: 4, timeMs: T0 + 1_000, kind: 'correction' }));
    expect(secondBar(agg, T0 + 1_000)).toMatchObject({ 9: 4, 13: 1, 14: 3 });
    text(agg);
  });

  it('drops bars evicted past the kept count, and writes the untaken ones in the outbox', () => {
    const agg = new SymbolAggregate('AAPL', options);
    for (let s = 0; s < 4; s++) agg.apply(trade({ price: 10, size: 1, timeMs: T0 + s * 1_000 }));
    text(agg);
    agg.takeCompletedBars();
    text(agg);
    for (let s = 4; s < 9; s++) agg.apply(trade({ price: 10, size: 1, timeMs: T0 + s * 1_000 }));
    const checkpoint = parseCheckpoint(JSON.parse(text(agg)));
    const seconds = checkpoint.bars.find((s) => s.intervalMs === 1_000);
    expect(seconds?.bars.map((bar) => (bar[0] - T0) / 1_000)).toEqual([5, 6, 7, 8]);
    expect(seconds?.outbox.map((bar) => (bar[0] - T0) / 1_000)).toEqual([3, 4]); // evicted, never taken
    agg.takeCompletedBars();
    expect(secondBar(agg, T0 + 5_000)?.[14]).toBe(0);
    text(agg);
  });

  it('stays the text of toCheckpoint through thousands of random trades, cancels, takes and advances', () => {
    const random = mulberry32(7);
    const agg = new SymbolAggregate('AAPL', options);
    const codes = [[], [], ['37'], ['12'], ['999']];
    let now = T0;
    for (let i = 0; i < 3_000; i++) {
      now += Math.floor(random() * 700);
      const r = random();
      if (r < 0.05) agg.takeCompletedBars();
      else if (r < 0.07) agg.advanceTo(now - Math.floor(random() * 2_000));
      else {
        agg.apply(
          trade({
            price: Math.round(10_000 + random() * 500) / 100,
            size: random() < 0.1 ? Math.round(random() * 1e6) / 1e6 : 1 + Math.floor(random() * 300),
            // Up to 8 s late: into remembered completed bars, and past the kept ones.
            timeMs: now - (random() < 0.3 ? Math.floor(random() * 8_000) : 0),
            timeNanos: i % 1_000,
            id: String(i),
            exchange: 'x"\\', // escaped in JSON
            kind: random() < 0.05 ? 'cancel' : random() < 0.05 ? 'correction' : 'trade',
            conditions: codes[Math.floor(random() * codes.length)] ?? [],
          }),
        );
      }
      if (i % 3 === 0) text(agg); // every few steps, so remembered texts outlive several changes
    }
    expect(agg.toCheckpoint().session?.startMs).toBe(Date.UTC(2024, 2, 2)); // crossed midnight
    text(agg);
  });

  it('gives a record holding it the same JSON as the objects, also through a plain JSON.stringify', () => {
    const agg = new SymbolAggregate('AAPL', options);
    agg.apply(trade({ price: 10, size: 1, timeMs: T0 }));
    expect(JSON.stringify({ v: 1, aggregate: agg.checkpointJson() })).toBe(
      JSON.stringify({ v: 1, aggregate: agg.toCheckpoint() }),
    );
  });
});
