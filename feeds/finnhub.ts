/**
 * Finnhub WebSocket trades (`wss://ws.finnhub.io?token=KEY`).
 *
 * The API key travels in the URL (a wrong key is refused at the upgrade with HTTP 401), so there is no
 * hello or auth message: the session is ready once the socket is open. `{"type":"subscribe","symbol":S}`
 * takes one symbol per message and is never acknowledged. Trades arrive batched as
 * `{"data":[{"s","p","t","v","c"}],"type":"trade"}`; `v: 0` marks a price update, not a trade.
 * `{"type":"ping"}` comes every minute or two. There are no trade ids or sequence numbers, and two
 * identical prints are two real trades, so nothing is de-duplicated.
 *
 * What tickring can therefore guarantee on Finnhub: counts and volumes match the provider exactly as
 * long as the feed neither repeats nor loses a print; a repeated frame counts twice and a lost one is
 * missing, and neither can be detected (no numbering to find a gap, no key to find a duplicate).
 */
import {
  isRecord,
  isValidPrice,
  isValidSize,
  MAX_FRAME_CHARS,
  parseFrame,
  type DecodeSink,
  type FeedAdapter,
  type FeedEvent,
  type FeedSession,
  type SimServerProtocol,
} from './adapter.js';
import { deliver, detail, providerText, rejection, type Rejection } from './rejection.js';
import { isValidSymbol } from './symbol.js';
import { isPlausibleTimeMs } from './trade-time.js';
import { NO_CONDITIONS, type Trade } from './trade.js';

const MAX_CONDITIONS = 16;
const MAX_CONDITION_CHARS = 8;

function conditionsOf(value: unknown): readonly string[] | undefined {
  if (value === undefined || value === null) return NO_CONDITIONS;
  if (!Array.isArray(value) || value.length > MAX_CONDITIONS) return undefined;
  return value.every(
    (code): code is string =>
      typeof code === 'string' && code.length > 0 && code.length <= MAX_CONDITION_CHARS,
  )
    ? value
    : undefined;
}

function decodeTrade(item: unknown): Trade | Rejection {
  if (!isRecord(item)) return rejection('bad-shape', 'trade is not an object');
  const { s, p, t, v, c } = item;
  if (typeof s !== 'string' || !isValidSymbol(s)) return rejection('bad-symbol', s);
  if (!isValidPrice(p)) return rejection('bad-price', s, p);
  // v = 0 is a last-price update without a trade: counted here, never aggregated.
  if (v === 0) return rejection('bad-size', s, 'price update, volume 0');
  if (!isValidSize(v)) return rejection('bad-size', s, v);
  if (!isPlausibleTimeMs(t)) return rejection('bad-time', s, t);
  const conditions = conditionsOf(c);
  if (!conditions) return rejection('bad-shape', s, 'conditions');
  return {
    symbol: s,
    price: p,
    size: v,
    timeMs: t,
    timeNanos: 0,
    id: '',
    seq: null,
    exchange: '',
    conditions,
    kind: 'trade',
    amendsId: '',
  };
}

function errorEvent(message: string): FeedEvent {
  // Finnhub's documented refusal is "Subscribing to too many symbols".
  return /too many symbols|symbol limit/i.test(message)
    ? { type: 'disconnect', reason: 'symbol-limit', message }
    : { type: 'error', message };
}

class FinnhubSession implements FeedSession {
  /** No handshake: the token was checked at the upgrade, so an open socket is a ready one. */
  readonly ready = true;

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
    const { type, data } = parsed;
    if (type === 'trade') {
      if (!Array.isArray(data)) {
        sink.reject('bad-shape', 'trade data is not an array');
        return;
      }
      for (const item of data) deliver(decodeTrade(item), sink);
    } else if (type === 'ping') {
      sink.event({ type: 'heartbeat' });
    } else if (type === 'error') {
      sink.event(errorEvent(providerText(parsed['msg'])));
    } else {
      sink.reject('unknown-event', detail('type', type));
    }
  }

  subscribe(symbols: readonly string[]): string[] {
    return symbols.map((symbol) => JSON.stringify({ type: 'subscribe', symbol }));
  }

  unsubscribe(symbols: readonly string[]): string[] {
    return symbols.map((symbol) => JSON.stringify({ type: 'unsubscribe', symbol }));
  }
}

/** The simulator's half: what Finnhub's server sends and how it answers. */
const INVALID_MESSAGE = JSON.stringify({ type: 'error', msg: 'Invalid message' });

const server: SimServerProtocol = {
  // Finnhub serves `/` with the key in `token`; a missing `token` is another protocol's URL.
  accepts: (url) => url.pathname === '/' && url.searchParams.has('token'),

  // US stocks without exchange codes; conditions in the tapes' letter codes.
  market: { assetClass: 'stocks', exchanges: [], oddLotConditions: ['I'], sweepConditions: ['F'] },

  // One connection per key; Finnhub documents no in-band reply, so the simulator closes the newer one.
  connectionLimitPolicy: 'refuse-newer',

  onOpen(conn) {
    const token = conn.url.searchParams.get('token') ?? '';
    // Finnhub answers a bad key with HTTP 401 before the upgrade; after it, closing at once with a
    // policy-violation code is the nearest the simulator can get.
    if (token === '' || (conn.expectedKey !== '' && token !== conn.expectedKey))
      conn.close(1008, 'Invalid API key');
    else conn.authenticate(token);
  },

  onMessage(conn, frame) {
    // A refused token closed the connection; frames still in flight must not subscribe anything.
    if (!conn.authenticated) return;
    let message: unknown;
    try {
      message = JSON.parse(frame);
    } catch {
      message = undefined;
    }
    if (!isRecord(message)) {
      conn.send(INVALID_MESSAGE);
      return;
    }
    const { type, symbol } = message;
    // No ack either way, and an unknown symbol simply never trades.
    if (typeof symbol !== 'string' || !isValidSymbol(symbol)) return;
    if (type === 'subscribe') conn.subscribe([symbol]);
    else if (type === 'unsubscribe') conn.unsubscribe([symbol]);
  },

  /** One batched frame; keys in alphabetical order as Finnhub sends them, `c` only when there are conditions. */
  encode(trades) {
    const data = trades
      .filter((trade) => trade.kind === 'trade')
      .map((trade) => {
        const item: Record<string, unknown> = {};
        if (trade.conditions.length > 0) item['c'] = trade.conditions;
        item['p'] = trade.price;
        item['s'] = trade.symbol;
        item['t'] = trade.timeMs;
        item['v'] = trade.size;
        return item;
      });
    return data.length === 0 ? [] : [JSON.stringify({ data, type: 'trade' })];
  },
};

export const finnhub: FeedAdapter = {
  name: 'finnhub',
  defaultUrl: 'wss://ws.finnhub.io',
  hasTradeIds: false,
  // Symbols per connection depend on the plan (about 50 on the free tier); the server says so.
  limits: { symbolsPerFrame: 1, framesPerSecond: 20, symbolsPerConnection: Infinity },
  connectUrl(baseUrl, credentials) {
    const url = new URL(baseUrl);
    url.searchParams.set('token', credentials.key);
    return url.toString();
  },
  redactUrl: (url) => url.replace(/([?&]token=)[^&#]*/gi, '$1***'),
  createSession: () => new FinnhubSession(),
  dedupKey: () => null,
  server,
};
