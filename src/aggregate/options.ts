/**
 * Options of a symbol's aggregate. Every field has a default in `DEFAULT_AGGREGATE_OPTIONS`; callers
 * pass the fields they change and `resolveAggregateOptions` merges and checks them once, so the
 * per-trade path never re-checks.
 */
import { TickringError } from '../errors.js';
import { conditionRulesFor, type ConditionRules } from './conditions.js';

export const DAY_MS = 86_400_000;

export interface AggregateOptions {
  /** Bar intervals in ms, each a positive integer. Default `[1_000, 60_000, 300_000]`. */
  readonly barIntervalsMs: readonly number[];
  /**
   * Completed bars kept in memory per interval (the open bar comes on top): how late a trade may be and
   * still amend its bar. Default `10` (10 s of 1 s bars, 50 min of 5 min bars). History beyond lives in
   * Redis; the kept bars ride in every checkpoint, so this also sets checkpoint size.
   */
  readonly barCap: number;
  /**
   * Where a session starts, as an offset from UTC midnight in ms (e.g. `9 * 3_600_000` for 04:00 in
   * New York in winter). Default `0`: a session is a UTC day. Ignored when `sessionStartOf` is set.
   */
  readonly sessionStartUtcOffsetMs: number;
  /**
   * Start (Unix ms) of the session a trade time belongs to, for boundaries an offset cannot express
   * (daylight saving, exchange calendars). Must be non-decreasing in its argument. Default `null`.
   */
  readonly sessionStartOf: ((timeMs: number) => number) | null;
  /**
   * What each sale condition may update; build with `conditionRulesFor(feedName, overrides)`.
   * Default: the rules of an unknown provider (trades without conditions update everything, any
   * condition counts in volume only), so a caller that knows its feed should always pass this.
   */
  readonly conditionRules: ConditionRules;
}

export const DEFAULT_AGGREGATE_OPTIONS: AggregateOptions = Object.freeze({
  barIntervalsMs: Object.freeze([1_000, 60_000, 300_000]),
  barCap: 10,
  sessionStartUtcOffsetMs: 0,
  sessionStartOf: null,
  conditionRules: conditionRulesFor(''),
});

function invalid(option: string, rule: string): TickringError {
  return new TickringError('TICKRING_ERR_CONFIG', `aggregate option ${option} ${rule}`);
}

/** Merges `options` over the defaults and checks every field, naming the option and the rule broken. */
export function resolveAggregateOptions(options: Partial<AggregateOptions> = {}): AggregateOptions {
  const merged: AggregateOptions = { ...DEFAULT_AGGREGATE_OPTIONS, ...options };
  const intervals = merged.barIntervalsMs;
  if (intervals.some((ms) => !Number.isSafeInteger(ms) || ms <= 0)) {
    throw invalid('barIntervalsMs', 'must hold positive integers (milliseconds)');
  }
  if (new Set(intervals).size !== intervals.length)
    throw invalid('barIntervalsMs', 'must not repeat an interval');
  if (!Number.isSafeInteger(merged.barCap) || merged.barCap < 1) {
    throw invalid('barCap', 'must be a positive integer');
  }
  const offset = merged.sessionStartUtcOffsetMs;
  if (!Number.isSafeInteger(offset) || offset <= -DAY_MS || offset >= DAY_MS) {
    throw invalid('sessionStartUtcOffsetMs', 'must be an integer number of ms within one day of 0');
  }
  return Object.freeze({ ...merged, barIntervalsMs: Object.freeze([...intervals]) });
}

/** The functions `sessionStartFor` made, by offset; a handful of offsets at most in one process. */
const sessionStartByOffset = new Map<number, (timeMs: number) => number>();
const MAX_CACHED_OFFSETS = 64;

/**
 * The session start for `timeMs` under resolved options. Aggregates with the same offset share one
 * function: an aggregate calls it on every trade, and a function of its own (with the context holding
 * its offset) was two more cache lines per trade to fetch once a worker owns thousands of symbols.
 */
export function sessionStartFor(options: AggregateOptions): (timeMs: number) => number {
  if (options.sessionStartOf !== null) return options.sessionStartOf;
  const offset = options.sessionStartUtcOffsetMs;
  let startOf = sessionStartByOffset.get(offset);
  if (startOf === undefined) {
    startOf = (timeMs) => offset + Math.floor((timeMs - offset) / DAY_MS) * DAY_MS;
    if (sessionStartByOffset.size < MAX_CACHED_OFFSETS) sessionStartByOffset.set(offset, startOf);
  }
  return startOf;
}
