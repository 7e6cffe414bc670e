/**
 * A worker: a ring member that ingests the symbols it owns, keeps their aggregates and checkpoints
 * them. It reacts to each new epoch by computing what it gained and lost:
 * - gained symbols are subscribed at once and buffered, their previous owner's final checkpoint is
 *   awaited (bounded), claimed at the new epoch and the buffer replayed past its watermark;
 * - lost symbols stop being applied, get a final checkpoint fenced at the new epoch, and are
 *   unsubscribed.
 * When its lease can no longer be trusted it drops every symbol without writing, and starts over from
 * the checkpoints once it holds a lease again.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { RedisClient as Redis } from '../redis/client.js';
import type { Credentials, FeedAdapter } from '../../feeds/adapter.js';
import {
  conditionRulesFor,
  parseCheckpoint,
  resolveAggregateOptions,
  SymbolAggregate,
  type AggregateOptions,
} from '../aggregate/index.js';
import { BarStore, type BarStoreOptions } from '../cluster/bar-store.js';
import { CheckpointStore, type CheckpointRecord } from '../cluster/checkpoints.js';
import { Membership, type MembershipOptions } from '../cluster/membership.js';
import type { Assignment } from '../cluster/ring.js';
import { FeedClient, type FeedClientOptions } from '../ingest/feed-client.js';
import type { Logger } from '../log.js';
import { LagSampler } from '../metrics.js';
import type { ClusterKeys } from '../redis/keys.js';
import { OwnedSymbols } from './owned-symbols.js';

export interface WorkerOptions {
  readonly id: string;
  /** Base URL of this worker's HTTP API as other workers reach it. */
  readonly address: string;
  readonly feed: FeedAdapter;
  readonly feedUrl: string;
  readonly credentials: Credentials;
  /** Checkpoint period for changed symbols (ms). Default 1000. */
  readonly checkpointMs: number;
  /** How long a new owner waits for the previous owner's final checkpoint (ms). Default 1000. */
  readonly handoverTimeoutMs: number;
  /** Trades remembered for de-duplication. Default 200 000. */
  readonly dedupWindow: number;
  readonly membership: Partial<MembershipOptions>;
  readonly feedClient: Partial<FeedClientOptions>;
  readonly aggregate: Partial<AggregateOptions>;
  /** Completed bars in Redis (history cap, queue bound). */
  readonly barStore: Partial<BarStoreOptions>;
  /** A bar completes this long after its end by the wall clock, so trades in flight land first (ms). Default 1000. */
  readonly barCloseGraceMs: number;
  readonly version: string;
}

export const DEFAULT_WORKER_OPTIONS = {
  checkpointMs: 1_000,
  handoverTimeoutMs: 1_000,
  dedupWindow: 200_000,
  membership: {},
  feedClient: {},
  aggregate: {},
  barStore: {},
  barCloseGraceMs: 1_000,
  version: '0.0.0',
} as const satisfies Partial<WorkerOptions>;

export type WorkerStatus = 'starting' | 'ready' | 'fenced' | 'draining' | 'closed';

export interface WorkerDeps {
  readonly redis: Redis;
  readonly subscriber: Redis;
  /**
   * Connection for lease renewals and ring reads (default: `redis`). Its own connection keeps
   * heartbeats from queueing behind checkpoint and bar writes.
   */
  readonly membershipRedis?: Redis;
  readonly keys: ClusterKeys;
  readonly logger: Logger;
}

export interface WorkerEvents {
  rebalanced: [{ epoch: number; gained: number; lost: number; ms: number }];
  /** A drain was requested and every symbol handed over: the process should close (and leave). */
  drained: [{ epoch: number }];
  /** `out`: final checkpoints of lost symbols written; `in`: gained symbols live. */
  handedOver: [{ direction: 'out' | 'in'; symbols: number; ms: number }];
  /** One periodic checkpoint (aggregates and completed bars); `ok` false when the write failed. */
  checkpointed: [{ symbols: number; ms: number; ok: boolean }];
}

export class Worker extends EventEmitter<WorkerEvents> {
  status: WorkerStatus = 'starting';
  readonly membership: Membership;
  readonly feed: FeedClient;
  readonly owned: OwnedSymbols;
  readonly checkpoints: CheckpointStore;
  readonly bars: BarStore;
  /** The resolved options of every aggregate this worker keeps (bar intervals, caps, session). */
  readonly aggregateOptions: AggregateOptions;
  /** Arrival minus trade time, sampled on the trade path for the metrics. */
  readonly ingestLag = new LagSampler();
  private readonly options: WorkerOptions;
  private readonly log: Logger;
  /** Epoch of the assignment this worker acts on. */
  actingEpoch = 0;
  /** The assignment acted on last, to tell who owned a gained symbol before. */
  private lastAssignment: Assignment | undefined;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private rebalancing: Promise<void> = Promise.resolve();
  private checkpointing: Promise<void> | undefined;
  corruptCheckpoints = 0;
  checkpointFailures = 0;

  constructor(
    deps: WorkerDeps,
    options: Pick<WorkerOptions, 'id' | 'address' | 'feed' | 'feedUrl' | 'credentials'> &
      Partial<WorkerOptions>,
  ) {
    super();
    this.options = { ...DEFAULT_WORKER_OPTIONS, ...options };
    this.log = deps.logger;
    // Sale conditions mean different things per provider; the aggregates must use the feed's table.
    this.options = {
      ...this.options,
      aggregate: { conditionRules: conditionRulesFor(this.options.feed.name), ...this.options.aggregate },
    };
    this.aggregateOptions = resolveAggregateOptions(this.options.aggregate);
    this.owned = new OwnedSymbols(this.options.feed, this.options.aggregate, this.options.dedupWindow);
    this.checkpoints = new CheckpointStore(deps.redis, deps.keys, this.options.id);
    this.bars = new BarStore(deps.redis, deps.keys, this.options.barStore);
    this.membership = new Membership(
      deps.membershipRedis ?? deps.redis,
      deps.subscriber,
      deps.keys,
      { ...this.options.membership, id: this.options.id, address: this.options.address },
      this.log.child({ component: 'membership' }),
    );
    this.feed = new FeedClient(
      {
        ...this.options.feedClient,
        adapter: this.options.feed,
        url: this.options.feedUrl,
        credentials: this.options.credentials,
        userAgent: `tickring/${this.options.version} worker/${this.options.id}`,
      },
      (trade) => {
        this.ingestLag.sample(trade.timeMs);
        this.owned.ingest(trade);
      },
      this.log.child({ component: 'feed' }),
    );
    // By the monotonic clock, once per frame: after a stall (GC, SIGSTOP) frames buffered in the
    // socket must not be applied before the fence timer gets to run.
    this.feed.acceptTrades = () => this.membership.leaseValid;
  }

  get id(): string {
    return this.options.id;
  }

  async start(): Promise<void> {
    this.membership.on('assignment', (assignment) => this.enqueueRebalance(assignment));
    this.membership.on('fenced', () => this.onFenced());
    this.feed.start();
    await this.membership.start();
    await this.rebalancing;
    this.checkpointTimer = setInterval(() => void this.checkpoint(), this.options.checkpointMs);
    if (this.status === 'starting') this.status = 'ready';
  }

  private enqueueRebalance(assignment: Assignment): void {
    this.rebalancing = this.rebalancing
      // A newer epoch queued behind this one makes it moot: act on the newest only.
      .then(() => (assignment === this.membership.assignment ? this.rebalance(assignment) : undefined))
      .catch((err: unknown) => this.log.error({ err, epoch: assignment.epoch }, 'rebalance failed'));
  }

  private async rebalance(assignment: Assignment): Promise<void> {
    if (this.status === 'closed' || this.status === 'draining') return;
    if (assignment.epoch <= this.actingEpoch || !this.membership.leaseValid) return;
    const started = performance.now();
    const previous = this.lastAssignment;
    this.lastAssignment = assignment;
    const epoch = assignment.epoch;
    const mine = new Set(assignment.symbolsOf(this.id));
    const lost = this.owned.names().filter((symbol) => !mine.has(symbol));
    const gained = [...mine].filter((symbol) => !this.owned.has(symbol));
    this.actingEpoch = epoch;
    if (this.status === 'fenced') this.status = 'ready';

    // Make before break: subscribe gained symbols first; their trades buffer while loading.
    for (const symbol of gained) this.owned.acquire(symbol);
    this.feed.setSymbols(mine);
    const outStarted = performance.now();
    await this.handOver(epoch, lost);
    const inStarted = performance.now();
    await this.takeOver(epoch, gained, previous);
    if (lost.length > 0)
      this.emit('handedOver', { direction: 'out', symbols: lost.length, ms: inStarted - outStarted });
    if (gained.length > 0)
      this.emit('handedOver', { direction: 'in', symbols: gained.length, ms: performance.now() - inStarted });

    const ms = performance.now() - started;
    // One line per epoch acted on (epochs are rare): the settle figures count these.
    this.log.info(
      { epoch, owned: mine.size, gained: gained.length, lost: lost.length, ms: Math.round(ms) },
      'epoch changed: symbols rebalanced',
    );
    this.emit('rebalanced', { epoch, gained: gained.length, lost: lost.length, ms });
    if (assignment.isDraining(this.id)) this.emit('drained', { epoch });
  }

  /** Lost symbols: stop applying, write the final checkpoint fenced at the new epoch. */
  private async handOver(epoch: number, lost: readonly string[]): Promise<void> {
    if (lost.length === 0) return;
    const finals = new Map<string, CheckpointRecord>();
    for (const symbol of lost) {
      const owned = this.owned.release(symbol);
      if (owned?.state === 'live') {
        this.takeBars(symbol, owned.aggregate);
        finals.set(symbol, this.record(epoch, owned.aggregate, owned.watermark, true));
      }
    }
    try {
      const [refused] = await Promise.all([this.checkpoints.write(epoch, finals), this.flushBars()]);
      if (refused.length > 0) this.log.warn({ epoch, refused: refused.length }, 'final checkpoints refused');
    } catch (err) {
      this.log.warn({ err, epoch, symbols: lost.length }, 'final checkpoints not written');
    }
  }

  /** Gained symbols: wait for the previous owners' final checkpoints, claim, replay, go live. */
  private async takeOver(
    epoch: number,
    gained: readonly string[],
    previous: Assignment | undefined,
  ): Promise<void> {
    if (gained.length === 0) return;
    // Only a previous owner still in the ring will write a final checkpoint; others (crashed, left,
    // or a symbol new to the universe) are not waited for.
    const live = new Set(this.membership.assignment?.record.members.map((m) => m.id) ?? []);
    const awaited = gained.filter((symbol) => {
      const before = previous?.ownerOf(symbol);
      return before !== undefined && before !== this.id && live.has(before);
    });
    const late = await this.checkpoints.waitForHandover(epoch, awaited, this.options.handoverTimeoutMs);
    if (late.length > 0) {
      this.log.warn(
        { epoch, symbols: late.length },
        'previous owner did not hand over in time; using last checkpoint',
      );
    }
    const loaded = await this.checkpoints.claim(epoch, gained, (symbol, err) => {
      this.corruptCheckpoints++;
      this.log.error({ err, symbol }, 'corrupt checkpoint ignored; symbol starts empty');
    });
    for (const symbol of gained) {
      const record = loaded.get(symbol) ?? null;
      let aggregate: SymbolAggregate | null = null;
      if (record) {
        try {
          aggregate = SymbolAggregate.fromCheckpoint(
            parseCheckpoint(record.aggregate),
            this.options.aggregate,
          );
        } catch (err) {
          this.corruptCheckpoints++;
          this.log.error({ err, symbol }, 'corrupt aggregate in checkpoint ignored; symbol starts empty');
        }
      }
      this.owned.goLive(symbol, aggregate, record?.watermark ?? '');
    }
  }

  private record(
    epoch: number,
    aggregate: SymbolAggregate,
    watermark: string,
    final: boolean,
  ): CheckpointRecord {
    return {
      v: 1,
      owner: this.id,
      epoch,
      writtenAt: Date.now(),
      watermark,
      final,
      aggregate: aggregate.toCheckpoint(),
    };
  }

  /** Writes the checkpoints of live symbols that changed since the last write. */
  checkpoint(): Promise<void> {
    this.checkpointing ??= this.writeCheckpoints().finally(() => {
      this.checkpointing = undefined;
    });
    return this.checkpointing;
  }

  /** Completes bars past their end and queues every bar completed or amended since the last call. */
  private takeBars(symbol: string, aggregate: SymbolAggregate): void {
    aggregate.advanceTo(Date.now() - this.options.barCloseGraceMs);
    const bars = aggregate.takeCompletedBars();
    if (bars.length > 0) this.bars.add(symbol, bars);
  }

  /** Writes queued bars; never rejects (failed bars stay queued). */
  private async flushBars(): Promise<void> {
    try {
      if (await this.bars.flush()) return;
    } catch (err) {
      this.log.debug({ err }, 'bar flush threw');
    }
    this.log.warn({ pending: this.bars.pendingBars }, 'completed bars not written; will retry');
  }

  private async writeCheckpoints(): Promise<void> {
    if (!this.membership.leaseValid || this.status !== 'ready') return;
    const started = performance.now();
    const epoch = this.actingEpoch;
    const changed = new Map<string, CheckpointRecord>();
    // Trades applied while the write is in flight must keep their symbol dirty: remember how far
    // each checkpoint reached.
    const written: [SymbolAggregate, number][] = [];
    for (const [symbol, owned] of this.owned.entries()) {
      if (owned.state === 'live') this.takeBars(symbol, owned.aggregate);
      if (owned.state !== 'live' || !owned.aggregate.dirty) continue;
      written.push([owned.aggregate, owned.aggregate.changes]);
      changed.set(symbol, this.record(epoch, owned.aggregate, owned.watermark, false));
    }
    if (changed.size === 0 && this.bars.pendingBars === 0) return;
    let ok = true;
    try {
      // Sent back to back on one connection: checkpoints and bars share the round trip.
      const [refused] = await Promise.all([this.checkpoints.write(epoch, changed), this.flushBars()]);
      for (const [aggregate, asOf] of written) aggregate.markClean(asOf);
      if (refused.length > 0)
        this.log.warn({ epoch, refused: refused.length }, 'checkpoints refused: newer owner');
    } catch (err) {
      ok = false;
      this.checkpointFailures++;
      this.log.warn({ err, symbols: changed.size }, 'checkpoint failed; will retry');
    }
    this.emit('checkpointed', { symbols: changed.size, ms: performance.now() - started, ok });
  }

  private onFenced(): void {
    if (this.status === 'closed' || this.status === 'draining') return;
    this.status = 'fenced';
    // Whatever we hold may be overtaken by the next owner: drop it all, write nothing.
    this.feed.setSymbols([]);
    this.owned.clear();
    this.bars.discard();
    this.actingEpoch = 0;
    this.lastAssignment = undefined;
  }

  /** Graceful stop: final checkpoints of everything owned, then leave so others take over at once. */
  async close(): Promise<void> {
    if (this.status === 'closed' || this.status === 'draining') return;
    const wasServing = this.status === 'ready';
    this.status = 'draining';
    clearInterval(this.checkpointTimer);
    await this.rebalancing;
    await this.checkpointing;
    this.feed.close();
    if (wasServing && this.membership.leaseValid) {
      const finals = new Map<string, CheckpointRecord>();
      for (const [symbol, owned] of this.owned.entries()) {
        if (owned.state !== 'live') continue;
        this.takeBars(symbol, owned.aggregate);
        finals.set(symbol, this.record(this.actingEpoch, owned.aggregate, owned.watermark, true));
      }
      try {
        await Promise.all([this.checkpoints.write(this.actingEpoch, finals), this.flushBars()]);
      } catch (err) {
        this.log.warn({ err }, 'final checkpoints on shutdown failed');
      }
    }
    await this.membership.leave();
    this.membership.close();
    this.owned.clear();
    this.status = 'closed';
  }
}
