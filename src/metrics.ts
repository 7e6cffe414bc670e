/**
 * Prometheus metrics for one process, with prom-client. Counters on the per-trade path are plain
 * numbers kept by their components and read at scrape time through `collect`, so ingesting a trade
 * never touches prom-client; the ingest lag is sampled on that path (`LagSampler`) and observed at
 * scrape time too. No per-symbol labels: cardinality stays bounded.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

import { LagSampler } from './ingest/lag-sampler.js';

// Where the worker has always imported it from; the sampler itself lives with the feed client.
export { LagSampler };

export interface WorkerMetricSources {
  tradesIngested(): number;
  duplicatesDropped(): number;
  unownedDropped(): number;
  rejects(): Readonly<Record<string, number>>;
  symbolsOwned(): number;
  epoch(): number;
  feedReconnects(): number;
  leaseValid(): boolean;
  /** The feed client's counters (gaps, silence drops, connection limits). */
  feed?(): Readonly<{
    gaps: number;
    missedTrades: number;
    silenceDrops: number;
    connectionLimits: number;
    relayGapSymbols?: number;
    /** Provider connections held (more than one where the provider caps streams per connection). */
    connections?: number;
    symbolsMoved?: number;
  }>;
  /** Sampled ingest lag; drained at each scrape. */
  readonly ingestLag?: LagSampler;
  /** Failed Redis calls, by operation (`checkpoint`, `bars`, `query`, `connection`, ...). */
  redisErrors?(): Readonly<Record<string, number>>;
  barsWritten?(): number;
  /** Completed bars lost before they reached Redis (queue full, or never taken in time). */
  barsDropped?(): number;
  /** Hand-over figures: fallbacks by side, trades skipped as the previous owner's, standbys. */
  handover?(): Readonly<{
    timeouts: number;
    fallbacks: number;
    skipped: number;
    standbySymbols: number;
    /** Of those, the ones still loading the owner's checkpoints: a crash now would lose trades. */
    standbyWarming: number;
    promotions: number;
    standIns: number;
    /** Buffered trades dropped from full hand-over buffers (owned and shadows). */
    bufferOverflows: number;
  }>;
}

export interface WorkerMetrics {
  readonly registry: Registry;
  readonly rebalanceSeconds: Histogram;
  /** `direction`: `out` (final checkpoints of lost symbols) or `in` (wait, claim and replay of gained ones). */
  readonly handoverSeconds: Histogram<'direction'>;
  readonly checkpointSeconds: Histogram;
  readonly httpSeconds: Histogram<'route' | 'status'>;
  readonly streamClients: Gauge;
  readonly streamDropped: Counter;
  readonly streamEvents: Counter;
}

/** A counter whose value is read from its component at scrape time. */
function countFrom(registers: Registry[], name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

const NO_FEED_COUNTS = { gaps: 0, missedTrades: 0, silenceDrops: 0, connectionLimits: 0 };

export function createWorkerMetrics(sources: WorkerMetricSources): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  countFrom(registers, 'tickring_trades_ingested_total', 'Trades applied to aggregates', () =>
    sources.tradesIngested(),
  );
  countFrom(
    registers,
    'tickring_duplicates_dropped_total',
    'Trades dropped as duplicates by the provider key',
    () => sources.duplicatesDropped(),
  );
  countFrom(
    registers,
    'tickring_unowned_dropped_total',
    'Trades received for symbols this worker does not own (arrived after unsubscribing)',
    () => sources.unownedDropped(),
  );
  countFrom(registers, 'tickring_feed_reconnects_total', 'Feed reconnect attempts', () =>
    sources.feedReconnects(),
  );
  if (sources.handover) {
    const handover = (): ReturnType<NonNullable<WorkerMetricSources['handover']>> =>
      sources.handover?.() ?? {
        timeouts: 0,
        fallbacks: 0,
        skipped: 0,
        standbySymbols: 0,
        standbyWarming: 0,
        promotions: 0,
        standIns: 0,
        bufferOverflows: 0,
      };
    countFrom(
      registers,
      'tickring_handover_timeouts_total',
      'Symbols an old owner stopped at the hand-over timeout, before the streams overlapped',
      () => handover().timeouts,
    );
    countFrom(
      registers,
      'tickring_handover_fallbacks_total',
      'Symbols a new owner took without an exact switch (final checkpoint late, position never seen)',
      () => handover().fallbacks,
    );
    countFrom(
      registers,
      'tickring_handover_buffer_overflows_total',
      'Buffered trades dropped from a full hand-over buffer: the switch of their symbol may lose them',
      () => handover().bufferOverflows,
    );
    countFrom(
      registers,
      'tickring_handover_skipped_trades_total',
      'Trades skipped at a hand-over because the previous owner had applied them (buffered, or applied before its last trade arrived here late)',
      () => handover().skipped,
    );
    countFrom(
      registers,
      'tickring_standby_promotions_total',
      'Standby shadows that became the owned aggregate when the owner left the ring',
      () => handover().promotions,
    );
    countFrom(
      registers,
      'tickring_standby_stand_ins_total',
      'Final checkpoints a standby wrote in place of an owner that did not hand over (crashed or silent)',
      () => handover().standIns,
    );
    new Gauge({
      name: 'tickring_standby_symbols',
      help: 'Symbols followed as a standby (--replicas 2)',
      registers,
      collect() {
        this.set(handover().standbySymbols);
      },
    });
    new Gauge({
      name: 'tickring_standby_warming_symbols',
      help: "Standby symbols still loading their owner's checkpoints (not yet able to take over)",
      registers,
      collect() {
        this.set(handover().standbyWarming);
      },
    });
  }
  if (sources.feed) {
    const feed = (): ReturnType<NonNullable<WorkerMetricSources['feed']>> =>
      sources.feed?.() ?? NO_FEED_COUNTS;
    countFrom(
      registers,
      'tickring_feed_gaps_total',
      'Jumps in sequential trade ids (Binance, Coinbase)',
      () => feed().gaps,
    );
    countFrom(
      registers,
      'tickring_feed_missed_trades_total',
      'Trades skipped over sequence gaps',
      () => feed().missedTrades,
    );
    countFrom(
      registers,
      'tickring_feed_silence_drops_total',
      'Feed connections replaced because nothing arrived in time',
      () => feed().silenceDrops,
    );
    countFrom(
      registers,
      'tickring_feed_connection_limits_total',
      'Connection-limit answers from the feed (each raises the back-off)',
      () => feed().connectionLimits,
    );
    countFrom(
      registers,
      'tickring_feed_relay_gap_symbols_total',
      'Symbols named in relay gap notices (trades lost while no relay held the upstream connection)',
      () => feed().relayGapSymbols ?? 0,
    );
    new Gauge({
      name: 'tickring_feed_connections',
      help: 'Feed connections this worker holds (Binance: one per 1,024 symbols)',
      registers,
      collect() {
        this.set(feed().connections ?? 1);
      },
    });
    countFrom(
      registers,
      'tickring_feed_symbols_moved_total',
      'Symbols moved between feed connections, make before break, to close a connection',
      () => feed().symbolsMoved ?? 0,
    );
  }
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
  const lag = sources.ingestLag;
  new Histogram({
    name: 'tickring_ingest_lag_seconds',
    help: `Arrival time minus trade time, sampled on ${lag ? `one trade in ${lag.every}` : 'no trades'}`,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
    collect() {
      lag?.drain((ms) => this.observe(Math.max(0, ms) / 1000));
    },
  });
  new Counter({
    name: 'tickring_redis_errors_total',
    help: 'Failed Redis calls, by operation',
    labelNames: ['op'],
    registers,
    collect() {
      this.reset();
      for (const [op, count] of Object.entries(sources.redisErrors?.() ?? {})) this.inc({ op }, count);
    },
  });
  countFrom(registers, 'tickring_bars_written_total', 'Completed bars written to Redis', () =>
    sources.barsWritten ? sources.barsWritten() : 0,
  );
  countFrom(registers, 'tickring_bars_dropped_total', 'Completed bars lost before reaching Redis', () =>
    sources.barsDropped ? sources.barsDropped() : 0,
  );
  return {
    registry,
    rebalanceSeconds: new Histogram({
      name: 'tickring_rebalance_seconds',
      help: 'Time from reading a new epoch to acting on it',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    handoverSeconds: new Histogram({
      name: 'tickring_handover_seconds',
      help: 'Hand-over duration per epoch change: out = final checkpoints written, in = symbols live',
      labelNames: ['direction'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    checkpointSeconds: new Histogram({
      name: 'tickring_checkpoint_seconds',
      help: 'Duration of one periodic checkpoint (aggregates and completed bars)',
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
    streamClients: new Gauge({
      name: 'tickring_stream_clients',
      help: 'Clients connected to /v1/stream',
      registers,
    }),
    streamDropped: new Counter({
      name: 'tickring_stream_clients_dropped_total',
      help: 'Stream clients disconnected because they read too slowly',
      registers,
    }),
    streamEvents: new Counter({
      name: 'tickring_stream_events_total',
      help: 'Updates written to stream clients',
      registers,
    }),
  };
}
