/**
 * The checkpoint of one symbol's aggregate: what goes to Redis and comes back on hand-over. It holds
 * every bit of state, including the compensated sums' error terms and the kept bars, so that
 * `fromCheckpoint(toCheckpoint())` continues exactly where the original left off. Content read back
 * from Redis is never trusted: `parseCheckpoint` checks shape, ranges and ordering and names the first
 * problems it finds.
 */
import { z } from 'zod';
import { isValidSymbol, SYMBOL_RULE } from '../../feeds/symbol.js';
import { TickringError } from '../errors.js';

export const CHECKPOINT_VERSION = 1;

/** A compensated sum as `[sum, compensation]`. */
export type SumPair = [number, number];

/**
 * One bar, as a tuple to keep checkpoints of many kept bars small:
 * `[start, open, openMs, openNs, high, low, close, closeMs, closeNs, volume, volumeC, notional,
 * notionalC, trades, flags]`. Prices are `null` while no price-eligible trade fell in the bar;
 * `flags` is `1` amended | `2` changed since last taken.
 */
export type BarTuple = [
  start: number,
  open: number | null,
  openMs: number,
  openNs: number,
  high: number | null,
  low: number | null,
  close: number | null,
  closeMs: number,
  closeNs: number,
  volume: number,
  volumeC: number,
  notional: number,
  notionalC: number,
  trades: number,
  flags: number,
];

export interface BarSeriesCheckpoint {
  intervalMs: number;
  /** Bars ending at or before this time are complete; `null` before the first trade. */
  watermarkMs: number | null;
  lateDropped: number;
  unmatchedCancels: number;
  unpublishedDropped: number;
  /** Kept bars, oldest first. */
  bars: BarTuple[];
  /** Completed bars evicted before anyone took them. */
  outbox: BarTuple[];
}

export interface SessionCheckpoint {
  startMs: number;
  open: number | null;
  openMs: number;
  openNs: number;
  high: number | null;
  low: number | null;
  close: number | null;
  closeMs: number;
  closeNs: number;
  volume: SumPair;
  notional: SumPair;
  trades: number;
  amended: boolean;
}

export interface LastTradeCheckpoint {
  price: number;
  size: number;
  timeMs: number;
  timeNanos: number;
  exchange: string;
  id: string;
}

export interface AggregateCounters {
  /** Trades (and cancels) from a session older than the current one. */
  lateSession: number;
  /** Trades with a non-finite or negative price or size. */
  invalid: number;
  cancels: number;
  corrections: number;
  /** Cancels that found nothing to take back in the session. */
  unmatchedCancels: number;
}

export interface AggregateCheckpoint {
  version: 1;
  symbol: string;
  session: SessionCheckpoint | null;
  last: LastTradeCheckpoint | null;
  counters: AggregateCounters;
  bars: BarSeriesCheckpoint[];
}

const count = z.number().int().nonnegative();
const nanos = z.number().int().min(0).max(999_999);
const time = z.number().int();
const price = z.number().nullable();
const sum = z.tuple([z.number(), z.number()]);
const barTuple = z.tuple([
  time,
  price,
  time,
  nanos,
  price,
  price,
  price,
  time,
  nanos,
  z.number(),
  z.number(),
  z.number(),
  z.number(),
  count,
  z.number().int().min(0).max(3),
]);

function checkBars(bars: readonly BarTuple[], intervalMs: number, ctx: z.RefinementCtx, at: string): void {
  let previous = -Infinity;
  bars.forEach(([start], i) => {
    if (start % intervalMs !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: [at, i, 0],
        message: `bar start ${start} is not aligned to ${intervalMs}`,
      });
    }
    if (start <= previous)
      ctx.addIssue({ code: 'custom', path: [at, i, 0], message: 'bars are not in ascending order' });
    previous = start;
  });
}

const seriesSchema = z
  .object({
    intervalMs: z.number().int().positive(),
    watermarkMs: time.nullable(),
    lateDropped: count,
    unmatchedCancels: count,
    unpublishedDropped: count,
    bars: z.array(barTuple),
    outbox: z.array(barTuple),
  })
  .strict()
  .superRefine((series, ctx) => {
    checkBars(series.bars, series.intervalMs, ctx, 'bars');
    checkBars(series.outbox, series.intervalMs, ctx, 'outbox');
  });

const schema = z
  .object({
    version: z.literal(CHECKPOINT_VERSION),
    symbol: z.string().refine(isValidSymbol, { message: `must be ${SYMBOL_RULE}` }),
    session: z
      .object({
        startMs: time,
        open: price,
        openMs: time,
        openNs: nanos,
        high: price,
        low: price,
        close: price,
        closeMs: time,
        closeNs: nanos,
        volume: sum,
        notional: sum,
        trades: count,
        amended: z.boolean(),
      })
      .strict()
      .refine((s) => s.high === null || s.low === null || s.high >= s.low, { message: 'high is below low' })
      .nullable(),
    last: z
      .object({
        price: z.number(),
        size: z.number(),
        timeMs: time,
        timeNanos: nanos,
        exchange: z.string().max(64),
        id: z.string().max(64),
      })
      .strict()
      .nullable(),
    counters: z
      .object({
        lateSession: count,
        invalid: count,
        cancels: count,
        corrections: count,
        unmatchedCancels: count,
      })
      .strict(),
    bars: z.array(seriesSchema).refine((all) => new Set(all.map((s) => s.intervalMs)).size === all.length, {
      message: 'two bar series have the same interval',
    }),
  })
  .strict() satisfies z.ZodType<AggregateCheckpoint>;

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const shown = issues.slice(0, 3).map((issue) => {
    const path = issue.path.map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`)).join('');
    return `${path === '' ? '(root)' : path.replace(/^\./, '')}: ${issue.message}`;
  });
  const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : '';
  return shown.join('; ') + more;
}

/** Checks a value read from Redis (already JSON-parsed) and returns it typed, or throws saying why not. */
export function parseCheckpoint(json: unknown): AggregateCheckpoint {
  const result = schema.safeParse(json);
  if (!result.success) {
    // The symbol helps find the key, but it is untrusted too: quoted and cut short.
    const raw: unknown =
      typeof json === 'object' && json !== null ? (json as { symbol?: unknown }).symbol : undefined;
    const symbol = typeof raw === 'string' ? ` for ${JSON.stringify(raw.slice(0, 64))}` : '';
    throw new TickringError(
      'TICKRING_ERR_CORRUPT_STATE',
      `aggregate checkpoint${symbol} is corrupt: ${describeIssues(result.error.issues)}`,
      { cause: result.error },
    );
  }
  return result.data;
}
