/**
 * The flat accumulator must be `Ohlcv` bit for bit: an open bar becomes an `Ohlcv` when the next one
 * opens, and a checkpoint written from either form is restored into the other.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  UPDATES_ALL,
  UPDATES_HIGH_LOW,
  UPDATES_OPEN_CLOSE,
  UPDATES_VOLUME,
} from '../../../src/aggregate/conditions.js';
import {
  applyAt,
  cancelAt,
  OHLCV_LENGTH,
  ohlcvAt,
  resetAt,
  sessionAt,
  storeAt,
  tupleAt,
} from '../../../src/aggregate/flat-ohlcv.js';
import { Ohlcv } from '../../../src/aggregate/ohlcv.js';

const FIELDS = [
  'start',
  'open',
  'openMs',
  'openNs',
  'high',
  'low',
  'close',
  'closeMs',
  'closeNs',
  'volumeSum',
  'volumeC',
  'notionalSum',
  'notionalC',
  'trades',
  'amended',
  'dirty',
] as const;

/** Every field, -0 and NaN told apart. */
function fields(o: Ohlcv): unknown[] {
  return FIELDS.map((f) => (Object.is(o[f], -0) ? '-0' : o[f]));
}

const op = fc.record({
  cancel: fc.boolean(),
  // Prices and sizes of every magnitude, so the compensated sums take both Fast2Sum branches.
  price: fc.oneof(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.integer({ min: 0, max: 100 })),
  size: fc.oneof(fc.double({ min: 0, max: 1e9, noNaN: true }), fc.integer({ min: 0, max: 3 })),
  timeMs: fc.integer({ min: 0, max: 5 }),
  timeNanos: fc.integer({ min: 0, max: 2 }),
  mask: fc.constantFrom(
    UPDATES_ALL,
    UPDATES_VOLUME,
    UPDATES_VOLUME | UPDATES_HIGH_LOW,
    UPDATES_HIGH_LOW | UPDATES_OPEN_CLOSE,
    0,
  ),
});

describe('the flat accumulator', () => {
  it('applies and cancels exactly as Ohlcv, field for field', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 0, max: 3 }), (ops, slot) => {
        // Not at index 0, and with neighbours that must stay as they are.
        const d = new Float64Array(OHLCV_LENGTH * 5).fill(-1);
        const at = 1 + slot * OHLCV_LENGTH;
        const o = new Ohlcv(1_000);
        resetAt(d, at, 1_000);
        for (const { cancel, price, size, timeMs, timeNanos, mask } of ops) {
          if (cancel) expect(cancelAt(d, at, price, size)).toBe(o.cancel(price, size));
          else {
            applyAt(d, at, price, size, 1_000 + timeMs, timeNanos, mask);
            o.apply(price, size, 1_000 + timeMs, timeNanos, mask);
          }
        }
        expect(fields(ohlcvAt(d, at))).toEqual(fields(o));
        expect(JSON.stringify(tupleAt(d, at))).toBe(JSON.stringify(o.toTuple()));
        expect(JSON.stringify(sessionAt(d, at))).toBe(JSON.stringify(o.toSession()));
        const outside = [...d.subarray(0, at), ...d.subarray(at + OHLCV_LENGTH)];
        expect(outside.every((x) => x === -1)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips through storeAt and ohlcvAt, NaN prices and -0 included', () => {
    const o = new Ohlcv(-60_000);
    o.notionalC = -0;
    o.openNs = 7;
    o.volumeSum = 2 ** 40 + 0.5;
    o.amended = true;
    o.dirty = true;
    const d = new Float64Array(OHLCV_LENGTH);
    storeAt(d, 0, o);
    expect(fields(ohlcvAt(d, 0))).toEqual(fields(o));
    expect(tupleAt(d, 0)).toEqual(o.toTuple());
    // The integer fields come back as small integers, -0 as 0 (see `small` in flat-ohlcv.ts).
    o.volumeC = -0;
    storeAt(d, 0, o);
    expect(Object.is(ohlcvAt(d, 0).volumeC, 0)).toBe(true);
  });
});
