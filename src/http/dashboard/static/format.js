// @ts-check
/** Number and time formatting for people: fixed precision, thin units, a dash for nothing. */

export const DASH = '–';

/**
 * A price: 2 decimals, more below 1 (crypto and pennies); `scale`, when given, picks the precision
 * (a change is shown as precisely as the price it changes).
 * @param {number | null | undefined} value
 * @param {number | null | undefined} [scale]
 */
export function price(value, scale = value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  const digits = Math.abs(scale ?? value) < 1 ? 4 : 2;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/**
 * A signed change with its percentage.
 * @param {number | null | undefined} pct
 */
export function percent(pct) {
  if (pct === null || pct === undefined || !Number.isFinite(pct)) return DASH;
  const sign = pct > 0 ? '+' : pct < 0 ? '−' : '';
  return `${sign}${Math.abs(pct).toFixed(2)}%`;
}

/**
 * A count or volume, compact: 950, 12.3K, 4.56M.
 * @param {number | null | undefined} value
 */
export function compact(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  const abs = Math.abs(value);
  if (abs < 1_000) return String(Math.round(value * 100) / 100);
  if (abs < 1_000_000) return `${(value / 1_000).toFixed(abs < 10_000 ? 2 : 1)}K`;
  if (abs < 1_000_000_000) return `${(value / 1_000_000).toFixed(abs < 10_000_000 ? 2 : 1)}M`;
  return `${(value / 1_000_000_000).toFixed(2)}B`;
}

/**
 * A rate, one decimal below 100.
 * @param {number | null | undefined} value
 */
export function rate(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  return value < 100 ? value.toFixed(1) : Math.round(value).toLocaleString('en-US');
}

/**
 * A duration in ms as `850 ms`, `2.4 s`, `3 min`.
 * @param {number | null | undefined} ms
 */
export function duration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return DASH;
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/**
 * Local wall-clock time, `14:03:07`.
 * @param {string | number | Date} time
 */
export function clock(time) {
  const date = new Date(time);
  if (Number.isNaN(date.getTime())) return DASH;
  return date.toLocaleTimeString('en-GB', { hour12: false });
}

/**
 * `14:03` for bar axes, `14:03:07` when seconds matter.
 * @param {number} ms
 * @param {boolean} seconds
 */
export function axisTime(ms, seconds) {
  const date = new Date(ms);
  const text = date.toLocaleTimeString('en-GB', { hour12: false });
  return seconds ? text : text.slice(0, 5);
}
