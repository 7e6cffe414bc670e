/**
 * The contract every provider module in `feeds/` fulfils. An adapter is a pure codec: it turns the
 * provider's frames into normalized trades and control events, and builds the frames a client sends.
 * It owns no socket; `src/ingest/feed-client.ts` drives it. The simulator reuses the same module in
 * reverse (`server`), so the two sides of one protocol live in one file and cannot drift apart.
 */
import type { Trade } from './trade.js';

export interface Credentials {
  readonly key: string;
  readonly secret: string;
}

/** Why a frame or an element of a frame was refused; every reason is counted. */
export type RejectReason =
  | 'oversized'
  | 'invalid-json'
  | 'bad-shape'
  | 'bad-symbol'
  | 'bad-price'
  | 'bad-size'
  | 'bad-time'
  | 'bad-id'
  | 'unknown-event';

/** What a provider told us besides trades. The feed client decides what each one triggers. */
export type FeedEvent =
  | { readonly type: 'hello' }
  | { readonly type: 'authenticated' }
  | { readonly type: 'auth-failed'; readonly message: string }
  | { readonly type: 'subscribed'; readonly symbols: readonly string[] }
  | { readonly type: 'unsubscribed'; readonly symbols: readonly string[] }
  | { readonly type: 'heartbeat' }
  /**
   * A relay's notice that trades of `symbols` between `fromMs` and `toMs` (Unix ms) were lost: no relay
   * held the upstream connection then. Providers never send it.
   */
  | {
      readonly type: 'gap';
      readonly symbols: readonly string[];
      readonly fromMs: number;
      readonly toMs: number;
    }
  /** The provider is about to drop us or refuses service; `retryAfterMs` is the back-off it asks for. */
  | {
      readonly type: 'disconnect';
      readonly reason: DisconnectReason;
      readonly message: string;
    }
  | { readonly type: 'error'; readonly message: string };

export type DisconnectReason =
  'connection-limit' | 'slow-consumer' | 'forced' | 'server-shutdown' | 'symbol-limit' | 'auth-timeout';

export interface DecodeSink {
  trade(trade: Trade): void;
  event(event: FeedEvent): void;
  reject(reason: RejectReason, detail: string): void;
}

/** Per-connection client state (request ids, handshake progress). */
export interface FeedSession {
  /** Frames to send as soon as the socket opens. */
  opening(): string[];
  /** Frames to send in reply to a control event (e.g. the auth frame after Polygon's hello). */
  reply(event: FeedEvent): string[];
  /** True once the provider accepts subscriptions on this connection. */
  readonly ready: boolean;
  decode(frame: string, sink: DecodeSink): void;
  subscribe(symbols: readonly string[]): string[];
  unsubscribe(symbols: readonly string[]): string[];
}

export interface FeedLimits {
  /** Most symbols one subscribe or unsubscribe frame may carry. */
  readonly symbolsPerFrame: number;
  /** Most client frames per second the provider accepts on one connection. */
  readonly framesPerSecond: number;
  /**
   * Most symbols one connection may hold; `Infinity` for none. Where it is finite, the feed client
   * spreads its symbols over as many connections as this requires.
   */
  readonly symbolsPerConnection: number;
  /**
   * Most connection attempts per second, sustained, where the provider limits them per IP (Binance:
   * 300 per 5 minutes); the feed client paces its connections' attempts to it. Absent: no limit.
   */
  readonly connectionAttemptsPerSecond?: number;
}

/** The simulator's side of one connection, as the protocol's server half sees it. */
export interface SimConnection {
  /** Credentials found in the URL (Finnhub's `token`), if any. */
  readonly url: URL;
  send(frame: string): void;
  close(code: number, reason: string): void;
  /**
   * Marks the connection authenticated; trades flow only to authenticated connections. `key` is the
   * credential it presented (Polygon's `params`, Alpaca's `key`, Finnhub's `token`), which the
   * simulator uses to enforce one connection per key; providers without keys pass nothing.
   */
  authenticate(key?: string): void;
  readonly authenticated: boolean;
  /** Adds symbols (`*` for every symbol) to this connection's subscriptions. */
  subscribe(symbols: readonly string[]): void;
  unsubscribe(symbols: readonly string[]): void;
  subscriptions(): readonly string[];
  /** The key the simulator accepts; `''` accepts any non-empty key. */
  readonly expectedKey: string;
}

/**
 * What the simulated market looks like to a provider's clients: whole shares and cents with exchange
 * and condition codes (stocks), or decimal sizes of a currency pair without either (crypto).
 */
export interface SimMarketProfile {
  readonly assetClass: 'stocks' | 'crypto';
  /** Exchange codes as the provider writes them; a code listed twice is drawn twice as often. */
  readonly exchanges: readonly string[];
  /** Conditions of an odd lot and of an intermarket sweep, in the provider's codes; empty for none. */
  readonly oddLotConditions: readonly string[];
  readonly sweepConditions: readonly string[];
  /** Crypto: the provider's symbol for a pair, e.g. `BTCUSDT` or `BTC-USD`. */
  readonly pairSymbol?: (base: string) => string;
}

/**
 * Which connection loses when one key holds more connections than the provider allows: Polygon is
 * reported to evict the older one, Alpaca refuses the newer one with 406.
 */
export type ConnectionLimitPolicy = 'evict-older' | 'refuse-newer';

export interface SimServerProtocol {
  /** Whether a connection to `url` belongs to this protocol (path check). */
  accepts(url: URL): boolean;
  onOpen(conn: SimConnection): void;
  onMessage(conn: SimConnection, frame: string): void;
  /** Encodes trades into frames exactly as the provider sends them. */
  encode(trades: readonly Trade[]): string[];
  /**
   * Like `encode`, for one connection whose URL changes the framing (Binance's combined streams wrap
   * each event). Absent: every connection gets `encode`'s frames, shared between connections.
   */
  encodeFor?(conn: SimConnection, trades: readonly Trade[]): string[];
  /**
   * Sees every trade the market makes, whether or not anyone subscribed: a provider that replays the
   * latest trade to a new subscriber (Coinbase's `last_match`) remembers it here.
   */
  observe?(trades: readonly Trade[]): void;
  /**
   * A fresh server half with its own memory (Coinbase remembers the last trade per product for its
   * `last_match` replay). Absent: the half keeps no state and one object serves every simulator.
   */
  createServer?(): SimServerProtocol;
  /** The market the provider carries. Absent: US stocks with Polygon's numeric codes. */
  readonly market?: SimMarketProfile;
  /** Whether the provider sends corrections and cancels (Alpaca), so the simulator may inject them. */
  readonly amendments?: boolean;
  /** Who loses when a key has too many connections; absent: the provider has no per-key limit. */
  readonly connectionLimitPolicy?: ConnectionLimitPolicy;
  /**
   * Tells `conn` it is over the provider's connection limit, as the provider does, and closes it.
   * Absent: the provider says so only by refusing the upgrade (HTTP 429), and the simulator closes
   * an open connection with code 1008 and the reason `connection limit exceeded`.
   */
  refuseForConnectionLimit?(conn: SimConnection): void;
}

/**
 * The fields `dedupKey` is made of, for a de-duplication window that compares them one by one
 * instead of building the key text per trade (`DedupWindow.admitTrade`): the symbol and the id
 * always, the exchange and the kind where set. Two trades have equal keys exactly when these fields
 * are equal.
 */
export interface DedupFields {
  readonly exchange: boolean;
  readonly kind: boolean;
}

/** The trade fields a de-duplication key can be made of (`DedupFields` says which of them it is). */
export type TradeIdentity = Pick<Trade, 'symbol' | 'id' | 'exchange' | 'kind'>;

export interface FeedAdapter {
  readonly name: string;
  /** The provider's production URL, shown in `--help`. */
  readonly defaultUrl: string;
  /** Whether trades carry ids that identify them exactly (de-duplication and exact hand-over). */
  readonly hasTradeIds: boolean;
  readonly limits: FeedLimits;
  /** The URL to connect to, given the configured base URL (adds tokens or paths the provider wants). */
  connectUrl(baseUrl: string, credentials: Credentials): string;
  /** The same URL with secrets masked, for logs. */
  redactUrl(url: string): string;
  createSession(credentials: Credentials): FeedSession;
  /** The provider's de-duplication key for a trade, or `null` when the provider has none. */
  dedupKey(trade: Trade): string | null;
  /**
   * What `dedupKey` is made of, where it is made of trade fields alone (absent where there is no
   * key, as for Finnhub): lets the worker de-duplicate without building the key text per trade.
   */
  readonly dedupFields?: DedupFields;
  /**
   * The number that rises by exactly one per trade of a symbol, where the provider has one (Binance
   * `t`, Coinbase `trade_id`), so the feed client can count the trades it missed; `null` for a trade
   * that carries none. Absent: the provider's ids say nothing about missed trades.
   */
  sequentialId?(trade: Trade): number | null;
  /**
   * The string the decoder hands out as `Trade.symbol` for this symbol, where it hands out one
   * shared string per symbol: keyed by it, the worker's per-trade lookups match on identity.
   */
  canonicalSymbol?(symbol: string): string;
  readonly server: SimServerProtocol;
}

/** Splits `items` into chunks of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/** Parses a frame as JSON, reporting failure to the sink instead of throwing. */
export function parseFrame(frame: string, maxBytes: number, sink: DecodeSink): unknown {
  if (frame.length > maxBytes) {
    sink.reject('oversized', `frame of ${frame.length} characters exceeds ${maxBytes}`);
    return undefined;
  }
  try {
    return JSON.parse(frame) as unknown;
  } catch {
    sink.reject('invalid-json', frame.slice(0, 80));
    return undefined;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Largest price or size accepted: anything above is an error in the feed, not a market. */
export const MAX_ABS_VALUE = 1e12;
export const MAX_FRAME_CHARS = 4 * 1024 * 1024;

export function isValidPrice(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 && value < MAX_ABS_VALUE;
}

export function isValidSize(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 && value < MAX_ABS_VALUE;
}
