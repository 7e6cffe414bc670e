/**
 * The simulated market: a deterministic stream of trades over a fixed universe. Given the same symbols,
 * seed, skew and profile, the n-th trade always has the same symbol, price, size, exchange, conditions,
 * id and sequence (only `timeMs`, the wall clock at emission, differs). The market trades every symbol
 * whether or not anyone listens, so what a subscriber sees is a filter over one shared truth.
 *
 * Two kinds of market, from the provider's profile: stocks trade whole shares in whole cents with the
 * provider's exchange and condition codes; crypto trades decimal sizes (up to 8 decimals) at prices of
 * up to 4 decimals, without either. Sizes are kept as integers of their smallest unit, so the volume the
 * market reports is exact: the float nearest to the true decimal sum, whatever the order of adding.
 *
 * This is the hot path at 200k trades/s: per-symbol state lives in typed arrays indexed by the Zipf
 * rank, and a trade costs a handful of PRNG draws, one binary search and one object.
 */
import type { SimMarketProfile } from '../../feeds/adapter.js';
import { NO_CONDITIONS, type Trade } from '../../feeds/trade.js';
import { AmendmentLog, type SymbolAmendments } from './amendments.js';
import { Prng } from './prng.js';
import { ZipfTable } from './zipf.js';

/** US stocks with Polygon's numeric codes: the market when the protocol names no profile. */
export const DEFAULT_MARKET_PROFILE: SimMarketProfile = Object.freeze({
  assetClass: 'stocks',
  exchanges: Object.freeze(['4', '4', '4', '12', '12', '11', '10', '8', '19', '15']),
  oddLotConditions: Object.freeze(['37']),
  sweepConditions: Object.freeze(['14', '41']),
});

const ODD_LOT_SHARE = 0.1;
const SWEEP_SHARE = 0.05;

/** Price ticks per unit of currency, and the lowest price in ticks, per asset class. */
const STOCK_TICKS = 100; // cents; prices never walk below one dollar
const STOCK_MIN_TICKS = 100;
const CRYPTO_TICKS = 10_000; // 4 decimals; prices never walk below one cent
const CRYPTO_MIN_TICKS = 100;
/** Crypto sizes are whole multiples of 1e-8 (a satoshi), the finest unit Binance sends. */
const CRYPTO_SIZE_UNITS = 100_000_000;

export interface MarketOptions {
  readonly symbols: readonly string[];
  readonly seed: number;
  /** Zipf exponent; 0 gives every symbol the same rate. */
  readonly skew: number;
  /** Default: `DEFAULT_MARKET_PROFILE`. */
  readonly profile?: SimMarketProfile;
  /** Where to start the price walk of some symbols (see `referencePrices`); others start at random. */
  readonly startPrices?: ReadonlyMap<string, number>;
}

export interface SymbolTotals {
  /** Trades that count: generated and correction replacements, less cancelled ones. */
  readonly trades: number;
  /** Sum of the sizes of the trades that count (after corrections). */
  readonly volume: number;
  /** The last id handed out; ids run from `'1'` and each is used once. `''` before the first. */
  readonly lastId: string;
  /** Price and size of the last trade generated (what Coinbase replays as `last_match`); 0 before it. */
  readonly lastPrice: number;
  readonly lastSize: number;
  /** Ids of trades cancelled outright or replaced by a correction; every other id up to `lastId` counts. */
  readonly cancelledIds: readonly string[];
  readonly cancels: number;
  readonly corrections: number;
}

/** A correction (a `cancel` of the original, then the corrected trade) or a lone `cancel`. */
export type Amendment = readonly [Trade] | readonly [Trade, Trade];

export class Market {
  readonly symbols: readonly string[];
  readonly profile: SimMarketProfile;
  private readonly rng: Prng;
  private readonly zipf: ZipfTable;
  private readonly crypto: boolean;
  private readonly ticksPerUnit: number;
  private readonly minTicks: number;
  /** Size units per share or coin: 1 for stocks, 1e8 for crypto. */
  private readonly sizeUnits: number;
  private readonly ticks: Float64Array;
  /** Size of each symbol's last generated trade, in units. */
  private readonly lastUnits: Float64Array;
  /** Last id handed out per symbol. */
  private readonly ids: Float64Array;
  /** Trades that count per symbol, and their volume in size units. */
  private readonly counts: Float64Array;
  private readonly volumes: Float64Array;
  private readonly amendments: AmendmentLog;
  private seq = 0;
  private totalUnits = 0;
  private totalCount = 0;

  constructor(options: MarketOptions) {
    if (options.symbols.length === 0) throw new RangeError('the market needs at least one symbol');
    this.symbols = options.symbols;
    this.profile = options.profile ?? DEFAULT_MARKET_PROFILE;
    this.crypto = this.profile.assetClass === 'crypto';
    this.ticksPerUnit = this.crypto ? CRYPTO_TICKS : STOCK_TICKS;
    this.minTicks = this.crypto ? CRYPTO_MIN_TICKS : STOCK_MIN_TICKS;
    this.sizeUnits = this.crypto ? CRYPTO_SIZE_UNITS : 1;
    this.rng = new Prng(options.seed);
    this.zipf = new ZipfTable(options.symbols.length, options.skew);
    const n = options.symbols.length;
    this.ticks = new Float64Array(n);
    this.lastUnits = new Float64Array(n);
    this.ids = new Float64Array(n);
    this.counts = new Float64Array(n);
    this.volumes = new Float64Array(n);
    this.amendments = new AmendmentLog();
    // Start prices come from the same seed, drawn before any trade, so they too are reproducible.
    for (let k = 0; k < n; k++) {
      const drawn = this.startTicks();
      const given = options.startPrices?.get(this.symbols[k] ?? '');
      this.ticks[k] =
        given === undefined ? drawn : Math.max(this.minTicks, Math.round(given * this.ticksPerUnit));
    }
  }

  /** Stocks: $10 to $500. Crypto: from 1 cent to $10 000, evenly spread over the orders of magnitude. */
  private startTicks(): number {
    if (!this.crypto) return this.rng.int(1_000, 50_000);
    return Math.max(this.minTicks, Math.round(10 ** (2 + this.rng.next() * 6)));
  }

  /** Total trades generated so far (also the last sequence number handed out). */
  get totalTrades(): number {
    return this.seq;
  }

  /** Trades that count over all symbols, after cancels. */
  get totalCounted(): number {
    return this.totalCount;
  }

  /** Volume of the trades that count over all symbols, after cancels and corrections. */
  get totalVolumeTraded(): number {
    return this.totalUnits / this.sizeUnits;
  }

  /** Appends `count` new trades, all stamped `timeMs`, to `out`. */
  generate(count: number, timeMs: number, out: Trade[]): void {
    for (let i = 0; i < count; i++) out.push(this.next(timeMs));
  }

  next(timeMs: number): Trade {
    const rng = this.rng;
    const k = this.zipf.pick(rng.next());
    const ticks = this.step(k);
    const { units, conditions } = this.drawSize();
    const exchanges = this.profile.exchanges;
    // Drawn even without exchanges, so a profile's codes never shift the rest of the sequence.
    const exchangeIndex = rng.int(0, Math.max(0, exchanges.length - 1));
    const exchange = exchanges[exchangeIndex] ?? '';
    const id = (this.ids[k] ?? 0) + 1;
    this.ids[k] = id;
    this.lastUnits[k] = units;
    this.count(k, 1, units);
    const trade: Trade = {
      symbol: this.symbols[k] ?? '',
      price: ticks / this.ticksPerUnit,
      size: units / this.sizeUnits,
      timeMs,
      timeNanos: 0,
      id: String(id),
      seq: ++this.seq,
      exchange,
      conditions,
      kind: 'trade',
      amendsId: '',
    };
    this.amendments.remember(k, trade);
    return trade;
  }

  /** A size in units and the conditions that go with it (odd lots and sweeps are marked). */
  private drawSize(): { units: number; conditions: readonly string[] } {
    const rng = this.rng;
    const profile = this.profile;
    if (rng.chance(ODD_LOT_SHARE)) {
      if (this.crypto) return { units: rng.int(1, 99_999), conditions: NO_CONDITIONS };
      return { units: rng.int(1, 99), conditions: conditionsOr(profile.oddLotConditions) };
    }
    if (this.crypto) {
      // 1 to 9 999 in one of four magnitudes: 0.00001 up to 99.99 coins.
      return { units: rng.int(1, 9_999) * 10 ** rng.int(3, 6), conditions: NO_CONDITIONS };
    }
    const units = rng.int(1, 10) * 100;
    return {
      units,
      conditions: rng.chance(SWEEP_SHARE) ? conditionsOr(profile.sweepConditions) : NO_CONDITIONS,
    };
  }

  /** Moves symbol k's price by a few ticks (about 2 basis points at most) and returns it in ticks. */
  private step(k: number): number {
    const current = this.ticks[k] ?? this.minTicks;
    const maxTicks = Math.max(1, Math.floor(current / 5_000));
    const next = Math.max(this.minTicks, current + this.rng.int(-maxTicks, maxTicks));
    this.ticks[k] = next;
    return next;
  }

  private count(k: number, trades: number, units: number): void {
    this.counts[k] = (this.counts[k] ?? 0) + trades;
    this.volumes[k] = (this.volumes[k] ?? 0) + units;
    this.totalCount += trades;
    this.totalUnits += units;
  }

  /**
   * Cancels or corrects up to `count` recent trades (any symbol, chosen by the seed) and returns the
   * amendments in the order to send them. A correction cancels the original and replaces it with a
   * trade under a new id, a new size and a price one tick away, at the original's time. The totals
   * follow: a cancel takes its trade out, a correction swaps the size.
   */
  amend(kind: 'cancel' | 'correction', count: number): Amendment[] {
    const out: Amendment[] = [];
    for (let i = 0; i < count; i++) {
      const picked = this.amendments.take(this.rng);
      if (picked === undefined) break;
      const { index: k, trade: original } = picked;
      const cancel: Trade = { ...original, kind: 'cancel', amendsId: original.id, seq: null };
      this.count(k, -1, -Math.round(original.size * this.sizeUnits));
      if (kind === 'cancel') {
        this.amendments.recordCancel(k, original.id);
        out.push([cancel]);
        continue;
      }
      const { units } = this.drawSize();
      const ticks = Math.max(this.minTicks, Math.round(original.price * this.ticksPerUnit) + 1);
      const id = (this.ids[k] ?? 0) + 1;
      this.ids[k] = id;
      this.count(k, 1, units);
      const corrected: Trade = {
        ...original,
        price: ticks / this.ticksPerUnit,
        size: units / this.sizeUnits,
        id: String(id),
        seq: null,
        kind: 'correction',
        amendsId: original.id,
      };
      this.amendments.recordCorrection(k, original.id);
      out.push([cancel, corrected]);
    }
    return out;
  }

  totalsOf(index: number): SymbolTotals {
    const lastId = this.ids[index] ?? 0;
    const amended: SymbolAmendments = this.amendments.of(index);
    return {
      trades: this.counts[index] ?? 0,
      volume: (this.volumes[index] ?? 0) / this.sizeUnits,
      lastId: lastId > 0 ? String(lastId) : '',
      lastPrice: lastId > 0 ? (this.ticks[index] ?? 0) / this.ticksPerUnit : 0,
      lastSize: (this.lastUnits[index] ?? 0) / this.sizeUnits,
      cancelledIds: amended.cancelledIds,
      cancels: amended.cancels,
      corrections: amended.corrections,
    };
  }

  /** Every id of symbol `index` that counts, in order: 1 to `lastId` less the cancelled ones. */
  liveIds(index: number): string[] {
    const cancelled = new Set(this.amendments.of(index).cancelledIds);
    const ids: string[] = [];
    const last = this.ids[index] ?? 0;
    for (let id = 1; id <= last; id++) if (!cancelled.has(String(id))) ids.push(String(id));
    return ids;
  }
}

function conditionsOr(codes: readonly string[]): readonly string[] {
  return codes.length === 0 ? NO_CONDITIONS : codes;
}
