/**
 * A worker's report for the dashboard (`WorkerReport`): load, lag, lease and a short log of the
 * rebalances it went through. Built from the outside of the worker, from its counters and events,
 * so the worker itself carries no dashboard code.
 *
 * Trade rate: the trades-applied counter is sampled once a second and the rate taken over the last
 * few samples. Ingest lag: the worker's lag sampler is drained once a second into a window of recent
 * samples; since draining empties it, the samples are passed on to a second sampler the Prometheus
 * metrics drain at scrape, so both see every sample.
 */
import { performance } from 'node:perf_hooks';
import type { Assignment } from '../cluster/ring.js';
import type { RebalanceEntry, WorkerReport } from '../http/worker-report.js';
import { LagSampler } from '../metrics.js';
import type { OwnedSymbolState } from './owned-symbol.js';

/** The parts of a `Worker` the report reads; a structural type so tests can drive it directly. */
export interface StatsSource {
  readonly id: string;
  readonly status: string;
  readonly actingEpoch: number;
  readonly membership: {
    readonly epoch: number;
    readonly waiting: boolean;
    readonly leaseValid: boolean;
    readonly lastRenewedAt: number;
    readonly assignment: Assignment | undefined;
    on(event: 'fenced', listener: () => void): unknown;
  };
  readonly owned: {
    readonly size: number;
    readonly tradesApplied: number;
    names(): string[];
    countIn(state: OwnedSymbolState): number;
  };
  /** Symbols followed as a standby (`--replicas 2`), and their shadows promoted to owned. */
  readonly standbys: {
    readonly size: number;
    countIn(state: OwnedSymbolState): number;
    readonly promotions: number;
  };
  readonly handoverTimeouts: number;
  readonly handoverFallbacks: number;
  readonly feed: { readonly status: string };
  readonly ingestLag: LagSampler;
  on(
    event: 'rebalanced',
    listener: (info: { epoch: number; gained: number; lost: number; ms: number }) => void,
  ): unknown;
}

export interface WorkerStatsOptions {
  /** Rebalances remembered. Default 50. */
  readonly keep: number;
  /** Symbols listed per direction in one entry. Default 50. */
  readonly listed: number;
  /** Sampling period of the trade counter and lag (ms). Default 1000. */
  readonly sampleMs: number;
  /** Samples the trade rate and lag cover. Default 5. */
  readonly window: number;
  /** The feed's name as configured (`relay` behind a relay). Default `unknown`. */
  readonly feedName: string;
  /** The worker's `--replicas`. Default 1. */
  readonly replicas: number;
}

export const DEFAULT_WORKER_STATS_OPTIONS: WorkerStatsOptions = Object.freeze({
  keep: 50,
  listed: 50,
  sampleMs: 1_000,
  window: 5,
  feedName: 'unknown',
  replicas: 1,
});

export class WorkerStats {
  /** What the Prometheus metrics drain: every lag sample the report saw, passed on. */
  readonly metricsLag = new LagSampler(1);
  private readonly options: WorkerStatsOptions;
  private readonly log: RebalanceEntry[] = [];
  private previousOwned = new Set<string>();
  /** `[performance.now(), trades applied]`, oldest first. */
  private readonly tradeSamples: [number, number][] = [];
  /** Lag samples per sampling period, oldest first. */
  private readonly lagWindows: number[][] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = new Date().toISOString();

  constructor(
    private readonly source: StatsSource,
    options: Partial<WorkerStatsOptions> = {},
  ) {
    this.options = { ...DEFAULT_WORKER_STATS_OPTIONS, ...options };
    source.on('rebalanced', (info) => this.onRebalanced(info));
    // A fenced worker drops every symbol: its next rebalance gains them all again.
    source.membership.on('fenced', () => (this.previousOwned = new Set()));
  }

  start(): this {
    this.sample();
    this.timer ??= setInterval(() => this.sample(), this.options.sampleMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Takes one trade-counter and lag sample; the timer calls it, tests may too. */
  sample(): void {
    const { window } = this.options;
    this.tradeSamples.push([performance.now(), this.source.owned.tradesApplied]);
    if (this.tradeSamples.length > window + 1) this.tradeSamples.shift();
    const lags: number[] = [];
    this.source.ingestLag.drain((lagMs) => {
      lags.push(lagMs);
      this.metricsLag.sample(Date.now() - lagMs);
    });
    this.lagWindows.push(lags);
    if (this.lagWindows.length > window) this.lagWindows.shift();
  }

  private onRebalanced(info: { epoch: number; gained: number; lost: number; ms: number }): void {
    const owned = new Set(this.source.owned.names());
    const gainedSymbols = [...owned].filter((symbol) => !this.previousOwned.has(symbol)).sort();
    const lostSymbols = [...this.previousOwned].filter((symbol) => !owned.has(symbol)).sort();
    this.previousOwned = owned;
    const record = this.source.membership.assignment?.record;
    this.log.push({
      epoch: info.epoch,
      at: new Date().toISOString(),
      ms: Math.round(info.ms * 10) / 10,
      gained: info.gained,
      lost: info.lost,
      gainedSymbols: gainedSymbols.slice(0, this.options.listed),
      lostSymbols: lostSymbols.slice(0, this.options.listed),
      reason: record?.epoch === info.epoch ? record.reason : null,
    });
    if (this.log.length > this.options.keep) this.log.shift();
  }

  /** The state in one word: the worker's status, refined by what membership knows. */
  private state(): string {
    const { status, membership, id } = this.source;
    if (status === 'closed' || status === 'fenced') return status;
    if (status === 'draining' || membership.assignment?.isDraining(id) === true) return 'draining';
    if (membership.waiting) return 'joining';
    return status;
  }

  report(): WorkerReport {
    const { source } = this;
    const first = this.tradeSamples[0];
    const last = this.tradeSamples[this.tradeSamples.length - 1];
    let tradesPerSec = 0;
    if (first && last && last[0] > first[0]) {
      tradesPerSec = Math.max(0, last[1] - first[1]) / ((last[0] - first[0]) / 1000);
    }
    const lags = this.lagWindows.flat().sort((a, b) => a - b);
    const loading = source.owned.countIn('loading');
    const warming = source.standbys.countIn('loading');
    const renewed = source.membership.lastRenewedAt;
    return {
      id: source.id,
      role: 'worker',
      state: this.state(),
      epoch: source.actingEpoch,
      ringEpoch: source.membership.epoch,
      symbols: source.owned.size,
      loading,
      trades: source.owned.tradesApplied,
      tradesPerSec: Math.round(tradesPerSec * 10) / 10,
      ingestLag: {
        p50Ms: lags.length > 0 ? round1(lags[Math.floor((lags.length - 1) / 2)] ?? 0) : null,
        maxMs: lags.length > 0 ? round1(lags[lags.length - 1] ?? 0) : null,
      },
      leaseAgeMs: renewed > 0 ? Math.round(performance.now() - renewed) : null,
      leaseValid: source.membership.leaseValid,
      feed: source.feed.status,
      feedName: this.options.feedName,
      replicas: this.options.replicas,
      standby: { symbols: source.standbys.size, warming, promotions: source.standbys.promotions },
      handover: { timeouts: source.handoverTimeouts, fallbacks: source.handoverFallbacks },
      startedAt: this.startedAt,
      rebalances: [...this.log],
    };
  }
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
