/**
 * tickring's own relay protocol (see docs/relay-protocol.md): what a worker speaks to `tickring relay`,
 * which holds the provider's single connection and fans its trades out. Trades arrive already
 * normalized, so decoding is a JSON parse and a field check per trade, with no provider quirks.
 *
 * Server → client: `hello` (protocol version, upstream feed, relay id, lease token), `subscribed` and
 * `unsubscribed` acknowledgements, `trades` (a batch of normalized trades as arrays), `gap` (symbols
 * whose trades were lost while no relay held the upstream connection), `bye` (the relay drops the
 * client, and why) and `error`. Client → server: `hello`, `subscribe`, `unsubscribe`.
 *
 * De-duplication: the provider's own id travels with each trade, so a worker drops a trade seen
 * through the previous relay exactly as it would drop a provider's duplicate.
 */
import {
  chunk,
  isRecord,
  isValidPrice,
  isValidSize,
  MAX_FRAME_CHARS,
  parseFrame,
  type DecodeSink,
  type DisconnectReason,
  type FeedAdapter,
  type FeedSession,
  type SimConnection,
  type SimServerProtocol,
} from './adapter.js';
import { polygon } from './polygon.js';
import { detail } from './rejection.js';
import { isValidSymbol } from './symbol.js';
import { NO_CONDITIONS, type Trade, type TradeKind } from './trade.js';

/** The one protocol version this code speaks; a peer announcing another is refused. */
export const RELAY_PROTOCOL_VERSION = 1;
/** The WebSocket path a relay serves workers on. */
export const RELAY_PATH = '/relay';
const SYMBOLS_PER_FRAME = 5_000;
const EARLIEST_MS = Date.UTC(1990, 0, 1);
const LATEST_MS = Date.UTC(2200, 0, 1);

/** Trade kinds on the wire, by index: 0 trade, 1 correction, 2 cancel. */
const KINDS: readonly TradeKind[] = ['trade', 'correction', 'cancel'];
const KIND_CODES: Readonly<Record<TradeKind, number>> = { trade: 0, correction: 1, cancel: 2 };

const BYE_REASONS: readonly DisconnectReason[] = [
  'connection-limit',
  'slow-consumer',
  'forced',
  'server-shutdown',
  'symbol-limit',
  'auth-timeout',
];

export interface RelayHello {
  /** The upstream provider the relay carries (its sale-condition codes, its ids). */
  readonly feed: string;
  /** The relay's id and the fencing token of its lease (rises with every change of holder). */
  readonly relay: string;
  readonly token: number;
}

/** Server frames, built in one place so the relay and the simulator send the same bytes. */
export const relayFrames = {
  hello: (hello: RelayHello): string => JSON.stringify({ t: 'hello', v: RELAY_PROTOCOL_VERSION, ...hello }),
  subscribed: (symbols: readonly string[]): string => JSON.stringify({ t: 'subscribed', s: symbols }),
  unsubscribed: (symbols: readonly string[]): string => JSON.stringify({ t: 'unsubscribed', s: symbols }),
  gap: (symbols: readonly string[], fromMs: number, toMs: number): string =>
    JSON.stringify({ t: 'gap', s: symbols, from: fromMs, to: toMs }),
  bye: (reason: DisconnectReason, message: string): string =>
    JSON.stringify({ t: 'bye', reason, msg: message }),
  error: (message: string): string => JSON.stringify({ t: 'error', msg: message }),
  /** One trades frame: `{"t":"trades","d":[[...],...]}`; see `encodeRelayTrade` for each element. */
  trades: (trades: readonly Trade[]): string => {
    let body = '';
    for (let i = 0; i < trades.length; i++) {
      const trade = trades[i];
      if (trade === undefined) continue;
      body += i === 0 ? encodeRelayTrade(trade) : `,${encodeRelayTrade(trade)}`;
    }
    return `{"t":"trades","d":[${body}]}`;
  },
};

/**
 * One trade as a JSON array, in the order of `Trade`'s fields:
 * `[symbol, price, size, timeMs, timeNanos, id, seq, exchange, conditions, kind, amendsId]`.
 */
export function encodeRelayTrade(trade: Trade): string {
  return JSON.stringify([
    trade.symbol,
    trade.price,
    trade.size,
    trade.timeMs,
    trade.timeNanos,
    trade.id,
    trade.seq,
    trade.exchange,
    trade.conditions,
    KIND_CODES[trade.kind],
    trade.amendsId,
  ]);
}

/** Client frames. */
export const relayClientFrames = {
  hello: (): string => JSON.stringify({ op: 'hello', v: RELAY_PROTOCOL_VERSION }),
  subscribe: (symbols: readonly string[]): string => JSON.stringify({ op: 'subscribe', s: symbols }),
  unsubscribe: (symbols: readonly string[]): string => JSON.stringify({ op: 'unsubscribe', s: symbols }),
};

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/** Conditions as any provider sends them: a few short codes (found by the hostile-frame fuzz). */
const MAX_CONDITIONS = 16;
const MAX_CONDITION_CHARS = 8;

function isConditionList(value: unknown): value is string[] {
  return (
    Array.isArray(value) &&
    value.length <= MAX_CONDITIONS &&
    value.every((item) => typeof item === 'string' && item.length <= MAX_CONDITION_CHARS)
  );
}

function decodeTrade(row: unknown, sink: DecodeSink): void {
  if (!Array.isArray(row) || row.length !== 11) {
    sink.reject('bad-shape', 'trade is not an array of 11');
    return;
  }
  const [symbol, price, size, timeMs, timeNanos, id, seq, exchange, conditions, kind, amendsId] = row as [
    unknown,
    unknown,
    unknown,
    unknown,
    unknown,
    unknown,
    unknown,
    unknown,
    unknown,
    unknown,
    unknown,
  ];
  if (typeof symbol !== 'string' || !isValidSymbol(symbol)) {
    sink.reject('bad-symbol', detail(symbol));
    return;
  }
  if (!isValidPrice(price)) {
    sink.reject('bad-price', detail(symbol, price));
    return;
  }
  if (!isValidSize(size)) {
    sink.reject('bad-size', detail(symbol, size));
    return;
  }
  if (typeof timeMs !== 'number' || !Number.isInteger(timeMs) || timeMs < EARLIEST_MS || timeMs > LATEST_MS) {
    sink.reject('bad-time', detail(symbol, timeMs));
    return;
  }
  if (typeof timeNanos !== 'number' || !Number.isInteger(timeNanos) || timeNanos < 0 || timeNanos > 999_999) {
    sink.reject('bad-time', detail(symbol, timeNanos));
    return;
  }
  if (typeof id !== 'string' || id.length > 64 || typeof amendsId !== 'string' || amendsId.length > 64) {
    sink.reject('bad-id', detail(symbol, id));
    return;
  }
  const tradeKind = typeof kind === 'number' ? KINDS[kind] : undefined;
  if (
    tradeKind === undefined ||
    (seq !== null && (typeof seq !== 'number' || !Number.isSafeInteger(seq))) ||
    typeof exchange !== 'string' ||
    exchange.length > MAX_CONDITION_CHARS ||
    !isConditionList(conditions)
  ) {
    sink.reject('bad-shape', detail(symbol, 'fields'));
    return;
  }
  sink.trade({
    symbol,
    price,
    size,
    timeMs,
    timeNanos,
    id,
    seq,
    exchange,
    conditions: conditions.length === 0 ? NO_CONDITIONS : conditions,
    kind: tradeKind,
    amendsId,
  });
}

class RelaySession implements FeedSession {
  ready = false;

  /** `upstream`: the provider this worker expects behind the relay; a relay carrying another is refused. */
  constructor(private readonly upstream: string | undefined) {}

  opening(): string[] {
    return [relayClientFrames.hello()];
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
    const type = parsed['t'];
    if (type === 'trades') {
      const rows = parsed['d'];
      if (!Array.isArray(rows)) {
        sink.reject('bad-shape', 'trades without d');
        return;
      }
      for (const row of rows) decodeTrade(row, sink);
      return;
    }
    this.decodeControl(type, parsed, sink);
  }

  private decodeControl(type: unknown, frame: Record<string, unknown>, sink: DecodeSink): void {
    const symbols = isStringList(frame['s']) ? frame['s'] : [];
    const message = typeof frame['msg'] === 'string' ? frame['msg'] : '';
    switch (type) {
      case 'hello': {
        const { v, feed } = frame;
        if (v !== RELAY_PROTOCOL_VERSION) {
          sink.event({ type: 'auth-failed', message: `relay speaks protocol ${detail(v)}, not 1` });
        } else if (this.upstream !== undefined && feed !== this.upstream) {
          sink.event({
            type: 'auth-failed',
            message: `relay carries ${detail(feed)}, this worker expects ${this.upstream}`,
          });
        } else {
          this.ready = true;
          sink.event({ type: 'hello' });
        }
        return;
      }
      case 'subscribed':
      case 'unsubscribed':
        sink.event({ type, symbols });
        return;
      case 'gap': {
        const from = typeof frame['from'] === 'number' ? frame['from'] : 0;
        const to = typeof frame['to'] === 'number' ? frame['to'] : 0;
        sink.event({ type: 'gap', symbols, fromMs: from, toMs: to });
        return;
      }
      case 'bye': {
        const reason = BYE_REASONS.find((known) => known === frame['reason']) ?? 'forced';
        sink.event({ type: 'disconnect', reason, message });
        return;
      }
      case 'error':
        sink.event({ type: 'error', message });
        return;
      default:
        sink.reject('unknown-event', detail('t', type));
    }
  }

  subscribe(symbols: readonly string[]): string[] {
    return chunk(symbols, SYMBOLS_PER_FRAME).map((part) => relayClientFrames.subscribe(part));
  }

  unsubscribe(symbols: readonly string[]): string[] {
    return chunk(symbols, SYMBOLS_PER_FRAME).map((part) => relayClientFrames.unsubscribe(part));
  }
}

/** A client request, as the relay server reads it; `undefined` for anything else. */
export type RelayRequest =
  | { readonly op: 'hello'; readonly v: unknown }
  | { readonly op: 'subscribe' | 'unsubscribe'; readonly symbols: string[] };

export function parseRelayRequest(frame: string): RelayRequest | undefined {
  let message: unknown;
  try {
    message = JSON.parse(frame);
  } catch {
    return undefined;
  }
  if (!isRecord(message)) return undefined;
  const { op } = message;
  if (op === 'hello') return { op, v: message['v'] };
  if ((op === 'subscribe' || op === 'unsubscribe') && isStringList(message['s'])) {
    return { op, symbols: message['s'].filter(isValidSymbol) };
  }
  return undefined;
}

/**
 * The simulator's half, so a worker can be tested against the relay protocol without a relay, and
 * the relay's own server and this one cannot drift apart (both use `relayFrames`).
 */
const server: SimServerProtocol = {
  accepts: (url: URL) => url.pathname === RELAY_PATH,

  // The simulated relay carries a simulated Polygon, as its hello says.
  ...(polygon.server.market ? { market: polygon.server.market } : {}),

  onOpen(conn: SimConnection): void {
    conn.send(relayFrames.hello({ feed: 'polygon', relay: 'sim', token: 0 }));
  },

  onMessage(conn: SimConnection, frame: string): void {
    const request = parseRelayRequest(frame);
    if (request === undefined) return;
    if (request.op === 'hello') {
      if (request.v === RELAY_PROTOCOL_VERSION) conn.authenticate();
      else conn.close(1002, 'unsupported relay protocol version');
      return;
    }
    if (!conn.authenticated) return;
    if (request.op === 'subscribe') {
      conn.subscribe(request.symbols);
      conn.send(relayFrames.subscribed(request.symbols));
    } else {
      conn.unsubscribe(request.symbols);
      conn.send(relayFrames.unsubscribed(request.symbols));
    }
  },

  encode(trades: readonly Trade[]): string[] {
    return trades.length === 0 ? [] : [relayFrames.trades(trades)];
  },
};

/** Built from the fields every provider's own key is made of (symbol, venue, id, kind). */
function genericDedupKey(trade: Trade): string | null {
  if (trade.id === '') return null;
  return trade.kind === 'trade'
    ? `${trade.symbol}|${trade.exchange}|${trade.id}`
    : `${trade.symbol}|${trade.exchange}|${trade.id}|${trade.kind}`;
}

/**
 * The relay adapter. `upstream` is the provider behind the relay when the worker knows it: the
 * relay's hello must then name the same, and the provider's own de-duplication key and trade
 * numbering apply to the relayed trades (every field they read travels unchanged), so watermarks
 * match those of workers connected directly and a gap across a relay failover is counted exactly
 * where the provider numbers trades (Binance, Coinbase). Without it, the key is built from the
 * fields every provider's key is made of, and no trade without an id is de-duplicated.
 */
export function relayAdapter(upstream?: FeedAdapter): FeedAdapter {
  const numbered = upstream?.sequentialId !== undefined ? upstream : undefined;
  const keyed = upstream;
  return {
    name: 'relay',
    defaultUrl: `ws://127.0.0.1:9100${RELAY_PATH}`,
    hasTradeIds: upstream?.hasTradeIds ?? true,
    limits: { symbolsPerFrame: SYMBOLS_PER_FRAME, framesPerSecond: 100, symbolsPerConnection: Infinity },
    connectUrl: (baseUrl) => baseUrl,
    redactUrl: (url) => url,
    createSession: () => new RelaySession(upstream?.name),
    dedupKey: keyed ? (trade) => keyed.dedupKey(trade) : genericDedupKey,
    // The upstream's key reads the same fields of the relayed trade, so its fields list holds too.
    // The generic key has none: it gives no key to a trade without an id, which fields cannot say.
    ...(keyed?.dedupFields ? { dedupFields: keyed.dedupFields } : {}),
    ...(numbered ? { sequentialId: (trade: Trade) => numbered.sequentialId?.(trade) ?? null } : {}),
    server,
  };
}

export const relay: FeedAdapter = relayAdapter();
