/**
 * The `Ohlcv` accumulator as 15 doubles at an index of a `Float64Array` (a `FlatSlab` record): the
 * form of the accumulators every trade updates, a symbol's session and the open bar of each series,
 * so that they sit in adjacent cache lines rather than in four objects and their heap-number boxes.
 * Completed bars, which trades rarely touch, stay `Ohlcv` objects; `ohlcvAt` turns an open bar into
 * one when the next bar opens.
 *
 * `applyAt` and `cancelAt` repeat `Ohlcv.apply` and `Ohlcv.cancel` operation for operation (and so
 * `CompensatedSum.add`), so that a bar continues bit for bit whichever form it is in; the tests hold
 * the two forms against each other. A start of NaN means no accumulator (no session or bar yet).
 */
import type { BarTuple, SessionCheckpoint } from './checkpoint.js';
import { UPDATES_HIGH_LOW, UPDATES_OPEN_CLOSE, UPDATES_VOLUME } from './conditions.js';
import { isBefore, Ohlcv, priceOrNull } from './ohlcv.js';

export const OHLCV_LENGTH = 15;

const START = 0;
const OPEN = 1;
const OPEN_MS = 2;
const OPEN_NS = 3;
const HIGH = 4;
const LOW = 5;
const CLOSE = 6;
const CLOSE_MS = 7;
const CLOSE_NS = 8;
const VOLUME = 9;
const VOLUME_C = 10;
const NOTIONAL = 11;
const NOTIONAL_C = 12;
const TRADES = 13;
/** The tuple's flags: `FLAG_AMENDED | FLAG_DIRTY`, as `Ohlcv.toTuple` writes them. */
const FLAGS = 14;

const FLAG_AMENDED = 1;
const FLAG_DIRTY = 2;

/** Start (Unix ms) of the accumulator at `at`; NaN when there is none. */
export function startAt(d: Float64Array, at: number): number {
  return d[at + START] as number;
}

/** Starts an empty accumulator at `at`, as `new Ohlcv(start)`; NaN clears it. */
export function resetAt(d: Float64Array, at: number, start: number): void {
  d[at + START] = start;
  d[at + OPEN] = NaN;
  d[at + OPEN_MS] = 0;
  d[at + OPEN_NS] = 0;
  d[at + HIGH] = NaN;
  d[at + LOW] = NaN;
  d[at + CLOSE] = NaN;
  d[at + CLOSE_MS] = 0;
  d[at + CLOSE_NS] = 0;
  d[at + VOLUME] = 0;
  d[at + VOLUME_C] = 0;
  d[at + NOTIONAL] = 0;
  d[at + NOTIONAL_C] = 0;
  d[at + TRADES] = 0;
  d[at + FLAGS] = 0;
}

/** `Ohlcv.apply`. */
export function applyAt(
  d: Float64Array,
  at: number,
  price: number,
  size: number,
  timeMs: number,
  timeNanos: number,
  mask: number,
): void {
  d[at + FLAGS] = (d[at + FLAGS] as number) | FLAG_DIRTY;
  if ((mask & UPDATES_VOLUME) !== 0) {
    addVolumeAt(d, at, size, price * size);
    d[at + TRADES] = (d[at + TRADES] as number) + 1;
  }
  // `!(price <= x)` is also true while x is NaN (unset).
  if ((mask & UPDATES_HIGH_LOW) !== 0) {
    if (!(price <= (d[at + HIGH] as number))) d[at + HIGH] = price;
    if (!(price >= (d[at + LOW] as number))) d[at + LOW] = price;
  }
  if ((mask & UPDATES_OPEN_CLOSE) !== 0) {
    if (
      Number.isNaN(d[at + OPEN]) ||
      isBefore(timeMs, timeNanos, d[at + OPEN_MS] as number, d[at + OPEN_NS] as number)
    ) {
      d[at + OPEN] = price;
      d[at + OPEN_MS] = timeMs;
      d[at + OPEN_NS] = timeNanos;
    }
    if (
      Number.isNaN(d[at + CLOSE]) ||
      !isBefore(timeMs, timeNanos, d[at + CLOSE_MS] as number, d[at + CLOSE_NS] as number)
    ) {
      d[at + CLOSE] = price;
      d[at + CLOSE_MS] = timeMs;
      d[at + CLOSE_NS] = timeNanos;
    }
  }
}

/** `Ohlcv.addVolume`: both Neumaier sums, as `CompensatedSum.add`. */
function addVolumeAt(d: Float64Array, at: number, size: number, notional: number): void {
  let sum = d[at + VOLUME] as number;
  let t = sum + size;
  const volumeC = d[at + VOLUME_C] as number;
  if (Math.abs(sum) >= Math.abs(size)) d[at + VOLUME_C] = volumeC + (sum - t + size);
  else d[at + VOLUME_C] = volumeC + (size - t + sum);
  d[at + VOLUME] = t;
  sum = d[at + NOTIONAL] as number;
  t = sum + notional;
  const notionalC = d[at + NOTIONAL_C] as number;
  if (Math.abs(sum) >= Math.abs(notional)) d[at + NOTIONAL_C] = notionalC + (sum - t + notional);
  else d[at + NOTIONAL_C] = notionalC + (notional - t + sum);
  d[at + NOTIONAL] = t;
}

/** `Ohlcv.cancel`: false when no trade is left the cancel could have come from. */
export function cancelAt(d: Float64Array, at: number, price: number, size: number): boolean {
  if (d[at + TRADES] === 0) return false;
  const trades = (d[at + TRADES] as number) - 1;
  d[at + TRADES] = trades;
  if (trades === 0) {
    d[at + VOLUME] = 0;
    d[at + VOLUME_C] = 0;
    d[at + NOTIONAL] = 0;
    d[at + NOTIONAL_C] = 0;
  } else {
    addVolumeAt(d, at, -size, -(price * size));
  }
  d[at + FLAGS] = (d[at + FLAGS] as number) | FLAG_AMENDED | FLAG_DIRTY;
  return true;
}

/** The accumulator's trade count, without building the `Ohlcv`. */
export function tradesAt(d: Float64Array, at: number): number {
  return d[at + TRADES] as number;
}

export function isDirtyAt(d: Float64Array, at: number): boolean {
  return ((d[at + FLAGS] as number) & FLAG_DIRTY) !== 0;
}

/** `Ohlcv.markTaken`. */
export function markTakenAt(d: Float64Array, at: number): void {
  d[at + FLAGS] = (d[at + FLAGS] as number) & ~FLAG_DIRTY;
}

/** `Ohlcv.toTuple` of the accumulator at `at`. */
export function tupleAt(d: Float64Array, at: number): BarTuple {
  return [
    d[at + START] as number,
    priceOrNull(d[at + OPEN] as number),
    d[at + OPEN_MS] as number,
    d[at + OPEN_NS] as number,
    priceOrNull(d[at + HIGH] as number),
    priceOrNull(d[at + LOW] as number),
    priceOrNull(d[at + CLOSE] as number),
    d[at + CLOSE_MS] as number,
    d[at + CLOSE_NS] as number,
    // `+ 0` turns -0 into 0, as `Ohlcv.toTuple` does.
    (d[at + VOLUME] as number) + 0,
    (d[at + VOLUME_C] as number) + 0,
    (d[at + NOTIONAL] as number) + 0,
    (d[at + NOTIONAL_C] as number) + 0,
    d[at + TRADES] as number,
    d[at + FLAGS] as number,
  ];
}

/** `Ohlcv.toSession` of the accumulator at `at`: the same fields in the same order. */
export function sessionAt(d: Float64Array, at: number): SessionCheckpoint {
  return {
    startMs: d[at + START] as number,
    open: priceOrNull(d[at + OPEN] as number),
    openMs: d[at + OPEN_MS] as number,
    openNs: d[at + OPEN_NS] as number,
    high: priceOrNull(d[at + HIGH] as number),
    low: priceOrNull(d[at + LOW] as number),
    close: priceOrNull(d[at + CLOSE] as number),
    closeMs: d[at + CLOSE_MS] as number,
    closeNs: d[at + CLOSE_NS] as number,
    volume: [(d[at + VOLUME] as number) + 0, (d[at + VOLUME_C] as number) + 0],
    notional: [(d[at + NOTIONAL] as number) + 0, (d[at + NOTIONAL_C] as number) + 0],
    trades: d[at + TRADES] as number,
    amended: ((d[at + FLAGS] as number) & FLAG_AMENDED) !== 0,
  };
}

/**
 * `x`, as a small integer where it is one. A `Float64Array` hands out every element as a boxed
 * double, and one boxed double stored into an `Ohlcv` field that held small integers turns that
 * field into a boxed double in every `Ohlcv` (V8's field representation): the trade count, the
 * nanoseconds and a share volume with its compensation, small integers in nearly every stock's bar,
 * would then cost a box each in every kept bar (210 against 325 heap numbers per symbol, measured).
 */
function small(x: number): number {
  // -0 becomes 0: none of these fields can be -0 (they start at 0 and add sizes and counts), and
  // every way out of an `Ohlcv` (tuple, session, bar) turns -0 into 0 anyway.
  return (x | 0) === x ? x | 0 : x;
}

/** A copy of the accumulator at `at` as an `Ohlcv`: every field as it is, but see `small`. */
export function ohlcvAt(d: Float64Array, at: number): Ohlcv {
  const o = new Ohlcv(d[at + START] as number);
  o.open = d[at + OPEN] as number;
  o.openMs = d[at + OPEN_MS] as number;
  o.openNs = small(d[at + OPEN_NS] as number);
  o.high = d[at + HIGH] as number;
  o.low = d[at + LOW] as number;
  o.close = d[at + CLOSE] as number;
  o.closeMs = d[at + CLOSE_MS] as number;
  o.closeNs = small(d[at + CLOSE_NS] as number);
  o.volumeSum = small(d[at + VOLUME] as number);
  o.volumeC = small(d[at + VOLUME_C] as number);
  o.notionalSum = d[at + NOTIONAL] as number;
  o.notionalC = d[at + NOTIONAL_C] as number;
  o.trades = small(d[at + TRADES] as number);
  const flags = d[at + FLAGS] as number;
  o.amended = (flags & FLAG_AMENDED) !== 0;
  o.dirty = (flags & FLAG_DIRTY) !== 0;
  return o;
}

/** Writes `o` at `at`, every field as it is: the inverse of `ohlcvAt`. */
export function storeAt(d: Float64Array, at: number, o: Readonly<Ohlcv>): void {
  d[at + START] = o.start;
  d[at + OPEN] = o.open;
  d[at + OPEN_MS] = o.openMs;
  d[at + OPEN_NS] = o.openNs;
  d[at + HIGH] = o.high;
  d[at + LOW] = o.low;
  d[at + CLOSE] = o.close;
  d[at + CLOSE_MS] = o.closeMs;
  d[at + CLOSE_NS] = o.closeNs;
  d[at + VOLUME] = o.volumeSum;
  d[at + VOLUME_C] = o.volumeC;
  d[at + NOTIONAL] = o.notionalSum;
  d[at + NOTIONAL_C] = o.notionalC;
  d[at + TRADES] = o.trades;
  d[at + FLAGS] = (o.amended ? FLAG_AMENDED : 0) | (o.dirty ? FLAG_DIRTY : 0);
}
