/**
 * The fast path of Polygon's decoder: reads a frame that is a JSON array of well-formed trade (`T`)
 * events straight from the text, without the objects `JSON.parse` would build for each event and read
 * once. It accepts only what it is sure of; for anything else (a status event, an invalid trade, an
 * escape in a string, an exponent, an object or array where a scalar belongs, a repeated key) it
 * returns false having emitted nothing, and the caller decodes the frame the general way, which then
 * gives the exact answer, rejections included. So both paths give the same trades for every frame;
 * `test/unit/feeds/polygon-scan.test.ts` checks that on generated and mutated frames.
 *
 * What it saves per trade: the parsed event object and its properties, the symbol string (shared
 * through `StringInterner`, validated once per symbol), the exchange text (shared for codes 0-255) and
 * the conditions array (one frozen array per combination of codes, e.g. `['14', '41']`).
 */
import { isValidPrice, isValidSize } from './adapter.js';
import { scanNumber, scanned, scanString, skipScalar, skipSpace } from './json-scan.js';
import { StringInterner } from './string-intern.js';
import { isValidSymbol } from './symbol.js';
import { NO_CONDITIONS, type Trade } from './trade.js';

const EARLIEST_MS = Date.UTC(1990, 0, 1);
const LATEST_MS = Date.UTC(2200, 0, 1);
const MAX_ID_CHARS = 64;

const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const COMMA = 0x2c;
const COLON = 0x3a;
const QUOTE = 0x22;
/** JSON whitespace is at or below this code (so is every control character, which `skipSpace` stops at). */
const SPACE_MAX = 0x20;

const symbols = new StringInterner(isValidSymbol);

/** Exchange codes as text, shared: Polygon's ids are small integers. */
const EXCHANGE_TEXT: readonly string[] = Array.from({ length: 256 }, (_, code) => String(code));

/** Condition arrays by their codes, shared and frozen; bounded, since codes come from the feed. */
const conditionArrays = new Map<number, readonly string[]>();
const MAX_CONDITION_ARRAYS = 4_096;
/**
 * Codes read from the current `c` array: the first `codeCount` entries. Never emptied, only
 * overwritten: emptying an array drops its storage, so every trade's codes would allocate it anew.
 */
const codes: number[] = [];
let codeCount = 0;

// Bits of the keys seen in one event, to refuse a repeated key (JSON.parse would keep the last).
const K_EV = 1;
const K_SYM = 2;
const K_I = 4;
const K_X = 8;
const K_P = 16;
const K_S = 32;
const K_C = 64;
const K_T = 128;
const K_Q = 256;

/** The bit of each known one-letter key, by its character code. */
const ONE_LETTER_KEYS: number[] = new Array<number>(128).fill(0);
for (const [letter, bit] of [
  ['i', K_I],
  ['x', K_X],
  ['p', K_P],
  ['s', K_S],
  ['c', K_C],
  ['t', K_T],
  ['q', K_Q],
] as const) {
  ONE_LETTER_KEYS[letter.charCodeAt(0)] = bit;
}

/** Which known key the text between `start` and `end` (inside the quotes) names; 0 for any other. */
function keyBit(text: string, start: number, end: number): number {
  const length = end - start;
  const first = text.charCodeAt(start);
  if (length === 1) {
    switch (first) {
      case 0x69: // i
        return K_I;
      case 0x78: // x
        return K_X;
      case 0x70: // p
        return K_P;
      case 0x73: // s
        return K_S;
      case 0x63: // c
        return K_C;
      case 0x74: // t
        return K_T;
      case 0x71: // q
        return K_Q;
      default:
        return 0;
    }
  }
  if (length === 2 && first === 0x65 && text.charCodeAt(start + 1) === 0x76) return K_EV; // ev
  if (length === 3 && text.startsWith('sym', start)) return K_SYM;
  return 0;
}

/** The codes read last, as the general path's `c.map(String)` spells them: a new array. */
function spelledCodes(): string[] {
  const spelled: string[] = [];
  for (let i = 0; i < codeCount; i++) spelled.push(String(codes[i]));
  return spelled;
}

/** The shared array of the codes read last, as the general path's `c.map(String)` would spell them. */
function conditionsOf(): readonly string[] {
  if (codeCount === 0) return NO_CONDITIONS;
  let key = 1;
  let small = codeCount <= 6;
  for (let i = 0; small && i < codeCount; i++) {
    const code = codes[i] as number;
    if (code >= 0 && code <= 255 && !Object.is(code, -0)) key = key * 256 + code;
    else small = false;
  }
  if (!small) return spelledCodes();
  let shared = conditionArrays.get(key);
  if (shared === undefined) {
    shared = Object.freeze(spelledCodes());
    if (conditionArrays.size < MAX_CONDITION_ARRAYS) conditionArrays.set(key, shared);
  }
  return shared;
}

/**
 * Reads a `c` value (an array of integers) at `at` into `codes` and `codeCount`; the position after
 * it, or -1.
 */
function scanCodes(text: string, at: number): number {
  codeCount = 0;
  if (text.charCodeAt(at) !== OPEN_ARRAY) return -1;
  let i = skipSpace(text, at + 1);
  if (text.charCodeAt(i) === CLOSE_ARRAY) return i + 1;
  for (;;) {
    i = scanNumber(text, i);
    if (i < 0 || !Number.isInteger(scanned.value)) return -1;
    codes[codeCount++] = scanned.value;
    i = skipSpace(text, i);
    const c = text.charCodeAt(i);
    if (c === CLOSE_ARRAY) return i + 1;
    if (c !== COMMA) return -1;
    i = skipSpace(text, i + 1);
  }
}

/** What `scanPolygonTrades` returns for a frame it leaves to the general path. */
export const NOT_SCANNED = -1;

/** The symbol string the scanner hands out for `symbol` (see `StringInterner.canonical`). */
export function canonicalPolygonSymbol(symbol: string): string {
  return symbols.canonical(symbol);
}

/**
 * Decodes `frame` into `out[0]` to `out[n - 1]` when it is an array of valid trade events and
 * nothing else, and returns `n`; returns `NOT_SCANNED` otherwise (then `out` may hold some of its
 * trades: the caller discards them). Entries past `n` are left as they were, so a caller can reuse
 * `out` from frame to frame without it being reallocated.
 */
export function scanPolygonTrades(frame: string, out: Trade[]): number {
  let count = 0;
  let i = skipSpace(frame, 0);
  if (frame.charCodeAt(i) !== OPEN_ARRAY) return NOT_SCANNED;
  i = skipSpace(frame, i + 1);
  if (frame.charCodeAt(i) === CLOSE_ARRAY) return skipSpace(frame, i + 1) === frame.length ? 0 : NOT_SCANNED;
  for (;;) {
    if (frame.charCodeAt(i) !== OPEN_OBJECT) return NOT_SCANNED;
    i = skipSpace(frame, i + 1);
    let seen = 0;
    let isTrade = false;
    let symbol: string | undefined;
    let price = NaN;
    let size = NaN;
    let timeMs = NaN;
    let id: string | undefined;
    let exchange = '';
    let seq: number | null = null;
    let conditions = NO_CONDITIONS;
    if (frame.charCodeAt(i) === CLOSE_OBJECT) return NOT_SCANNED; // `{}` is no trade
    for (;;) {
      // V8 inlines nothing more into a function this size, so a call per key and per separator was a
      // quarter of this function's time. The known keys are recognized in place (any other key, or
      // one with an escape, goes through `scanString` and `keyBit`), and whitespace, which feeds do
      // not send, is looked for before `skipSpace` is called to skip it.
      let bit = 0;
      let keyEnd = i + 3;
      if (frame.charCodeAt(i) === QUOTE) {
        const first = frame.charCodeAt(i + 1);
        if (frame.charCodeAt(i + 2) === QUOTE) {
          if (first < 128) bit = ONE_LETTER_KEYS[first] as number;
        } else if (first === 0x65 && frame.startsWith('v"', i + 2)) {
          bit = K_EV;
          keyEnd = i + 4;
        } else if (first === 0x73 && frame.startsWith('ym"', i + 2)) {
          bit = K_SYM;
          keyEnd = i + 5;
        }
      }
      if (bit === 0) {
        keyEnd = scanString(frame, i);
        if (keyEnd < 0) return NOT_SCANNED;
        bit = keyBit(frame, i + 1, keyEnd - 1);
      }
      if ((seen & bit) !== 0) return NOT_SCANNED;
      seen |= bit;
      i = keyEnd;
      if (frame.charCodeAt(i) <= SPACE_MAX) i = skipSpace(frame, i);
      if (frame.charCodeAt(i) !== COLON) return NOT_SCANNED;
      let at = i + 1;
      if (frame.charCodeAt(at) <= SPACE_MAX) at = skipSpace(frame, at);
      const c = frame.charCodeAt(at);
      switch (bit) {
        case K_EV:
          i = scanString(frame, at);
          if (i < 0 || i - at !== 3 || frame.charCodeAt(at + 1) !== 0x54) return NOT_SCANNED; // "T"
          isTrade = true;
          break;
        case K_SYM:
          i = scanString(frame, at);
          if (i < 0) return NOT_SCANNED;
          symbol = symbols.get(frame, at + 1, i - 1);
          if (symbol === undefined) return NOT_SCANNED;
          break;
        case K_I:
          i = scanString(frame, at);
          if (i < 0 || i - at - 2 < 1 || i - at - 2 > MAX_ID_CHARS) return NOT_SCANNED;
          id = frame.slice(at + 1, i - 1);
          break;
        case K_X:
          if (c === QUOTE || c === 0x74 || c === 0x66 || c === 0x6e) {
            // A string, true, false or null: the general path keeps no exchange either.
            i = skipScalar(frame, at);
            if (i < 0) return NOT_SCANNED;
          } else {
            i = scanNumber(frame, at);
            if (i < 0) return NOT_SCANNED;
            const x = scanned.value;
            exchange =
              x >= 0 && x <= 255 && Number.isInteger(x) && !Object.is(x, -0)
                ? (EXCHANGE_TEXT[x] as string)
                : String(x);
          }
          break;
        case K_P:
          i = scanNumber(frame, at);
          if (i < 0 || !isValidPrice(scanned.value)) return NOT_SCANNED;
          price = scanned.value;
          break;
        case K_S:
          i = scanNumber(frame, at);
          if (i < 0 || !isValidSize(scanned.value)) return NOT_SCANNED;
          size = scanned.value;
          break;
        case K_T:
          i = scanNumber(frame, at);
          if (i < 0) return NOT_SCANNED;
          timeMs = scanned.value;
          if (!Number.isInteger(timeMs) || timeMs < EARLIEST_MS || timeMs > LATEST_MS) return NOT_SCANNED;
          break;
        case K_Q:
          if (c === QUOTE || c === 0x74 || c === 0x66 || c === 0x6e) {
            i = skipScalar(frame, at);
            if (i < 0) return NOT_SCANNED;
          } else {
            i = scanNumber(frame, at);
            if (i < 0) return NOT_SCANNED;
            seq = Number.isSafeInteger(scanned.value) ? scanned.value : null;
          }
          break;
        case K_C:
          i = scanCodes(frame, at);
          if (i < 0) return NOT_SCANNED;
          conditions = conditionsOf();
          break;
        default:
          i = skipScalar(frame, at);
          if (i < 0) return NOT_SCANNED;
      }
      if (frame.charCodeAt(i) <= SPACE_MAX) i = skipSpace(frame, i);
      const next = frame.charCodeAt(i);
      if (next === CLOSE_OBJECT) break;
      if (next !== COMMA) return NOT_SCANNED;
      i++;
      if (frame.charCodeAt(i) <= SPACE_MAX) i = skipSpace(frame, i);
    }
    if (!isTrade || symbol === undefined || id === undefined) return NOT_SCANNED;
    if ((seen & (K_P | K_S | K_T)) !== (K_P | K_S | K_T)) return NOT_SCANNED;
    out[count++] = {
      symbol,
      price,
      size,
      timeMs,
      timeNanos: 0,
      id,
      seq,
      exchange,
      conditions,
      kind: 'trade',
      amendsId: '',
    };
    i++;
    if (frame.charCodeAt(i) <= SPACE_MAX) i = skipSpace(frame, i);
    const next = frame.charCodeAt(i);
    if (next === CLOSE_ARRAY) return skipSpace(frame, i + 1) === frame.length ? count : NOT_SCANNED;
    if (next !== COMMA) return NOT_SCANNED;
    i++;
    if (frame.charCodeAt(i) <= SPACE_MAX) i = skipSpace(frame, i);
  }
}
