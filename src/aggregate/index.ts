/**
 * The aggregate layer: pure, no I/O. Normalized trades in; per-symbol aggregates, bars and checkpoints
 * out. Other layers import from here only.
 */
export { ByteSlab, CHECKPOINT_SLAB } from './byte-slab.js';
export { CompensatedSum } from './compensated-sum.js';
export {
  CONDITION_PROVIDERS,
  ConditionRules,
  conditionRulesFor,
  fromMask,
  toMask,
  UPDATES_ALL,
  UPDATES_HIGH_LOW,
  UPDATES_LAST,
  UPDATES_OPEN_CLOSE,
  UPDATES_UNKNOWN,
  UPDATES_VOLUME,
  type ConditionEligibility,
  type ConditionOverrides,
} from './conditions.js';
export { alignDown, BarSeries, BarSet, type Bar, type BarSeriesSummary } from './bars.js';
export {
  CHECKPOINT_VERSION,
  parseCheckpoint,
  type AggregateCheckpoint,
  type AggregateCounters,
  type BarSeriesCheckpoint,
  type BarTuple,
  type LastTradeCheckpoint,
  type SessionCheckpoint,
  type SumPair,
} from './checkpoint.js';
export {
  DAY_MS,
  DEFAULT_AGGREGATE_OPTIONS,
  resolveAggregateOptions,
  sessionStartFor,
  type AggregateOptions,
} from './options.js';
export { type RecordPlacement } from './flat-slab.js';
export { PackedCheckpoint, parseStoredCheckpoint, unpackCheckpoint } from './packed-checkpoint.js';
export {
  SymbolAggregate,
  type AggregateSnapshot,
  type AggregateSummary,
  type LastTradeSnapshot,
} from './symbol-aggregate.js';
