/**
 * How far an aggregate got in one symbol's trade stream, in a form another worker can find in its own
 * copy of the stream (both carry one symbol's trades in the same order): the last trade's
 * de-duplication key and, where the provider numbers trades, its sequence number; for a provider
 * without trade ids (Finnhub), the last trade time and how many trades with that time were applied.
 */
export interface StreamPosition {
  /** De-duplication key of the last trade applied; `''` when none or the provider has no ids. */
  readonly key: string;
  /** Sequence number of the last trade applied, where the provider has one. */
  readonly seq: number | null;
  /** Trade time (ms) of the last trade applied; 0 when none. */
  readonly timeMs: number;
  /** Trades applied with exactly that time. */
  readonly atTime: number;
}

export const START_OF_STREAM: StreamPosition = Object.freeze({ key: '', seq: null, timeMs: 0, atTime: 0 });
