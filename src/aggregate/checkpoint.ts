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

/**
 * What a number must be. Each rule is stated once and used twice: `numberSchema` makes the zod schema
 * of an object field from it, and `numberIssues` applies it to an element of a bar tuple.
 */
interface NumberRule {
  /** A safe integer, as zod's `.int()` wants. */
  readonly int: boolean;
  readonly min: number;
  readonly max: number;
  /** `null` is allowed too. */
  readonly nullable: boolean;
}

function numberRule(rule: Partial<NumberRule>): NumberRule {
  return { int: false, min: -Infinity, max: Infinity, nullable: false, ...rule };
}

const ANY_NUMBER = numberRule({});
const TIME = numberRule({ int: true });
const NANOS = numberRule({ int: true, min: 0, max: 999_999 });
const COUNT = numberRule({ int: true, min: 0 });
const PRICE = numberRule({ nullable: true });
const FLAGS = numberRule({ int: true, min: 0, max: 3 });

/** The rule of each element of a `BarTuple`, in order. */
const BAR_TUPLE: readonly NumberRule[] = [
  TIME,
  PRICE,
  TIME,
  NANOS,
  PRICE,
  PRICE,
  PRICE,
  TIME,
  NANOS,
  ANY_NUMBER,
  ANY_NUMBER,
  ANY_NUMBER,
  ANY_NUMBER,
  COUNT,
  FLAGS,
];

/** The zod schema of a rule, less `nullable` (add `.nullable()` where a field may be null). */
function numberSchema(rule: NumberRule): z.ZodNumber {
  let schema = z.number();
  if (rule.int) schema = schema.int();
  if (rule.min > -Infinity) schema = schema.min(rule.min);
  if (rule.max < Infinity) schema = schema.max(rule.max);
  return schema;
}

const count = numberSchema(COUNT);
const nanos = numberSchema(NANOS);
const time = numberSchema(TIME);
const price = numberSchema(ANY_NUMBER).nullable();
const sum = z.tuple([z.number(), z.number()]);

type Issue = Exclude<Parameters<z.RefinementCtx['addIssue']>[0], string>;

/** zod's issue for a value past a bound (`limit` included in the range). */
function bound(code: 'too_small' | 'too_big', origin: string, limit: number, input: unknown): Issue {
  return code === 'too_small'
    ? { code, origin, minimum: limit, inclusive: true, input }
    : { code, origin, maximum: limit, inclusive: true, input };
}

const SAFE_INTEGER_NOTE = 'Integers must be within the safe integer range.';

/**
 * The issues `numberSchema(rule)` would raise for `value`, with zod's own codes and fields, so that the
 * messages read as zod's. `continue: false` where zod stops at the issue (`superRefine` defaults to
 * true): it decides whether the refinements after it (bar order and alignment) run, as with `z.tuple`.
 * `undefined`, allocating nothing, when the value is fine: the common case.
 */
function numberIssues(value: unknown, rule: NumberRule): Issue[] | undefined {
  if (value === null && rule.nullable) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    // `z.number()` rejects NaN and ±Infinity too, naming them.
    const received = typeof value === 'number' ? { received: String(value) } : {};
    return [{ code: 'invalid_type', expected: 'number', input: value, continue: false, ...received }];
  }
  let issues: Issue[] | undefined;
  if (rule.int && !Number.isSafeInteger(value)) {
    if (!Number.isInteger(value)) {
      return [{ code: 'invalid_type', expected: 'int', format: 'safeint', input: value, continue: false }];
    }
    const unsafe =
      value > 0
        ? bound('too_big', 'int', Number.MAX_SAFE_INTEGER, value)
        : bound('too_small', 'int', Number.MIN_SAFE_INTEGER, value);
    issues = [{ ...unsafe, note: SAFE_INTEGER_NOTE }];
  }
  if (value < rule.min) (issues ??= []).push(bound('too_small', 'number', rule.min, value));
  if (value > rule.max) (issues ??= []).push(bound('too_big', 'number', rule.max, value));
  return issues;
}

/** The issues of one bar tuple, as `z.tuple` raised them, with paths relative to the tuple. */
function barTupleIssues(tuple: unknown): Issue[] | undefined {
  const length = BAR_TUPLE.length;
  if (!Array.isArray(tuple)) {
    return [{ code: 'invalid_type', expected: 'tuple', input: tuple, continue: false }];
  }
  // Too short stops there; too long still has its first 15 elements checked.
  if (tuple.length < length) return [{ ...bound('too_small', 'array', length, tuple), continue: false }];
  let issues: Issue[] | undefined =
    tuple.length > length ? [{ ...bound('too_big', 'array', length, tuple), continue: false }] : undefined;
  BAR_TUPLE.forEach((rule, j) => {
    const found = numberIssues(tuple[j], rule);
    if (found) (issues ??= []).push(...found.map((issue) => ({ ...issue, path: [j] })));
  });
  return issues;
}

/**
 * The bars or outbox of a series, checked in one loop rather than as `z.array(z.tuple([...]))`: zod ran
 * 15 schemas per bar, three quarters of the time spent validating a checkpoint, which a new owner does
 * for each symbol it takes over. The array is passed through, not copied (every reader copies the
 * tuples into bars anyway).
 */
function checkBarTuples(value: unknown, ctx: z.RefinementCtx): void {
  if (!Array.isArray(value)) {
    ctx.addIssue({ code: 'invalid_type', expected: 'array', input: value, continue: false });
    return;
  }
  for (let i = 0; i < value.length; i++) {
    const issues = barTupleIssues(value[i]);
    if (issues) for (const issue of issues) ctx.addIssue({ ...issue, path: [i, ...(issue.path ?? [])] });
  }
}

const barTuples = z.custom<BarTuple[]>().superRefine(checkBarTuples);

/**
 * A series' bars in ascending order and aligned to its interval (exported for the tests' reference
 * schema, which differs only in how it checks the tuples).
 */
export function checkBars(
  bars: readonly BarTuple[],
  intervalMs: number,
  ctx: z.RefinementCtx,
  at: string,
): void {
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
    bars: barTuples,
    outbox: barTuples,
  })
  .strict()
  .superRefine((series, ctx) => {
    checkBars(series.bars, series.intervalMs, ctx, 'bars');
    checkBars(series.outbox, series.intervalMs, ctx, 'outbox');
  });

/** The schema of a checkpoint (exported for the tests, which hold `isCheckpoint` to its verdicts). */
export const checkpointSchema = z
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

/** `value` holds under `rule`, as `numberSchema(rule)` (made `.nullable()` where the rule says) would say. */
function holds(value: unknown, rule: NumberRule): boolean {
  if (value === null) return rule.nullable;
  return (
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!rule.int || Number.isSafeInteger(value)) &&
    value >= rule.min &&
    value <= rule.max
  );
}

/** A plain object with exactly these own keys, as a `.strict()` object schema wants. */
function hasExactly(value: unknown, keys: readonly string[]): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.keys(value).length === keys.length && keys.every((key) => Object.hasOwn(value, key));
}

const CHECKPOINT_KEYS = ['version', 'symbol', 'session', 'last', 'counters', 'bars'];
const SESSION_KEYS = ['startMs', 'open', 'openMs', 'openNs', 'high', 'low', 'close', 'closeMs', 'closeNs'];
const SESSION_ALL_KEYS = [...SESSION_KEYS, 'volume', 'notional', 'trades', 'amended'];
/** The session's number fields, in `SESSION_KEYS` order: a bar tuple's first nine. */
const SESSION_RULES = BAR_TUPLE.slice(0, SESSION_KEYS.length);
const LAST_KEYS = ['price', 'size', 'timeMs', 'timeNanos', 'exchange', 'id'];
const COUNTER_KEYS = ['lateSession', 'invalid', 'cancels', 'corrections', 'unmatchedCancels'];
const SERIES_KEYS = [
  'intervalMs',
  'watermarkMs',
  'lateDropped',
  'unmatchedCancels',
  'unpublishedDropped',
  'bars',
  'outbox',
];
const INTERVAL = numberRule({ int: true, min: 1 });
const NULLABLE_TIME = numberRule({ int: true, nullable: true });

const isSum = (value: unknown): boolean =>
  Array.isArray(value) && value.length === 2 && holds(value[0], ANY_NUMBER) && holds(value[1], ANY_NUMBER);

function isSession(value: unknown): boolean {
  if (value === null) return true;
  if (!hasExactly(value, SESSION_ALL_KEYS)) return false;
  if (!SESSION_KEYS.every((key, i) => holds(value[key], SESSION_RULES[i] as NumberRule))) return false;
  const { high, low } = value;
  return (
    isSum(value['volume']) &&
    isSum(value['notional']) &&
    holds(value['trades'], COUNT) &&
    typeof value['amended'] === 'boolean' &&
    (high === null || low === null || (high as number) >= (low as number))
  );
}

function isLast(value: unknown): boolean {
  if (value === null) return true;
  if (!hasExactly(value, LAST_KEYS)) return false;
  const { exchange, id } = value;
  return (
    holds(value['price'], ANY_NUMBER) &&
    holds(value['size'], ANY_NUMBER) &&
    holds(value['timeMs'], TIME) &&
    holds(value['timeNanos'], NANOS) &&
    typeof exchange === 'string' &&
    exchange.length <= 64 &&
    typeof id === 'string' &&
    id.length <= 64
  );
}

/** Bar tuples valid one by one, aligned to the interval and in ascending order (`checkBars`). */
function areBars(value: unknown, intervalMs: number): boolean {
  if (!Array.isArray(value)) return false;
  let previous = -Infinity;
  for (const tuple of value as unknown[]) {
    if (!Array.isArray(tuple) || tuple.length !== BAR_TUPLE.length) return false;
    for (let j = 0; j < BAR_TUPLE.length; j++) if (!holds(tuple[j], BAR_TUPLE[j] as NumberRule)) return false;
    const start = tuple[0] as number;
    if (start % intervalMs !== 0 || start <= previous) return false;
    previous = start;
  }
  return true;
}

function isSeries(value: unknown): boolean {
  if (!hasExactly(value, SERIES_KEYS)) return false;
  const intervalMs = value['intervalMs'];
  return (
    holds(intervalMs, INTERVAL) &&
    holds(value['watermarkMs'], NULLABLE_TIME) &&
    holds(value['lateDropped'], COUNT) &&
    holds(value['unmatchedCancels'], COUNT) &&
    holds(value['unpublishedDropped'], COUNT) &&
    areBars(value['bars'], intervalMs as number) &&
    areBars(value['outbox'], intervalMs as number)
  );
}

/**
 * What `checkpointSchema` accepts, as a yes or no: the same rules, checked in place, without the
 * schema's issue objects or its copy of the value. The tests hold the two to the same verdicts.
 */
export function isCheckpoint(value: unknown): value is AggregateCheckpoint {
  if (!hasExactly(value, CHECKPOINT_KEYS)) return false;
  const { symbol, counters, bars } = value;
  return (
    value['version'] === CHECKPOINT_VERSION &&
    typeof symbol === 'string' &&
    isValidSymbol(symbol) &&
    isSession(value['session']) &&
    isLast(value['last']) &&
    hasExactly(counters, COUNTER_KEYS) &&
    COUNTER_KEYS.every((key) => holds(counters[key], COUNT)) &&
    Array.isArray(bars) &&
    // Not `every`, which skips the holes of a sparse array where the schema sees `undefined`.
    Array.from(bars as unknown[], isSeries).indexOf(false) < 0 &&
    new Set(bars.map((series: { intervalMs: number }) => series.intervalMs)).size === bars.length
  );
}

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
  // Nearly every checkpoint read is valid, and a plain check says so several times faster than the
  // schema, whose words only a corrupt one needs.
  if (isCheckpoint(json)) return json;
  const result = checkpointSchema.safeParse(json);
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
