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

const symbols = new StringInterner(isValidSymbol);

/** Exchange codes as text, shared: Polygon's ids are small integers. */
const EXCHANGE_TEXT: readonly string[] = Array.from({ length: 256 }, (_, code) => String(code));

/** Condition arrays by their codes, shared and frozen; bounded, since codes come from the feed. */
const conditionArrays = new Map<number, readonly string[]>();
const MAX_CONDITION_ARRAYS = 4_096;
/** Codes read from the current `c` array (reused). */
const codes: number[] = [];

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

/** The shared array of `codes`, as the general path's `c.map(String)` would spell them. */
function conditionsOf(list: readonly number[]): readonly string[] {
  if (list.length === 0) return NO_CONDITIONS;
  let key = 1;
  let small = list.length <= 6;
  for (let i = 0; small && i < list.length; i++) {
    const code = list[i] as number;
    if (code >= 0 && code <= 255 && !Object.is(code, -0)) key = key * 256 + code;
    else small = false;
  }
  if (!small) return list.map(String);
  let shared = conditionArrays.get(key);
  if (shared === undefined) {
    shared = Object.freeze(list.map(String));
    if (conditionArrays.size < MAX_CONDITION_ARRAYS) conditionArrays.set(key, shared);
  }
  return shared;
}

/** Reads a `c` value (an array of integers) at `at` into `codes`; the position after it, or -1. */
function scanCodes(text: string, at: number): number {
  codes.length = 0;
  if (text.charCodeAt(at) !== OPEN_ARRAY) return -1;
  let i = skipSpace(text, at + 1);
  if (text.charCodeAt(i) === CLOSE_ARRAY) return i + 1;
  for (;;) {
    i = scanNumber(text, i);
    if (i < 0 || !Number.isInteger(scanned.value)) return -1;
    codes.push(scanned.value);
    i = skipSpace(text, i);
    const c = text.charCodeAt(i);
    if (c === CLOSE_ARRAY) return i + 1;
    if (c !== COMMA) return -1;
    i = skipSpace(text, i + 1);
  }
}

/**
 * Decodes `frame` into `out` when it is an array of valid trade events and nothing else; returns
 * false otherwise (then `out` may hold some of its trades: the caller discards them).
 */
export function scanPolygonTrades(frame: string, out: Trade[]): boolean {
  let i = skipSpace(frame, 0);
  if (frame.charCodeAt(i) !== OPEN_ARRAY) return false;
  i = skipSpace(frame, i + 1);
  if (frame.charCodeAt(i) === CLOSE_ARRAY) return skipSpace(frame, i + 1) === frame.length;
  for (;;) {
    if (frame.charCodeAt(i) !== OPEN_OBJECT) return false;
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
    if (frame.charCodeAt(i) === CLOSE_OBJECT) return false; // `{}` is no trade
    for (;;) {
      const keyEnd = scanString(frame, i);
      if (keyEnd < 0) return false;
      const bit = keyBit(frame, i + 1, keyEnd - 1);
      if ((seen & bit) !== 0) return false;
      seen |= bit;
      i = skipSpace(frame, keyEnd);
      if (frame.charCodeAt(i) !== COLON) return false;
      const at = skipSpace(frame, i + 1);
      const c = frame.charCodeAt(at);
      switch (bit) {
        case K_EV:
          i = scanString(frame, at);
          if (i < 0 || i - at !== 3 || frame.charCodeAt(at + 1) !== 0x54) return false; // "T"
          isTrade = true;
          break;
        case K_SYM:
          i = scanString(frame, at);
          if (i < 0) return false;
          symbol = symbols.get(frame, at + 1, i - 1);
          if (symbol === undefined) return false;
          break;
        case K_I:
          i = scanString(frame, at);
          if (i < 0 || i - at - 2 < 1 || i - at - 2 > MAX_ID_CHARS) return false;
          id = frame.slice(at + 1, i - 1);
          break;
        case K_X:
          if (c === QUOTE || c === 0x74 || c === 0x66 || c === 0x6e) {
            // A string, true, false or null: the general path keeps no exchange either.
            i = skipScalar(frame, at);
            if (i < 0) return false;
          } else {
            i = scanNumber(frame, at);
            if (i < 0) return false;
            const x = scanned.value;
            exchange =
              x >= 0 && x <= 255 && Number.isInteger(x) && !Object.is(x, -0)
                ? (EXCHANGE_TEXT[x] as string)
                : String(x);
          }
          break;
        case K_P:
          i = scanNumber(frame, at);
          if (i < 0 || !isValidPrice(scanned.value)) return false;
          price = scanned.value;
          break;
        case K_S:
          i = scanNumber(frame, at);
          if (i < 0 || !isValidSize(scanned.value)) return false;
          size = scanned.value;
          break;
        case K_T:
          i = scanNumber(frame, at);
          if (i < 0) return false;
          timeMs = scanned.value;
          if (!Number.isInteger(timeMs) || timeMs < EARLIEST_MS || timeMs > LATEST_MS) return false;
          break;
        case K_Q:
          if (c === QUOTE || c === 0x74 || c === 0x66 || c === 0x6e) {
            i = skipScalar(frame, at);
            if (i < 0) return false;
          } else {
            i = scanNumber(frame, at);
            if (i < 0) return false;
            seq = Number.isSafeInteger(scanned.value) ? scanned.value : null;
          }
          break;
        case K_C:
          i = scanCodes(frame, at);
          if (i < 0) return false;
          conditions = conditionsOf(codes);
          break;
        default:
          i = skipScalar(frame, at);
          if (i < 0) return false;
      }
      i = skipSpace(frame, i);
      const next = frame.charCodeAt(i);
      if (next === CLOSE_OBJECT) break;
      if (next !== COMMA) return false;
      i = skipSpace(frame, i + 1);
    }
    if (!isTrade || symbol === undefined || id === undefined) return false;
    if ((seen & (K_P | K_S | K_T)) !== (K_P | K_S | K_T)) return false;
    out.push({
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
    });
    i = skipSpace(frame, i + 1);
    const next = frame.charCodeAt(i);
    if (next === CLOSE_ARRAY) return skipSpace(frame, i + 1) === frame.length;
    if (next !== COMMA) return false;
    i = skipSpace(frame, i + 1);
  }
}
