/**
 * Coinbase Exchange public feed (`wss://ws-feed.exchange.coinbase.com`), `matches` channel.
 *
 * No auth. `{"type":"subscribe","product_ids":[...],"channels":["matches"]}` must arrive within 5 s of
 * connecting; the `subscriptions` ack lists the whole set, per channel. The first message per product
 * after subscribing is a `last_match`: a replay of the latest trade, decoded as a trade so the
 * de-duplication on (`product_id`, `trade_id`) drops it when it was seen before. Each message is one
 * JSON object; prices and sizes are decimal strings (see `decimal.ts`) and `time` is ISO 8601 with
 * microseconds. `sequence` becomes `seq`; note that Coinbase numbers every message of a product's
 * order book with it, so on `matches` alone it can jump while `trade_id` rises by exactly one per
 * trade. Slow readers are dropped with an `error` mentioning `ErrSlowConsume`. Limits: 8 requests
 * per second per IP (shared by every connection from one host).
 */
import {
  chunk,
  isRecord,
  isValidPrice,
  isValidSize,
  MAX_FRAME_CHARS,
  parseFrame,
  type DecodeSink,
  type FeedAdapter,
  type FeedEvent,
  type FeedSession,
  type SimConnection,
  type SimServerProtocol,
} from './adapter.js';
import { formatShortest, parseDecimal } from './decimal.js';
import { deliver, detail, providerText, rejection, type Rejection } from './rejection.js';
import { SubscriptionSet } from './subscription-set.js';
import { isValidSymbol } from './symbol.js';
import { formatRfc3339, parseRfc3339 } from './trade-time.js';
import { NO_CONDITIONS, type Trade } from './trade.js';

const CHANNEL = 'matches';
/** Coinbase documents no per-message product limit; 100 keeps a frame small. */
const SYMBOLS_PER_FRAME = 100;

function decodeMatch(event: Record<string, unknown>): Trade | Rejection {
  const {
    product_id: symbol,
    trade_id: tradeId,
    sequence,
    price: priceText,
    size: sizeText,
    time,
    side,
  } = event;
  if (typeof symbol !== 'string' || !isValidSymbol(symbol)) return rejection('bad-symbol', symbol);
  const price = parseDecimal(priceText);
  if (!isValidPrice(price)) return rejection('bad-price', symbol, priceText);
  const size = parseDecimal(sizeText);
  if (!isValidSize(size)) return rejection('bad-size', symbol, sizeText);
  const at = parseRfc3339(time);
  if (!at) return rejection('bad-time', symbol, time);
  if (!isCount(tradeId)) return rejection('bad-id', symbol, tradeId);
  if (!isCount(sequence)) return rejection('bad-shape', symbol, 'sequence', sequence);
  // The maker's side; not part of the normalized trade, but a match without one is malformed.
  if (side !== 'buy' && side !== 'sell') return rejection('bad-shape', symbol, 'side', side);
  return {
    symbol,
    price,
    size,
    timeMs: at.timeMs,
    timeNanos: at.timeNanos,
    id: String(tradeId),
    seq: sequence,
    exchange: '',
    conditions: NO_CONDITIONS,
    kind: 'trade',
    amendsId: '',
  };
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** The `matches` entry of a `subscriptions` ack; no entry means no product is subscribed. */
function matchesProducts(channels: unknown, sink: DecodeSink): unknown {
  if (!Array.isArray(channels)) {
    sink.reject('bad-shape', 'subscriptions without a channel list');
    return undefined;
  }
  const entry = (channels as unknown[]).find((channel) => isRecord(channel) && channel['name'] === CHANNEL);
  return isRecord(entry) ? entry['product_ids'] : [];
}

function errorEvent(event: Record<string, unknown>): FeedEvent {
  const text = providerText(event['message']);
  const reason = providerText(event['reason']);
  const message = reason === '' ? text : `${text}: ${reason}`;
  if (/ErrSlowConsume/i.test(message)) return { type: 'disconnect', reason: 'slow-consumer', message };
  // ErrSlowRead: we sent too much; Coinbase closes the connection.
  if (/ErrSlowRead/i.test(message)) return { type: 'disconnect', reason: 'forced', message };
  return { type: 'error', message };
}

class CoinbaseSession implements FeedSession {
  readonly ready = true;
  private readonly subscriptions = new SubscriptionSet();

  opening(): string[] {
    return [];
  }

  reply(): string[] {
    return [];
  }

  decode(frame: string, sink: DecodeSink): void {
    const parsed = parseFrame(frame, MAX_FRAME_CHARS, sink);
    if (parsed === undefined) return;
    if (!isRecord(parsed)) {
      sink.reject('bad-shape', 'frame is not an object');
      return;
    }
    switch (parsed['type']) {
      case 'match':
      case 'last_match':
        deliver(decodeMatch(parsed), sink);
        break;
      case 'subscriptions': {
        const products = matchesProducts(parsed['channels'], sink);
        if (products !== undefined) this.subscriptions.acknowledge(products, sink);
        break;
      }
      case 'heartbeat':
        sink.event({ type: 'heartbeat' });
        break;
      case 'error':
        sink.event(errorEvent(parsed));
        break;
      default:
        sink.reject('unknown-event', detail('type', parsed['type']));
    }
  }

  subscribe(symbols: readonly string[]): string[] {
    this.subscriptions.requestAddition(symbols);
    return chunk(symbols, SYMBOLS_PER_FRAME).map((part) =>
      JSON.stringify({ type: 'subscribe', product_ids: part, channels: [CHANNEL] }),
    );
  }

  unsubscribe(symbols: readonly string[]): string[] {
    this.subscriptions.requestRemoval(symbols);
    return chunk(symbols, SYMBOLS_PER_FRAME).map((part) =>
      JSON.stringify({ type: 'unsubscribe', product_ids: part, channels: [CHANNEL] }),
    );
  }
}

// ---- The simulator's half: what Coinbase's server sends and how it answers. ----

/** A UUID-shaped order id derived from the trade id, so frames stay deterministic. */
function orderId(tradeId: number, role: 8 | 9): string {
  const hex = Math.max(0, Math.trunc(tradeId)).toString(16).padStart(12, '0').slice(-12);
  return `00000000-0000-4000-${role}000-${hex}`;
}

function matchFrame(trade: Trade, type: 'match' | 'last_match'): string {
  const tradeId = Number(trade.id);
  // Key order as in Coinbase's documented example; `side` is the maker's and alternates.
  return JSON.stringify({
    type,
    trade_id: tradeId,
    sequence: trade.seq ?? tradeId,
    maker_order_id: orderId(tradeId, 8),
    taker_order_id: orderId(tradeId, 9),
    time: formatRfc3339(trade.timeMs, trade.timeNanos, 6),
    product_id: trade.symbol,
    size: formatShortest(trade.size),
    price: formatShortest(trade.price),
    side: tradeId % 2 === 0 ? 'buy' : 'sell',
  });
}

/** The ack: the whole current set; the simulator serves only the `matches` channel. */
function subscriptionsFrame(conn: SimConnection): string {
  return JSON.stringify({
    type: 'subscriptions',
    channels: [{ name: CHANNEL, product_ids: conn.subscriptions() }],
  });
}

function failure(reason: string): string {
  return JSON.stringify({ type: 'error', message: 'Failed to subscribe', reason });
}

/** Products named for the `matches` channel: root `product_ids` with `"matches"`, or a channel object. */
function requestedProducts(message: Record<string, unknown>): string[] | string {
  const { channels, product_ids: rootProducts } = message;
  if (!Array.isArray(channels) || channels.length === 0) return 'No channels provided';
  const products: unknown[] = [];
  for (const channel of channels) {
    if (channel === CHANNEL && Array.isArray(rootProducts)) products.push(...(rootProducts as unknown[]));
    else if (isRecord(channel) && channel['name'] === CHANNEL && Array.isArray(channel['product_ids'])) {
      products.push(...(channel['product_ids'] as unknown[]));
    }
  }
  const invalid = products.find((product) => typeof product !== 'string' || !isValidSymbol(product));
  if (invalid !== undefined) return `${detail(invalid)} is not a valid product`;
  return products as string[];
}

/** Unsubscribing a channel by name alone drops every product on it. */
function unsubscribesWholeChannel(message: Record<string, unknown>): boolean {
  const { channels, product_ids: rootProducts } = message;
  return Array.isArray(channels) && channels.includes(CHANNEL) && rootProducts === undefined;
}

/**
 * Builds the server half. Each instance remembers the last trade it encoded per product, to replay
 * it as `last_match` to a new subscriber; a simulator that wants its own memory creates its own.
 */
export function createCoinbaseServer(): SimServerProtocol {
  const lastTrade = new Map<string, Trade>();

  /** Applies one client message and returns the frames Coinbase answers with. */
  function answer(conn: SimConnection, frame: string): string[] {
    let message: unknown;
    try {
      message = JSON.parse(frame);
    } catch {
      return [failure('malformed JSON')];
    }
    if (!isRecord(message)) return [failure('message is not an object')];
    const { type } = message;
    if (type !== 'subscribe' && type !== 'unsubscribe') return [failure(`unknown type ${detail(type)}`)];
    if (type === 'unsubscribe' && unsubscribesWholeChannel(message)) {
      conn.unsubscribe(conn.subscriptions());
      return [subscriptionsFrame(conn)];
    }
    const products = requestedProducts(message);
    if (typeof products === 'string') return [failure(products)];
    if (type === 'unsubscribe') {
      conn.unsubscribe(products);
      return [subscriptionsFrame(conn)];
    }
    const before = new Set(conn.subscriptions());
    conn.subscribe(products);
    // A product new to this connection first gets a replay of its latest trade.
    const replays = [...new Set(products)]
      .filter((product) => !before.has(product))
      .flatMap((product) => {
        const trade = lastTrade.get(product);
        return trade ? [matchFrame(trade, 'last_match')] : [];
      });
    return [subscriptionsFrame(conn), ...replays];
  }

  return {
    // The feed lives at `/`; a `token` parameter marks Finnhub's URL instead.
    accepts: (url) => url.pathname === '/' && !url.searchParams.has('token'),

    market: {
      assetClass: 'crypto',
      exchanges: [],
      oddLotConditions: [],
      sweepConditions: [],
      pairSymbol: (base) => `${base}-USD`,
    },

    createServer: createCoinbaseServer,

    onOpen(conn) {
      conn.authenticate();
    },

    onMessage(conn, frame) {
      for (const reply of answer(conn, frame)) conn.send(reply);
    },

    observe(trades) {
      for (const trade of trades) if (trade.kind === 'trade') lastTrade.set(trade.symbol, trade);
    },

    /** One object per frame, as Coinbase sends them. */
    encode(trades) {
      const frames: string[] = [];
      for (const trade of trades) {
        if (trade.kind !== 'trade') continue;
        lastTrade.set(trade.symbol, trade);
        frames.push(matchFrame(trade, 'match'));
      }
      return frames;
    },
  };
}

export const coinbase: FeedAdapter = {
  name: 'coinbase',
  defaultUrl: 'wss://ws-feed.exchange.coinbase.com',
  hasTradeIds: true,
  // 8 requests per second per IP; Coinbase sets no product count per connection.
  limits: { symbolsPerFrame: SYMBOLS_PER_FRAME, framesPerSecond: 8, symbolsPerConnection: Infinity },
  connectUrl: (baseUrl) => baseUrl,
  redactUrl: (url) => url,
  createSession: () => new CoinbaseSession(),
  dedupFields: { exchange: false, kind: false },
  dedupKey: (trade) => `${trade.symbol}|${trade.id}`,
  // `trade_id` rises by one per trade of a product (`sequence` also numbers order-book messages).
  sequentialId: (trade) => (trade.kind === 'trade' ? Number(trade.id) : null),
  server: createCoinbaseServer(),
};
