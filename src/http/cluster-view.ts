/**
 * What the HTTP layer may ask of the worker: a narrow view, so the API knows nothing of feeds,
 * leases or scripts. Tests implement it with a fake to reach every route and error in-process.
 */
import type { AggregateSnapshot, AggregateSummary, Bar } from '../aggregate/index.js';
import type { BarRange } from '../cluster/bar-store.js';
import type { CheckpointRecord } from '../cluster/checkpoints.js';
import type { PlacementChange } from '../cluster/placement-admin.js';
import type { Assignment } from '../cluster/ring.js';
import type { WorkerReport } from './worker-report.js';

/** The active relay's record in Redis (see `src/relay/relay-lease.ts`). */
export interface ActiveRelayRecord {
  readonly holder: string;
  /** Fencing token: rises by one whenever another relay takes over. */
  readonly token: number;
  readonly address: string;
  /** The upstream provider it relays. */
  readonly feed: string;
}

export type { BarRange } from '../cluster/bar-store.js';
export type { PlacementChange } from '../cluster/placement-admin.js';

export interface Readiness {
  /** Member of the ring, feed connected, caught up with the ring: take traffic. */
  readonly ready: boolean;
  /**
   * Knows the ring and is not shutting down, so it can answer symbol queries (from memory, by
   * forwarding, or from Redis) even while its own feed is down.
   */
  readonly serving: boolean;
  /** Why not ready, in words an operator acts on; empty when ready. */
  readonly reasons: readonly string[];
}

/** A live aggregate this worker owns, with a token that changes whenever the aggregate does. */
export interface LocalSnapshot {
  readonly snapshot: AggregateSnapshot;
  /** Equal tokens mean equal data: `<epoch>:<changes>`. */
  readonly version: string;
}

export interface UniverseChange {
  /** The epoch the change produced (0 when nothing changed). */
  readonly epoch: number;
  /** Symbols actually added or removed. */
  readonly changed: number;
}

/**
 * Operator changes to placement, made as `src/cluster/placement-admin.ts` makes them: each bumps the
 * epoch when it changes something. A refusal rejects with that module's `TickringError`:
 * `TICKRING_ERR_NOT_MEMBER` when the worker is not an active member, `TICKRING_ERR_CONFIG` when the
 * symbol is not in the universe (pin) or the worker is the last active one (drain).
 */
export interface PlacementWrites {
  pin(symbol: string, workerId: string): Promise<PlacementChange>;
  unpin(symbol: string): Promise<PlacementChange>;
  drain(workerId: string): Promise<PlacementChange>;
}

export interface ClusterView {
  readonly workerId: string;
  /** The epoch this worker acts on. */
  epoch(): number;
  assignment(): Assignment | undefined;
  /** Bar intervals the aggregates keep (ms), e.g. `[1000, 60000, 300000]`. */
  barIntervalsMs(): readonly number[];
  /** The live aggregate of a symbol this worker owns and has loaded, else undefined. */
  localSnapshot(symbol: string): LocalSnapshot | undefined;
  /** `localSnapshot`'s trade count and last price alone, for the listing; undefined as it is. */
  localSummary(symbol: string): AggregateSummary | undefined;
  /**
   * A token that changes whenever `localSnapshot(symbol)` would answer differently (a new trade, a
   * new epoch, another aggregate object), `undefined` when it would answer nothing. Lets the API
   * serve a symbol's serialized answer again while it is unchanged. Absent: answers are not reused.
   */
  localVersion?(symbol: string): string | undefined;
  /** The kept bars (the open one included) of a symbol this worker owns and has loaded, oldest first. */
  localBars(symbol: string, intervalMs: number): readonly Bar[] | undefined;
  /** Whether this worker owns `symbol` and acts on an epoch at least `minEpoch`. */
  ownsAt(symbol: string, minEpoch: number): boolean;
  readCheckpoint(symbol: string): Promise<CheckpointRecord | null>;
  /** Completed bars from Redis: the newest `range.limit` in the range, oldest first. */
  readBarHistory(symbol: string, intervalMs: number, range: BarRange): Promise<Bar[]>;
  /** Re-reads the ring record now (after a failed forward). */
  refreshRing(): Promise<void>;
  readiness(): Readiness;
  /**
   * `readiness().serving` alone, asked on every symbol request: a view whose readiness costs more
   * than a few reads (counting loading symbols) answers this cheaply. Absent: readiness is asked.
   */
  isServing?(): boolean;
  /** Admin writes to the universe; each change bumps the epoch. */
  addSymbols(symbols: readonly string[]): Promise<UniverseChange>;
  removeSymbols(symbols: readonly string[]): Promise<UniverseChange>;
  /** This worker's report for the dashboard; a view without it answers `/v1/internal/worker` with 503. */
  readonly report?: () => WorkerReport;
  /**
   * Whether this worker follows `symbol` as a standby (`--replicas 2`), and how far: `loading` while
   * warming, `live` once it could take over. Absent or undefined: it does not follow it.
   */
  standbyState?(symbol: string): 'loading' | 'live' | undefined;
  /** The active relay as published in Redis, undefined when none is; absent: not known here. */
  activeRelay?(): Promise<ActiveRelayRecord | undefined>;
  /** Pins and drains; a view without them answers those admin routes with 503. */
  readonly placement?: PlacementWrites;
}
