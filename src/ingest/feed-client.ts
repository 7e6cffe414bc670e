/**
 * The feed client workers and relays use: the symbols they want, spread over as many provider
 * connections as the provider's cap on streams per connection requires (Binance: 1,024; the other
 * providers have none and get exactly one connection). Each connection is a `FeedConnection` with its
 * own socket, back-off, frame pacing, silence watchdog and subscription confirmations, so one that
 * drops reconnects and resubscribes only its own symbols. To its users the client is one feed:
 *
 * - one stream per symbol: trades go to `onTrade` as before, gaps in trade numbers are counted here
 *   on that stream, and `isConfirmed` / `confirmedForMs` ask the connection carrying the symbol;
 * - a symbol stays on its connection for as long as it is wanted (see `connection-plan.ts`). When
 *   the set shrinks, a connection left empty is closed at once; when more connections stay open
 *   than the set needs for `consolidateAfterMs`, the emptiest are drained make before break (see
 *   `SymbolMove`) and closed. Only providers that number trades (Binance) move symbols: elsewhere a
 *   move could not be made exact, and those providers have no cap anyway;
 * - connection attempts are paced per client where the provider limits them per IP (`ConnectGate`);
 * - `status` is `ready` when every connection is (one opening for new symbols does not count while
 *   another is ready); `ready` is emitted when that becomes true, `disconnected` whenever any ready
 *   connection drops, naming the symbols whose trades it was handing on (they missed trades; the
 *   symbols on the other connections did not).
 */
import { EventEmitter } from 'node:events';
import type { Trade } from '../../feeds/trade.js';
import type { Logger } from '../log.js';
import { ConnectGate } from './connect-gate.js';
import { connectionsNeeded, connectionsToDrain, placeSymbols, type Load } from './connection-plan.js';
import {
  DEFAULT_FEED_CONNECTION_OPTIONS,
  FeedConnection,
  LAG_SAMPLE_EVERY,
  LAG_WINDOW_MS,
  type FeedClientEvents,
  type FeedClientStatus,
  type FeedConnectionOptions,
} from './feed-connection.js';
import { newFeedStats, type FeedClientStats } from './feed-stats.js';
import { GapTracker } from './gap-tracker.js';
import { LagSampler } from './lag-sampler.js';
import { RateLimitedLog } from './rate-limited-log.js';
import { SymbolMove } from './symbol-move.js';

export type { FeedClientEvents, FeedClientStatus } from './feed-connection.js';
export type { FeedClientStats } from './feed-stats.js';
export { LAG_SAMPLE_EVERY, LAG_WINDOW_MS } from './feed-connection.js';

export interface FeedClientOptions extends FeedConnectionOptions {
  /**
   * Most symbols one connection carries. Default, and ceiling: the adapter's
   * `limits.symbolsPerConnection` (Binance 1,024; unlimited elsewhere, so one connection). Lower it to
   * spread a set over more connections, as tests do to stay small.
   */
  readonly symbolsPerConnection?: number;
  /**
   * How long more connections must stay open than the symbols need before symbols are moved to close
   * the extra ones (ms). Default 10 000: a rebalance that shrinks the set and grows it back soon
   * after moves nothing.
   */
  readonly consolidateAfterMs: number;
  /**
   * A moving symbol whose old stream has said nothing for this long switches to its new connection
   * without an overlap, once the new one confirmed the subscription (ms). Default 1 000.
   */
  readonly moveQuietMs: number;
}

export const DEFAULT_FEED_CLIENT_OPTIONS = {
  ...DEFAULT_FEED_CONNECTION_OPTIONS,
  consolidateAfterMs: 10_000,
  moveQuietMs: 1_000,
} as const satisfies Partial<FeedClientOptions>;

/** Connection attempts a client may make at once before the provider's per-IP rate applies. */
const CONNECT_BURST = 5;
/** How often moves in progress are checked for a quiet switch and finished (ms). */
const MOVE_CHECK_MS = 100;

/** One connection and the symbols it is asked to carry (its own, plus those moving to or from it). */
interface Carrier {
  readonly id: number;
  readonly conn: FeedConnection;
  readonly symbols: Set<string>;
  /** Being emptied into the others so it can be closed: takes no new symbols. */
  draining: boolean;
}

type FeedClientInput = Pick<FeedClientOptions, 'adapter' | 'url' | 'credentials' | 'userAgent'> &
  Partial<FeedClientOptions>;

export class FeedClient extends EventEmitter<FeedClientEvents> {
  /** Ingest lag, sampled on one trade in `LAG_SAMPLE_EVERY`; the worker's metrics drain it. */
  readonly lag = new LagSampler(LAG_SAMPLE_EVERY, 4_096, LAG_WINDOW_MS);
  /** Every connection's counters in one place, plus `connections` and `symbolsMoved`. */
  readonly stats: FeedClientStats = newFeedStats(this.lag);
  /**
   * Whether decoded trades may be handed on; each connection asks once per frame. The worker says no
   * while its lease cannot be trusted (after a stall, buffered frames arrive before the fence timer runs).
   */
  acceptTrades: () => boolean = () => true;
  private readonly options: FeedClientOptions;
  /** Symbols per connection: the adapter's cap, or less if asked. */
  private readonly limit: number;
  /** Whether symbols may move between connections (the provider numbers trades, so moves are exact). */
  private readonly canMove: boolean;
  private readonly gate: ConnectGate | undefined;
  private readonly carriers = new Map<number, Carrier>();
  private nextCarrierId = 0;
  /** Which connection hands on each wanted symbol's trades (the old one while a symbol moves). */
  private readonly home = new Map<string, Carrier>();
  private readonly moves = new Map<string, SymbolMove<Carrier>>();
  private readonly wanted = new Set<string>();
  private readonly gapTracker: GapTracker | undefined;
  private readonly gapLog: RateLimitedLog;
  private started = false;
  private closed = false;
  /** Whether `ready` was emitted since every connection last became ready. */
  private allReady = false;
  private consolidateTimer: NodeJS.Timeout | undefined;
  private moveTimer: NodeJS.Timeout | undefined;

  constructor(
    options: FeedClientInput,
    private readonly onTrade: (trade: Trade) => void,
    private readonly log: Logger,
  ) {
    super();
    this.options = { ...DEFAULT_FEED_CLIENT_OPTIONS, ...options };
    const { adapter } = this.options;
    const cap = adapter.limits.symbolsPerConnection;
    const limit = this.options.symbolsPerConnection ?? cap;
    if (!(limit >= 1 && limit <= cap && (Number.isSafeInteger(limit) || limit === Infinity))) {
      throw new RangeError(
        `symbolsPerConnection must be an integer from 1 to ${cap} (${adapter.name}'s limit), got ${limit}`,
      );
    }
    this.limit = limit;
    this.canMove = Number.isFinite(limit) && adapter.sequentialId !== undefined;
    const perSecond = adapter.limits.connectionAttemptsPerSecond;
    this.gate = perSecond === undefined ? undefined : new ConnectGate(perSecond, CONNECT_BURST);
    this.gapTracker = adapter.sequentialId ? new GapTracker() : undefined;
    this.gapLog = new RateLimitedLog(log, 10_000);
    this.addCarrier();
  }

  /**
   * Current status: `ready` when every connection is, else the first connection's that is not. A
   * connection opened for new symbols and still on its first attempt does not count while another
   * is ready: nothing it was asked for has been subscribed yet, so nothing is interrupted (as for
   * a subscribe frame still waiting its turn), and the feed stays `ready` instead of flapping for the
   * time it takes to connect, or to wait its turn at the gate. An attempt that fails counts.
   */
  get status(): FeedClientStatus {
    if (this.closed) return 'closed';
    let anyReady = false;
    let opening: FeedClientStatus | undefined;
    for (const carrier of this.carriers.values()) {
      const status = carrier.conn.status;
      if (status === 'ready') anyReady = true;
      else if (carrier.conn.opening) opening ??= status;
      else return status;
    }
    return anyReady || opening === undefined ? 'ready' : opening;
  }

  /** The symbols currently subscribed on ready connections. */
  subscriptions(): string[] {
    const carriers = [...this.carriers.values()];
    if (carriers.length === 1) return carriers[0]?.conn.subscriptions() ?? [];
    // A moving symbol is subscribed on two connections.
    return [...new Set(carriers.flatMap((carrier) => carrier.conn.subscriptions()))].sort();
  }

  /**
   * How much longer the last connection waiting for its turn at the connect gate waits (ms; 0 when
   * none waits): symbols placed on it cannot be subscribed before then.
   */
  gateWaitMs(): number {
    let longest = 0;
    for (const carrier of this.carriers.values()) longest = Math.max(longest, carrier.conn.gateWaitMs);
    return longest;
  }

  /** Whether the provider confirmed `symbol`'s subscription on the connection handing it on. */
  isConfirmed(symbol: string): boolean {
    return this.home.get(symbol)?.conn.isConfirmed(symbol) ?? false;
  }

  /** How long ago the provider confirmed `symbol` on the connection handing it on; `undefined` if not. */
  confirmedForMs(symbol: string): number | undefined {
    return this.home.get(symbol)?.conn.confirmedForMs(symbol);
  }

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    for (const carrier of this.carriers.values()) carrier.conn.start();
  }

  /** Declares the symbols wanted; each connection sends its own difference on its open socket. */
  setSymbols(symbols: Iterable<string>): void {
    if (this.closed) return;
    const before = [...this.wanted];
    this.wanted.clear();
    for (const symbol of symbols) this.wanted.add(symbol);
    // A symbol let go and taken back later was not "missed" in between.
    for (const symbol of before) if (!this.wanted.has(symbol)) this.gapTracker?.forget(symbol);
    this.place();
  }

  /** Lets go of symbols no longer wanted, places new ones, closes emptied connections. */
  private place(): void {
    const dirty = new Set<Carrier>();
    for (const [symbol, carrier] of this.home) {
      if (this.wanted.has(symbol)) continue;
      this.home.delete(symbol);
      carrier.symbols.delete(symbol);
      dirty.add(carrier);
      // A move under way is abandoned: its new connection lets go too.
      const move = this.moves.get(symbol);
      if (move === undefined) continue;
      this.moves.delete(symbol);
      move.to.symbols.delete(symbol);
      dirty.add(move.to);
    }
    const added = [...this.wanted].filter((symbol) => !this.home.has(symbol)).sort();
    if (added.length > 0) {
      const open = [...this.carriers.values()].filter((carrier) => !carrier.draining);
      const { placed, fresh } = placeSymbols(added, open.map(loadOf), this.limit);
      const targets = [...placed].map(([id, symbols]) => [this.carrier(id), symbols] as const);
      for (const symbols of fresh) targets.push([this.addCarrier(), symbols]);
      for (const [carrier, symbols] of targets) {
        for (const symbol of symbols) {
          carrier.symbols.add(symbol);
          this.home.set(symbol, carrier);
        }
        dirty.add(carrier);
      }
    }
    for (const carrier of dirty) carrier.conn.setSymbols(carrier.symbols);
    this.closeEmpty();
    this.scheduleConsolidation();
  }

  private carrier(id: number): Carrier {
    const carrier = this.carriers.get(id);
    if (carrier === undefined) throw new Error(`feed client: no connection ${id}`);
    return carrier;
  }

  private addCarrier(): Carrier {
    const id = this.nextCarrierId++;
    // Without a cap there is only ever one connection: its log lines stay as they always were.
    const log = Number.isFinite(this.limit) ? this.log.child({ connection: id }) : this.log;
    const shared = { stats: this.stats, lag: this.lag, ...(this.gate ? { gate: this.gate } : {}) };
    const conn = new FeedConnection(this.options, (trade) => this.route(carrier, trade), log, shared);
    const carrier: Carrier = { id, conn, symbols: new Set(), draining: false };
    conn.acceptTrades = () => this.acceptTrades();
    conn.on('ready', () => this.updateReady());
    conn.on('disconnected', (reason, subscribed) => {
      const interrupted = subscribed.filter((symbol) => this.streamOf(symbol) === carrier);
      // What the new connection of a moving symbol buffered no longer joins up with what comes next.
      for (const move of this.moves.values()) if (move.to === carrier) move.restartBuffer();
      this.allReady = false;
      this.emit('disconnected', reason, interrupted);
    });
    conn.on('event', (event) => this.emit('event', event));
    this.carriers.set(id, carrier);
    this.connectionsChanged();
    if (this.started) conn.start();
    return carrier;
  }

  private removeCarrier(carrier: Carrier): void {
    carrier.conn.close();
    this.carriers.delete(carrier.id);
    this.connectionsChanged();
    // The one not ready may have been this one.
    this.updateReady();
  }

  private connectionsChanged(): void {
    const before = this.stats.connections;
    this.stats.connections = this.carriers.size;
    if (before > 0 && before !== this.carriers.size) {
      this.log.info(
        { connections: this.carriers.size, symbols: this.wanted.size },
        'feed connections changed',
      );
    }
  }

  /** Closes connections left with no symbols, the newest first; one always stays. */
  private closeEmpty(): void {
    const newestFirst = [...this.carriers.values()].reverse();
    for (const carrier of newestFirst) {
      if (this.carriers.size > 1 && carrier.symbols.size === 0) this.removeCarrier(carrier);
    }
  }

  private updateReady(): void {
    const ready = this.status === 'ready';
    if (ready && !this.allReady) {
      this.allReady = true;
      this.emit('ready');
    } else if (!ready) this.allReady = false;
  }

  /**
   * The connection whose trades of `symbol` are handed on: its home, or while it moves, the old
   * connection until the switch and the new one from then on (the move is finished a little later).
   */
  private streamOf(symbol: string): Carrier | undefined {
    const move = this.moves.get(symbol);
    if (move !== undefined) return move.switched ? move.to : move.from;
    return this.home.get(symbol);
  }

  /** Trades from one connection: one stream per symbol goes on, whichever connection carries it. */
  private route(carrier: Carrier, trade: Trade): void {
    if (this.moves.size > 0) {
      const move = this.moves.get(trade.symbol);
      if (move !== undefined) {
        if (carrier !== move.from && carrier !== move.to) return;
        for (const next of move.offer(carrier === move.from, trade, performance.now())) this.deliver(next);
        return;
      }
    }
    // After a move, the old connection may still send a few trades before its unsubscribe lands.
    if (this.carriers.size > 1) {
      const home = this.home.get(trade.symbol);
      if (home !== undefined && home !== carrier) return;
    }
    this.deliver(trade);
  }

  private deliver(trade: Trade): void {
    const tracker = this.gapTracker;
    if (tracker !== undefined && this.wanted.has(trade.symbol)) {
      const n = this.options.adapter.sequentialId?.(trade) ?? null;
      if (n !== null && tracker.observe(trade.symbol, n) > 0) {
        this.stats.gaps = tracker.gaps;
        this.stats.missedTrades = tracker.missed;
        this.gapLog.warn(
          'gap',
          { symbol: trade.symbol, at: n, gaps: tracker.gaps, missed: tracker.missed },
          'feed skipped trades: gap in trade numbers',
        );
      }
    }
    this.onTrade(trade);
  }

  /** Waits `consolidateAfterMs` before draining extra connections: the set may grow back. */
  private scheduleConsolidation(): void {
    if (!this.canMove || this.closed || this.moves.size > 0 || this.consolidateTimer !== undefined) return;
    if (this.carriers.size <= connectionsNeeded(this.wanted.size, this.limit)) return;
    this.consolidateTimer = setTimeout(() => {
      this.consolidateTimer = undefined;
      this.consolidate();
    }, this.options.consolidateAfterMs);
  }

  /** Starts moving the symbols of the emptiest connections into the others' room. */
  private consolidate(): void {
    if (this.closed || this.moves.size > 0) return;
    const draining = connectionsToDrain([...this.carriers.values()].map(loadOf), this.limit).map((id) =>
      this.carrier(id),
    );
    if (draining.length === 0) return;
    const keep = [...this.carriers.values()].filter((carrier) => !draining.includes(carrier));
    const moving = draining.flatMap((carrier) => [...carrier.symbols]).sort();
    const { placed, fresh } = placeSymbols(moving, keep.map(loadOf), this.limit);
    // By construction the kept connections have room for all; if not, nothing moves.
    if (fresh.length > 0) return;
    const now = performance.now();
    const seqOf = (trade: Trade): number | null => this.options.adapter.sequentialId?.(trade) ?? null;
    for (const carrier of draining) carrier.draining = true;
    for (const [id, symbols] of placed) {
      const to = this.carrier(id);
      for (const symbol of symbols) {
        const from = this.home.get(symbol);
        if (from === undefined) continue;
        to.symbols.add(symbol);
        this.moves.set(symbol, new SymbolMove(symbol, from, to, seqOf, now));
      }
      to.conn.setSymbols(to.symbols);
    }
    this.log.info(
      { symbols: this.moves.size, closing: draining.length, connections: this.carriers.size },
      'moving symbols to close feed connections no longer needed',
    );
    this.moveTimer = setInterval(() => this.checkMoves(), MOVE_CHECK_MS);
  }

  /**
   * Switches quiet moves whose new connection is confirmed, and finishes switched ones once settled
   * (or their new connection dropped: it resubscribes, and what it misses shows as a gap).
   */
  private checkMoves(): void {
    const now = performance.now();
    const dirty = new Set<Carrier>();
    for (const [symbol, move] of this.moves) {
      const quiet = move.from.conn.status !== 'ready' || move.quietForMs(now) >= this.options.moveQuietMs;
      if (!move.switched && quiet && move.to.conn.isConfirmed(symbol)) {
        for (const trade of move.force()) this.deliver(trade);
      }
      const ends = move.settled || (move.switched && move.to.conn.status !== 'ready');
      if (!ends) continue;
      this.moves.delete(symbol);
      this.home.set(symbol, move.to);
      move.from.symbols.delete(symbol);
      dirty.add(move.from);
      this.stats.symbolsMoved++;
    }
    for (const carrier of dirty) carrier.conn.setSymbols(carrier.symbols);
    if (this.moves.size > 0) return;
    clearInterval(this.moveTimer);
    this.moveTimer = undefined;
    for (const carrier of this.carriers.values()) carrier.draining = false;
    this.closeEmpty();
    this.log.info({ connections: this.carriers.size }, 'feed symbols moved');
    this.scheduleConsolidation();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.consolidateTimer);
    clearInterval(this.moveTimer);
    // Every connection is closed even if one throws; closing is never what fails a shutdown.
    for (const carrier of this.carriers.values()) {
      try {
        carrier.conn.close();
      } catch (err) {
        this.log.warn({ err, connection: carrier.id }, 'feed connection did not close cleanly');
      }
    }
  }
}

function loadOf(carrier: Carrier): Load {
  return { id: carrier.id, size: carrier.symbols.size };
}
