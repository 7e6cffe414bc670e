/**
 * The one place where a provider's decimal text becomes a number, and where the simulator turns a
 * number back into the text a provider would send.
 *
 * Binance and Coinbase send prices and sizes as decimal strings (`"0.00100000"`, `"400.23"`). tickring
 * keeps every price and size as an IEEE-754 float64 (`number`):
 * - A float64 holds 15 to 17 significant decimal digits. Any text with at most 15 significant digits
 *   (e.g. Binance's 8-decimal prices up to 9 999 999.99999999) converts to the nearest float64 and
 *   prints back as the same decimal, so nothing a provider sends today is altered in a visible way.
 *   Longer text is rounded to the nearest float64 (relative error at most 2^-53, about 1.1e-16).
 * - `Number()` does the conversion: it rounds correctly, unlike `parseFloat` on hand-split parts.
 * - Aggregates (volume, sum of price times size for VWAP) add many such values, so `src/aggregate`
 *   adds them with compensated (Neumaier) sums: the error of a sum then stays near one rounding of
 *   the total instead of growing with the number of trades.
 *
 * The text is validated strictly before conversion: digits, an optional fraction, no sign, no
 * exponent, no spaces, no `Infinity`/`NaN`/hex forms that `Number()` would otherwise accept.
 */
import { MAX_ABS_VALUE } from './adapter.js';

/** 1 to 15 integer digits and up to 18 fraction digits, as the providers send them. */
export const DECIMAL_TEXT = /^\d{1,15}(?:\.\d{1,18})?$/;

/**
 * Converts decimal text to a number, or returns `undefined` when the text is not a plain
 * non-negative decimal or its value is not below `MAX_ABS_VALUE`. Zero is returned as 0: whether zero
 * is acceptable (it is not, for a price or a size) is the caller's rule.
 */
export function parseDecimal(text: unknown): number | undefined {
  if (typeof text !== 'string' || !DECIMAL_TEXT.test(text)) return undefined;
  const value = Number(text);
  return Number.isFinite(value) && value < MAX_ABS_VALUE ? value : undefined;
}

/** Fixed-point text with exactly `decimals` fraction digits, as Binance sends (`"0.00100000"`). */
export function formatFixed(value: number, decimals: number): string {
  return value.toFixed(decimals);
}

/**
 * The shortest plain decimal text that converts back to exactly `value` (`"400.23"`, `"5.23512"`),
 * as Coinbase's documentation shows. `String()` already gives the shortest round-trip digits but
 * switches to exponent form below 1e-6, which no provider sends; this spells such values out.
 */
export function formatShortest(value: number): string {
  const text = String(value);
  const match = /^(\d)(?:\.(\d+))?e-(\d+)$/.exec(text);
  if (!match) return text;
  const [, lead = '', rest = '', exponent = '0'] = match;
  return `0.${'0'.repeat(Number(exponent) - 1)}${lead}${rest}`;
}
