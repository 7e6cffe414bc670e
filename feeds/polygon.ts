/**
 * Polygon.io (now Massive) stocks WebSocket: `T` trade events.
 *
 * Handshake: the server sends `[{"ev":"status","status":"connected"}]`, the client answers
 * `{"action":"auth","params":KEY}`, the server replies `auth_success`, `auth_failed` or, when no auth
 * arrives in time, `auth_timeout`. Subscriptions are channel lists (`T.AAPL,T.MSFT`, or `T.*`) with one
 * `success` status per channel. Every server frame is a JSON array mixing statuses and events.
 * De-duplication key: (`sym`, `x`, `i`); `q` is not unique (see ../shared/FEEDS.md).
 */
import {
  chunk,
  isRecord,
  isValidPrice,
  isValidSize,
  MAX_FRAME_CHARS,
  parseFrame,
  type Credentials,
  type DecodeSink,
  type FeedAdapter,
  type FeedEvent,
  type FeedSession,
  type SimConnection,
  type SimServerProtocol,
} from './adapter.js';
import { canonicalPolygonSymbol, NOT_SCANNED, scanPolygonTrades } from './polygon-scan.js';
import { detail } from './rejection.js';
import { isValidSymbol } from './symbol.js';
import { NO_CONDITIONS, type Trade } from './trade.js';

const CHANNEL = 'T.';
/** Polygon documents no per-frame limit; this keeps one subscribe frame well under 64 KiB. */
const SYMBOLS_PER_FRAME = 2000;
/**
 * Entries the session's scratch array of scanned trades keeps from frame to frame; after a larger
 * frame it is emptied, so it holds no more than this many trades once they are handed on.
 */
const SCRATCH_TRADES_KEPT = 1024;
const EARLIEST_MS = Date.UTC(1990, 0, 1);
const LATEST_MS = Date.UTC(2200, 0, 1);

function status(status: string, message: string): string {
  return JSON.stringify([{ ev: 'status', status, message }]);
}

function channels(symbols: readonly string[]): string {
  return symbols.map((s) => CHANNEL + s).join(',');
}

function decodeTrade(event: Record<string, unknown>, sink: DecodeSink): void {
  const { sym, p, s, t, i, x, q, c } = event;
  if (typeof sym !== 'string' || !isValidSymbol(sym)) {
    sink.reject('bad-symbol', detail(sym));
    return;
  }
  if (!isValidPrice(p)) {
    sink.reject('bad-price', detail(sym, p));
    return;
  }
  if (!isValidSize(s)) {
    sink.reject('bad-size', detail(sym, s));
    return;
  }
  if (typeof t !== 'number' || !Number.isInteger(t) || t < EARLIEST_MS || t > LATEST_MS) {
    sink.reject('bad-time', detail(sym, t));
    return;
  }
  if (typeof i !== 'string' || i.length === 0 || i.length > 64) {
    sink.reject('bad-id', detail(sym, i));
    return;
  }
  let conditions = NO_CONDITIONS;
  if (c !== undefined) {
    if (!Array.isArray(c) || !c.every((code) => Number.isInteger(code))) {
      sink.reject('bad-shape', `${sym} conditions`);
      return;
    }
    conditions = c.map(String);
  }
  sink.trade({
    symbol: sym,
    price: p,
    size: s,
    timeMs: t,
    timeNanos: 0,
    id: i,
    seq: typeof q === 'number' && Number.isSafeInteger(q) ? q : null,
    exchange: typeof x === 'number' ? String(x) : '',
    conditions,
    kind: 'trade',
    amendsId: '',
  });
}

const STATUS_EVENTS: Readonly<Record<string, (message: string) => FeedEvent>> = {
  connected: () => ({ type: 'hello' }),
  auth_success: () => ({ type: 'authenticated' }),
  auth_failed: (message) => ({ type: 'auth-failed', message }),
  auth_timeout: (message) => ({ type: 'disconnect', reason: 'auth-timeout', message }),
  max_connections: (message) => ({ type: 'disconnect', reason: 'connection-limit', message }),
  force_disconnect: (message) => ({ type: 'disconnect', reason: 'forced', message }),
  slow_consumer: (message) => ({ type: 'disconnect', reason: 'slow-consumer', message }),
  error: (message) => ({ type: 'error', message }),
};

function decodeStatus(event: Record<string, unknown>, sink: DecodeSink): void {
  const { status: code, message } = event;
  const text = typeof message === 'string' ? message : '';
  if (code === 'success') {
    // "subscribed to: T.MSFT" / "unsubscribed to: T.MSFT" (sic)
    const match = /^(un)?subscribed to: T\.(.+)$/.exec(text);
    if (match?.[2] !== undefined) {
      sink.event({ type: match[1] ? 'unsubscribed' : 'subscribed', symbols: [match[2]] });
    }
    return;
  }
  const make =
    typeof code === 'string' && Object.hasOwn(STATUS_EVENTS, code) ? STATUS_EVENTS[code] : undefined;
  if (make) sink.event(make(text));
  else sink.reject('unknown-event', detail('status', code));
}

/**
 * The general decoder: `JSON.parse`, then every event checked and rejected or decoded. The session
 * tries `scanPolygonTrades` first; exported so a test can hold the two paths against each other.
 */
export function decodeParsed(frame: string, sink: DecodeSink): void {
  const parsed = parseFrame(frame, MAX_FRAME_CHARS, sink);
  if (parsed === undefined) return;
  if (!Array.isArray(parsed)) {
    sink.reject('bad-shape', 'frame is not an array');
    return;
  }
  for (const event of parsed) {
    if (!isRecord(event)) sink.reject('bad-shape', 'event is not an object');
    else if (event['ev'] === 'T') decodeTrade(event, sink);
    else if (event['ev'] === 'status') decodeStatus(event, sink);
    else sink.reject('unknown-event', detail('ev', event['ev']));
  }
}

class PolygonSession implements FeedSession {
  ready = false;
  /**
   * Trades of the frame being scanned, reused from frame to frame: overwritten, not emptied (an
   * emptied array drops its storage, so it would be allocated again for every frame).
   */
  private readonly scannedTrades: Trade[] = [];
  constructor(private readonly credentials: Credentials) {}

  opening(): string[] {
    return [];
  }

  reply(event: FeedEvent): string[] {
    if (event.type === 'hello') return [JSON.stringify({ action: 'auth', params: this.credentials.key })];
    if (event.type === 'authenticated') this.ready = true;
    return [];
  }

  decode(frame: string, sink: DecodeSink): void {
    const trades = this.scannedTrades;
    // Nearly every frame is an array of valid trades: read those straight from the text. Anything
    // else (statuses, rejections, unusual JSON) takes the general path, from the start.
    const count = frame.length <= MAX_FRAME_CHARS ? scanPolygonTrades(frame, trades) : NOT_SCANNED;
    if (count === NOT_SCANNED) {
      if (trades.length > SCRATCH_TRADES_KEPT) trades.length = 0;
      decodeParsed(frame, sink);
      return;
    }
    for (let i = 0; i < count; i++) sink.trade(trades[i] as Trade);
    if (trades.length > SCRATCH_TRADES_KEPT) trades.length = 0;
  }

  subscribe(symbols: readonly string[]): string[] {
    return chunk(symbols, SYMBOLS_PER_FRAME).map((part) =>
      JSON.stringify({ action: 'subscribe', params: channels(part) }),
    );
  }

  unsubscribe(symbols: readonly string[]): string[] {
    return chunk(symbols, SYMBOLS_PER_FRAME).map((part) =>
      JSON.stringify({ action: 'unsubscribe', params: channels(part) }),
    );
  }
}

/** The simulator's half: what Polygon's server sends and how it answers. */
const server: SimServerProtocol = {
  accepts: (url: URL) => url.pathname === '/stocks',

  /**
   * Polygon's numeric exchange ids, repeated to weigh them: 4 is the FINRA trade reporting facility
   * (off-exchange prints, the most common), 12 Nasdaq, 11 NYSE Arca, 10 NYSE, 8 Cboe EDGX, 19 Cboe
   * BZX, 15 IEX. Odd lots carry 37; sweeps 14 with 41 (trade-through exempt).
   */
  market: {
    assetClass: 'stocks',
    exchanges: ['4', '4', '4', '12', '12', '11', '10', '8', '19', '15'],
    oddLotConditions: ['37'],
    sweepConditions: ['14', '41'],
  },

  // Reported by users: a new connection with the same key knocks the older one off.
  connectionLimitPolicy: 'evict-older',

  refuseForConnectionLimit(conn: SimConnection): void {
    conn.send(status('max_connections', 'Maximum number of connections exceeded.'));
    conn.close(1008, 'Maximum number of connections exceeded.');
  },

  onOpen(conn: SimConnection): void {
    conn.send(status('connected', 'Connected Successfully'));
  },

  onMessage(conn: SimConnection, frame: string): void {
    let message: unknown;
    try {
      message = JSON.parse(frame);
    } catch {
      return;
    }
    if (!isRecord(message)) return;
    const { action, params } = message;
    if (action === 'auth') {
      const ok =
        typeof params === 'string' && params !== '' && (!conn.expectedKey || params === conn.expectedKey);
      if (ok) {
        conn.authenticate(params);
        conn.send(status('auth_success', 'authenticated'));
      } else {
        conn.send(status('auth_failed', 'authentication failed'));
      }
      return;
    }
    if ((action !== 'subscribe' && action !== 'unsubscribe') || typeof params !== 'string') return;
    if (!conn.authenticated) return;
    const symbols = params
      .split(',')
      .map((channel) => channel.trim())
      .filter((channel) => channel.startsWith(CHANNEL))
      .map((channel) => channel.slice(CHANNEL.length));
    if (action === 'subscribe') conn.subscribe(symbols);
    else conn.unsubscribe(symbols);
    const verb = action === 'subscribe' ? 'subscribed to' : 'unsubscribed to';
    for (const symbol of symbols) conn.send(status('success', `${verb}: ${CHANNEL}${symbol}`));
  },

  encode(trades: readonly Trade[]): string[] {
    if (trades.length === 0) return [];
    const events = trades.map((trade) => {
      const event: Record<string, unknown> = {
        ev: 'T',
        sym: trade.symbol,
        i: trade.id,
        x: Number(trade.exchange),
        p: trade.price,
        s: trade.size,
      };
      if (trade.conditions.length > 0) event['c'] = trade.conditions.map(Number);
      event['t'] = trade.timeMs;
      event['q'] = trade.seq;
      event['z'] = 3;
      return event;
    });
    return [JSON.stringify(events)];
  },
};

export const polygon: FeedAdapter = {
  name: 'polygon',
  defaultUrl: 'wss://socket.polygon.io/stocks',
  hasTradeIds: true,
  limits: { symbolsPerFrame: SYMBOLS_PER_FRAME, framesPerSecond: 50, symbolsPerConnection: Infinity },
  connectUrl: (baseUrl) => baseUrl,
  redactUrl: (url) => url,
  createSession: (credentials) => new PolygonSession(credentials),
  dedupFields: { exchange: true, kind: false },
  dedupKey: (trade) => `${trade.symbol}|${trade.exchange}|${trade.id}`,
  canonicalSymbol: canonicalPolygonSymbol,
  server,
};
