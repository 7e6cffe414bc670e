/**
 * Everything tickring keeps about one symbol: the last trade, the current session's open, high, low,
 * close, volume, VWAP and trade count, and the bars. All of it follows the trades' own timestamps, not
 * arrival order: a late trade earlier than the session's open becomes the open, one older than the last
 * trade does not replace it. `apply` runs once per trade for every symbol a worker owns, so what it
 * updates (the last trade's numbers, the session and the open bar of each series) is one record of
 * doubles in a shared slab (`flat-slab.ts` says why), laid out as `HAS_LAST` .. `FIRST_SERIES` below;
 * completed bars are `Ohlcv` objects.
 *
 * Cancels and corrections: a correction arrives as a `cancel` carrying the original trade's values,
 * then a `correction` carrying the new ones. A cancel takes its size and notional back out of the
 * session and of the bars it fell in and decrements their trade counts, choosing what to take back by
 * the cancel's own conditions. Open, high, low, close and the last trade cannot be recomputed without
 * the trades (which are not kept), so they stay as they are and `amended` says so. A correction is then
 * applied like any trade.
 */
import { tradeTimeIso, type Trade } from '../../feeds/trade.js';
import { applyOpenBar, SERIES_LENGTH } from './bar-series.js';
import { BarSet, type Bar, type BarSeriesSummary } from './bars.js';
import {
  type AggregateCheckpoint,
  type AggregateCounters,
  type LastTradeCheckpoint,
  type SessionCheckpoint,
} from './checkpoint.js';
import { UPDATES_LAST, UPDATES_VOLUME, type ConditionRules } from './conditions.js';
import {
  applyAt,
  cancelAt,
  OHLCV_LENGTH,
  ohlcvAt,
  resetAt,
  sessionAt,
  startAt,
  storeAt,
  tradesAt,
} from './flat-ohlcv.js';
import { FlatRecord, type FlatSlab, type RecordPlacement } from './flat-slab.js';
import { isBefore, Ohlcv, priceOrNull } from './ohlcv.js';
import {
  PACKED_COUNTER_NAMES,
  PACKED_COUNTERS,
  PACKED_EXCHANGE_BYTES,
  PACKED_FORMAT,
  PACKED_HEADER,
  PACKED_ID_BYTES,
  PACKED_LAST,
  PACKED_SERIES_COUNT,
  PACKED_SESSION,
  PACKED_SYMBOL_BYTES,
  packedHeader,
  packScratch,
  writePacked,
  PackedCheckpoint,
} from './packed-checkpoint.js';
import { CHECKPOINT_SLAB } from './byte-slab.js';
import { resolveAggregateOptions, sessionStartFor, type AggregateOptions } from './options.js';

export interface LastTradeSnapshot {
  readonly price: number;
  readonly size: number;
  /** ISO 8601 with the precision the provider sent. */
  readonly time: string;
  readonly exchange: string;
  readonly id: string;
}

/** A plain, JSON-able view of an aggregate, for the HTTP API and the dashboard. */
export interface AggregateSnapshot {
  readonly symbol: string;
  /** Start of the current session, ISO 8601; `null` before the first trade. */
  readonly sessionStart: string | null;
  readonly trades: number;
  readonly volume: number;
  readonly vwap: number | null;
  readonly open: number | null;
  readonly high: number | null;
  readonly low: number | null;
  readonly close: number | null;
  readonly last: LastTradeSnapshot | null;
  /** A cancel touched this session; see the module comment for what it could not amend. */
  readonly amended: boolean;
  readonly counters: AggregateCounters;
  readonly bars: readonly BarSeriesSummary[];
}

/** A symbol's line in the listing (`SymbolAggregate.summary`). */
export interface AggregateSummary {
  /** Trades this session. */
  readonly trades: number;
  readonly lastPrice: number | null;
}

/** The aggregate's record: 1 once a trade set the last trade, then that trade's numbers. */
const HAS_LAST = 0;
const LAST_PRICE = 1;
const LAST_SIZE = 2;
const LAST_MS = 3;
const LAST_NS = 4;
/** The current session as a flat `Ohlcv`; its start is NaN before the first trade. */
const SESSION = 5;
/** One block per bar series (`SERIES_LENGTH` each), in the order of `barIntervalsMs`. */
const FIRST_SERIES = SESSION + OHLCV_LENGTH;

export class SymbolAggregate {
  // The fields every trade reads come first, so that they share the object's first cache lines.
  readonly symbol: string;
  private readonly slab: FlatSlab;
  private readonly at: number;
  private readonly rules: ConditionRules;
  private readonly sessionOf: (timeMs: number) => number;
  /** Changes so far, and the count the last checkpoint was taken at. */
  private changeCount = 0;
  private readonly seriesCount: number;
  private lastExchange = '';
  private lastId = '';
  private cleanAt = 0;
  private barSet: BarSet;
  /** The record of the per-trade state, kept from reuse while this aggregate lives (see `FlatRecord`). */
  readonly record: FlatRecord;
  readonly options: AggregateOptions;

  private readonly counters: AggregateCounters = {
    lateSession: 0,
    invalid: 0,
    cancels: 0,
    corrections: 0,
    unmatchedCancels: 0,
  };

  /**
   * @param placement `own` for an aggregate made to be read once and dropped (see `RecordPlacement`);
   *   every aggregate a worker feeds stays `shared`
   */
  constructor(
    symbol: string,
    options: Partial<AggregateOptions> = {},
    placement: RecordPlacement = 'shared',
  ) {
    this.symbol = symbol;
    const resolved = resolveAggregateOptions(options);
    const intervals = resolved.barIntervalsMs;
    this.record = new FlatRecord(FIRST_SERIES + intervals.length * SERIES_LENGTH, placement);
    this.slab = this.record.slab;
    this.at = this.record.at;
    this.seriesCount = intervals.length;
    this.rules = resolved.conditionRules;
    this.sessionOf = sessionStartFor(resolved);
    this.options = resolved;
    resetAt(this.slab.data, this.at + SESSION, NaN);
    this.barSet = new BarSet(intervals, resolved.barCap, [], this.record, FIRST_SERIES);
  }

  /** Applies one trade, correction or cancel. The per-trade hot path: allocates nothing but new bars. */
  apply(trade: Trade): void {
    this.changeCount++;
    const { price, size, timeMs, timeNanos } = trade;
    // The comparisons also reject NaN.
    if (!(price >= 0 && price < Infinity && size >= 0 && size < Infinity) || trade.symbol !== this.symbol) {
      this.counters.invalid++;
      return;
    }
    const mask = this.rules.mask(trade.conditions);
    const sessionStart = this.sessionOf(timeMs);
    if (trade.kind === 'cancel') {
      this.cancel(price, size, timeMs, sessionStart, mask);
      return;
    }
    if (trade.kind === 'correction') this.counters.corrections++;
    // `BarSet.apply` inlined: the open bars are read here from the record, and a series object is
    // touched only for a trade outside its open bar. The slab grows only when a record is taken, never
    // during `apply`, so `d` stays the slab's array throughout.
    const d = this.slab.data;
    const at = this.at;
    for (let i = 0, block = at + FIRST_SERIES; i < this.seriesCount; i++, block += SERIES_LENGTH) {
      if (!applyOpenBar(d, block, price, size, timeMs, timeNanos, mask)) {
        this.barSet.series[i]?.apply(price, size, timeMs, timeNanos, mask);
      }
    }
    // NaN (no session yet) compares false.
    const session = startAt(d, at + SESSION);
    if (sessionStart !== session) {
      if (sessionStart < session) {
        this.counters.lateSession++;
        return;
      }
      // A trade from a newer session rolls it (once a day).
      resetAt(d, at + SESSION, sessionStart);
    }
    applyAt(d, at + SESSION, price, size, timeMs, timeNanos, mask);
    if (
      (mask & UPDATES_LAST) !== 0 &&
      (d[at + HAS_LAST] === 0 ||
        !isBefore(timeMs, timeNanos, d[at + LAST_MS] as number, d[at + LAST_NS] as number))
    ) {
      d[at + HAS_LAST] = 1;
      d[at + LAST_PRICE] = price;
      d[at + LAST_SIZE] = size;
      d[at + LAST_MS] = timeMs;
      d[at + LAST_NS] = timeNanos;
      this.lastExchange = trade.exchange;
      this.lastId = trade.id;
    }
  }

  private cancel(price: number, size: number, timeMs: number, sessionStart: number, mask: number): void {
    this.counters.cancels++;
    this.barSet.cancel(price, size, timeMs, mask);
    const d = this.slab.data;
    const session = startAt(d, this.at + SESSION);
    if (sessionStart !== session) {
      // NaN (no session yet) compares false: unmatched.
      if (sessionStart < session) this.counters.lateSession++;
      else this.counters.unmatchedCancels++;
      return;
    }
    // A cancel whose conditions say "no volume" took nothing in, so it takes nothing out.
    if ((mask & UPDATES_VOLUME) !== 0 && !cancelAt(d, this.at + SESSION, price, size)) {
      this.counters.unmatchedCancels++;
    }
  }

  /** Completes bars that end at or before `timeMs` (Redis time), for symbols that stopped trading. */
  advanceTo(timeMs: number): void {
    this.barSet.advanceTo(timeMs);
  }

  /**
   * Bars completed or amended since the last call, to write to Redis. Taking them does not make the
   * aggregate dirty: the checkpoint in Redis then still marks them untaken, so a new owner restoring
   * it writes them once more, the same bars at the same keys, which changes nothing. Re-dirtying
   * instead cost a checkpoint of every symbol whose bar completed, traded or not.
   */
  takeCompletedBars(): Bar[] {
    return this.barSet.takeCompleted();
  }

  /** The newest `limit` bars of one interval, oldest first; `undefined` for an interval not kept. */
  listBars(intervalMs: number, limit?: number): Bar[] | undefined {
    return this.barSet.get(intervalMs)?.list(limit);
  }

  snapshot(): AggregateSnapshot {
    const s = this.session();
    const last = this.lastCheckpoint();
    return {
      symbol: this.symbol,
      sessionStart: s === null ? null : new Date(s.start).toISOString(),
      trades: s?.trades ?? 0,
      volume: s?.volume ?? 0,
      vwap: s?.vwap() ?? null,
      open: s === null ? null : priceOrNull(s.open),
      high: s === null ? null : priceOrNull(s.high),
      low: s === null ? null : priceOrNull(s.low),
      close: s === null ? null : priceOrNull(s.close),
      last:
        last === null
          ? null
          : {
              price: last.price,
              size: last.size,
              time: tradeTimeIso(last.timeMs, last.timeNanos),
              exchange: last.exchange,
              id: last.id,
            },
      amended: s?.amended ?? false,
      counters: { ...this.counters },
      bars: this.barSet.summary(),
    };
  }

  /**
   * What the symbol listing shows: the session's trade count and the last price, read in place
   * (`snapshot()` builds the whole answer, times as text and bar summaries included).
   */
  summary(): AggregateSummary {
    const d = this.slab.data;
    const at = this.at;
    const inSession = !Number.isNaN(startAt(d, at + SESSION));
    return {
      trades: inSession ? tradesAt(d, at + SESSION) : 0,
      lastPrice: d[at + HAS_LAST] === 0 ? null : (d[at + LAST_PRICE] as number),
    };
  }

  /**
   * `summary()` of the aggregate packed `bytes` hold (`checkpointPacked`), read from their header
   * without unpacking them: a new owner answers for a symbol whose restore it deferred without
   * restoring it. `undefined` where the bytes do not hold plausible figures; they are unchecked,
   * so the caller then restores, which checks everything and reports what is wrong.
   */
  static summaryOfPacked(bytes: Uint8Array): AggregateSummary | undefined {
    const d = packedHeader(bytes);
    if (d === undefined) return undefined;
    const trades = Number.isNaN(startAt(d, PACKED_SESSION)) ? 0 : tradesAt(d, PACKED_SESSION);
    const lastPrice = (d[PACKED_EXCHANGE_BYTES] as number) < 0 ? null : (d[PACKED_LAST] as number);
    if (!Number.isSafeInteger(trades) || trades < 0) return undefined;
    if (lastPrice !== null && !Number.isFinite(lastPrice)) return undefined;
    return { trades, lastPrice };
  }

  /** A counter that grows with every change; read it with `toCheckpoint()` and pass it to `markClean`. */
  get changes(): number {
    return this.changeCount;
  }

  /** Changed since the checkpoint last marked clean. */
  get dirty(): boolean {
    return this.changeCount !== this.cleanAt;
  }

  /**
   * Marks the state as written. Pass `changes` as read when the checkpoint was taken, so trades applied
   * while the write was in flight keep the aggregate dirty; without it, everything so far counts as
   * written.
   */
  markClean(asOf: number = this.changeCount): void {
    this.cleanAt = asOf;
  }

  /** For a write that failed after `markClean()`. */
  markDirty(): void {
    this.cleanAt = -1;
  }

  toCheckpoint(): AggregateCheckpoint {
    return {
      version: 1,
      symbol: this.symbol,
      session: this.sessionCheckpoint(),
      last: this.lastCheckpoint(),
      counters: { ...this.counters },
      bars: this.barSet.toCheckpoint(),
    };
  }

  /**
   * `toCheckpoint()` as raw doubles (see `packed-checkpoint.ts`, and there why): what a worker writes
   * every period for every symbol that traded. Like `toCheckpoint`, a snapshot taken now.
   */
  checkpointPacked(): PackedCheckpoint {
    const bytes = CHECKPOINT_SLAB.take(this.packedCheckpointLength());
    this.packCheckpointInto(bytes, 0);
    return new PackedCheckpoint(bytes);
  }

  /** Bytes `packCheckpointInto` writes. */
  packedCheckpointLength(): number {
    return this.packedDoubles() * 8 + Buffer.byteLength(this.packedStrings());
  }

  /** Doubles before the strings of a packed checkpoint. */
  private packedDoubles(): number {
    let doubles = PACKED_HEADER;
    for (const s of this.barSet.series) doubles += s.packedLength();
    return doubles;
  }

  /** The strings that end a packed checkpoint: the symbol, and the last trade's exchange and id. */
  private packedStrings(): string {
    return this.slab.data[this.at + HAS_LAST] !== 0
      ? this.symbol + this.lastExchange + this.lastId
      : this.symbol;
  }

  /**
   * `checkpointPacked()`'s bytes written at `at` of `out`, which must have room for
   * `packedCheckpointLength()` of them: a writer packing many checkpoints into one buffer copies each
   * once, and makes no object per checkpoint.
   */
  packCheckpointInto(out: Buffer, at: number): void {
    const series = this.barSet.series;
    const doubles = this.packedDoubles();
    const d = packScratch(doubles);
    const state = this.slab.data;
    const start = this.at;
    const hasLast = state[start + HAS_LAST] !== 0;
    d[0] = PACKED_FORMAT;
    d[PACKED_SYMBOL_BYTES] = Buffer.byteLength(this.symbol);
    d[PACKED_EXCHANGE_BYTES] = hasLast ? Buffer.byteLength(this.lastExchange) : -1;
    d[PACKED_ID_BYTES] = hasLast ? Buffer.byteLength(this.lastId) : 0;
    d[PACKED_SERIES_COUNT] = series.length;
    PACKED_COUNTER_NAMES.forEach((name, i) => (d[PACKED_COUNTERS + i] = this.counters[name]));
    d.set(state.subarray(start + SESSION, start + SESSION + OHLCV_LENGTH), PACKED_SESSION);
    d.set(state.subarray(start + LAST_PRICE, start + LAST_NS + 1), PACKED_LAST);
    let o = PACKED_HEADER;
    for (const s of series) o = s.packInto(d, o);
    writePacked(out, at, doubles, this.packedStrings());
  }

  /** The current session as a copy; `null` before the first trade. */
  private session(): Ohlcv | null {
    const d = this.slab.data;
    return Number.isNaN(startAt(d, this.at + SESSION)) ? null : ohlcvAt(d, this.at + SESSION);
  }

  private sessionCheckpoint(): SessionCheckpoint | null {
    const d = this.slab.data;
    return Number.isNaN(startAt(d, this.at + SESSION)) ? null : sessionAt(d, this.at + SESSION);
  }

  private lastCheckpoint(): LastTradeCheckpoint | null {
    const d = this.slab.data;
    const at = this.at;
    if (d[at + HAS_LAST] === 0) return null;
    return {
      price: d[at + LAST_PRICE] as number,
      size: d[at + LAST_SIZE] as number,
      timeMs: d[at + LAST_MS] as number,
      timeNanos: d[at + LAST_NS] as number,
      exchange: this.lastExchange,
      id: this.lastId,
    };
  }

  /**
   * Rebuilds an aggregate from a checkpoint (run untrusted input through `parseCheckpoint` first). The
   * options apply from now on: bar series are restored for the intervals they still name. The result
   * starts clean.
   */
  static fromCheckpoint(
    c: AggregateCheckpoint,
    options: Partial<AggregateOptions> = {},
    placement: RecordPlacement = 'shared',
  ): SymbolAggregate {
    const agg = new SymbolAggregate(c.symbol, options, placement);
    agg.barSet = new BarSet(agg.options.barIntervalsMs, agg.options.barCap, c.bars, agg.record, FIRST_SERIES);
    const d = agg.slab.data;
    const at = agg.at;
    if (c.session !== null) storeAt(d, at + SESSION, Ohlcv.fromSession(c.session));
    if (c.last !== null) {
      d[at + HAS_LAST] = 1;
      d[at + LAST_PRICE] = c.last.price;
      d[at + LAST_SIZE] = c.last.size;
      d[at + LAST_MS] = c.last.timeMs;
      d[at + LAST_NS] = c.last.timeNanos;
      agg.lastExchange = c.last.exchange;
      agg.lastId = c.last.id;
    }
    Object.assign(agg.counters, c.counters);
    return agg;
  }
}
