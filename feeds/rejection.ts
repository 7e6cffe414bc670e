/**
 * How decoders report bad input. A field check returns a `Rejection` instead of calling the sink, so a
 * decoder reads as a list of one-line rules and the caller makes exactly one `sink` call per element.
 * Details are logged and counted, so they stay short and never execute anything from the frame:
 * `String()` on a parsed object would call a `toString` the frame itself may define
 * (`{"toString":1}` makes `String()` throw).
 */
import type { DecodeSink, RejectReason } from './adapter.js';
import type { Trade } from './trade.js';

const MAX_PART_CHARS = 64;

export interface Rejection {
  readonly reason: RejectReason;
  readonly detail: string;
}

export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > MAX_PART_CHARS ? `${value.slice(0, MAX_PART_CHARS)}…` : value;
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  return Array.isArray(value) ? 'array' : typeof value;
}

/** Joins the described parts with spaces: `detail('AAPL', -1)` is `'AAPL -1'`. */
export function detail(...parts: readonly unknown[]): string {
  return parts.map(describeValue).join(' ');
}

export function rejection(reason: RejectReason, ...parts: readonly unknown[]): Rejection {
  return { reason, detail: detail(...parts) };
}

export function isRejection(value: object): value is Rejection {
  return Object.hasOwn(value, 'reason');
}

/** Hands a decoded trade, or the reason it was refused, to the sink. */
export function deliver(result: Trade | Rejection, sink: DecodeSink): void {
  if (isRejection(result)) sink.reject(result.reason, result.detail);
  else sink.trade(result);
}

/** A provider's text (an error message) as a bounded string, `''` when it is not a string. */
export function providerText(value: unknown, maxChars = 200): string {
  return typeof value === 'string' ? value.slice(0, maxChars) : '';
}
