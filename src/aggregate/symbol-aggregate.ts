/**
 * Everything tickring keeps about one symbol: the last trade, the current session's open, high, low,
 * close, volume, VWAP and trade count, and the bars. All of it follows the trades' own timestamps, not
 * arrival order: a late trade earlier than the session's open becomes the open, one older than the last
 * trade does not replace it. State lives in plain fields (no per-trade objects), because `apply` runs
 * once per trade for every symbol a worker owns. The session and each bar are one `Ohlcv` each.
 *
 * Cancels and corrections: a correction arrives as a `cancel` carrying the original trade's values,
 * then a `correction` carrying the new ones. A cancel takes its size and notional back out of the
 * session and of the bars it fell in and decrements their trade counts, choosing what to take back by
 * the cancel's own conditions. Open, high, low, close and the last trade cannot be recomputed without
 * the trades (which are not kept), so they stay as they are and `amended` says so. A correction is then
 * applied like any trade.
 */
import { tradeTimeIso, type Trade } from '../../feeds/trade.js';
import { BarSet, type Bar, type BarSeriesSummary } from './bars.js';
import {
  CheckpointJson,
  type AggregateCheckpoint,
  type AggregateCounters,
  type LastTradeCheckpoint,
} from './checkpoint.js';
import { UPDATES_LAST, UPDATES_VOLUME, type ConditionRules } from './conditions.js';
import { isBefore, Ohlcv, priceOrNull } from './ohlcv.js';
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

export class SymbolAggregate {
  readonly options: AggregateOptions;
  private readonly rules: ConditionRules;
  private readonly sessionOf: (timeMs: number) => number;
  private barSet: BarSet;
  /** The current session; `null` before the first trade. */
  private session: Ohlcv | null = null;

  private hasLast = false;
  private lastPrice = 0;
  private lastSize = 0;
  private lastMs = 0;
  private lastNs = 0;
  private lastExchange = '';
  private lastId = '';

  private readonly counters: AggregateCounters = {
    lateSession: 0,
    invalid: 0,
    cancels: 0,
    corrections: 0,
    unmatchedCancels: 0,
  };

  /** Changes so far, and the count the last checkpoint was taken at. */
  private changeCount = 0;
  private cleanAt = 0;

  constructor(
    readonly symbol: string,
    options: Partial<AggregateOptions> = {},
  ) {
    this.options = resolveAggregateOptions(options);
    this.rules = this.options.conditionRules;
    this.sessionOf = sessionStartFor(this.options);
    this.barSet = new BarSet(this.options.barIntervalsMs, this.options.barCap);
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
    this.barSet.apply(price, size, timeMs, timeNanos, mask);
    let session = this.session;
    if (session === null || sessionStart !== session.start) {
      if (session !== null && sessionStart < session.start) {
        this.counters.lateSession++;
        return;
      }
      // A trade from a newer session rolls it (once a day: the one allocation here besides new bars).
      session = this.session = new Ohlcv(sessionStart);
    }
    session.apply(price, size, timeMs, timeNanos, mask);
    if (
      (mask & UPDATES_LAST) !== 0 &&
      (!this.hasLast || !isBefore(timeMs, timeNanos, this.lastMs, this.lastNs))
    ) {
      this.hasLast = true;
      this.lastPrice = price;
      this.lastSize = size;
      this.lastMs = timeMs;
      this.lastNs = timeNanos;
      this.lastExchange = trade.exchange;
      this.lastId = trade.id;
    }
  }

  private cancel(price: number, size: number, timeMs: number, sessionStart: number, mask: number): void {
    this.counters.cancels++;
    this.barSet.cancel(price, size, timeMs, mask);
    const session = this.session;
    if (session === null || sessionStart !== session.start) {
      if (session !== null && sessionStart < session.start) this.counters.lateSession++;
      else this.counters.unmatchedCancels++;
      return;
    }
    // A cancel whose conditions say "no volume" took nothing in, so it takes nothing out.
    if ((mask & UPDATES_VOLUME) !== 0 && !session.cancel(price, size)) this.counters.unmatchedCancels++;
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
    const s = this.session;
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
      last: this.hasLast
        ? {
            price: this.lastPrice,
            size: this.lastSize,
            time: tradeTimeIso(this.lastMs, this.lastNs),
            exchange: this.lastExchange,
            id: this.lastId,
          }
        : null,
      amended: s?.amended ?? false,
      counters: { ...this.counters },
      bars: this.barSet.summary(),
    };
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
      session: this.session?.toSession() ?? null,
      last: this.lastCheckpoint(),
      counters: { ...this.counters },
      bars: this.barSet.toCheckpoint(),
    };
  }

  /**
   * `JSON.stringify(this.toCheckpoint())`, made without the intermediate objects and reusing the text
   * of completed bars (see `BarSeries.checkpointJson`): a worker checkpoints every symbol that traded,
   * each with every kept bar, once per period, and building then stringifying those tuples took most
   * of its time and garbage at thousands of symbols. Like `toCheckpoint`, it is a snapshot taken now.
   *
   * The pieces are joined once into a flat string. The worker holds every record until the whole
   * checkpoint is written, across many scavenges: a flat string is one object to copy, where
   * concatenating pieces (`+=`) would leave a tree of dozens.
   */
  checkpointJson(): CheckpointJson {
    const session = this.session === null ? 'null' : JSON.stringify(this.session.toSession());
    const out = [
      `{"version":1,"symbol":${JSON.stringify(this.symbol)},"session":${session},` +
        `"last":${JSON.stringify(this.lastCheckpoint())},"counters":${JSON.stringify(this.counters)},"bars":`,
    ];
    this.barSet.checkpointJson(out);
    out.push('}');
    return new CheckpointJson(out.join(''));
  }

  private lastCheckpoint(): LastTradeCheckpoint | null {
    if (!this.hasLast) return null;
    return {
      price: this.lastPrice,
      size: this.lastSize,
      timeMs: this.lastMs,
      timeNanos: this.lastNs,
      exchange: this.lastExchange,
      id: this.lastId,
    };
  }

  /**
   * Rebuilds an aggregate from a checkpoint (run untrusted input through `parseCheckpoint` first). The
   * options apply from now on: bar series are restored for the intervals they still name. The result
   * starts clean.
   */
  static fromCheckpoint(c: AggregateCheckpoint, options: Partial<AggregateOptions> = {}): SymbolAggregate {
    const agg = new SymbolAggregate(c.symbol, options);
    agg.barSet = new BarSet(agg.options.barIntervalsMs, agg.options.barCap, c.bars);
    if (c.session !== null) agg.session = Ohlcv.fromSession(c.session);
    if (c.last !== null) {
      agg.hasLast = true;
      agg.lastPrice = c.last.price;
      agg.lastSize = c.last.size;
      agg.lastMs = c.last.timeMs;
      agg.lastNs = c.last.timeNanos;
      agg.lastExchange = c.last.exchange;
      agg.lastId = c.last.id;
    }
    Object.assign(agg.counters, c.counters);
    return agg;
  }
}
