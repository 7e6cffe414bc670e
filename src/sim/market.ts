/**
 * The simulated market: a deterministic stream of trades over a fixed universe. Given the same symbols,
 * seed and skew, the n-th trade always has the same symbol, price, size, exchange, conditions, id and
 * sequence (only `timeMs`, the wall clock at emission, differs). The market trades every symbol whether
 * or not anyone listens, so what a subscriber sees is a filter over one shared truth.
 *
 * This is the hot path at 200k trades/s: per-symbol state lives in typed arrays indexed by the Zipf
 * rank, and a trade costs a handful of PRNG draws, one binary search and one object.
 */
import { NO_CONDITIONS, type Trade } from '../../feeds/trade.js';
import { Prng } from './prng.js';
import { ZipfTable } from './zipf.js';

/**
 * Polygon's numeric exchange ids, repeated to weight them: 4 is the FINRA trade reporting facility
 * (off-exchange prints, the most common), 12 Nasdaq, 11 NYSE Arca, 10 NYSE, 8 Cboe EDGX, 19 Cboe BZX, 15 IEX.
 */
const EXCHANGES: readonly string[] = ['4', '4', '4', '12', '12', '11', '10', '8', '19', '15'];
/** Intermarket sweep + trade-through exempt, a common pair on round lots. */
const SWEEP_CONDITIONS: readonly string[] = Object.freeze(['14', '41']);
const ODD_LOT_CONDITIONS: readonly string[] = Object.freeze(['37']);
const ODD_LOT_SHARE = 0.1;
const SWEEP_SHARE = 0.05;
/** Prices never walk below one dollar, which keeps the walk away from zero and odd sub-penny rules. */
const MIN_CENTS = 100;

export interface MarketOptions {
  readonly symbols: readonly string[];
  readonly seed: number;
  /** Zipf exponent; 0 gives every symbol the same rate. */
  readonly skew: number;
}

export interface SymbolTotals {
  readonly trades: number;
  readonly volume: number;
  /** The id of the last trade generated, `''` before the first. */
  readonly lastId: string;
}

export class Market {
  readonly symbols: readonly string[];
  private readonly rng: Prng;
  private readonly zipf: ZipfTable;
  private readonly cents: Float64Array;
  private readonly counts: Float64Array;
  private readonly volumes: Float64Array;
  private seq = 0;
  private totalVolume = 0;

  constructor(options: MarketOptions) {
    if (options.symbols.length === 0) throw new RangeError('the market needs at least one symbol');
    this.symbols = options.symbols;
    this.rng = new Prng(options.seed);
    this.zipf = new ZipfTable(options.symbols.length, options.skew);
    const n = options.symbols.length;
    this.cents = new Float64Array(n);
    this.counts = new Float64Array(n);
    this.volumes = new Float64Array(n);
    // Start prices come from the same seed, drawn before any trade, so they too are reproducible.
    for (let k = 0; k < n; k++) this.cents[k] = this.rng.int(1_000, 50_000);
  }

  /** Total trades generated so far (also the last sequence number handed out). */
  get totalTrades(): number {
    return this.seq;
  }

  get totalVolumeTraded(): number {
    return this.totalVolume;
  }

  /** Appends `count` new trades, all stamped `timeMs`, to `out`. */
  generate(count: number, timeMs: number, out: Trade[]): void {
    for (let i = 0; i < count; i++) out.push(this.next(timeMs));
  }

  next(timeMs: number): Trade {
    const rng = this.rng;
    const k = this.zipf.pick(rng.next());
    const cents = this.step(k);
    let size: number;
    let conditions = NO_CONDITIONS;
    if (rng.chance(ODD_LOT_SHARE)) {
      size = rng.int(1, 99);
      conditions = ODD_LOT_CONDITIONS;
    } else {
      size = rng.int(1, 10) * 100;
      if (rng.chance(SWEEP_SHARE)) conditions = SWEEP_CONDITIONS;
    }
    const exchange = EXCHANGES[rng.int(0, EXCHANGES.length - 1)] ?? '4';
    const count = (this.counts[k] ?? 0) + 1;
    this.counts[k] = count;
    this.volumes[k] = (this.volumes[k] ?? 0) + size;
    this.totalVolume += size;
    return {
      symbol: this.symbols[k] ?? '',
      price: cents / 100,
      size,
      timeMs,
      timeNanos: 0,
      id: String(count),
      seq: ++this.seq,
      exchange,
      conditions,
      kind: 'trade',
      amendsId: '',
    };
  }

  /** Moves symbol k's price by a few ticks (about 2 basis points at most) and returns it in cents. */
  private step(k: number): number {
    const current = this.cents[k] ?? MIN_CENTS;
    const maxTicks = Math.max(1, Math.floor(current / 5_000));
    const next = Math.max(MIN_CENTS, current + this.rng.int(-maxTicks, maxTicks));
    this.cents[k] = next;
    return next;
  }

  totalsOf(index: number): SymbolTotals {
    const trades = this.counts[index] ?? 0;
    return { trades, volume: this.volumes[index] ?? 0, lastId: trades > 0 ? String(trades) : '' };
  }
}
