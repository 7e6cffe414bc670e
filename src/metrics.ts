/**
 * Prometheus metrics for one process, with prom-client. Counters on the per-trade path are plain
 * numbers kept by their components and read at scrape time through `collect`, so ingesting a trade
 * never touches prom-client. No per-symbol labels: cardinality stays bounded.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface WorkerMetricSources {
  tradesIngested(): number;
  duplicatesDropped(): number;
  unownedDropped(): number;
  rejects(): Readonly<Record<string, number>>;
  symbolsOwned(): number;
  epoch(): number;
  feedReconnects(): number;
  leaseValid(): boolean;
}

export interface WorkerMetrics {
  readonly registry: Registry;
  readonly rebalanceSeconds: Histogram;
  readonly checkpointSeconds: Histogram;
  readonly httpSeconds: Histogram<'route' | 'status'>;
  readonly redisErrors: Counter;
}

export function createWorkerMetrics(sources: WorkerMetricSources): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  new Counter({
    name: 'tickring_trades_ingested_total',
    help: 'Trades applied to aggregates',
    registers,
    collect() {
      this.reset();
      this.inc(sources.tradesIngested());
    },
  });
  new Counter({
    name: 'tickring_duplicates_dropped_total',
    help: 'Trades dropped as duplicates by the provider key',
    registers,
    collect() {
      this.reset();
      this.inc(sources.duplicatesDropped());
    },
  });
  new Counter({
    name: 'tickring_unowned_dropped_total',
    help: 'Trades received for symbols this worker does not own (arrived after unsubscribing)',
    registers,
    collect() {
      this.reset();
      this.inc(sources.unownedDropped());
    },
  });
  new Counter({
    name: 'tickring_trades_rejected_total',
    help: 'Feed frames or trades rejected, by reason',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const [reason, count] of Object.entries(sources.rejects())) this.inc({ reason }, count);
    },
  });
  new Counter({
    name: 'tickring_feed_reconnects_total',
    help: 'Feed reconnect attempts',
    registers,
    collect() {
      this.reset();
      this.inc(sources.feedReconnects());
    },
  });
  new Gauge({
    name: 'tickring_symbols_owned',
    help: 'Symbols this worker owns',
    registers,
    collect() {
      this.set(sources.symbolsOwned());
    },
  });
  new Gauge({
    name: 'tickring_epoch',
    help: 'Ring epoch this worker acts on',
    registers,
    collect() {
      this.set(sources.epoch());
    },
  });
  new Gauge({
    name: 'tickring_lease_valid',
    help: '1 while this worker holds a lease it may act on',
    registers,
    collect() {
      this.set(sources.leaseValid() ? 1 : 0);
    },
  });
  return {
    registry,
    rebalanceSeconds: new Histogram({
      name: 'tickring_rebalance_seconds',
      help: 'Time from reading a new epoch to acting on it',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    checkpointSeconds: new Histogram({
      name: 'tickring_checkpoint_seconds',
      help: 'Duration of one checkpoint write',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    httpSeconds: new Histogram({
      name: 'tickring_http_request_seconds',
      help: 'HTTP request duration by route',
      labelNames: ['route', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    redisErrors: new Counter({ name: 'tickring_redis_errors_total', help: 'Failed Redis calls', registers }),
  };
}
