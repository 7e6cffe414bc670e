/**
 * The HTTP layer's view of a worker (see `src/http/cluster-view.ts`), and the worker's metrics: the
 * two things the role file hands to `buildApp`.
 */
import type { RedisClient as Redis } from '../redis/client.js';
import type { ClusterView, Readiness } from '../http/cluster-view.js';
import { addSymbols, removeSymbols } from '../cluster/universe.js';
import { readActiveRelay } from '../relay/relay-lease.js';
import { drainMemberAhead, pinSymbol, unpinSymbol } from '../cluster/placement-admin.js';
import { createWorkerMetrics, type WorkerMetrics } from '../metrics.js';
import type { ClusterKeys } from '../redis/keys.js';
import type { Worker } from './worker.js';
import type { WorkerStats } from './worker-stats.js';

export interface WorkerViewDeps {
  readonly redis: Redis;
  readonly keys: ClusterKeys;
  /** Virtual nodes per unit of weight, passed to the universe scripts. */
  readonly vnodes: number;
}

/** Failed Redis calls outside the worker's own loops (queries, admin writes, the connection). */
export class RedisErrorCounts {
  readonly byOp: Record<string, number> = {};

  add(op: string): void {
    this.byOp[op] = (this.byOp[op] ?? 0) + 1;
  }

  /** Passes `promise` through, counting a rejection under `op`. */
  async counted<T>(op: string, promise: Promise<T>): Promise<T> {
    try {
      return await promise;
    } catch (err) {
      this.add(op);
      throw err;
    }
  }
}

/** Serving statuses: the worker knows the ring and is not starting or shutting down. */
const SERVING = new Set(['ready', 'fenced']);

export function workerView(
  worker: Worker,
  deps: WorkerViewDeps,
  errors: RedisErrorCounts = new RedisErrorCounts(),
  stats?: WorkerStats,
): ClusterView {
  const live = (symbol: string) => {
    const owned = worker.owned.get(symbol);
    return owned?.state === 'live' ? owned : undefined;
  };
  // The aggregate's identity is part of the answer's version: a symbol re-loaded at the same epoch
  // (after a fence) restarts its change count with another aggregate object.
  const identities = new WeakMap<object, number>();
  let nextIdentity = 0;
  const identity = (aggregate: object): number => {
    let id = identities.get(aggregate);
    if (id === undefined) identities.set(aggregate, (id = ++nextIdentity));
    return id;
  };
  return {
    workerId: worker.id,
    epoch: () => worker.actingEpoch,
    assignment: () => worker.membership.assignment,
    barIntervalsMs: () => worker.aggregateOptions.barIntervalsMs,
    localSnapshot(symbol) {
      const owned = live(symbol);
      if (!owned) return undefined;
      return {
        snapshot: owned.aggregate.snapshot(),
        version: `${worker.actingEpoch}:${owned.aggregate.changes}`,
      };
    },
    localSummary: (symbol) => live(symbol)?.summary(),
    localVersion(symbol) {
      const owned = live(symbol);
      return owned
        ? `${worker.actingEpoch}:${identity(owned.aggregate)}:${owned.aggregate.changes}`
        : undefined;
    },
    localBars: (symbol, intervalMs) => live(symbol)?.aggregate.listBars(intervalMs),
    ownsAt(symbol, minEpoch) {
      return worker.actingEpoch >= minEpoch && live(symbol) !== undefined;
    },
    readCheckpoint: (symbol) => errors.counted('query', worker.checkpoints.read(symbol)),
    readBarHistory: (symbol, intervalMs, range) =>
      errors.counted('query', worker.bars.read(symbol, intervalMs, range)),
    refreshRing: () => worker.membership.refreshNow(),
    readiness: () => readiness(worker),
    ...(stats ? { report: () => stats.report() } : {}),
    standbyState(symbol) {
      const state = worker.standbys.stateOf(symbol);
      return state === 'loading' || state === 'live' ? state : undefined;
    },
    activeRelay: () => errors.counted('query', readActiveRelay(deps.redis, deps.keys)),
    // Asked per request: the same answer as readiness().serving without walking every owned symbol.
    isServing: () => worker.membership.assignment !== undefined && SERVING.has(worker.status),
    addSymbols: (symbols) => errors.counted('admin', addSymbols(deps.redis, deps.keys, symbols, deps.vnodes)),
    async removeSymbols(symbols) {
      const change = await errors.counted(
        'admin',
        removeSymbols(deps.redis, deps.keys, symbols, deps.vnodes),
      );
      // History goes with the symbol; a bar still queued by its owner may re-create a short tail.
      for (const symbol of symbols) {
        await errors.counted('admin', worker.bars.remove(symbol, worker.aggregateOptions.barIntervalsMs));
      }
      return change;
    },
    // Refusals (not a member, last member) are answers, not Redis failures: not counted as errors.
    placement: {
      pin: (symbol, id) => pinSymbol(deps.redis, deps.keys, symbol, id, deps.vnodes),
      unpin: (symbol) => unpinSymbol(deps.redis, deps.keys, symbol, deps.vnodes),
      drain: (id) => drainMemberAhead(deps.redis, deps.keys, id, deps.vnodes),
    },
  };
}

function readiness(worker: Worker): Readiness {
  const reasons: string[] = [];
  const assignment = worker.membership.assignment;
  if (worker.status !== 'ready') reasons.push(`worker is ${worker.status}`);
  if (!worker.membership.leaseValid) reasons.push('no valid lease in the ring');
  else if (!assignment?.record.members.some((member) => member.id === worker.id))
    reasons.push('not yet in the ring record');
  if (worker.feed.status !== 'ready') reasons.push(`feed is ${worker.feed.status}`);
  const ringEpoch = worker.membership.epoch;
  if (worker.actingEpoch < ringEpoch)
    reasons.push(`catching up: acting on epoch ${worker.actingEpoch}, the ring is at ${ringEpoch}`);
  const loading = worker.owned.countIn('loading');
  if (loading > 0) reasons.push(`${loading} symbol(s) still loading their checkpoints`);
  return {
    ready: reasons.length === 0,
    serving: assignment !== undefined && SERVING.has(worker.status),
    reasons,
  };
}

/**
 * The worker's Prometheus metrics, fed by its counters at scrape time and by its events. With
 * `stats`, the ingest lag samples come through it (it drains the worker's sampler for the dashboard).
 */
export function workerMetrics(worker: Worker, errors: RedisErrorCounts, stats?: WorkerStats): WorkerMetrics {
  const metrics = createWorkerMetrics({
    tradesIngested: () => worker.owned.tradesApplied,
    duplicatesDropped: () => worker.owned.duplicatesDropped,
    unownedDropped: () => worker.owned.unownedDropped,
    rejects: () => worker.feed.stats.rejects,
    symbolsOwned: () => worker.owned.size,
    epoch: () => worker.actingEpoch,
    feedReconnects: () => worker.feed.stats.reconnects,
    feed: () => worker.feed.stats,
    leaseValid: () => worker.membership.leaseValid,
    ingestLag: stats?.metricsLag ?? worker.ingestLag,
    redisErrors: () => ({
      ...errors.byOp,
      checkpoint: worker.checkpointFailures,
      bars: worker.bars.failures,
    }),
    barsWritten: () => worker.bars.written,
    barsDropped: () => worker.bars.dropped,
    handover: () => ({
      timeouts: worker.handoverTimeouts,
      fallbacks: worker.handoverFallbacks,
      skipped: worker.owned.handoverSkipped,
      standbySymbols: worker.standbys.size,
      standbyWarming: worker.standbys.countIn('loading'),
      promotions: worker.standbys.promotions,
      standIns: worker.standIns,
      bufferOverflows: worker.owned.bufferOverflows + worker.standbys.bufferOverflows,
    }),
  });
  worker.on('rebalanced', ({ ms }) => metrics.rebalanceSeconds.observe(ms / 1000));
  worker.on('handedOver', ({ direction, ms }) => metrics.handoverSeconds.observe({ direction }, ms / 1000));
  worker.on('checkpointed', ({ ms }) => metrics.checkpointSeconds.observe(ms / 1000));
  return metrics;
}
