/**
 * `SymbolAggregate.checkpointPacked()` writes the checkpoint as raw doubles, copying the open bars and
 * the session from the slab. Unpacked, it must always be `toCheckpoint()`, down to its JSON text: a
 * field out of place would restore a different aggregate, silently. And bytes read back from Redis are
 * untrusted: whatever they hold, unpacking and checking them fails with a clear error or gives a valid
 * checkpoint.
 */
import { describe, expect, it } from 'vitest';
import { makeTrade, type Trade } from '../../../feeds/trade.js';
import { parseCheckpoint } from '../../../src/aggregate/checkpoint.js';
import {
  PACKED_FORMAT,
  PACKED_HEADER,
  PACKED_LAST,
  PACKED_SERIES_COUNT,
  PACKED_SESSION,
  PackedCheckpoint,
  parseStoredCheckpoint,
  unpackCheckpoint,
} from '../../../src/aggregate/packed-checkpoint.js';
import { TickringError } from '../../../src/errors.js';
import { conditionRulesFor } from '../../../src/aggregate/conditions.js';
import { SymbolAggregate } from '../../../src/aggregate/symbol-aggregate.js';
import { mulberry32 } from './reference.js';

const T0 = Date.UTC(2024, 2, 1, 23, 58);
const options = { conditionRules: conditionRulesFor('polygon'), barCap: 3 };

function trade(fields: Partial<Trade> & Pick<Trade, 'price' | 'size' | 'timeMs'>): Trade {
  return makeTrade({ symbol: 'AAPL', ...fields });
}

/**
 * The packed checkpoint unpacked and checked, held against the objects' own, also as JSON text;
 * that text is returned to compare versions.
 */
function text(agg: SymbolAggregate): string {
  const packed = agg.checkpointPacked();
  expect(packed).toBeInstanceOf(PackedCheckpoint);
  const unpacked = parseCheckpoint(unpackCheckpoint(packed.bytes));
  expect(unpacked).toStrictEqual(agg.toCheckpoint());
  const json = JSON.stringify(unpacked);
  expect(json).toBe(JSON.stringify(agg.toCheckpoint()));
  return json;
}

/** The 1 s bar starting at `start` as the packed checkpoint holds it. */
function secondBar(agg: SymbolAggregate, start: number): unknown[] | undefined {
  const series = parseCheckpoint(unpackCheckpoint(agg.checkpointPacked().bytes)).bars.find(
    (s) => s.intervalMs === 1_000,
  );
  return series?.bars.find((bar) => bar[0] === start);
}

describe('checkpointPacked', () => {
  it('unpacks to toCheckpoint for an empty aggregate, and one restored from a checkpoint', () => {
    const empty = new SymbolAggregate('BTC-USD');
    text(empty);
    const agg = new SymbolAggregate('AAPL', options);
    for (let s = 0; s < 6; s++) agg.apply(trade({ price: 10 + s, size: 1, timeMs: T0 + s * 1_000 }));
    const restored = SymbolAggregate.fromCheckpoint(parseCheckpoint(JSON.parse(text(agg))), options);
    expect(text(restored)).toBe(text(agg));
    restored.apply(trade({ price: 99, size: 5, timeMs: T0 + 4_500 }));
    expect(secondBar(restored, T0 + 4_000)?.[4]).toBe(99); // high
    text(restored);
  });

  it('follows a bar that completes, by a trade or by advancing', () => {
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

  it('carries a completed bar amended by a late trade, a cancel or a correction, and its flags', () => {
    const agg = new SymbolAggregate('AAPL', options);
    for (let s = 0; s < 3; s++) agg.apply(trade({ price: 10, size: 10, timeMs: T0 + s * 1_000 }));
    agg.takeCompletedBars();
    const before = text(agg); // the first two bars are complete and taken now
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

  it('drops bars evicted past the kept count, and carries the untaken ones in the outbox', () => {
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

  it('stays toCheckpoint through thousands of random trades, cancels, takes and advances', () => {
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
            // Up to 8 s late: into completed bars, and past the kept ones.
            timeMs: now - (random() < 0.3 ? Math.floor(random() * 8_000) : 0),
            timeNanos: i % 1_000,
            id: String(i),
            exchange: i % 2 === 0 ? 'x"\\' : 'Börse €', // escaped in JSON; several UTF-8 bytes a char
            kind: random() < 0.05 ? 'cancel' : random() < 0.05 ? 'correction' : 'trade',
            conditions: codes[Math.floor(random() * codes.length)] ?? [],
          }),
        );
      }
      if (i % 3 === 0) text(agg);
    }
    expect(agg.toCheckpoint().session?.startMs).toBe(Date.UTC(2024, 2, 2)); // crossed midnight
    text(agg);
  });

  it('gives a record holding it the same JSON as the objects, through a plain JSON.stringify', () => {
    const agg = new SymbolAggregate('AAPL', options);
    agg.apply(trade({ price: 10, size: 1, timeMs: T0 }));
    expect(JSON.stringify({ v: 1, aggregate: agg.checkpointPacked() })).toBe(
      JSON.stringify({ v: 1, aggregate: agg.toCheckpoint() }),
    );
  });
});

/** A packed checkpoint of an aggregate with bars in every series, an outbox and a last trade. */
function sample(): Buffer {
  const agg = new SymbolAggregate('BRK.B', options);
  for (let s = 0; s < 8; s++) {
    agg.apply(trade({ symbol: 'BRK.B', price: 10 + s / 10, size: 3, timeMs: T0 + s * 700, id: `t${s}` }));
  }
  agg.takeCompletedBars();
  for (let s = 8; s < 14; s++) {
    agg.apply(trade({ symbol: 'BRK.B', price: 11, size: 1, timeMs: T0 + s * 700, id: `t${s}` }));
  }
  return Buffer.from(agg.checkpointPacked().bytes);
}

/** Unpacks and checks `bytes` as a worker does what it reads from Redis. */
function load(bytes: Uint8Array): unknown {
  return parseCheckpoint(unpackCheckpoint(bytes));
}

function expectCorrupt(bytes: Uint8Array, message: RegExp): void {
  expect(() => load(bytes)).toThrow(
    expect.objectContaining({ code: 'TICKRING_ERR_CORRUPT_STATE', message: expect.stringMatching(message) }),
  );
}

/** `bytes` with the double at `index` set to `value`. */
function withDouble(bytes: Buffer, index: number, value: number): Buffer {
  const copy = Buffer.from(bytes);
  copy.writeDoubleLE(value, index * 8);
  return copy;
}

describe('unpackCheckpoint of untrusted bytes', () => {
  it('reads a sample as written', () => {
    const bytes = sample();
    expect(bytes.readDoubleLE(0)).toBe(PACKED_FORMAT);
    const checkpoint = load(bytes) as { symbol: string; last: { id: string } };
    expect(checkpoint.symbol).toBe('BRK.B');
    expect(checkpoint.last.id).toBe('t13');
  });

  it('names what is wrong with the framing', () => {
    const bytes = sample();
    expectCorrupt(bytes.subarray(0, 100), /too few/);
    expectCorrupt(withDouble(bytes, 0, 2), /format 2 is not 1/);
    expectCorrupt(withDouble(bytes, PACKED_SERIES_COUNT, 1e9), /series count is 1000000000/);
    expectCorrupt(withDouble(bytes, PACKED_SERIES_COUNT, 0.5), /series count is 0.5/);
    expectCorrupt(withDouble(bytes, PACKED_HEADER + 5, 1e6), /kept bar count is 1000000/);
    expectCorrupt(withDouble(bytes, PACKED_HEADER + 6, -1), /runs past the end|negative/);
    expectCorrupt(Buffer.concat([bytes, Buffer.from('x')]), /do not match the lengths/);
    expectCorrupt(bytes.subarray(0, bytes.length - 1), /do not match the lengths/);
  });

  it('refuses values no aggregate holds, as the checks of JSON checkpoints do', () => {
    const bytes = sample();
    const firstBar = PACKED_HEADER + 7;
    expectCorrupt(withDouble(bytes, firstBar + 4, Infinity), /bars\[0\]\[4\]/); // high
    expectCorrupt(withDouble(bytes, firstBar + 2, NaN), /bars\[0\]\[2\]/); // open time: not a price
    expectCorrupt(withDouble(bytes, firstBar + 3, 1e7), /bars\[0\]\[3\]/); // nanoseconds
    expectCorrupt(withDouble(bytes, firstBar, T0 + 1), /not aligned/);
    expectCorrupt(withDouble(bytes, 5, -1), /counters\.lateSession/);
    expectCorrupt(withDouble(bytes, 24, 9), /session flags are 9/);
  });

  it('fails cleanly, or gives a valid checkpoint, whatever bytes are changed', () => {
    const bytes = sample();
    const random = mulberry32(11);
    let refused = 0;
    for (let i = 0; i < 3_000; i++) {
      const copy = Buffer.from(bytes);
      for (let n = 1 + Math.floor(random() * 4); n > 0; n--) {
        copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
      }
      const cut = random() < 0.1 ? copy.subarray(0, Math.floor(random() * copy.length)) : copy;
      try {
        load(cut);
      } catch (err) {
        expect(err).toBeInstanceOf(TickringError);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(0);
  });
});

describe('SymbolAggregate.summaryOfPacked', () => {
  it('reads what the restored aggregate summarises, without unpacking', () => {
    const bytes = sample();
    const restored = SymbolAggregate.fromCheckpoint(
      load(bytes) as ReturnType<typeof parseCheckpoint>,
      options,
    );
    expect(SymbolAggregate.summaryOfPacked(bytes)).toEqual(restored.summary());
    expect(SymbolAggregate.summaryOfPacked(bytes)).toEqual({ trades: 14, lastPrice: 11 });
    const empty = new SymbolAggregate('AAPL', options);
    expect(SymbolAggregate.summaryOfPacked(empty.checkpointPacked().bytes)).toEqual(empty.summary());
  });

  it('reads from a record where the bytes start anywhere, and parses them as stored there', () => {
    const bytes = sample();
    const record = Buffer.concat([Buffer.from('{"v":1}\0'), bytes]);
    const stored = record.subarray(8);
    expect(SymbolAggregate.summaryOfPacked(stored)).toEqual({ trades: 14, lastPrice: 11 });
    expect(parseStoredCheckpoint(new PackedCheckpoint(stored))).toEqual(load(bytes));
    expect(() => parseStoredCheckpoint(new PackedCheckpoint(stored.subarray(0, 100)))).toThrow(/too few/);
  });

  it('gives nothing for figures no aggregate holds, so the caller restores and reports them', () => {
    const bytes = sample();
    const tradesAt = PACKED_SESSION + 13; // the session tuple's trade count
    const lastPriceAt = PACKED_LAST;
    expect(SymbolAggregate.summaryOfPacked(bytes.subarray(0, 100))).toBeUndefined();
    expect(SymbolAggregate.summaryOfPacked(withDouble(bytes, 0, 2))).toBeUndefined();
    expect(SymbolAggregate.summaryOfPacked(withDouble(bytes, tradesAt, -1))).toBeUndefined();
    expect(SymbolAggregate.summaryOfPacked(withDouble(bytes, tradesAt, 1.5))).toBeUndefined();
    expect(SymbolAggregate.summaryOfPacked(withDouble(bytes, lastPriceAt, NaN))).toBeUndefined();
    expect(SymbolAggregate.summaryOfPacked(withDouble(bytes, lastPriceAt, Infinity))).toBeUndefined();
  });
});
