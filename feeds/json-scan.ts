/**
 * Pieces of a strict, allocation-free JSON scanner over a string, for decoders that read one known
 * frame shape without building the objects `JSON.parse` would (see `polygon-scan.ts`). Each function
 * reads from a position and returns the position after what it read, or `-1` when the text is not
 * what it accepts; a caller that sees `-1` gives the whole frame to `JSON.parse` instead, so anything
 * unusual (escapes, exponents, nesting) still gets the exact standard treatment.
 *
 * Numbers: JSON text with at most 15 significant digits and no exponent is read digit by digit into
 * an integer mantissa `m` (exact below 2^53) and divided once by an exact power of ten: both operands
 * are exact float64s, so the one division is correctly rounded and the result is bit for bit what
 * `JSON.parse` (also correctly rounded) gives. Longer digit strings go through `Number()` of the
 * slice, which is the same conversion.
 */

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

/** Exact powers of ten as float64 (all below 2^53, so exact). */
const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/** Digits that fit an exact float64 mantissa (10^15 < 2^53). */
const MAX_FAST_DIGITS = 15;

/** The position of the first character at or after `at` that is not JSON whitespace. */
export function skipSpace(text: string, at: number): number {
  let i = at;
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== SPACE && c !== LF && c !== CR && c !== TAB) return i;
    i++;
  }
}

/**
 * Where the string starting at `at` (on its opening quote) ends: the position after the closing
 * quote, or `-1` for a string with an escape or a control character (left to `JSON.parse`), or an
 * unterminated one. The contents are `text.slice(at + 1, end - 1)`.
 */
export function scanString(text: string, at: number): number {
  if (text.charCodeAt(at) !== QUOTE) return -1;
  const length = text.length;
  for (let i = at + 1; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    if (c === BACKSLASH || c < SPACE) return -1;
  }
  return -1;
}

/** The value of the number scanned last by `scanNumber`, when it returned a position. */
export const scanned = { value: 0 };

/**
 * Reads a JSON number starting at `at` into `scanned.value`; returns the position after it, or `-1`
 * for text that is not a JSON number or has an exponent (left to `JSON.parse`).
 */
export function scanNumber(text: string, at: number): number {
  let i = at;
  let negative = false;
  if (text.charCodeAt(i) === MINUS) {
    negative = true;
    i++;
  }
  const intStart = i;
  let c = text.charCodeAt(i);
  // Written as !(in range): past the end charCodeAt gives NaN, which fails every comparison.
  if (!(c >= ZERO && c <= NINE)) return -1;
  let mantissa = 0;
  let digits = 0;
  // A leading zero stands alone in JSON ("0", "0.5", never "01").
  if (c === ZERO) {
    i++;
    c = text.charCodeAt(i);
    if (c >= ZERO && c <= NINE) return -1;
  } else {
    while (c >= ZERO && c <= NINE) {
      mantissa = mantissa * 10 + (c - ZERO);
      digits++;
      c = text.charCodeAt(++i);
    }
  }
  let fraction = 0;
  if (c === DOT) {
    c = text.charCodeAt(++i);
    if (!(c >= ZERO && c <= NINE)) return -1;
    while (c >= ZERO && c <= NINE) {
      mantissa = mantissa * 10 + (c - ZERO);
      fraction++;
      c = text.charCodeAt(++i);
    }
  }
  if (c === LOWER_E || c === UPPER_E) return -1;
  if (digits + fraction > MAX_FAST_DIGITS) {
    // Leading zeros of the fraction (0.000…) count here too; the slow conversion is still exact.
    const value = Number(text.slice(intStart, i));
    scanned.value = negative ? -value : value;
    return i;
  }
  const value = fraction === 0 ? mantissa : mantissa / (POW10[fraction] as number);
  scanned.value = negative ? -value : value;
  return i;
}

/**
 * Skips one scalar value (string, number, `true`, `false`, `null`) starting at `at`; `-1` for
 * anything else (objects, arrays, escapes), which the caller leaves to `JSON.parse`.
 */
export function skipScalar(text: string, at: number): number {
  const c = text.charCodeAt(at);
  if (c === QUOTE) return scanString(text, at);
  if (c === MINUS || (c >= ZERO && c <= NINE)) return scanNumber(text, at);
  if (text.startsWith('true', at)) return at + 4;
  if (text.startsWith('false', at)) return at + 5;
  if (text.startsWith('null', at)) return at + 4;
  return -1;
}

/** Whether `text` holds exactly `word` between `start` and `end`. */
export function textIs(text: string, start: number, end: number, word: string): boolean {
  return end - start === word.length && text.startsWith(word, start);
}
