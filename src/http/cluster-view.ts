/**
 * What the HTTP layer may ask of the worker: a narrow view, so the API knows nothing of feeds,
 * leases or scripts.
 */
import type { AggregateSnapshot } from '../aggregate/index.js';
import type { CheckpointRecord } from '../cluster/checkpoints.js';
import type { Assignment } from '../cluster/ring.js';

export interface SymbolSummary {
  readonly symbol: string;
  readonly owner: string | null;
  readonly trades: number;
}

export interface Readiness {
  readonly ready: boolean;
  /** Why not, in words an operator acts on; empty when ready. */
  readonly reasons: readonly string[];
}

export interface ClusterView {
  readonly workerId: string;
  /** The epoch this worker acts on. */
  epoch(): number;
  assignment(): Assignment | undefined;
  /** The live aggregate of a symbol this worker owns and has loaded, else undefined. */
  localSnapshot(symbol: string): AggregateSnapshot | undefined;
  /** Whether this worker owns `symbol` and acts on an epoch at least `minEpoch`. */
  ownsAt(symbol: string, minEpoch: number): boolean;
  /** Summaries of the symbols this worker owns. */
  localSummaries(): SymbolSummary[];
  readCheckpoint(symbol: string): Promise<CheckpointRecord | null>;
  /** Re-reads the ring record now (after a failed forward). */
  refreshRing(): Promise<void>;
  readiness(): Readiness;
}
