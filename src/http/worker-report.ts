/**
 * What one worker says about itself for the dashboard (`GET /v1/internal/worker`, gathered into
 * `GET /v1/workers` and `GET /v1/rebalances`): its state, load and recent rebalances. Only in-memory
 * facts of the process answering; the ring record says the rest.
 */

/** One epoch this worker acted on. */
export interface RebalanceEntry {
  readonly epoch: number;
  /** When the rebalance finished, ISO 8601 UTC. */
  readonly at: string;
  /** How long the worker took: hand-overs out and in (ms). */
  readonly ms: number;
  readonly gained: number;
  readonly lost: number;
  /** The symbols gained and lost, the first `RebalanceLog` listing limit of each. */
  readonly gainedSymbols: readonly string[];
  readonly lostSymbols: readonly string[];
  /** The ring record's reason for the epoch (e.g. `join w3`), when the worker still had that record. */
  readonly reason: string | null;
}

export interface IngestLag {
  /** Median and maximum of the lag samples of the last few seconds (ms); null without trades. */
  readonly p50Ms: number | null;
  readonly maxMs: number | null;
}

/** The symbols a worker follows as a standby (`--replicas 2`): shadows ready to take over. */
export interface StandbyReport {
  /** Symbols followed as a standby; 0 with one replica. */
  readonly symbols: number;
  /** Of those, the ones still warming (loading the owner's checkpoints). */
  readonly warming: number;
  /** Standby shadows that became owned aggregates when their owner left. */
  readonly promotions: number;
}

export interface WorkerReport {
  readonly id: string;
  /**
   * `worker` for every tickring worker; a worker that also follows symbols as a standby says so in
   * `standby`, and the relay is not a ring member (`GET /v1/workers` lists it apart).
   */
  readonly role: string;
  /** `starting`, `joining`, `ready`, `fenced`, `draining` or `closed`. */
  readonly state: string;
  /** The epoch this worker acts on, and the newest it has read. */
  readonly epoch: number;
  readonly ringEpoch: number;
  readonly symbols: number;
  /** Symbols gained but still loading their checkpoints. */
  readonly loading: number;
  readonly trades: number;
  /** Trades applied per second over the last few seconds. */
  readonly tradesPerSec: number;
  readonly ingestLag: IngestLag;
  /** Since the lease was last renewed (ms); null before the first. */
  readonly leaseAgeMs: number | null;
  readonly leaseValid: boolean;
  /** Feed connection state, e.g. `ready`, `backoff`. */
  readonly feed: string;
  /** The feed it reads, e.g. `polygon`; `relay` behind a relay. */
  readonly feedName: string;
  /** Copies kept of each symbol (`--replicas`): 2 when it also runs as a standby. */
  readonly replicas: number;
  readonly standby: StandbyReport;
  /** Hand-overs that timed out, and those that fell back to the checkpoint in Redis. */
  readonly handover: { readonly timeouts: number; readonly fallbacks: number };
  readonly startedAt: string;
  /** Newest last. */
  readonly rebalances: readonly RebalanceEntry[];
}
