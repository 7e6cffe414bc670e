/**
 * Binance spot market streams (`wss://stream.binance.com:9443/ws`), `<symbol>@trade`.
 *
 * No auth: the session is ready on open. The client adds and drops streams with
 * `{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":N}`; the reply `{"result":null,"id":N}` names
 * only the request, so the session remembers which symbols each id carried. Streams may also be named
 * in the URL (`/ws/btcusdt@trade`, or `/stream?streams=a/b`, whose events come wrapped as
 * `{"stream":..,"data":..}`). One event per frame; prices and quantities are decimal strings (see
 * `decimal.ts`). Limits: 5 incoming messages per second (pings and pongs count) and 1024 streams per
 * connection (the feed client opens as many connections as a worker's symbols need), 300 connection
 * attempts per 5 minutes per IP; connections end after 24 h, announced by a `serverShutdown` event
 * when the server goes down.
 * De-duplication key: (`s`, `t`); `t` rises by one per symbol, so gaps are visible in `seq`.
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
  type FeedSession,
  type SimConnection,
  type SimServerProtocol,
} from './adapter.js';
import { formatFixed, parseDecimal } from './decimal.js';
import { deliver, describeValue, detail, providerText, rejection, type Rejection } from './rejection.js';
import { isValidSymbol } from './symbol.js';
import { isPlausibleTimeMs } from './trade-time.js';
import { NO_CONDITIONS, type Trade } from './trade.js';

const STREAM_SUFFIX = '@trade';
/** Binance documents no per-frame limit; 200 streams keep a frame near 4 KiB. */
const SYMBOLS_PER_FRAME = 200;
const STREAMS_PER_CONNECTION = 1024;
/** Binance allows 5 incoming messages per second, pongs included: 4 leaves room for the pongs. */
const FRAMES_PER_SECOND = 4;
const SERVER_MESSAGES_PER_SECOND = 5;
/** 300 connection attempts per 5 minutes per IP. */
const CONNECTION_ATTEMPTS_PER_SECOND = 1;
/** Binance sends prices and quantities with 8 decimals. */
const DECIMALS = 8;

type Method = 'SUBSCRIBE' | 'UNSUBSCRIBE';

interface PendingRequest {
  readonly method: Method;
  readonly symbols: readonly string[];
}

function streamName(symbol: string): string {
  return symbol.toLowerCase() + STREAM_SUFFIX;
}

/** `btcusdt@trade` → `BTCUSDT`; `undefined` for any other stream. */
function symbolOfStream(stream: unknown): string | undefined {
  if (typeof stream !== 'string' || !stream.endsWith(STREAM_SUFFIX)) return undefined;
  const symbol = stream.slice(0, -STREAM_SUFFIX.length).toUpperCase();
  return isValidSymbol(symbol) ? symbol : undefined;
}

function decodeTrade(event: Record<string, unknown>): Trade | Rejection {
  const { s, t, p, q, T } = event;
  if (typeof s !== 'string' || !isValidSymbol(s)) return rejection('bad-symbol', s);
  const price = parseDecimal(p);
  if (!isValidPrice(price)) return rejection('bad-price', s, p);
  const size = parseDecimal(q);
  if (!isValidSize(size)) return rejection('bad-size', s, q);
  if (!isPlausibleTimeMs(T)) return rejection('bad-time', s, T);
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0) return rejection('bad-id', s, t);
  return {
    symbol: s,
    price,
    size,
    timeMs: T,
    timeNanos: 0,
    id: String(t),
    seq: t,
    exchange: '',
    conditions: NO_CONDITIONS,
    kind: 'trade',
    amendsId: '',
  };
}

class BinanceSession implements FeedSession {
  readonly ready = true;
  private nextId = 1;
  private readonly pending = new Map<number, PendingRequest>();
  /** Symbols asked for on this connection, to keep it within 1024 streams. */
  private readonly held = new Set<string>();

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
    let message = parsed;
    if (Object.hasOwn(parsed, 'stream') && Object.hasOwn(parsed, 'data')) {
      const data = parsed['data'];
      if (!isRecord(data)) {
        sink.reject('bad-shape', 'combined-stream data is not an object');
        return;
      }
      message = data;
    }
    if (Object.hasOwn(message, 'e')) {
      const type = message['e'];
      if (type === 'trade') deliver(decodeTrade(message), sink);
      else if (type === 'serverShutdown') {
        sink.event({ type: 'disconnect', reason: 'server-shutdown', message: 'server shutting down' });
      } else sink.reject('unknown-event', detail('e', type));
    } else if (Object.hasOwn(message, 'result') && Object.hasOwn(message, 'id')) {
      this.decodeResult(message['result'], message['id'], sink);
    } else if (Object.hasOwn(message, 'error')) {
      const error = message['error'];
      if (!isRecord(error)) {
        sink.reject('bad-shape', 'error is not an object');
        return;
      }
      this.decodeError(error['code'], error['msg'], message['id'], sink);
    } else if (Object.hasOwn(message, 'code') && Object.hasOwn(message, 'msg')) {
      // The documented form of some errors is flat: {"code":3,"msg":"Invalid JSON: ..."}.
      this.decodeError(message['code'], message['msg'], message['id'], sink);
    } else {
      sink.reject('unknown-event', 'no event type, result or error');
    }
  }

  private takePending(id: unknown): PendingRequest | undefined {
    if (typeof id !== 'number') return undefined;
    const request = this.pending.get(id);
    this.pending.delete(id);
    return request;
  }

  private decodeResult(result: unknown, id: unknown, sink: DecodeSink): void {
    if (Array.isArray(result)) {
      // A LIST_SUBSCRIPTIONS answer: the whole set, of which only trade streams concern us.
      const symbols = result.map(symbolOfStream).filter((symbol) => symbol !== undefined);
      if (symbols.length > 0) sink.event({ type: 'subscribed', symbols });
      return;
    }
    const request = this.takePending(id);
    if (!request) {
      sink.reject('bad-id', detail('result for unknown request id', id));
      return;
    }
    if (result !== null) {
      sink.reject('bad-shape', detail('result', result));
      return;
    }
    const type = request.method === 'SUBSCRIBE' ? 'subscribed' : 'unsubscribed';
    if (request.symbols.length > 0) sink.event({ type, symbols: request.symbols });
  }

  private decodeError(code: unknown, msg: unknown, id: unknown, sink: DecodeSink): void {
    const request = this.takePending(id);
    // A refused subscribe holds no streams.
    if (request?.method === 'SUBSCRIBE') for (const symbol of request.symbols) this.held.delete(symbol);
    const message = `code ${describeValue(code)}: ${providerText(msg)}`;
    // Seen live: {"error":{"code":4,"msg":"Too many subscriptions"},"id":19}.
    if (/too many subscriptions/i.test(message)) {
      sink.event({ type: 'disconnect', reason: 'symbol-limit', message });
    } else {
      sink.event({ type: 'error', message });
    }
  }

  private request(method: Method, symbols: readonly string[]): string[] {
    return chunk(symbols, SYMBOLS_PER_FRAME).map((part) => {
      const id = this.nextId++;
      this.pending.set(id, { method, symbols: part });
      return JSON.stringify({ method, params: part.map(streamName), id });
    });
  }

  /**
   * Frames of at most 200 streams each. Asking for more than 1024 streams on one connection is a bug
   * in the caller (`FeedClient` spreads symbols over connections by `limits.symbolsPerConnection`),
   * so it throws instead of letting Binance refuse the frame.
   */
  subscribe(symbols: readonly string[]): string[] {
    const fresh = [...new Set(symbols)].filter((symbol) => !this.held.has(symbol));
    if (this.held.size + fresh.length > STREAMS_PER_CONNECTION) {
      throw new RangeError(
        `binance: subscribing ${fresh.length} more symbols would hold ${this.held.size + fresh.length} streams on one connection; the limit is ${STREAMS_PER_CONNECTION}`,
      );
    }
    for (const symbol of fresh) this.held.add(symbol);
    return this.request('SUBSCRIBE', [...new Set(symbols)]);
  }

  unsubscribe(symbols: readonly string[]): string[] {
    const unique = [...new Set(symbols)];
    for (const symbol of unique) this.held.delete(symbol);
    return this.request('UNSUBSCRIBE', unique);
  }
}

// ---- The simulator's half: what Binance's server sends and how it answers. ----

/** The server half, plus the per-connection encoding Binance's combined streams need. */
export interface BinanceSimServer extends SimServerProtocol {
  /** Like `encode`, but wrapped as `{"stream","data"}` on a combined-stream (`/stream`) connection. */
  encodeFor(conn: SimConnection, trades: readonly Trade[]): string[];
}

/** Arrival times of recent client messages per connection, for the 5-per-second limit. */
const recentMessages = new WeakMap<SimConnection, number[]>();

function overRateLimit(conn: SimConnection): boolean {
  const now = Date.now();
  const recent = (recentMessages.get(conn) ?? []).filter((at) => now - at < 1000);
  recent.push(now);
  recentMessages.set(conn, recent);
  return recent.length > SERVER_MESSAGES_PER_SECOND;
}

/** Trade streams named in the URL: `/ws/<stream>[/<stream>...]` or `/stream?streams=a/b`. */
function streamsInUrl(url: URL): string[] {
  if (url.pathname.startsWith('/ws/')) return url.pathname.slice('/ws/'.length).split('/');
  return (url.searchParams.get('streams') ?? '').split('/');
}

function symbolsOf(streams: readonly unknown[]): string[] {
  return streams.map(symbolOfStream).filter((symbol) => symbol !== undefined);
}

function isRequestId(id: unknown): boolean {
  return (
    id === null ||
    (typeof id === 'number' && Number.isSafeInteger(id)) ||
    (typeof id === 'string' && /^[A-Za-z0-9-]{1,36}$/.test(id))
  );
}

function tradeFrame(trade: Trade): string {
  const id = Number(trade.id);
  // Key order as documented; `m` (buyer is maker) is not in the normalized trade, so it alternates.
  return JSON.stringify({
    e: 'trade',
    E: trade.timeMs,
    s: trade.symbol,
    t: id,
    p: formatFixed(trade.price, DECIMALS),
    q: formatFixed(trade.size, DECIMALS),
    T: trade.timeMs,
    m: id % 2 === 1,
    M: true,
  });
}

const METHODS = '`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`';

/** Applies one client request and returns Binance's answer, in the documented error forms. */
function answer(conn: SimConnection, frame: string): object {
  let message: unknown;
  try {
    message = JSON.parse(frame);
  } catch {
    return { code: 3, msg: 'Invalid JSON: expected value at line 1 column 1' };
  }
  if (!isRecord(message)) return { code: 2, msg: 'Invalid request: expected a JSON object' };
  const { method, params, id } = message;
  if (!isRequestId(id)) return { code: 2, msg: 'Invalid request: request ID must be an unsigned integer' };
  if (method === 'LIST_SUBSCRIPTIONS') return { result: conn.subscriptions().map(streamName), id };
  if (method !== 'SUBSCRIBE' && method !== 'UNSUBSCRIBE') {
    return {
      code: 2,
      msg: `Invalid request: unknown variant ${describeValue(method)}, expected one of ${METHODS}`,
    };
  }
  if (!Array.isArray(params) || !params.every((stream) => typeof stream === 'string')) {
    return { code: 2, msg: 'Invalid request: params must be a list of streams' };
  }
  // Only trade streams are simulated; others are accepted and stay silent.
  const symbols = symbolsOf(params);
  if (
    method === 'SUBSCRIBE' &&
    new Set([...conn.subscriptions(), ...symbols]).size > STREAMS_PER_CONNECTION
  ) {
    // As seen live: {"error":{"code":4,"msg":"Too many subscriptions"},"id":19}.
    return { error: { code: 4, msg: 'Too many subscriptions' }, id };
  }
  if (method === 'SUBSCRIBE') conn.subscribe(symbols);
  else conn.unsubscribe(symbols);
  return { result: null, id };
}

/** Encodes one frame per trade, as Binance never batches `@trade` events. */
function encode(trades: readonly Trade[]): string[] {
  return trades.filter((trade) => trade.kind === 'trade').map(tradeFrame);
}

export const binanceServer: BinanceSimServer = {
  accepts: (url) => url.pathname === '/ws' || url.pathname.startsWith('/ws/') || url.pathname === '/stream',

  market: {
    assetClass: 'crypto',
    exchanges: [],
    oddLotConditions: [],
    sweepConditions: [],
    pairSymbol: (base) => `${base}USDT`,
  },

  onOpen(conn) {
    conn.authenticate();
    const symbols = symbolsOf(streamsInUrl(conn.url)).slice(0, STREAMS_PER_CONNECTION);
    if (symbols.length > 0) conn.subscribe(symbols);
  },

  onMessage(conn, frame) {
    // Binance drops a connection that sends more than 5 messages in a second.
    if (overRateLimit(conn)) conn.close(1008, 'Too many messages');
    else conn.send(JSON.stringify(answer(conn, frame)));
  },

  encode,

  encodeFor(conn, trades) {
    if (conn.url.pathname !== '/stream') return encode(trades);
    return trades
      .filter((trade) => trade.kind === 'trade')
      .map((trade) => `{"stream":${JSON.stringify(streamName(trade.symbol))},"data":${tradeFrame(trade)}}`);
  },
};

export const binance: FeedAdapter = {
  name: 'binance',
  defaultUrl: 'wss://stream.binance.com:9443/ws',
  hasTradeIds: true,
  limits: {
    symbolsPerFrame: SYMBOLS_PER_FRAME,
    framesPerSecond: FRAMES_PER_SECOND,
    symbolsPerConnection: STREAMS_PER_CONNECTION,
    connectionAttemptsPerSecond: CONNECTION_ATTEMPTS_PER_SECOND,
  },
  connectUrl: (baseUrl) => baseUrl,
  redactUrl: (url) => url,
  createSession: () => new BinanceSession(),
  dedupFields: { exchange: false, kind: false },
  dedupKey: (trade) => `${trade.symbol}|${trade.id}`,
  // `t` rises by one per trade of a symbol.
  sequentialId: (trade) => trade.seq,
  server: binanceServer,
};
