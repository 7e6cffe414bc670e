/**
 * Trade timestamps with their full precision. Alpaca sends RFC 3339 text with up to nine fraction
 * digits (`2021-01-27T10:35:34.82840127Z`) and Coinbase six; a JS `Date` keeps only milliseconds, so
 * the text is parsed by hand into `timeMs` plus `timeNanos` (the nanoseconds within that millisecond),
 * the two fields of the normalized `Trade`.
 */

/** Earliest and latest trade time accepted; anything outside is an error in the feed, not a market. */
export const EARLIEST_MS = Date.UTC(1990, 0, 1);
export const LATEST_MS = Date.UTC(2200, 0, 1);

export interface PreciseTime {
  readonly timeMs: number;
  readonly timeNanos: number;
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Whether `value` is a whole number of Unix milliseconds in the accepted range. */
export function isPlausibleTimeMs(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= EARLIEST_MS && value < LATEST_MS;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Parses RFC 3339 text (`Z` or a `±hh:mm` offset, 0 to 9 fraction digits) into milliseconds and
 * nanoseconds, or returns `undefined` for anything else, including impossible dates (`02-30`), leap
 * seconds and years outside the accepted range.
 */
export function parseRfc3339(text: unknown): PreciseTime | undefined {
  if (typeof text !== 'string' || text.length > 40) return undefined;
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  // Checked before Date.UTC, which maps years 0-99 to 1900-1999.
  if (year < 1990 || year >= 2200) return undefined;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const offsetHours = Number(m[10]);
    const offsetMins = Number(m[11]);
    if (offsetHours > 23 || offsetMins > 59) return undefined;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const fraction = (m[7] ?? '').padEnd(9, '0');
  const timeMs =
    Date.UTC(year, month - 1, day, hour, minute, second) -
    offsetMinutes * 60_000 +
    Number(fraction.slice(0, 3));
  if (timeMs < EARLIEST_MS || timeMs >= LATEST_MS) return undefined;
  return { timeMs, timeNanos: Number(fraction.slice(3)) };
}

/**
 * Formats a UTC time as RFC 3339. `digits` 6 gives Coinbase's fixed microseconds
 * (`.028459Z`, finer digits are cut); `'trimmed'` gives Go's `RFC3339Nano` as Alpaca sends it:
 * nine digits with trailing zeros removed, and no fraction at all when it is zero.
 */
export function formatRfc3339(timeMs: number, timeNanos: number, digits: 6 | 'trimmed'): string {
  const millis = ((timeMs % 1000) + 1000) % 1000;
  const seconds = new Date(timeMs - millis).toISOString().slice(0, 19);
  const fraction = String(millis * 1_000_000 + timeNanos).padStart(9, '0');
  if (digits === 6) return `${seconds}.${fraction.slice(0, 6)}Z`;
  const trimmed = fraction.replace(/0+$/, '');
  return trimmed === '' ? `${seconds}Z` : `${seconds}.${trimmed}Z`;
}
