/**
 * The one normalized trade every adapter decodes into. Objects of this shape are created once per
 * trade on the hot path, so every field is always present (no optional fields): V8 keeps them on one
 * hidden class.
 */
export type TradeKind = 'trade' | 'correction' | 'cancel';

export interface Trade {
  /** Canonical symbol, as stored in the universe (e.g. `AAPL`, `BTCUSDT`, `BTC-USD`). */
  readonly symbol: string;
  /** Price as a float64, converted from the provider's text in one place (see `decimal.ts`). */
  readonly price: number;
  /** Size (shares or base-currency units); may be fractional for crypto. */
  readonly size: number;
  /** Trade time, Unix milliseconds, from the provider (not arrival time). */
  readonly timeMs: number;
  /** Nanoseconds within `timeMs` (0..999 999) where the provider sends sub-millisecond time, else 0. */
  readonly timeNanos: number;
  /** The provider's trade id, as text; `''` when the provider has none (Finnhub). */
  readonly id: string;
  /** The provider's sequence number, or `null` when it sends none. */
  readonly seq: number | null;
  /** Exchange or venue code as text; `''` when unknown. */
  readonly exchange: string;
  /** Sale conditions as text codes (Polygon's numeric codes as decimal strings). */
  readonly conditions: readonly string[];
  readonly kind: TradeKind;
  /** For a correction or cancel: the id of the trade it amends; `''` for a plain trade. */
  readonly amendsId: string;
}

export const NO_CONDITIONS: readonly string[] = Object.freeze([]);

/** A `Trade` whose fields can be overwritten: one object reused for trade after trade. */
export type TradeRecord = { -readonly [K in keyof Trade]: Trade[K] };

/**
 * Copies every field of `trade` into `into`, or into a new record when there is none, and returns
 * it. For state kept across trades: a kept copy holds no reference to the decoder's `Trade`, which
 * then dies young (see `OwnedSymbol.lastApplied`).
 */
export function copyTrade(trade: Trade, into?: TradeRecord): TradeRecord {
  if (into === undefined) {
    return {
      symbol: trade.symbol,
      price: trade.price,
      size: trade.size,
      timeMs: trade.timeMs,
      timeNanos: trade.timeNanos,
      id: trade.id,
      seq: trade.seq,
      exchange: trade.exchange,
      conditions: trade.conditions,
      kind: trade.kind,
      amendsId: trade.amendsId,
    };
  }
  into.symbol = trade.symbol;
  into.price = trade.price;
  into.size = trade.size;
  into.timeMs = trade.timeMs;
  into.timeNanos = trade.timeNanos;
  into.id = trade.id;
  into.seq = trade.seq;
  into.exchange = trade.exchange;
  into.conditions = trade.conditions;
  into.kind = trade.kind;
  into.amendsId = trade.amendsId;
  return into;
}

/** Builds a plain trade with the fields most providers lack filled in. */
export function makeTrade(
  fields: Pick<Trade, 'symbol' | 'price' | 'size' | 'timeMs'> & Partial<Trade>,
): Trade {
  return {
    symbol: fields.symbol,
    price: fields.price,
    size: fields.size,
    timeMs: fields.timeMs,
    timeNanos: fields.timeNanos ?? 0,
    id: fields.id ?? '',
    seq: fields.seq ?? null,
    exchange: fields.exchange ?? '',
    conditions: fields.conditions ?? NO_CONDITIONS,
    kind: fields.kind ?? 'trade',
    amendsId: fields.amendsId ?? '',
  };
}

/** ISO 8601 with the full precision the provider sent (nanoseconds when present). */
export function tradeTimeIso(timeMs: number, timeNanos: number): string {
  const iso = new Date(timeMs).toISOString();
  if (timeNanos === 0) return iso;
  return `${iso.slice(0, -1)}${String(timeNanos).padStart(6, '0')}Z`;
}
