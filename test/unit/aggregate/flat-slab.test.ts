/**
 * Records in the shared slab: each owner's own, kept through growth, and reused once the owner is
 * garbage. Symbols move between workers all day, so a record that outlived its aggregate would be a
 * leak; one reused while its aggregate lived would mix two symbols' numbers.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { makeTrade } from '../../../feeds/trade.js';
import { BarSeries } from '../../../src/aggregate/bar-series.js';
import { FlatSlab } from '../../../src/aggregate/flat-slab.js';
import { SymbolAggregate } from '../../../src/aggregate/symbol-aggregate.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const T0 = Date.UTC(2024, 2, 1, 14, 30);

/** Collects until the registry has handed back what it will (its callbacks run on later tasks). */
async function collect(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function tradeOf(symbol: string, price: number, i: number): ReturnType<typeof makeTrade> {
  return makeTrade({ symbol, price, size: 1 + (i % 7), timeMs: T0 + i * 250 });
}

describe('FlatSlab', () => {
  it('rounds records up to whole cache lines and hands out zeroed, distinct ones', () => {
    const slab = new FlatSlab(20, 2);
    expect(slab.stride).toBe(24);
    const owners = [{}, {}, {}, {}, {}];
    const ats = owners.map((owner) => slab.take(owner));
    expect(new Set(ats).size).toBe(5);
    for (const at of ats) expect(at % slab.stride).toBe(0);
    expect(slab.liveRecords).toBe(5);
  });

  it('keeps every record as it was when it grows', () => {
    const slab = new FlatSlab(8, 1);
    const owners: object[] = [];
    const ats: number[] = [];
    for (let i = 0; i < 100; i++) {
      const owner = {};
      owners.push(owner);
      const at = slab.take(owner);
      ats.push(at);
      slab.data.fill(i + 1, at, at + 8);
    }
    expect(slab.capacity).toBe(128);
    ats.forEach((at, i) => expect([...slab.data.subarray(at, at + 8)]).toEqual(Array(8).fill(i + 1)));
  });

  it('reuses the record of an owner that became garbage, zeroed, and never a live one', async () => {
    const slab = new FlatSlab(8, 4);
    const kept = { name: 'kept' };
    const keptAt = slab.take(kept);
    slab.data.fill(7, keptAt, keptAt + 8);
    const dropped = ((): number[] => {
      const ats: number[] = [];
      for (let i = 0; i < 3; i++) ats.push(slab.take({}));
      for (const at of ats) slab.data.fill(9, at, at + 8);
      return ats;
    })();
    await collect();
    expect(slab.liveRecords).toBe(1);
    const reused = [slab.take({}), slab.take({}), slab.take({})];
    expect(reused.sort((a, b) => a - b)).toEqual(dropped.sort((a, b) => a - b));
    expect(slab.madeRecords).toBe(4);
    for (const at of reused) expect([...slab.data.subarray(at, at + 8)]).toEqual(Array(8).fill(0));
    expect([...slab.data.subarray(keptAt, keptAt + 8)]).toEqual(Array(8).fill(7));
    expect(kept.name).toBe('kept');
  });
});

/** An aggregate's whole state, as raw doubles copied from its slab record (a copy of the bytes). */
function packed(agg: SymbolAggregate): Buffer {
  return Buffer.from(agg.checkpointPacked().bytes);
}

describe('aggregates on the slab', () => {
  it('keep their own state: many symbols interleaved, growth in between, as each alone would', () => {
    const symbols = Array.from({ length: 300 }, (_, i) => `S${i}`);
    const alone = symbols.map((symbol, s) => {
      const agg = new SymbolAggregate(symbol);
      for (let i = 0; i < 40; i++) agg.apply(tradeOf(symbol, 10 + s + (i % 5), i));
      return packed(agg);
    });
    // Interleaved, with aggregates created while the others trade, so the slab grows under them.
    const aggs: SymbolAggregate[] = [];
    for (let i = 0; i < 40; i++) {
      symbols.forEach((symbol, s) => {
        if (i === s % 40) aggs[s] = new SymbolAggregate(symbol);
      });
      symbols.forEach((symbol, s) => {
        const agg = aggs[s];
        if (agg === undefined) return;
        // Catch up on the trades before it existed, so each ends with the same 40.
        if (i === s % 40) for (let j = 0; j < i; j++) agg.apply(tradeOf(symbol, 10 + s + (j % 5), j));
        agg.apply(tradeOf(symbol, 10 + s + (i % 5), i));
      });
    }
    expect(aggs.map(packed)).toEqual(alone);
  });

  it('give their records back once dropped, so symbols moving in and out do not grow the slab', async () => {
    const options = { barIntervalsMs: [1_000, 60_000, 300_000] };
    const { slab } = new SymbolAggregate('PROBE', options).record;
    const live = new Map<string, SymbolAggregate>();
    // Rounds of hand-overs: a third of the symbols leave and as many new ones arrive.
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 600; i++) {
        const symbol = `M${round}_${i}`;
        const agg = new SymbolAggregate(symbol, options);
        agg.apply(tradeOf(symbol, 20, i));
        live.set(symbol, agg);
      }
      let n = 0;
      for (const symbol of live.keys()) if (n++ % 3 !== 0) live.delete(symbol);
      await collect();
    }
    // One more at most: the engine may still hold a recent object for a while.
    expect(slab.liveRecords).toBeLessThanOrEqual(live.size + 1);
    const made = slab.madeRecords;
    // Every survivor still holds its own last trade after the others' records were reused.
    for (const [symbol, agg] of live) {
      expect(agg.symbol).toBe(symbol);
      expect(agg.snapshot().last?.price).toBe(20);
    }
    // A new generation as large as the dropped ones fits in the records they left.
    const next = Array.from({ length: 600 }, (_, i) => new SymbolAggregate(`N${i}`, options));
    expect(slab.madeRecords).toBe(made);
    expect(next.every((agg, i) => agg.symbol === `N${i}`)).toBe(true);
  });

  it('read-once aggregates and series stay out of the shared slab', () => {
    const source = new SymbolAggregate('ONCE');
    source.apply(tradeOf('ONCE', 30, 0));
    const { slab } = source.record;
    const checkpoint = source.toCheckpoint();
    const made = slab.madeRecords;
    const live = slab.liveRecords;
    for (let i = 0; i < 100; i++) {
      const copy = SymbolAggregate.fromCheckpoint(checkpoint, {}, 'own');
      expect(copy.record.slab).not.toBe(slab);
      expect(copy.snapshot()).toEqual(source.snapshot());
      expect(copy.toCheckpoint()).toEqual(checkpoint);
    }
    const series = BarSeries.fromCheckpoint(checkpoint.bars[0]!, 10);
    expect(series.record.slab).not.toBe(slab);
    expect(series.list()).toEqual(source.listBars(1_000));
    expect(slab.madeRecords).toBe(made);
    expect(slab.liveRecords).toBe(live);
  });
});
