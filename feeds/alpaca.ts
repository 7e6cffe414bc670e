/**
 * Alpaca Market Data v2 stocks stream (`wss://stream.data.alpaca.markets/v2/{iex,sip,test}`), JSON.
 *
 * Handshake: the server sends `[{"T":"success","msg":"connected"}]`, the client answers
 * `{"action":"auth","key":K,"secret":S}` within 10 s, the server replies `authenticated` or an error
 * (402 auth failed, 404 auth timeout, 406 connection limit: most plans allow one connection per key).
 * `{"action":"subscribe","trades":[...]}` adds to the current set and `unsubscribe` subtracts; the
 * `subscription` ack lists the whole set. Subscribing to trades also subscribes to corrections (`T:"c"`)
 * and cancels (`T:"x"`), which amend trades already sent. Every server frame is a JSON array; trade
 * times are RFC 3339 with nanoseconds (kept as `timeMs` + `timeNanos`).
 * De-duplication key: (`S`, `x`, `i`), plus the kind for cancels and corrections.
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
import {
  deliver,
  describeValue,
  detail,
  isRejection,
  providerText,
  rejection,
  type Rejection,
} from './rejection.js';
import { SubscriptionSet, WILDCARD } from './subscription-set.js';
import { isValidSymbol } from './symbol.js';
import { formatRfc3339, parseRfc3339, type PreciseTime } from './trade-time.js';
import { NO_CONDITIONS, type Trade, type TradeKind } from './trade.js';

/** Alpaca documents no per-frame limit; this keeps a subscribe frame around 10 KiB. */
const SYMBOLS_PER_FRAME = 1000;
const MAX_EXCHANGE_CHARS = 4;
const MAX_CONDITIONS = 16;
const MAX_CONDITION_CHARS = 4;

/** The documented error codes and texts (`docs.alpaca.markets`, "Streaming market data"). */
const ERROR_TEXT = {
  400: 'invalid syntax',
  401: 'not authenticated',
  402: 'auth failed',
  403: 'already authenticated',
  404: 'auth timeout',
  405: 'symbol limit exceeded',
  406: 'connection limit exceeded',
  407: 'slow client',
  409: 'insufficient subscription',
  410: 'invalid subscribe action for this feed',
  500: 'internal error',
} as const;

function errorEvent(code: unknown, message: string): FeedEvent {
  switch (code) {
    case 402:
      return { type: 'auth-failed', message };
    case 404:
      return { type: 'disconnect', reason: 'auth-timeout', message };
    case 405:
      // The subscribe that crossed the plan's limit is refused; earlier subscriptions stay.
      return { type: 'disconnect', reason: 'symbol-limit', message };
    case 406:
      return { type: 'disconnect', reason: 'connection-limit', message };
    case 407:
      return { type: 'disconnect', reason: 'slow-consumer', message };
    default:
      return { type: 'error', message: `code ${describeValue(code)}: ${message}` };
  }
}

function tradeId(value: unknown): string | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? String(value) : undefined;
}

function isExchange(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_EXCHANGE_CHARS;
}

/** Conditions may be absent (none); `" "` is a real code. */
function conditionsOf(value: unknown): readonly string[] | undefined {
  if (value === undefined) return NO_CONDITIONS;
  if (!Array.isArray(value) || value.length > MAX_CONDITIONS) return undefined;
  return value.every((code): code is string => typeof code === 'string' && code.length <= MAX_CONDITION_CHARS)
    ? value
    : undefined;
}

/** What trades, cancels and corrections share: one symbol, exchange and time per message. */
interface Envelope {
  readonly symbol: string;
  readonly exchange: string;
  readonly time: PreciseTime;
}

function envelope(event: Record<string, unknown>): Envelope | Rejection {
  const { S, x, t } = event;
  if (typeof S !== 'string' || !isValidSymbol(S)) return rejection('bad-symbol', S);
  const time = parseRfc3339(t);
  if (!time) return rejection('bad-time', S, t);
  if (!isExchange(x)) return rejection('bad-shape', S, 'exchange', x);
  return { symbol: S, exchange: x, time };
}

/**
 * One print inside a message: `i p s c` in a trade or cancel, `oi op os oc` and `ci cp cs cc` in a
 * correction. A cancel amends itself (its id is the cancelled trade's); a correction amends `amends`.
 */
function print(
  at: Envelope,
  kind: TradeKind,
  [i, p, s, c]: readonly unknown[],
  amends?: string,
): Trade | Rejection {
  if (!isValidPrice(p)) return rejection('bad-price', at.symbol, p);
  if (!isValidSize(s)) return rejection('bad-size', at.symbol, s);
  const id = tradeId(i);
  if (id === undefined) return rejection('bad-id', at.symbol, i);
  const conditions = conditionsOf(c);
  if (!conditions) return rejection('bad-shape', at.symbol, 'conditions');
  return {
    symbol: at.symbol,
    price: p,
    size: s,
    timeMs: at.time.timeMs,
    timeNanos: at.time.timeNanos,
    id,
    seq: null,
    exchange: at.exchange,
    conditions,
    kind,
    amendsId: kind === 'trade' ? '' : (amends ?? id),
  };
}

/** A trade `T:"t"`. */
function decodeTrade(event: Record<string, unknown>): Trade | Rejection {
  const at = envelope(event);
  return isRejection(at) ? at : print(at, 'trade', [event['i'], event['p'], event['s'], event['c']]);
}

/** A cancel or error `T:"x"`: one `cancel` carrying the cancelled trade's id, price and size. */
function decodeCancel(event: Record<string, unknown>): Trade | Rejection {
  const at = envelope(event);
  if (isRejection(at)) return at;
  // "C" cancel, "E" error: either way the trade no longer counts.
  const action = event['a'];
  if (action !== 'C' && action !== 'E') return rejection('bad-shape', at.symbol, 'action', action);
  return print(at, 'cancel', [event['i'], event['p'], event['s'], undefined]);
}

/**
 * A correction `T:"c"` becomes two trades: a `cancel` of the original (`oi`, `op`, `os`, `oc`) and the
 * corrected trade (`ci`, `cp`, `cs`, `cc`) of kind `correction`. Both halves are checked before either
 * is delivered, so a bad correction never leaves a lone cancel behind.
 */
function decodeCorrection(event: Record<string, unknown>): readonly Trade[] | Rejection {
  const at = envelope(event);
  if (isRejection(at)) return at;
  const original = print(at, 'cancel', [event['oi'], event['op'], event['os'], event['oc']]);
  if (isRejection(original)) return original;
  const corrected = print(
    at,
    'correction',
    [event['ci'], event['cp'], event['cs'], event['cc']],
    original.id,
  );
  return isRejection(corrected) ? corrected : [original, corrected];
}

function decodeSuccess(event: Record<string, unknown>, sink: DecodeSink): void {
  const { msg } = event;
  if (msg === 'connected') sink.event({ type: 'hello' });
  else if (msg === 'authenticated') sink.event({ type: 'authenticated' });
  else sink.reject('unknown-event', detail('success', msg));
}

class AlpacaSession implements FeedSession {
  ready = false;
  private readonly subscriptions = new SubscriptionSet();
  constructor(private readonly credentials: Credentials) {}

  opening(): string[] {
    return [];
  }

  reply(event: FeedEvent): string[] {
    if (event.type === 'hello') {
      const { key, secret } = this.credentials;
      return [JSON.stringify({ action: 'auth', key, secret })];
    }
    if (event.type === 'authenticated') this.ready = true;
    return [];
  }

  decode(frame: string, sink: DecodeSink): void {
    const parsed = parseFrame(frame, MAX_FRAME_CHARS, sink);
    if (parsed === undefined) return;
    if (!Array.isArray(parsed)) {
      sink.reject('bad-shape', 'frame is not an array');
      return;
    }
    for (const event of parsed) {
      if (!isRecord(event)) {
        sink.reject('bad-shape', 'event is not an object');
        continue;
      }
      switch (event['T']) {
        case 't':
          deliver(decodeTrade(event), sink);
          break;
        case 'x':
          deliver(decodeCancel(event), sink);
          break;
        case 'c': {
          const result = decodeCorrection(event);
          if (isRejection(result)) sink.reject(result.reason, result.detail);
          else for (const trade of result) sink.trade(trade);
          break;
        }
        case 'success':
          decodeSuccess(event, sink);
          break;
        case 'error':
          sink.event(errorEvent(event['code'], providerText(event['msg'])));
          break;
        case 'subscription':
          this.subscriptions.acknowledge(event['trades'], sink);
          break;
        default:
          sink.reject('unknown-event', detail('T', event['T']));
      }
    }
  }

  subscribe(symbols: readonly string[]): string[] {
    this.subscriptions.requestAddition(symbols);
    return chunk(symbols, SYMBOLS_PER_FRAME).map((part) =>
      JSON.stringify({ action: 'subscribe', trades: part }),
    );
  }

  unsubscribe(symbols: readonly string[]): string[] {
    this.subscriptions.requestRemoval(symbols);
    return chunk(symbols, SYMBOLS_PER_FRAME).map((part) =>
      JSON.stringify({ action: 'unsubscribe', trades: part }),
    );
  }
}

// ---- The simulator's half: what Alpaca's server sends and how it answers. ----

/** The tape; the simulator lists everything on tape C (Nasdaq), as Polygon's simulator does. */
const TAPE = 'C';

function control(message: Record<string, unknown>): string {
  return JSON.stringify([message]);
}

function errorFrame(code: keyof typeof ERROR_TEXT): string {
  return control({ T: 'error', code, msg: ERROR_TEXT[code] });
}

function isSymbolList(value: unknown): value is string[] {
  return (
    Array.isArray(value) &&
    value.every((symbol) => typeof symbol === 'string' && (symbol === WILDCARD || isValidSymbol(symbol)))
  );
}

/** The ack lists every channel, as the live server does (key order from its documented wscat session). */
function subscriptionAck(conn: SimConnection): string {
  const trades = [...conn.subscriptions()];
  return control({
    T: 'subscription',
    trades,
    quotes: [],
    bars: [],
    updatedBars: [],
    dailyBars: [],
    statuses: [],
    lulds: [],
    corrections: trades,
    cancelErrors: trades,
  });
}

function authenticate(conn: SimConnection, message: Record<string, unknown>): string {
  if (conn.authenticated) return errorFrame(403);
  const { key, secret } = message;
  const ok =
    typeof key === 'string' &&
    key !== '' &&
    typeof secret === 'string' &&
    secret !== '' &&
    (conn.expectedKey === '' || key === conn.expectedKey);
  if (!ok) return errorFrame(402);
  conn.authenticate(key);
  return control({ T: 'success', msg: 'authenticated' });
}

/** Applies one client message and returns the server's answer (Alpaca answers every message). */
function answer(conn: SimConnection, frame: string): string {
  let message: unknown;
  try {
    message = JSON.parse(frame);
  } catch {
    return errorFrame(400);
  }
  if (!isRecord(message)) return errorFrame(400);
  const { action, trades } = message;
  if (action === 'auth') return authenticate(conn, message);
  if (action !== 'subscribe' && action !== 'unsubscribe') return errorFrame(400);
  if (!conn.authenticated) return errorFrame(401);
  if (trades !== undefined && !isSymbolList(trades)) return errorFrame(400);
  if (action === 'subscribe') conn.subscribe(trades ?? []);
  else conn.unsubscribe(trades ?? []);
  return subscriptionAck(conn);
}

function tradeEvent(trade: Trade): Record<string, unknown> {
  // Key order as in Alpaca's documented trade example (the fixture).
  return {
    T: 't',
    i: Number(trade.id),
    S: trade.symbol,
    x: trade.exchange,
    p: trade.price,
    s: trade.size,
    t: formatRfc3339(trade.timeMs, trade.timeNanos, 'trimmed'),
    c: trade.conditions,
    z: TAPE,
  };
}

function cancelEvent(trade: Trade): Record<string, unknown> {
  return {
    T: 'x',
    S: trade.symbol,
    i: Number(trade.amendsId || trade.id),
    x: trade.exchange,
    p: trade.price,
    s: trade.size,
    a: 'C',
    z: TAPE,
    t: formatRfc3339(trade.timeMs, trade.timeNanos, 'trimmed'),
  };
}

/** `original` is the cancel half decoded from the same message; without one the correction amends itself. */
function correctionEvent(original: Trade | undefined, corrected: Trade): Record<string, unknown> {
  const before = original ?? corrected;
  return {
    T: 'c',
    S: corrected.symbol,
    x: corrected.exchange,
    oi: Number(corrected.amendsId),
    op: before.price,
    os: before.size,
    oc: before.conditions,
    ci: Number(corrected.id),
    cp: corrected.price,
    cs: corrected.size,
    cc: corrected.conditions,
    z: TAPE,
    t: formatRfc3339(corrected.timeMs, corrected.timeNanos, 'trimmed'),
  };
}

const server: SimServerProtocol = {
  accepts: (url) => /^\/v2\/(?:iex|sip|test|delayed_sip)$/.test(url.pathname),

  /**
   * Exchange letters of the tapes (D FINRA ADF, Q Nasdaq, P NYSE Arca, N NYSE, K Cboe EDGX, Z Cboe
   * BZX, V IEX), repeated to weigh them; odd lots and sweeps carry the letter codes Alpaca sends.
   */
  market: {
    assetClass: 'stocks',
    exchanges: ['D', 'D', 'D', 'Q', 'Q', 'P', 'N', 'K', 'Z', 'V'],
    oddLotConditions: ['@', 'I'],
    sweepConditions: ['@', 'F'],
  },

  amendments: true,

  // Most plans allow one connection per key; the newer one is refused with 406.
  connectionLimitPolicy: 'refuse-newer',

  refuseForConnectionLimit(conn) {
    conn.send(errorFrame(406));
    conn.close(1008, ERROR_TEXT[406]);
  },

  onOpen(conn) {
    conn.send(control({ T: 'success', msg: 'connected' }));
  },

  onMessage(conn, frame) {
    conn.send(answer(conn, frame));
  },

  /**
   * All trades in one batched frame. A correction is the pair the decoder produces (its `cancel`
   * followed by its `correction`) and becomes one `T:"c"` message; a lone cancel becomes `T:"x"`.
   */
  encode(trades) {
    const events: Record<string, unknown>[] = [];
    for (let k = 0; k < trades.length; k++) {
      const trade = trades[k];
      if (trade === undefined) continue;
      const next = trades[k + 1];
      if (trade.kind === 'trade') {
        events.push(tradeEvent(trade));
      } else if (trade.kind === 'correction') {
        events.push(correctionEvent(undefined, trade));
      } else if (next?.kind === 'correction' && next.amendsId === trade.id && next.symbol === trade.symbol) {
        events.push(correctionEvent(trade, next));
        k++;
      } else {
        events.push(cancelEvent(trade));
      }
    }
    return events.length === 0 ? [] : [JSON.stringify(events)];
  },
};

export const alpaca: FeedAdapter = {
  name: 'alpaca',
  defaultUrl: 'wss://stream.data.alpaca.markets/v2/iex',
  hasTradeIds: true,
  // Symbols per connection depend on the plan (30 on the free one); the server says so with 405.
  limits: { symbolsPerFrame: SYMBOLS_PER_FRAME, framesPerSecond: 10, symbolsPerConnection: Infinity },
  connectUrl: (baseUrl) => baseUrl,
  redactUrl: (url) => url,
  createSession: (credentials) => new AlpacaSession(credentials),
  // A cancel carries the id of the trade it cancels: the kind keeps the two apart.
  dedupFields: { exchange: true, kind: true },
  dedupKey: (trade) =>
    trade.kind === 'trade'
      ? `${trade.symbol}|${trade.exchange}|${trade.id}`
      : `${trade.symbol}|${trade.exchange}|${trade.id}|${trade.kind}`,
  server,
};
