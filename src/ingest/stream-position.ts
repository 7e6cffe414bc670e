/**
 * How far an aggregate got in one symbol's trade stream, in a form another worker can find in its own
 * copy of the stream (both carry one symbol's trades in the same order): the last trade's
 * de-duplication key and, where the provider numbers trades, its sequence number; for a provider
 * without trade ids (Finnhub), the last trade time and how many trades with that time were applied.
 */
import type { TradeIdentity } from '../../feeds/adapter.js';
import type { TradeKind } from '../../feeds/trade.js';

export interface StreamPosition {
  /** De-duplication key of the last trade applied; `''` when none or the provider has no ids. */
  readonly key: string;
  /** Sequence number of the last trade applied, where the provider has one. */
  readonly seq: number | null;
  /** Trade time (ms) of the last trade applied; 0 when none. */
  readonly timeMs: number;
  /** Trades applied with exactly that time. */
  readonly atTime: number;
  /**
   * The trade's identity field by field, for a worker that de-duplicates that way (its adapter
   * lists `dedupFields`) and so cannot look the key text up. Only the first trade of a hand-over
   * signal carries it; absent in checkpoints and in signals of earlier versions.
   */
  readonly identity?: TradeIdentity;
}

export const START_OF_STREAM: StreamPosition = Object.freeze({ key: '', seq: null, timeMs: 0, atTime: 0 });

const TRADE_KINDS: ReadonlySet<string> = new Set<TradeKind>(['trade', 'correction', 'cancel']);

/** A position read back from JSON (a checkpoint, a hand-over signal); `undefined` if malformed. */
export function parseStreamPosition(value: unknown): StreamPosition | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const p = value as Record<string, unknown>;
  const seq = p['seq'];
  if (
    typeof p['key'] !== 'string' ||
    (seq !== null && typeof seq !== 'number') ||
    typeof p['timeMs'] !== 'number' ||
    typeof p['atTime'] !== 'number'
  )
    return undefined;
  const position = { key: p['key'], seq, timeMs: p['timeMs'], atTime: p['atTime'] };
  if (p['identity'] === undefined) return position;
  const identity = parseIdentity(p['identity']);
  return identity === undefined ? undefined : { ...position, identity };
}

function parseIdentity(value: unknown): TradeIdentity | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { symbol, id, exchange, kind } = value as Record<string, unknown>;
  if (typeof symbol !== 'string' || typeof id !== 'string' || typeof exchange !== 'string') return undefined;
  if (typeof kind !== 'string' || !TRADE_KINDS.has(kind)) return undefined;
  return { symbol, id, exchange, kind: kind as TradeKind };
}
