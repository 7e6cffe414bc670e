/**
 * An aggregate's checkpoint as raw doubles: the form a worker writes for every symbol that traded,
 * once per checkpoint period. As JSON text the same checkpoint cost 30-40 µs per symbol, nearly all of
 * it spent formatting numbers (and more again in the garbage it left), which at 8,000 symbols took a
 * third of a worker's core; copied as doubles it costs a few µs. The per-trade state already lives as
 * doubles in the aggregate's slab record, in the bar tuple's order, so the writer mostly copies.
 *
 * Layout, all little-endian float64 but for the strings at the end:
 *
 * | at | what |
 * | --- | --- |
 * | 0 | `PACKED_FORMAT` |
 * | 1-3 | UTF-8 bytes of the symbol, of the last trade's exchange and of its id (exchange -1: no last trade) |
 * | 4 | number of bar series |
 * | 5-9 | counters: late session, invalid, cancels, corrections, unmatched cancels |
 * | 10-24 | the session as a bar tuple (start NaN: no session yet; flags 1 = amended) |
 * | 25-28 | the last trade: price, size, time ms, time ns |
 * | 29- | per series: interval, watermark (NaN: none), late dropped, unmatched cancels, unpublished dropped, kept bars, outbox bars; then the kept bars' tuples, oldest first, then the outbox's |
 * | end | the three strings, one after another |
 *
 * A tuple's prices are NaN where the JSON form has `null`. `unpackCheckpoint` turns the bytes back into
 * the `AggregateCheckpoint` that `toCheckpoint()` gives, unchecked: run it through `parseCheckpoint`,
 * which checks every value as it checks JSON read from Redis.
 */
import { endianness } from 'node:os';
import { TickringError } from '../errors.js';
import {
  parseCheckpoint,
  type AggregateCheckpoint,
  type BarSeriesCheckpoint,
  type BarTuple,
  type SessionCheckpoint,
} from './checkpoint.js';
import { OHLCV_LENGTH } from './flat-ohlcv.js';

/** The layout's version, the first double; another value is refused. */
export const PACKED_FORMAT = 1;

export const PACKED_SYMBOL_BYTES = 1;
export const PACKED_EXCHANGE_BYTES = 2;
export const PACKED_ID_BYTES = 3;
export const PACKED_SERIES_COUNT = 4;
export const PACKED_COUNTERS = 5;
export const PACKED_SESSION = 10;
export const PACKED_LAST = PACKED_SESSION + OHLCV_LENGTH;
/** Doubles before the first series. */
export const PACKED_HEADER = PACKED_LAST + 4;
/** Doubles before a series' tuples. */
export const PACKED_SERIES_HEADER = 7;

/** The counters, in the order the layout keeps them. */
export const PACKED_COUNTER_NAMES = [
  'lateSession',
  'invalid',
  'cancels',
  'corrections',
  'unmatchedCancels',
] as const;
/** Tuple elements that are prices: `null` in the JSON form where the double is NaN. */
const PRICE_AT = new Set([1, 4, 5, 6]);
const FLAG_AMENDED = 1;
const MAX_FLAGS = 3;
const BIG_ENDIAN = endianness() === 'BE';

/**
 * A packed checkpoint's bytes, held off the V8 heap as checkpoint text was (see `byte-slab.ts`).
 * `CheckpointStore` writes them as they are; `toJSON` gives the JSON form, so a record holding one
 * still prints as a plain record.
 */
export class PackedCheckpoint {
  constructor(readonly bytes: Buffer) {}

  toJSON(): unknown {
    return unpackCheckpoint(this.bytes);
  }
}

let scratch = new Float64Array(1_024);
/** The scratch's bytes, for `Buffer.copy`: native, where `set` from a `subarray` made a view per call. */
let scratchBytes = Buffer.from(scratch.buffer);

/**
 * Room for `doubles` values, reused from one checkpoint to the next (one thread writes checkpoints,
 * and each is copied out by `writePacked` before the next begins).
 */
export function packScratch(doubles: number): Float64Array {
  if (scratch.length < doubles) {
    scratch = new Float64Array(Math.max(doubles, 2 * scratch.length));
    scratchBytes = Buffer.from(scratch.buffer);
  }
  return scratch;
}

/** The first `doubles` values of the scratch and then `strings`, copied to `out` at `at` as one checkpoint. */
export function writePacked(out: Buffer, at: number, doubles: number, strings: string): void {
  const bodyBytes = doubles * 8;
  scratchBytes.copy(out, at, 0, bodyBytes);
  if (BIG_ENDIAN) out.subarray(at, at + bodyBytes).swap64();
  out.write(strings, at + bodyBytes);
}

function corrupt(problem: string): TickringError {
  return new TickringError(
    'TICKRING_ERR_CORRUPT_STATE',
    `packed aggregate checkpoint is corrupt: ${problem}`,
  );
}

/**
 * A count or length from the bytes: an integer from -1 ("none", where the layout allows it; the
 * callers refuse it elsewhere) to `max`.
 */
function countAt(d: Float64Array, at: number, what: string, max: number): number {
  const value = d[at] as number;
  if (!Number.isInteger(value) || value < -1 || value > max) throw corrupt(`${what} is ${value}`);
  return value;
}

/**
 * A double as the JSON form would give it back: -0 as 0 (JSON has no -0), and integers as V8's small
 * integers rather than boxed doubles (see `small` in `flat-ohlcv.ts` for why that matters to the bars
 * built from them).
 */
function plain(x: number): number {
  return (x | 0) === x ? x | 0 : x + 0;
}

function tupleAt(d: Float64Array, at: number): BarTuple {
  const tuple: (number | null)[] = [];
  for (let i = 0; i < OHLCV_LENGTH; i++) {
    const x = d[at + i] as number;
    tuple.push(Number.isNaN(x) && PRICE_AT.has(i) ? null : plain(x));
  }
  return tuple as BarTuple;
}

function sessionAt(d: Float64Array, at: number): SessionCheckpoint | null {
  if (Number.isNaN(d[at])) return null;
  const t = tupleAt(d, at);
  const flags = t[14];
  if (!Number.isInteger(flags) || flags < 0 || flags > MAX_FLAGS) throw corrupt(`session flags are ${flags}`);
  return {
    startMs: t[0],
    open: t[1],
    openMs: t[2],
    openNs: t[3],
    high: t[4],
    low: t[5],
    close: t[6],
    closeMs: t[7],
    closeNs: t[8],
    volume: [t[9], t[10]],
    notional: [t[11], t[12]],
    trades: t[13],
    amended: (flags & FLAG_AMENDED) !== 0,
  };
}

/**
 * The first `count` doubles of `bytes`, copied to an aligned array of their own (the bytes sit
 * anywhere in a record) in this machine's byte order.
 */
function doublesOf(bytes: Uint8Array, count: number): Float64Array {
  const d = new Float64Array(count);
  new Uint8Array(d.buffer).set(bytes.subarray(0, count * 8));
  if (BIG_ENDIAN) Buffer.from(d.buffer).swap64();
  return d;
}

/**
 * The header of packed bytes (the doubles before the first series, laid out as above), unchecked;
 * `undefined` where the bytes are too few or of another format.
 */
export function packedHeader(bytes: Uint8Array): Float64Array | undefined {
  if (bytes.length < PACKED_HEADER * 8) return undefined;
  const d = doublesOf(bytes, PACKED_HEADER);
  return d[0] === PACKED_FORMAT ? d : undefined;
}

/**
 * `parseCheckpoint` of an aggregate as a checkpoint record holds it: JSON-parsed, or still packed
 * (a record read with `unpack: false`, see `parseCheckpointRecord`).
 */
export function parseStoredCheckpoint(value: unknown): AggregateCheckpoint {
  return parseCheckpoint(value instanceof PackedCheckpoint ? unpackCheckpoint(value.bytes) : value);
}

/**
 * The `AggregateCheckpoint` in `bytes` (see the layout above), unchecked but for the framing: the
 * counts must fit the bytes exactly. Throws `TICKRING_ERR_CORRUPT_STATE` where they do not.
 */
export function unpackCheckpoint(bytes: Uint8Array): unknown {
  if (bytes.length < PACKED_HEADER * 8) throw corrupt(`${bytes.length} bytes are too few`);
  const doubles = Math.floor(bytes.length / 8);
  const d = doublesOf(bytes, doubles);
  if (d[0] !== PACKED_FORMAT) throw corrupt(`format ${d[0]} is not ${PACKED_FORMAT}`);
  const seriesCount = countAt(d, PACKED_SERIES_COUNT, 'the series count', doubles);
  const bars: BarSeriesCheckpoint[] = [];
  let at = PACKED_HEADER;
  for (let s = 0; s < seriesCount; s++) {
    if (at + PACKED_SERIES_HEADER > doubles) throw corrupt(`series ${s} runs past the end`);
    const kept = countAt(d, at + 5, `series ${s}'s kept bar count`, doubles);
    const outbox = countAt(d, at + 6, `series ${s}'s outbox count`, doubles);
    const end = at + PACKED_SERIES_HEADER + (kept + outbox) * OHLCV_LENGTH;
    if (kept < 0 || outbox < 0 || end > doubles) throw corrupt(`series ${s} runs past the end`);
    const watermark = d[at + 1] as number;
    const series: BarSeriesCheckpoint = {
      intervalMs: plain(d[at] as number),
      watermarkMs: Number.isNaN(watermark) ? null : plain(watermark),
      lateDropped: plain(d[at + 2] as number),
      unmatchedCancels: plain(d[at + 3] as number),
      unpublishedDropped: plain(d[at + 4] as number),
      bars: [],
      outbox: [],
    };
    at += PACKED_SERIES_HEADER;
    for (let i = 0; i < kept; i++, at += OHLCV_LENGTH) series.bars.push(tupleAt(d, at));
    for (let i = 0; i < outbox; i++, at += OHLCV_LENGTH) series.outbox.push(tupleAt(d, at));
    bars.push(series);
  }
  const symbolBytes = countAt(d, PACKED_SYMBOL_BYTES, 'the symbol length', bytes.length);
  const exchangeBytes = countAt(d, PACKED_EXCHANGE_BYTES, 'the exchange length', bytes.length);
  const idBytes = countAt(d, PACKED_ID_BYTES, 'the trade id length', bytes.length);
  if (symbolBytes < 0 || idBytes < 0) throw corrupt('a string length is negative');
  const symbolAt = at * 8;
  const exchangeAt = symbolAt + symbolBytes;
  const idAt = exchangeAt + Math.max(0, exchangeBytes);
  if (idAt + idBytes !== bytes.length) {
    throw corrupt(`${bytes.length} bytes do not match the lengths the header gives`);
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const counters: Record<string, number> = {};
  PACKED_COUNTER_NAMES.forEach((name, i) => (counters[name] = plain(d[PACKED_COUNTERS + i] as number)));
  return {
    version: 1,
    symbol: text.toString('utf8', symbolAt, exchangeAt),
    session: sessionAt(d, PACKED_SESSION),
    last:
      exchangeBytes < 0
        ? null
        : {
            price: plain(d[PACKED_LAST] as number),
            size: plain(d[PACKED_LAST + 1] as number),
            timeMs: plain(d[PACKED_LAST + 2] as number),
            timeNanos: plain(d[PACKED_LAST + 3] as number),
            exchange: text.toString('utf8', exchangeAt, idAt),
            id: text.toString('utf8', idAt, idAt + idBytes),
          },
    counters,
    bars,
  };
}
