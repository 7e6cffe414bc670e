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
