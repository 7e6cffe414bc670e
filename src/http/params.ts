/**
 * Query and path parameters: each one parsed in one place and rejected with a 400 that names it and
 * says what it accepts. Unknown and repeated query parameters are rejected too, so a typo such as
 * `?limt=5` fails loudly instead of silently returning the default.
 */
import { isValidSymbol, SYMBOL_RULE } from '../../feeds/symbol.js';
import { WORKER_ID_PATTERN } from '../config/options.js';
import { badParam } from './respond.js';

/** Rejects parameters a route does not take and parameters given twice. */
export function checkQuery(query: URLSearchParams, allowed: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of query.keys()) {
    if (!allowed.includes(name)) {
      const takes = allowed.length === 0 ? 'no query parameters' : allowed.join(', ');
      throw badParam(
        name,
        `unknown query parameter ${JSON.stringify(name.slice(0, 40))}: this route takes ${takes}`,
      );
    }
    if (seen.has(name)) throw badParam(name, `query parameter ${name} is given more than once`);
    seen.add(name);
  }
}

function shown(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

export function symbolParam(params: Readonly<Record<string, string>>): string {
  const symbol = params['symbol'] ?? '';
  if (!isValidSymbol(symbol))
    throw badParam('symbol', `malformed symbol ${shown(symbol)}: a symbol is ${SYMBOL_RULE}`);
  return symbol;
}

export interface IntRange {
  readonly min: number;
  readonly max: number;
  readonly fallback: number;
}

export function parseLimit(query: URLSearchParams, range: IntRange, name = 'limit'): number {
  const raw = query.get(name);
  if (raw === null) return range.fallback;
  const value = /^\d{1,7}$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= range.min && value <= range.max)) {
    throw badParam(name, `${name} must be an integer from ${range.min} to ${range.max}, got ${shown(raw)}`);
  }
  return value;
}

const ISO_DATE_TIME =
  /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2})?)(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2}))?$/;

/**
 * A point in time: Unix milliseconds (`1718000000000`) or ISO 8601 with a time zone
 * (`2024-06-10T14:30:00Z`, `2024-06-10T10:30:00.250-04:00`) or a date alone (UTC midnight).
 */
export function parseTime(query: URLSearchParams, name: string): number | null {
  const given = query.get(name);
  if (given === null) return null;
  // An unencoded `+` of a zone offset arrives as a space: take it back.
  const raw = given.replace(/ (\d{2}:\d{2})$/, '+$1');
  let ms = NaN;
  if (/^-?\d{1,16}$/.test(raw)) {
    ms = Number(raw);
  } else {
    const match = ISO_DATE_TIME.exec(raw);
    if (match && (match[2] === undefined) === (match[4] === undefined)) {
      const [, date, time, fraction, zone] = match;
      // Date.parse reads at most milliseconds; finer digits are cut, not rounded.
      const ms3 = fraction === undefined ? '' : `.${fraction.slice(0, 3).padEnd(3, '0')}`;
      ms =
        time === undefined
          ? Date.parse(`${date ?? ''}T00:00:00Z`)
          : Date.parse(`${date ?? ''}T${time}${ms3}${zone ?? ''}`);
    }
  }
  if (!Number.isSafeInteger(ms) || Math.abs(ms) > 8.64e15) {
    throw badParam(
      name,
      `${name} must be Unix milliseconds or an ISO 8601 time with a zone (e.g. 2024-06-10T14:30:00Z), got ${shown(raw)}`,
    );
  }
  return ms;
}

/** `from` and `to`, checked for order. */
export function parseTimeRange(query: URLSearchParams): { fromMs: number | null; toMs: number | null } {
  const fromMs = parseTime(query, 'from');
  const toMs = parseTime(query, 'to');
  if (fromMs !== null && toMs !== null && fromMs > toMs) {
    throw badParam(
      'from',
      `from (${new Date(fromMs).toISOString()}) is after to (${new Date(toMs).toISOString()})`,
    );
  }
  return { fromMs, toMs };
}

const UNITS: readonly [string, number][] = [
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
];

/** `60000` → `1m`, `1000` → `1s`, `1500` → `1500ms`. */
export function formatInterval(ms: number): string {
  for (const [unit, size] of UNITS) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** The bar interval asked for, one of the configured ones; default `1m` when kept, else the first. */
export function parseInterval(query: URLSearchParams, configured: readonly number[]): number {
  const raw = query.get('interval');
  const names = configured.map(formatInterval);
  if (raw === null) {
    const fallback = configured.includes(60_000) ? 60_000 : configured[0];
    if (fallback === undefined) throw badParam('interval', 'this cluster keeps no bars');
    return fallback;
  }
  const index = names.indexOf(raw);
  const ms = configured[index];
  if (ms === undefined)
    throw badParam('interval', `interval must be one of ${names.join(', ')}, got ${shown(raw)}`);
  return ms;
}

/** A comma-separated list of symbols, each valid, no repeats, at most `max`. */
export function parseSymbolList(query: URLSearchParams, name: string, max: number): string[] {
  const raw = query.get(name);
  if (raw === null || raw.trim() === '')
    throw badParam(name, `${name} is required: a comma-separated list of symbols`);
  const symbols = [...new Set(raw.split(',').map((s) => s.trim()))].filter((s) => s !== '');
  if (symbols.length > max)
    throw badParam(name, `${name} lists ${symbols.length} symbols; at most ${max} are allowed`);
  const bad = symbols.find((s) => !isValidSymbol(s));
  if (bad !== undefined)
    throw badParam(name, `malformed symbol ${shown(bad)} in ${name}: a symbol is ${SYMBOL_RULE}`);
  return symbols;
}

export function parsePrefix(query: URLSearchParams): string | null {
  const raw = query.get('prefix');
  if (raw === null) return null;
  if (!isValidSymbol(raw)) {
    throw badParam('prefix', `prefix must be the start of a symbol (${SYMBOL_RULE}), got ${shown(raw)}`);
  }
  return raw;
}

export function parseOwner(query: URLSearchParams): string | null {
  const raw = query.get('owner');
  if (raw === null) return null;
  if (!WORKER_ID_PATTERN.test(raw)) throw badParam('owner', `owner must be a worker id, got ${shown(raw)}`);
  return raw;
}

/** Cursors are opaque to clients: the last symbol of the previous page, base64url-encoded. */
export function encodeCursor(symbol: string): string {
  return Buffer.from(symbol, 'utf8').toString('base64url');
}

export function parseCursor(query: URLSearchParams): string | null {
  const raw = query.get('cursor');
  if (raw === null) return null;
  const symbol = /^[A-Za-z0-9_-]{1,64}$/.test(raw) ? Buffer.from(raw, 'base64url').toString('utf8') : '';
  if (!isValidSymbol(symbol)) {
    throw badParam('cursor', 'cursor is not one this API handed out; pass nextCursor from the previous page');
  }
  return symbol;
}
