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
  PackedCheckpoint,
  parseStoredCheckpoint,
  resolveAggregateOptions,
  SymbolAggregate,
  type AggregateOptions,
  type RecordPlacement,
} from '../aggregate/index.js';
import { BarStore, type BarStoreOptions } from '../cluster/bar-store.js';
import {
  checkpointPosition,
  CheckpointStore,
  type CheckpointRecord,
  type ClaimResult,
  type RecordHead,
} from '../cluster/checkpoints.js';
import { HandoverSignals, type HandoverSignal } from '../cluster/handover-signals.js';
import {
  DEFAULT_MEMBERSHIP_OPTIONS,
  Membership,
  readRingRecord,
  type MembershipOptions,
} from '../cluster/membership.js';
import { drainMember, isLastMemberRefusal, noticeDrain } from '../cluster/placement-admin.js';
import { Assignment, DEFAULT_VNODES } from '../cluster/ring.js';
import { activeMembers, withMember } from '../cluster/ring-record.js';
import { DedupWindow } from '../ingest/dedup.js';
import { subscribePacingMs } from '../ingest/connection-plan.js';
import { FeedClient, type FeedClientOptions } from '../ingest/feed-client.js';
import { RateLimitedLog } from '../ingest/rate-limited-log.js';
import { START_OF_STREAM } from '../ingest/stream-position.js';
import type { Logger } from '../log.js';
import { LagSampler } from '../metrics.js';
import type { ClusterKeys } from '../redis/keys.js';
import type { DeferredAggregate, OwnedSymbol } from './owned-symbol.js';
import { MAX_BUFFERED_TRADES, OwnedSymbols } from './owned-symbols.js';
import { beginMoves } from './epoch-moves.js';
import { GoLiveQueue, type GoLiveResult } from './go-live-queue.js';
import { TimeSlice, yieldToEventLoop } from './time-slice.js';
import { Standbys } from './standbys.js';

/** How often both sides of a hand-over look at each other's progress in Redis (ms). */
const HANDOVER_POLL_MS = 10;
/**
 * How long a new owner waits for a standby to announce that it stands in for a symbol's previous
 * owner, which left without handing over, before it starts from the last checkpoint (ms).
 */
const STAND_IN_NOTICE_MS = 500;
/**
 * An old owner stops a symbol the new owner has buffered nothing of once it applied nothing itself
 * for this long and the new owner's subscription has been confirmed this long: the symbol is quiet,
 * and whatever the provider sent before the confirmation has arrived.
 */
const QUIET_HANDOVER_MS = 30;
/**
 * How often a worker notes each symbol's trade count, to tell at an epoch how long a symbol it
 * hands over has been quiet (`OwnedSymbols.quietSince`). Noted once a checkpoint period (1 s) as
 * before, a symbol that traded once in the last second waited out a whole quiet window after the
 * epoch, and with it the old owner's next look: 13-65 symbols in each drain of a traced rebalance.
 */
const QUIET_SAMPLE_MS = 50;
/**
 * How long a worker subscribing ahead of an epoch (about to join, or gaining from a peer about to
 * drain itself) waits for the subscriptions, beyond the time their subscribe frames take at the
 * provider's frame rate, before it goes on anyway (the feed may be down).
 */
const SUBSCRIBE_AHEAD_MAX_MS = 1_000;
/**
 * How long such a worker waits for its feed to be ready (connected and authenticated) before that
 * wait counts against `SUBSCRIBE_AHEAD_MAX_MS` anyway: a provider down for longer should not keep
 * a worker out of the ring.
 */
const FEED_READY_WAIT_MAX_MS = 10_000;
/** How many checkpoints a joining worker loads beforehand to warm the code its first epoch runs. */
const WARM_UP_CHECKPOINTS = 300;
/**
 * CPU the periodic checkpoint pass spends before it lets the event loop run (ms). Packing 8,000
 * symbols took the event loop away for 100 ms and more each second, and every HTTP query, feed
 * frame and heartbeat timer that came meanwhile waited for it.
 */
const CHECKPOINT_SLICE_MS = 10;
/**
 * CPU a hand-over spends building final checkpoints, or a take-over loading them, before it lets
 * the event loop run (ms): the feed and the other hand-over loops go on meanwhile.
 */
const HANDOVER_SLICE_MS = 10;
/**
 * Symbols per claim call when a new owner claims many at once (see `claimAndGoLive`): small enough
 * that the first chunk's checkpoints arrive while Redis still claims the rest.
 */
const CLAIM_CHUNK = 128;

/**
 * A gained symbol's take-over: from whom, and since when. One a newer epoch interrupted keeps
 * buffering until the rebalance to that epoch resumes it, with these same values.
 */
interface TakeOver {
  /** The epoch it began at: a final checkpoint written then or later is the one awaited. */
  readonly since: number;
  /** The previous owner it waits for; `undefined` for a symbol new to the universe. */
  readonly from: string | undefined;
}

export interface WorkerOptions {
  readonly id: string;
  /** Base URL of this worker's HTTP API as other workers reach it. */
  readonly address: string;
  readonly feed: FeedAdapter;
  /** Whose sale-condition table applies; default the feed's name (a relay's worker names its upstream). */
  readonly conditionsFeed?: string;
  readonly feedUrl: string;
  readonly credentials: Credentials;
  /** Checkpoint period for changed symbols (ms). Default 1000. */
  readonly checkpointMs: number;
  /**
   * Bound on each side of a planned hand-over (ms). Default 2000: the old owner applies a symbol
   * at most this long waiting for the new owner's subscription, the new owner waits at most this
   * long for the old owner's final checkpoint, then each falls back (logged and counted).
   */
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
  /**
   * Completed bars are taken from the aggregates and written to Redis at most this often (ms), at
   * the next checkpoint pass. Default 5000. Until then they stay in the aggregate as not yet taken:
   * its checkpoints carry them, so a new owner writes what a crashed one did not, and queries, which
   * merge memory over Redis, see every bar meanwhile. At most half of what memory keeps of the
   * shortest interval (`barCap` bars) applies, so no bar leaves memory before it is taken.
   */
  readonly barWriteMs: number;
  /**
   * Copies of each symbol kept: 1, or 2 to also follow, as a standby, the symbols this worker would
   * own if their owner left, so a crash loses nothing. Default 1.
   */
  readonly replicas: number;
  readonly version: string;
}

export const DEFAULT_WORKER_OPTIONS = {
  checkpointMs: 1_000,
  handoverTimeoutMs: 2_000,
  dedupWindow: 200_000,
  membership: {},
  feedClient: {},
  aggregate: {},
  barStore: {},
  barCloseGraceMs: 1_000,
  barWriteMs: 5_000,
  replicas: 1,
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
  /** The shadows this worker follows as a standby, or buffers before joining (see `Standbys`). */
  readonly standbys: Standbys;
  /** Final checkpoints written from a standby shadow in place of an owner that did not hand over. */
  standIns = 0;
  readonly checkpoints: CheckpointStore;
  readonly handoverSignals: HandoverSignals;
  readonly bars: BarStore;
  /** The resolved options of every aggregate this worker keeps (bar intervals, caps, session). */
  readonly aggregateOptions: AggregateOptions;
  /** Arrival minus trade time, sampled by the feed client (one trade in many) for the metrics. */
  get ingestLag(): LagSampler {
    return this.feed.lag;
  }
  private readonly options: WorkerOptions;
  private readonly log: Logger;
  /** Epoch of the assignment this worker acts on. */
  actingEpoch = 0;
  /**
   * The ring this worker last acted on (before its first epoch, the ring as it found it): what the
   * next rebalance compares with to tell who owned a symbol before. Not the last ring seen: an
   * epoch skipped as moot (a newer one came while this worker was busy) moved symbols without this
   * worker taking part, so it must not count as where they came from. A fenced worker holds
   * nothing and takes part in nothing: every ring it sees is then the best account of who owns what.
   */
  private previousAssignment: Assignment | undefined;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private quietSampleTimer: NodeJS.Timeout | undefined;
  private rebalancing: Promise<void> = Promise.resolve();
  private checkpointing: Promise<void> | undefined;
  corruptCheckpoints = 0;
  checkpointFailures = 0;
  /** Symbols an old owner stopped at its hand-over timeout, before the new owner's stream overlapped. */
  handoverTimeouts = 0;
  /**
   * Symbols a new owner took without an exact switch: the old owner's final checkpoint came too
   * late, or its position never showed up in this worker's stream.
   */
  handoverFallbacks = 0;
  private readonly redis: Redis;
  private readonly keys: ClusterKeys;
  private readonly handoverLog: RateLimitedLog;
  /** Timers of hand-over bounds (`awaitPosition`, `prepareForLeave`), cleared on close. */
  private readonly timers = new Set<NodeJS.Timeout>();
  private closing = false;
  /** This epoch's hand-over bound: the timeout plus the time subscribe frames take to leave. */
  private handoverBoundMs = 0;
  /** Before joining: trades of the expected symbols are buffered though this worker holds no lease. */
  private preparingJoin = false;
  /** Take-overs a newer epoch interrupted, resumed by the rebalance to it (see `takeOver`). */
  private readonly unfinishedTakeOvers = new Map<string, TakeOver>();
  /** Hand-overs out whose new owner left a newer ring first, resumed by the rebalance to it (see `handOver`). */
  private readonly abandonedHandOvers = new Set<string>();
  /** How often a checkpoint pass takes completed bars: `barWriteMs`, capped (see there). */
  private readonly barWriteMs: number;
  /** When a checkpoint pass last took completed bars (monotonic ms). */
  private barsTakenAt = -Infinity;

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
      aggregate: {
        conditionRules: conditionRulesFor(this.options.conditionsFeed ?? this.options.feed.name),
        ...this.options.aggregate,
      },
    };
    this.aggregateOptions = resolveAggregateOptions(this.options.aggregate);
    const { barCap, barIntervalsMs } = this.aggregateOptions;
    this.barWriteMs = Math.min(this.options.barWriteMs, (barCap * Math.min(...barIntervalsMs)) / 2);
    const dedup = new DedupWindow(this.options.dedupWindow);
    this.owned = new OwnedSymbols(this.options.feed, this.options.aggregate, dedup);
    // A trade this late is no longer looked for: the previous owner's hand-over waits as long.
    this.owned.lateFinalWatchMs = this.options.handoverTimeoutMs;
    this.redis = deps.redis;
    this.keys = deps.keys;
    this.handoverLog = new RateLimitedLog(this.log, 10_000);
    this.checkpoints = new CheckpointStore(deps.redis, deps.keys, this.options.id);
    this.handoverSignals = new HandoverSignals(deps.redis, deps.keys, this.options.id);
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
        // Owned and followed symbols are disjoint; without standbys this costs one size check.
        if (!this.standbys.ingest(trade)) this.owned.ingest(trade);
      },
      this.log.child({ component: 'feed' }),
    );
    this.standbys = new Standbys(
      {
        id: this.options.id,
        shadows: new OwnedSymbols(this.options.feed, this.options.aggregate, dedup),
        owned: this.owned,
        checkpoints: this.checkpoints,
        feed: this.feed,
        membership: this.membership,
        loadAggregate: (symbol, record) => this.loadAggregate(symbol, record),
        log: this.log,
        handoverLog: this.handoverLog,
      },
      {
        replicas: this.options.replicas,
        leaseMs: this.leaseMs(),
        handoverTimeoutMs: this.options.handoverTimeoutMs,
      },
    );
    // By the monotonic clock, once per frame: after a stall (GC, SIGSTOP) frames buffered in the
    // socket must not be applied before the fence timer gets to run.
    this.feed.acceptTrades = () => this.membership.leaseValid || this.preparingJoin;
    // A shadow that missed trades is worth nothing: start it over from the next checkpoint. Only the
    // dropped connection's symbols missed any (Binance spreads them over several connections).
    this.feed.on('disconnected', (_reason, interrupted) => this.standbys.restart(interrupted));
  }

  get id(): string {
    return this.options.id;
  }

  async start(): Promise<void> {
    // The ring as it was before this worker joined: who owns what it is about to take over, so it
    // waits for their final checkpoints.
    let universe: string[] = [];
    try {
      const [record, symbols] = await Promise.all([
        readRingRecord(this.redis, this.keys),
        this.redis.smembers(this.keys.symbols),
      ]);
      this.previousAssignment = new Assignment(record, symbols);
      // Read in order on one connection, the symbols after the record: the first epoch reuses them.
      this.membership.knowUniverse(record, this.previousAssignment.universe);
      universe = symbols;
    } catch (err) {
      this.log.warn({ err }, 'ring unreadable before joining; first hand-over waits for nobody');
    }
    this.membership.on('assignment', (assignment) => this.enqueueRebalance(assignment));
    this.membership.on('fenced', () => this.onFenced());
    this.membership.on('leaveNotice', (leaver, drained) => void this.prepareForLeave(leaver, drained));
    this.feed.start();
    try {
      await this.prepareJoin(universe);
      await this.membership.start();
    } finally {
      this.preparingJoin = false;
    }
    // Before the first rebalance ends: a joining worker's hand-over can take seconds, and its
    // standbys must warm (and its live symbols be checkpointed) meanwhile.
    this.quietSampleTimer = setInterval(() => this.owned.sampleQuiet(), QUIET_SAMPLE_MS);
    this.checkpointTimer = setInterval(() => {
      void this.checkpoint();
      void this.standbys.warm();
      void this.expireRetiredShadows();
      this.reportBufferOverflows();
    }, this.options.checkpointMs);
    await this.rebalancing;
    if (this.status === 'starting') this.status = 'ready';
  }

  /**
   * Make before break from the very start: before it joins, a worker subscribes to the symbols it
   * expects to own (the ring as it stands, plus itself) and buffers them as shadows, for up to
   * `SUBSCRIBE_AHEAD_MAX_MS` past the subscribe frames' pacing. Where they take several connections
   * (Binance: 1,024 streams each), it also waits for the last of them to have its turn at the
   * connect gate (300 attempts per 5 minutes): joining sooner would only make the hand-overs wait
   * for the same connections. When its epoch comes, the subscriptions are confirmed and each buffer
   * already overlaps the previous owner's stream, so the previous owners hand over at their first
   * look instead of after a subscribe round trip and a first trade (see `rebalance`, which takes the
   * buffers over). A wrong guess (another worker joined too) costs a few subscriptions, released at
   * the epoch that admits this worker (and a connection they alone filled, closed then). Building
   * the expected ring also warms the code the first epoch runs.
   */
  private async prepareJoin(universe: readonly string[]): Promise<void> {
    const before = this.previousAssignment;
    // A cluster starting up has nobody on its ring yet: every worker would expect the whole universe
    // while the settle window admits them together.
    if (before === undefined || universe.length === 0 || activeMembers(before.record).length === 0) return;
    const me = { id: this.id, address: this.options.address, weight: this.options.membership.weight ?? 1 };
    const vnodes = this.options.membership.vnodes ?? DEFAULT_VNODES;
    const expected = new Assignment(withMember(before.record, me, vnodes), universe).symbolsOf(this.id);
    if (expected.length === 0) return;
    // The others build this same ring meanwhile, not at the epoch (`Membership.prepareFor`).
    void this.membership.noticeJoin();
    this.preparingJoin = true;
    for (const symbol of expected) this.standbys.prepare(symbol);
    const started = performance.now();
    this.feed.setSymbols(expected);
    // The connections the symbols need have reserved their turns at the gate by now.
    await this.warmCheckpointLoading(expected);
    const confirmed = await this.awaitConfirmed(expected, started, true);
    this.log.info(
      {
        expected: expected.length,
        confirmed,
        connections: this.feed.stats.connections,
        ms: Math.round(performance.now() - started),
      },
      'subscribed to the expected symbols; joining',
    );
  }

  /**
   * Waits until every one of `symbols`, subscribed at `started`, is confirmed, or until the bound
   * (`SUBSCRIBE_AHEAD_MAX_MS` beyond the connect gate's wait and the subscribe frames' pacing)
   * passes. Time without a ready feed does not count against that bound, up to
   * `FEED_READY_WAIT_MAX_MS`: a new worker's first connection can take seconds on a busy provider,
   * and a worker joining before it is up owns symbols it cannot hear, whose old owners then hand
   * over at their timeout with nothing overlapping. A join at 158,000 trades/s, whose feed connected
   * 2 s after its epoch, lost 22,545 trades that way. `untilAnswered` (a join): time before the
   * provider confirmed any of them does not count either, within the same limit. A provider busy
   * with other work answers subscribe frames late; a joiner that stopped waiting joined with none
   * confirmed, and its old owners handed over at their timeout. Returns how many were confirmed.
   */
  private async awaitConfirmed(
    symbols: readonly string[],
    started: number,
    untilAnswered = false,
  ): Promise<number> {
    const allowedMs = this.feed.gateWaitMs() + SUBSCRIBE_AHEAD_MAX_MS + this.pacingMs(symbols.length);
    const isConfirmed = (symbol: string): boolean => this.feed.isConfirmed(symbol);
    let answered = !untilAnswered;
    let counted = 0;
    let last = started;
    while (!symbols.every(isConfirmed)) {
      const now = performance.now();
      answered ||= symbols.some(isConfirmed);
      if (this.feed.status === 'ready' && answered) counted += now - last;
      last = now;
      if (counted >= allowedMs || now - started >= FEED_READY_WAIT_MAX_MS + allowedMs) break;
      await sleep(HANDOVER_POLL_MS);
    }
    await this.confirmationsAged(symbols);
    return symbols.filter(isConfirmed).length;
  }

  /**
   * Waits until every confirmed one of `symbols` has been confirmed for the quiet window
   * (`QUIET_HANDOVER_MS`). The old owner counts a confirmation's age back from when it first reads
   * the new owner's signal, not from when the signal was written, so an age just under the window
   * then makes every quiet symbol wait for its next look: in a traced drain the leaver's first
   * look stopped 136-629 of 836-944 symbols and the next came 30-90 ms later, behind the first
   * finals' writes. Waiting here costs nothing live: until the epoch the old owner still applies
   * every symbol.
   */
  private async confirmationsAged(symbols: readonly string[]): Promise<void> {
    let youngest = QUIET_HANDOVER_MS;
    for (const symbol of symbols) youngest = Math.min(youngest, this.feed.confirmedForMs(symbol) ?? youngest);
    if (youngest < QUIET_HANDOVER_MS) await sleep(QUIET_HANDOVER_MS - youngest);
  }

  /**
   * Make before break for a peer's drain, as `prepareJoin` is for a join: `leaver` is about to be
   * drained (`noticeDrain`, by itself on SIGTERM or by whoever asked), so this worker subscribes now
   * to the symbols the drain epoch will give it, buffering them as shadows, and answers once they
   * are confirmed. At the epoch they are taken over with their buffers (see `beginMoves`): the
   * leaver sees the subscription confirmed long ago, and hands a quiet symbol over at its first look
   * rather than after a subscribe round trip, the confirmation and a quiet window. The next epoch
   * acted on releases whatever it did not move here (`Standbys.retire`); should none come, a timer
   * does.
   */
  private async prepareForLeave(leaver: string, drained: Assignment): Promise<void> {
    const current = this.membership.assignment;
    // Nothing to prepare (starting, or stopping itself: a whole cluster stopped at once): answering
    // at once spares the leaver its wait for an answer that would never come.
    if (this.status !== 'ready' || this.closing || current === undefined) {
      await this.membership.noticeLeaveReady(leaver);
      return;
    }
    // A symbol shadowed here already (a standby) keeps its shadow as it is.
    const expected = drained
      .symbolsOf(this.id)
      .filter((symbol) => current.ownerOf(symbol) === leaver && this.standbys.stateOf(symbol) === undefined);
    const started = performance.now();
    if (expected.length > 0) {
      for (const symbol of expected) this.standbys.prepare(symbol);
      this.subscribeHeld();
      const timer = setTimeout(
        () => {
          this.timers.delete(timer);
          if (this.standbys.unprepare(expected) > 0 && this.status === 'ready') this.subscribeHeld();
        },
        this.options.handoverTimeoutMs + this.leaseMs() + SUBSCRIBE_AHEAD_MAX_MS,
      );
      this.timers.add(timer);
    }
    const confirmed = await this.awaitConfirmed(expected, started);
    await this.membership.noticeLeaveReady(leaver);
    this.log.info(
      { leaver, expected: expected.length, confirmed, ms: Math.round(performance.now() - started) },
      'subscribed to what a draining peer hands over',
    );
  }

  private leaseMs(): number {
    return this.options.membership.leaseMs ?? DEFAULT_MEMBERSHIP_OPTIONS.leaseMs;
  }

  /**
   * Loads (and drops) the current checkpoints of up to `WARM_UP_CHECKPOINTS` of the symbols this
   * worker expects to own, while their subscriptions are being confirmed. A new process runs the
   * claim and checkpoint-loading code for the first time at its first epoch, unoptimized: a join
   * at 2,000 symbols spent about 430 µs per symbol going live against about 180 µs in a worker
   * that had loaded checkpoints before, and the last symbols of the move waited for it. Failures
   * only mean a colder start.
   */
  private async warmCheckpointLoading(expected: readonly string[]): Promise<void> {
    try {
      const records = await this.checkpoints.readMany(expected.slice(0, WARM_UP_CHECKPOINTS));
      // Read once and dropped: records of their own, not the shared slab's (see `RecordPlacement`).
      for (const record of records) if (record) this.restore(record, 'own');
    } catch (err) {
      this.log.debug({ err }, 'checkpoints not read for warming up');
    }
  }

  private enqueueRebalance(assignment: Assignment): void {
    this.announceStandInsEarly(assignment, this.previousAssignment);
    this.rebalancing = this.rebalancing
      // A newer epoch queued behind this one makes it moot: act on the newest only.
      .then(() => {
        if (assignment === this.membership.assignment)
          return this.rebalance(assignment, this.previousAssignment);
        if (this.status === 'fenced') this.previousAssignment = assignment;
        return undefined;
      })
      .catch((err: unknown) => this.log.error({ err, epoch: assignment.epoch }, 'rebalance failed'));
  }

  /**
   * Announces this epoch's stand-ins as soon as it is known rather than when this worker gets to act
   * on it, which may be seconds later while an earlier epoch's hand-overs run: a new owner whose
   * previous owner left gives up on a symbol nobody announced within `STAND_IN_NOTICE_MS` and goes
   * live from the last checkpoint, losing what the owner applied since. Announced, it waits for the
   * stand-in's final (bounded). Acting on the epoch announces them again (see `handOver`).
   */
  private announceStandInsEarly(assignment: Assignment, previous: Assignment | undefined): void {
    if (this.status !== 'ready' || !this.membership.leaseValid) return;
    void this.announceStandIns(assignment.epoch, [...this.standbys.standInsAt(assignment, previous).keys()]);
  }

  /** Tells new owners which symbols this worker stands in for at `epoch`; never rejects. */
  private async announceStandIns(epoch: number, symbols: readonly string[]): Promise<void> {
    try {
      await this.handoverSignals.announceStandIns(epoch, symbols);
    } catch (err) {
      this.handoverLog.warn('stand-ins', { err }, 'stand-ins not announced; new owners may not wait');
    }
  }

  private async rebalance(assignment: Assignment, previous: Assignment | undefined): Promise<void> {
    if (this.status === 'closed' || this.status === 'draining') return;
    if (assignment.epoch <= this.actingEpoch || !this.membership.leaseValid) {
      if (this.status === 'fenced') this.previousAssignment = assignment;
      return;
    }
    this.previousAssignment = assignment;
    const started = performance.now();
    const epoch = assignment.epoch;
    const mine = new Set(assignment.symbolsOf(this.id));
    const resumed = this.resumeTakeOvers(mine);
    const reassigned = this.resumeHandOvers(mine);
    const lost = this.owned.names().filter((symbol) => !mine.has(symbol));
    const gained = [...mine].filter((symbol) => !this.owned.has(symbol) || resumed.has(symbol));
    this.actingEpoch = epoch;
    if (this.status === 'fenced') this.status = 'ready';

    this.handoverBoundMs =
      this.options.handoverTimeoutMs + this.subscribePacingMs(assignment, previous, gained, lost);
    const followed = this.standbys.followedAt(assignment);
    this.standbys.promote(assignment, gained, previous);
    const standIns = new Map([...this.standbys.standInsAt(assignment, previous), ...reassigned]);
    beginMoves(this.owned, this.standbys, { gained, lost, standIns: standIns.keys(), resumed });
    // Not admitted yet (the ring waits for joins to settle): the shadows prepared for the join
    // stay subscribed and buffering until the epoch that admits this worker.
    if (assignment.record.members.some((m) => m.id === this.id))
      this.standbys.retire(assignment, previous, followed);
    // A symbol handed over here and followed from now on gets its shadow once it has left.
    for (const symbol of followed) if (!this.owned.has(symbol)) this.standbys.acquire(symbol);
    const leaving = [...new Set([...lost, ...standIns.keys()])];
    this.feed.setSymbols([...mine, ...leaving, ...this.standbys.names()]);
    // Both at once: a worker that gains from a peer it also loses to must not wait on itself.
    const [outMs, inMs] = await Promise.all([
      timed(() => this.handOver(assignment, previous, leaving, followed, standIns)),
      timed(() => this.takeOver(epoch, gained, previous, resumed)),
    ]);
    if (this.actingEpoch === epoch) {
      for (const symbol of followed) if (!this.owned.has(symbol)) this.standbys.acquire(symbol);
      this.subscribeHeld();
    }
    if (lost.length > 0) this.emit('handedOver', { direction: 'out', symbols: lost.length, ms: outMs });
    if (gained.length > 0) this.emit('handedOver', { direction: 'in', symbols: gained.length, ms: inMs });

    const ms = performance.now() - started;
    // One line per epoch acted on (epochs are rare): the settle figures count these.
    this.log.info(
      { epoch, owned: mine.size, gained: gained.length, lost: lost.length, ms: Math.round(ms) },
      'epoch changed: symbols rebalanced',
    );
    this.emit('rebalanced', { epoch, gained: gained.length, lost: lost.length, ms });
    if (assignment.isDraining(this.id)) this.emit('drained', { epoch });
  }

  /**
   * Take-overs an earlier epoch left unfinished (see `takeOver`): those still this worker's go on at
   * this epoch with their buffers; the others never went live here and are dropped.
   */
  private resumeTakeOvers(mine: ReadonlySet<string>): ReadonlyMap<string, TakeOver> {
    const resumed = new Map<string, TakeOver>();
    for (const [symbol, unfinished] of this.unfinishedTakeOvers) {
      if (this.owned.get(symbol)?.state !== 'loading') continue;
      if (mine.has(symbol)) resumed.set(symbol, unfinished);
      else this.owned.release(symbol);
    }
    this.unfinishedTakeOvers.clear();
    return resumed;
  }

  /**
   * Hand-overs out an earlier epoch abandoned because their new owner left the ring before taking
   * them (see `handOver`). Each symbol was applied here all along and its new owner never took it
   * over, so one this worker owns again simply goes on live. The others are handed over at this
   * epoch as stood in for (not waiting for an owner): their new owner may have seen the owner that
   * left as the previous one, and waits only for a stand-in then.
   */
  private resumeHandOvers(mine: ReadonlySet<string>): ReadonlyMap<string, boolean> {
    const reassigned = new Map<string, boolean>();
    for (const symbol of this.abandonedHandOvers) {
      if (this.owned.get(symbol)?.state !== 'leaving') continue;
      if (mine.has(symbol)) this.owned.keepOwning(symbol);
      else reassigned.set(symbol, false);
    }
    this.abandonedHandOvers.clear();
    return reassigned;
  }

  /**
   * How long the subscribe frames of this epoch's moves may take to leave at the provider's frame
   * rate (Finnhub takes one symbol per frame, 20 frames a second): a new owner cannot overlap before
   * its subscription is sent, so both sides of a hand-over wait this much longer. The moves of the
   * whole ring bound any one new owner's.
   */
  private subscribePacingMs(
    assignment: Assignment,
    previous: Assignment | undefined,
    gained: readonly string[],
    lost: readonly string[],
  ): number {
    return this.pacingMs(previous ? assignment.movedSince(previous) : gained.length + lost.length);
  }

  /**
   * How long subscribe frames for `symbols` symbols take to leave at the provider's frame rate, at
   * most: where symbols are spread over several connections (Binance), each sends its own in
   * parallel. By the provider's cap per connection, not this worker's own (tests lower it): both
   * sides of a hand-over must count the same time, and a smaller cap only means fewer frames each.
   */
  private pacingMs(symbols: number): number {
    const { limits } = this.options.feed;
    return subscribePacingMs(symbols, limits.symbolsPerConnection, limits);
  }

  /** Subscribes to what this worker holds, owned or shadowed, and to nothing else. */
  private subscribeHeld(): void {
    this.feed.setSymbols([...this.owned.names(), ...this.standbys.names()]);
  }

  /**
   * Says which symbols' hand-over buffers overflowed since the last look. A buffer holds a loading
   * symbol's trades (or a shadow's, a joiner's prepared ones included) until its checkpoint is in;
   * full, it drops its oldest trades, and the switch of that symbol can then lose them. Counted in
   * `tickring_handover_buffer_overflows_total`.
   */
  private reportBufferOverflows(): void {
    const symbols = [...new Set([...this.owned.takeOverflowed(), ...this.standbys.takeOverflowed()])];
    if (symbols.length === 0) return;
    this.handoverLog.warn(
      'overflow',
      { symbols: symbols.length, first: symbols.slice(0, 10), capacity: MAX_BUFFERED_TRADES },
      'hand-over buffer full: oldest buffered trades dropped, the switch of these symbols may lose them',
    );
  }

  /** Releases retiring shadows whose time is up (on the checkpoint timer) and unsubscribes them. */
  private async expireRetiredShadows(): Promise<void> {
    if ((await this.standbys.expireRetired()) > 0 && this.status !== 'fenced' && this.status !== 'closed')
      this.subscribeHeld();
  }

  /** Whether a hand-over loop begun at `epoch` should go on (no lease loss, no newer epoch). */
  private stillActing(epoch: number): boolean {
    return this.actingEpoch === epoch && this.membership.leaseValid && this.status !== 'closed';
  }

  /**
   * Lost symbols: keep applying each until the new owner's stream overlaps this one (its first
   * buffered trade was seen here) or, for a quiet symbol, nothing is in flight; then write the final
   * checkpoint, fenced at the new epoch, with the position reached. At the timeout, stop anyway.
   */
  private async handOver(
    assignment: Assignment,
    previous: Assignment | undefined,
    lost: readonly string[],
    followed: ReadonlySet<string>,
    standIns: ReadonlyMap<string, boolean>,
  ): Promise<void> {
    if (lost.length === 0) return;
    const epoch = assignment.epoch;
    await this.announceStandIns(epoch, [...standIns.keys()]);
    const waitForOwner = new Set([...standIns].filter(([, stayed]) => stayed).map(([symbol]) => symbol));
    const deadline = performance.now() + this.handoverBoundMs;
    // A stand-in whose owner is still in the ring lets that owner hand over first, and writes only
    // once the owner's own bound has passed; it stops before the new owner gives up waiting.
    const standInDeadline = deadline + this.options.handoverTimeoutMs / 2;
    // A new owner that has not announced a symbol at all is behind (still busy with an earlier
    // epoch): the symbol stays applied up to one bound longer so the streams overlap once it
    // catches up, unless a newer epoch makes this one moot.
    const unannouncedGraceMs = this.handoverBoundMs;
    const quietSince = new Map<string, { at: number; applied: number }>();
    const confirmedSince = new Map<string, number>();
    // How each symbol ended and when the last of each kind did, for the debug line at the end.
    const outcomes = new Map<string, { symbols: number; lastMs: number }>();
    const started = performance.now();
    const ended = (how: string): void => {
      const outcome = outcomes.get(how) ?? { symbols: 0, lastMs: 0 };
      outcome.symbols++;
      outcome.lastMs = Math.round(performance.now() - started);
      outcomes.set(how, outcome);
    };
    const finalWrites: Promise<void>[] = [];
    let pending = [...lost];
    while (pending.length > 0 && this.stillActing(epoch)) {
      let signals: Awaited<ReturnType<HandoverSignals['read']>> = [];
      // A stand-in's symbol fenced at this epoch by someone else needs nothing more from it: the
      // owner handed over by itself, or the new owner promoted its own live shadow.
      let fencedElsewhere = new Set<string>();
      // Owners of stand-ins that stopped renewing their lease: dead or frozen, not handing over.
      let silentOwners = new Set<string>();
      try {
        const standingIn = pending.filter((symbol) => standIns.has(symbol));
        const owners = [...new Set([...waitForOwner].map((symbol) => previous?.ownerOf(symbol) ?? ''))];
        const [read, open, silent] = await Promise.all([
          this.handoverSignals.read(pending, (symbol) => assignment.ownerOf(symbol)),
          this.checkpoints.unfenced(epoch, standingIn),
          this.membership.silentMembers(owners),
        ]);
        signals = read;
        const stillOpen = new Set(open);
        fencedElsewhere = new Set(standingIn.filter((symbol) => !stillOpen.has(symbol)));
        silentOwners = silent;
      } catch (err) {
        this.handoverLog.warn('signals', { err }, 'hand-over signals unreadable; retrying');
      }
      // The replies above may have come in the same turn of the event loop as feed frames still
      // unread (after a stall, say), and a promise goes on before the sockets behind it are read:
      // judging a symbol quiet now could stop it with its last trades waiting in the socket. One
      // macrotask later every socket that was readable with the replies has been read.
      await yieldToEventLoop();
      const now = performance.now();
      const newer = this.membership.assignment;
      const superseded = newer !== undefined && newer.epoch > epoch;
      // A new owner gone from a newer ring will never overlap: waiting for it would only hold up
      // the newer epoch (and the stand-ins it needs from this worker). The symbol stays applied
      // here, and the rebalance to that epoch takes it on (see `resumeHandOvers`).
      const onNewerRing = superseded ? new Set(newer.record.members.map((m) => m.id)) : undefined;
      const stopped = new Map<string, boolean>();
      const returned: string[] = [];
      const late: string[] = [];
      const abandoned: string[] = [];
      pending.forEach((symbol, i) => {
        const owned = this.owned.get(symbol);
        const newOwner = assignment.ownerOf(symbol);
        // Gone already, or removed from the universe so nobody takes it over: stop now.
        if (owned?.state !== 'leaving' || newOwner === undefined) {
          stopped.set(symbol, false);
          ended('gone');
          return;
        }
        const signal = signals[i];
        const announced = signal !== undefined && signal.epoch >= epoch;
        // Abandoned here, to go on at the newer epoch: a new owner gone from the newer ring, and one
        // that has not announced the symbol and no longer owns it there (it skipped this epoch, or
        // will find it moot). Waiting out the bound for the latter, then stopping unoverlapped,
        // lost what the feed sent until the symbol's next owner subscribed (a dense chaos run lost
        // 9 ADBE trades so, its new owner drained one epoch after it joined).
        if (
          (onNewerRing !== undefined && !onNewerRing.has(newOwner)) ||
          (superseded && !announced && newer.ownerOf(symbol) !== newOwner)
        ) {
          abandoned.push(symbol);
          ended('abandoned');
          return;
        }
        if (fencedElsewhere.has(symbol)) {
          returned.push(symbol);
          ended('fenced elsewhere');
          return;
        }
        // Watched from the start, announced or not: a symbol may have been quiet here long enough
        // by the time the new owner's signal arrives. At first sight it has been quiet since the
        // last checkpoint pass if it applied nothing since: most symbols of a move trade less than
        // once per quiet window, and need not wait one out after the epoch.
        let quiet = quietSince.get(symbol);
        if (quiet === undefined || quiet.applied !== owned.applied) {
          const at = quiet === undefined ? this.owned.quietSince(owned, now) : now;
          quiet = { at, applied: owned.applied };
          quietSince.set(symbol, quiet);
        }
        // A stand-in's owner that stopped renewing its lease (crashed or frozen, not yet reaped), or
        // that a newer ring dropped, will not hand over itself: waiting out its bound would only
        // keep the new owner from going live. Should it hand over after all, the first final wins;
        // both are exact (the shadow applied the same stream).
        if (waitForOwner.has(symbol)) {
          const owner = previous?.ownerOf(symbol) ?? '';
          if (silentOwners.has(owner) || (onNewerRing !== undefined && !onNewerRing.has(owner)))
            waitForOwner.delete(symbol);
        }
        const standingIn = waitForOwner.has(symbol);
        if (standingIn && now < deadline) return;
        const limit =
          (standingIn ? standInDeadline : deadline) + (announced || superseded ? 0 : unannouncedGraceMs);
        if (now >= limit) {
          stopped.set(symbol, false);
          late.push(symbol);
          ended('timed out');
          return;
        }
        if (!announced) return;
        if (signal.first !== undefined) {
          if (this.owned.hasReached(owned, signal.first)) {
            stopped.set(symbol, true);
            ended(standingIn ? 'overlapped, standing in' : 'overlapped');
            return;
          }
          // Without ids a quiet symbol may never show a later time: having applied trades of the
          // new owner's first millisecond, and nothing since, is as far as the streams go.
          if (signal.first.key !== '' || owned.timeMs !== signal.first.timeMs || owned.applied === 0) return;
        }
        // Quiet here since `quiet.at`, and the new owner subscribed since `confirmedAt` (the age it
        // announced, counted back from when this worker first read the signal): whatever the
        // provider sent before that confirmation had the quiet window to arrive here.
        let confirmedAt = confirmedSince.get(symbol);
        if (confirmedAt === undefined) {
          confirmedAt = now - (signal.confirmedForMs ?? 0);
          confirmedSince.set(symbol, confirmedAt);
        }
        if (now - Math.max(quiet.at, confirmedAt) >= QUIET_HANDOVER_MS) {
          stopped.set(symbol, signal.first !== undefined);
          ended('quiet');
        }
      });
      if (late.length > 0) {
        this.handoverTimeouts += late.length;
        this.log.warn(
          {
            epoch,
            symbols: late.length,
            first: late.slice(0, 10),
            timeoutMs: Math.round(this.handoverBoundMs),
          },
          'new owner did not overlap in time; handing over at the timeout',
        );
      }
      // Not awaited here: the next look at the signals need not wait for this write (on the same
      // connection, so written in order), and a write of a hundred finals takes tens of ms.
      if (stopped.size > 0) finalWrites.push(this.writeFinals(epoch, stopped, followed, standIns));
      this.returnShadows(returned, followed);
      if (abandoned.length > 0) {
        for (const symbol of abandoned) this.abandonedHandOvers.add(symbol);
        // Handed over at the newer epoch as stood in for (see `resumeHandOvers`): said now, not
        // when this worker gets to act on that epoch, since its new owner may have seen the owner
        // that left as the previous one and waits only briefly for a stand-in.
        const handedOn = abandoned.filter((symbol) => newer?.ownerOf(symbol) !== this.id);
        if (newer !== undefined) void this.announceStandIns(newer.epoch, handedOn);
        this.log.info(
          { epoch, newerEpoch: newer?.epoch, symbols: abandoned.length, first: abandoned.slice(0, 10) },
          'new owner will not take over at this epoch (it left the ring, or skipped the epoch): hand-over goes on at the newer epoch',
        );
      }
      pending = pending.filter(
        (symbol) => !stopped.has(symbol) && !returned.includes(symbol) && !abandoned.includes(symbol),
      );
      if (pending.length > 0) await sleep(HANDOVER_POLL_MS);
    }
    await Promise.all(finalWrites);
    this.log.debug(
      { epoch, symbols: lost.length, outcomes: Object.fromEntries(outcomes) },
      'hand-over out ended',
    );
  }

  /**
   * Stand-ins whose symbol someone else fenced at the epoch: nothing to write. A shadow still
   * followed here goes on as the new owner's standby (its stream never stopped).
   */
  private returnShadows(symbols: readonly string[], followed: ReadonlySet<string>): void {
    for (const symbol of symbols) {
      const shadow = this.owned.release(symbol);
      if (!shadow || !followed.has(symbol)) continue;
      this.standbys.adoptLive(symbol, shadow);
    }
  }

  /**
   * Stops the given leaving symbols and writes their final checkpoints (`overlapped` per symbol). A
   * symbol this worker follows from now on as the new owner's standby keeps its aggregate as a live
   * shadow: its stream never stopped, so the standby is warm at once (no wait for a checkpoint).
   */
  private async writeFinals(
    epoch: number,
    stopped: ReadonlyMap<string, boolean>,
    followed: ReadonlySet<string>,
    standIns: ReadonlyMap<string, boolean>,
  ): Promise<void> {
    // Written a slice at a time: a final costs a tenth of a millisecond or more to build, and a
    // drain stops hundreds at once; the new owners claim the first slices while the rest are built.
    // A symbol is released as its record is taken, so one waiting for its slice goes on applying.
    const writes: Promise<void>[] = [];
    let finals = new Map<string, CheckpointRecord>();
    const slice = new TimeSlice(HANDOVER_SLICE_MS);
    for (const [symbol, overlapped] of stopped) {
      if (finals.size > 0 && slice.spent) {
        writes.push(this.writeFinalSlice(epoch, finals, standIns));
        finals = new Map();
        await slice.yield();
      }
      const owned = this.owned.release(symbol);
      if (owned?.state !== 'leaving') continue;
      this.takeBars(symbol, owned.aggregate);
      finals.set(symbol, this.record(epoch, owned, true, overlapped));
      if (followed.has(symbol)) this.standbys.adoptLive(symbol, owned);
    }
    if (finals.size > 0) writes.push(this.writeFinalSlice(epoch, finals, standIns));
    await Promise.all(writes);
  }

  private async writeFinalSlice(
    epoch: number,
    finals: ReadonlyMap<string, CheckpointRecord>,
    standIns: ReadonlyMap<string, boolean>,
  ): Promise<void> {
    try {
      const [refused] = await Promise.all([this.checkpoints.write(epoch, finals, true), this.flushBars()]);
      // Refused: the new owner claimed first (it stopped waiting), or another final came first.
      if (refused.length > 0)
        this.log.warn(
          { epoch, refused: refused.length, first: refused.slice(0, 10) },
          'final checkpoints refused',
        );
      const refusedSet = new Set(refused);
      const stoodIn = [...finals.keys()].filter(
        (symbol) => standIns.has(symbol) && !refusedSet.has(symbol),
      ).length;
      this.standIns += stoodIn;
      if (stoodIn > 0)
        this.log.info({ epoch, symbols: stoodIn }, 'stood in for an owner that did not hand over');
    } catch (err) {
      this.log.warn({ err, epoch, symbols: finals.size }, 'final checkpoints not written');
    }
  }

  /**
   * Gained symbols: tell each previous owner still in the ring that this worker is subscribed (and
   * what it buffered first), wait for their final checkpoints, claim every gained symbol at the new
   * epoch, and replay each buffer past the position its checkpoint reached.
   *
   * A newer epoch that leaves a symbol with this worker, and its previous owner on the ring,
   * interrupts its wait (see `awaitFinals`): that owner may act on the newer epoch only, having
   * skipped this one, and hand over there. So does a claim refused because a newer epoch fenced the
   * symbol. Either way the symbol keeps buffering, and the rebalance to the newer epoch resumes it
   * (`resumed`) if it is still this worker's, waiting for the same previous owner, whose final
   * checkpoint at any epoch since the take-over began ends the wait. Going live here instead, from
   * an older checkpoint, would lose what that owner applied since.
   */
  private async takeOver(
    epoch: number,
    gained: readonly string[],
    previous: Assignment | undefined,
    resumed: ReadonlyMap<string, TakeOver>,
  ): Promise<void> {
    if (gained.length === 0) return;
    const takeOvers = new Map<string, TakeOver>();
    for (const symbol of gained)
      takeOvers.set(symbol, resumed.get(symbol) ?? { since: epoch, from: previous?.ownerOf(symbol) });
    // A previous owner still in the ring writes a final checkpoint. One that left without handing
    // over (crashed, or reaped) may have a standby elsewhere standing in for it (see
    // `Standbys.standInsAt`), waited for a shorter while; a symbol new to the universe waits for
    // nobody.
    const live = new Set(this.membership.assignment?.record.members.map((m) => m.id) ?? []);
    const awaited: string[] = [];
    const orphaned: string[] = [];
    const ownerLeft: string[] = [];
    for (const symbol of gained) {
      const before = takeOvers.get(symbol)?.from;
      if (before === undefined || before === this.id || this.owned.get(symbol)?.state === 'live') continue;
      if (live.has(before)) awaited.push(symbol);
      else ownerLeft.push(symbol);
    }
    const held = await this.stillHeld(ownerLeft, live);
    for (const symbol of ownerLeft) {
      const takeOver = takeOvers.get(symbol);
      const holder = held.get(symbol);
      if (takeOver && holder !== undefined) {
        awaited.push(symbol);
        takeOvers.set(symbol, { since: takeOver.since, from: holder });
      } else if (this.options.replicas >= 2) orphaned.push(symbol);
    }
    if (held.size > 0) {
      this.log.info(
        { epoch, symbols: held.size, holders: [...new Set(held.values())] },
        'owner named by the ring left without taking symbols over: waiting for the one still applying them',
      );
    }
    // Symbols go live as soon as nothing holds them back: one that waits for nobody once its
    // subscription is confirmed and announced (going live unsubscribed would make the worker ready
    // with nothing coming in), an awaited one once its final checkpoint is in. Waiting for the slowest
    // final before claiming any (and then loading every checkpoint in one go) made the last symbol of
    // a move wait for all the others' loading too.
    const goingLive = new GoLiveQueue((symbols) => this.claimAndGoLive(epoch, symbols, takeOvers));
    const waitingFor = new Set([...awaited, ...orphaned]);
    const waitStarted = performance.now();
    const { late, interrupted } = await this.awaitFinals(
      epoch,
      gained,
      awaited,
      orphaned,
      takeOvers,
      (announced, landed) => {
        goingLive.add(announced.filter((symbol) => !waitingFor.has(symbol)));
        goingLive.add(landed);
      },
    );
    this.log.debug(
      {
        epoch,
        symbols: gained.length,
        awaited: awaited.length,
        orphaned: orphaned.length,
        late: late.length,
        interrupted: interrupted.length,
        ms: Math.round(performance.now() - waitStarted),
      },
      'final checkpoints awaited',
    );
    const lateOwned = late.filter((symbol) => !orphaned.includes(symbol));
    if (lateOwned.length > 0) {
      this.handoverFallbacks += lateOwned.length;
      this.log.warn(
        { epoch, symbols: lateOwned.length },
        'previous owner did not hand over in time; using last checkpoint',
      );
    }
    if (late.length > lateOwned.length) {
      this.handoverFallbacks += late.length - lateOwned.length;
      this.log.warn(
        { epoch, symbols: late.length - lateOwned.length },
        'owner left without handing over and no standby stood in: symbols restart from their last checkpoint',
      );
    }
    const interruptedSet = new Set(interrupted);
    goingLive.add(gained.filter((symbol) => !interruptedSet.has(symbol)));
    const { replayedAll, newer } = await goingLive.done();
    if (!this.stillActing(epoch)) return;
    const unfinished = [...interrupted, ...newer];
    for (const symbol of unfinished) {
      const takeOver = takeOvers.get(symbol);
      if (takeOver) this.unfinishedTakeOvers.set(symbol, takeOver);
    }
    if (unfinished.length > 0) {
      this.log.info(
        { epoch, symbols: unfinished.length, claimedAtNewerEpoch: newer.length },
        'take-over continues at a newer epoch',
      );
    }
    if (replayedAll > 0) {
      this.log.info(
        { epoch, symbols: replayedAll },
        'checkpoint position not found in the buffer: whole buffer applied',
      );
    }
  }

  /**
   * Of `symbols`, whose owner on the ring this worker last acted on has left the ring since, those
   * another worker may still be applying, each with that worker where it is known. That ring says who
   * owned a symbol there, not who took it: a worker that skipped the epoch giving it the symbol never
   * took it, and the one before goes on applying it until it acts on a later epoch and hands it over
   * there. Going live without waiting for that final would start from an older checkpoint and refuse
   * the final: a scale-down from 6 workers to 2 lost a trade so (`test/ha/scale.test.ts`). Held
   * means: the last checkpoint is a periodic one by a member still on the ring, or the worker that
   * claimed the symbol last is on the ring and has not handed it over since (it may have written no
   * checkpoint yet). A claim newer than the last checkpoint is not enough by itself: every symbol
   * that never traded has one, and a crash's new owners then waited out the bound for them.
   */
  private async stillHeld(
    symbols: readonly string[],
    live: ReadonlySet<string>,
  ): Promise<Map<string, string>> {
    const held = new Map<string, string>();
    if (symbols.length === 0) return held;
    const other = (id: string | null | undefined): id is string =>
      id !== null && id !== undefined && id !== this.id && live.has(id);
    try {
      // Claimers first, on the same connection: a final landing between the two reads can only
      // make the record newer than the claimer read, never the other way round.
      const [claimers, records] = await Promise.all([
        this.checkpoints.holders(symbols),
        this.checkpoints.readMany(symbols, { unpack: false }),
      ]);
      symbols.forEach((symbol, i) => {
        const record = records[i] ?? null;
        const claimer = claimers[i];
        if (record && !record.final && other(record.owner)) held.set(symbol, record.owner);
        else if (other(claimer) && !(record?.final === true && record.owner === claimer))
          held.set(symbol, claimer);
      });
    } catch (err) {
      this.handoverLog.warn('holders', { err }, 'last checkpoints unreadable; not waiting for their writers');
    }
    return held;
  }

  /**
   * Claims `symbols` at `epoch` and makes each live from its checkpoint. The claim goes out in
   * chunks, all sent at once: Redis runs the next chunk's claim and sends its checkpoints while this
   * worker makes the previous chunk live, where one claim of a whole move made the first symbol wait
   * for every checkpoint of it (650 symbols: 16-36 ms claiming, then 26-80 ms going live, in traced
   * joins). Loading a checkpoint costs about a tenth of a millisecond, so a large chunk yields to the
   * event loop between slices: the hand-over loops and the feed keep going meanwhile. Nothing is
   * claimed once this worker no longer acts on the epoch.
   */
  private async claimAndGoLive(
    epoch: number,
    symbols: readonly string[],
    takeOvers: ReadonlyMap<string, TakeOver>,
  ): Promise<GoLiveResult> {
    if (symbols.length === 0 || !this.stillActing(epoch)) return { replayedAll: 0, newer: [] };
    const started = performance.now();
    const onCorrupt = (symbol: string, err: unknown): void => {
      this.corruptCheckpoints++;
      this.log.error({ err, symbol }, 'corrupt checkpoint ignored; symbol starts empty');
    };
    const claims: Promise<ClaimResult>[] = [];
    for (let i = 0; i < symbols.length; i += CLAIM_CHUNK)
      claims.push(this.checkpoints.claim(epoch, symbols.slice(i, i + CLAIM_CHUNK), onCorrupt));
    // Awaited in order below; a chunk after a failed one must not reject unheard meanwhile.
    for (const claim of claims) claim.catch(() => undefined);
    let replayedAll = 0;
    const newer: string[] = [];
    for (const claim of claims) {
      const claimed = await claim;
      newer.push(...claimed.newer);
      replayedAll += await this.goLiveClaimed(epoch, claimed.records, takeOvers, performance.now() - started);
    }
    return { replayedAll, newer };
  }

  /**
   * Makes each claimed symbol live from its checkpoint (see `claimAndGoLive`); returns how many
   * replayed their whole buffer where that may double trades.
   */
  private async goLiveClaimed(
    epoch: number,
    records: ReadonlyMap<string, CheckpointRecord | null>,
    takeOvers: ReadonlyMap<string, TakeOver>,
    claimMs: number,
  ): Promise<number> {
    const sinceOf = (symbol: string): number => takeOvers.get(symbol)?.since ?? epoch;
    const claimed = performance.now();
    let replayedAll = 0;
    const traced: string[] = [];
    const slice = new TimeSlice(HANDOVER_SLICE_MS);
    for (const [symbol, record] of records) {
      if (slice.spent) await slice.yield();
      // Only a symbol still loading takes its checkpoint (a promoted shadow is live already).
      if (this.owned.get(symbol)?.state === 'loading') {
        const outcome = this.owned.goLive(
          symbol,
          record ? this.deferredAggregate(symbol, record) : null,
          record ? checkpointPosition(record) : START_OF_STREAM,
          record?.final === true && record.overlapped === true && record.epoch >= sinceOf(symbol),
        );
        // A quiet final of this take-over (the old owner stopped with nothing applied since this
        // worker subscribed) names a trade from before the subscription: the whole buffer comes
        // after it, as it should. Anywhere else (a crashed owner's periodic checkpoint, a final at
        // the timeout) the line says where trades at the switch could be missing or doubled.
        const quietFinal =
          record?.final === true && record.overlapped !== true && record.epoch >= sinceOf(symbol);
        if (outcome === 'replayed-all' && !quietFinal) replayedAll++;
        if (outcome === 'awaiting') this.awaitPosition(symbol);
        // Going live from anything but this take-over's own final is where a trade can go missing:
        // named, to trace a miscount from a debug log.
        if (traced.length < 20 && (record?.final !== true || record.epoch < sinceOf(symbol)))
          traced.push(
            `${symbol} ${outcome ?? 'gone'} from ${record ? `${record.owner}@${record.epoch}` : 'nothing'}`,
          );
      }
      // Checkpointed once live even without a trade: standbys settle only on a checkpoint written
      // by the symbol's owner since it took it (see `Standbys.warm`). A symbol that never traded
      // keeps having no checkpoint at all.
      if (record !== null) this.owned.get(symbol)?.markDirty();
    }
    this.log.debug(
      {
        epoch,
        symbols: records.size,
        claimMs: Math.round(claimMs),
        goLiveMs: Math.round(performance.now() - claimed),
        ...(traced.length > 0 ? { notFromFinals: traced } : {}),
      },
      'claimed and went live',
    );
    return replayedAll;
  }

  /**
   * The new owner's loop: announce confirmed subscriptions (again once a first trade is buffered),
   * and watch the fences until every awaited final checkpoint is written (at or after the epoch in
   * `takeOvers`), the timeout passes, or a newer epoch interrupts. After each look, `ready` hears
   * which symbols were just announced (their subscription confirmed) and which awaited symbols' final
   * checkpoints are in. Returns the symbols whose final checkpoint did not come in time (`late`) and
   * those still awaited when interrupted.
   */
  private async awaitFinals(
    epoch: number,
    gained: readonly string[],
    awaited: readonly string[],
    orphaned: readonly string[],
    takeOvers: ReadonlyMap<string, TakeOver>,
    ready: (announced: readonly string[], landed: readonly string[]) => void,
  ): Promise<{ late: string[]; interrupted: string[] }> {
    const sinceOf = (symbol: string): number => takeOvers.get(symbol)?.since ?? epoch;
    // Longer than the old owner's own bound, so that at worst it stops first and its final
    // checkpoint still arrives, rather than being refused after this worker claimed. A symbol whose
    // owner left is waited for only once a standby announced it stands in (or briefly, for that
    // announcement), and half a timeout less: a stand-in stops by its bound too.
    const started = performance.now();
    const deadline = started + this.handoverBoundMs + this.options.handoverTimeoutMs;
    const orphanDeadline = started + this.handoverBoundMs + this.options.handoverTimeoutMs / 2;
    const noticeDeadline = started + STAND_IN_NOTICE_MS;
    const orphans = new Set(orphaned);
    const covered = new Set<string>();
    const unclaimed: string[] = [];
    // Every gained symbol is announced, awaited or not: a previous owner this worker did not know of
    // (it saw no ring before joining) learns from it too. An announcement without a first trade is
    // repeated once one is buffered, while the old owner may still be waiting for it.
    const unannounced = new Set(gained);
    const withoutFirst = new Set<string>();
    const interrupted: string[] = [];
    let pending = [...awaited, ...orphaned];
    while ((pending.length > 0 || unannounced.size > 0) && this.stillActing(epoch)) {
      const updates = new Map<string, Omit<HandoverSignal, 'epoch'>>();
      for (const symbol of [...unannounced, ...withoutFirst]) {
        const owned = this.owned.get(symbol);
        if (owned?.state !== 'loading') {
          unannounced.delete(symbol);
          withoutFirst.delete(symbol);
          continue;
        }
        const confirmedForMs = this.feed.confirmedForMs(symbol);
        if (confirmedForMs === undefined) continue;
        const first = this.owned.firstBuffered(owned);
        if (!unannounced.delete(symbol) && first === undefined) continue;
        updates.set(symbol, { first, confirmedForMs });
        if (first === undefined) withoutFirst.add(symbol);
        else withoutFirst.delete(symbol);
      }
      try {
        // One round trip for both: the fences read need not wait for the signals written.
        const [, stillUnfenced] = await Promise.all([
          this.handoverSignals.announce(epoch, updates),
          this.checkpoints.unfenced(epoch, pending, sinceOf),
        ]);
        const unfencedSet = new Set(stillUnfenced);
        const landed = pending.filter((symbol) => !unfencedSet.has(symbol));
        pending = stillUnfenced;
        ready([...updates.keys()], landed);
      } catch (err) {
        this.handoverLog.warn('announce', { err }, 'hand-over signals not written; retrying');
      }
      // Symbols this worker still owns at a newer epoch go on there, so that waiting for them does
      // not hold up that epoch (and the promotions and stand-ins it needs from this worker):
      // - from a previous owner still on the ring there, which may hand over only at that epoch;
      // - from a previous owner gone from it (crashed or reaped mid-hand-over): its final cannot
      //   come any more, and at the newer epoch the symbol waits only for a stand-in, briefly.
      // A final or a stand-in written at any epoch since the take-over began still ends the wait
      // there. One moving on to another worker is still waited for here: its next owner waits for
      // this worker to hand it over, which it can only once live.
      const newer = this.membership.assignment;
      if (pending.length > 0 && newer !== undefined && newer.epoch > epoch) {
        const stillMine = new Set(
          pending.filter(
            (symbol) => takeOvers.get(symbol)?.from !== undefined && newer.ownerOf(symbol) === this.id,
          ),
        );
        interrupted.push(...stillMine);
        pending = pending.filter((symbol) => !stillMine.has(symbol));
      }
      if (orphans.size > 0) {
        const now = performance.now();
        try {
          const uncovered = pending.filter((symbol) => orphans.has(symbol) && !covered.has(symbol));
          for (const symbol of await this.handoverSignals.standingIn(epoch, uncovered, sinceOf))
            covered.add(symbol);
        } catch (err) {
          this.handoverLog.warn('stand-ins', { err }, 'stand-ins unreadable; retrying');
        }
        const givenUp = pending.filter(
          (symbol) =>
            orphans.has(symbol) && (now >= orphanDeadline || (now >= noticeDeadline && !covered.has(symbol))),
        );
        for (const symbol of givenUp) orphans.delete(symbol);
        unclaimed.push(...givenUp);
        pending = pending.filter((symbol) => !givenUp.includes(symbol));
      }
      if (pending.length === 0 && unannounced.size === 0) break;
      if (performance.now() >= deadline) break;
      await sleep(HANDOVER_POLL_MS);
    }
    return { late: [...pending, ...unclaimed], interrupted };
  }

  /** A symbol waiting for its previous owner's position to show up in this stream, bounded. */
  private awaitPosition(symbol: string): void {
    const boundMs = this.handoverBoundMs;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.owned.stopAwaiting(symbol)) return;
      this.handoverFallbacks++;
      this.handoverLog.warn(
        'await',
        { symbol, timeoutMs: Math.round(boundMs) },
        "previous owner's last trade never arrived here; whole buffer applied",
      );
    }, boundMs);
    this.timers.add(timer);
  }

  /**
   * Restores the aggregates that went live with their restore deferred (see `OwnedSymbol`), in
   * slices between which the feed and queries go on. The checkpoint pass after a move does it
   * (within one period), not the move itself: in a drain every new owner restoring as soon as it
   * was live took the cores from the owners and the leaver still handing over. A trade or query
   * that needs one sooner restores it itself.
   */
  private async restoreDeferred(): Promise<void> {
    const started = performance.now();
    const restored = await this.owned.restoreDeferred(new TimeSlice(HANDOVER_SLICE_MS));
    if (restored > 0) {
      this.log.debug(
        { symbols: restored, ms: Math.round(performance.now() - started) },
        'deferred checkpoints restored',
      );
    }
  }

  /** The aggregate a checkpoint holds; throws on one that is corrupt. */
  private restore(record: CheckpointRecord, placement: RecordPlacement = 'shared'): SymbolAggregate {
    return SymbolAggregate.fromCheckpoint(
      parseStoredCheckpoint(record.aggregate),
      this.options.aggregate,
      placement,
    );
  }

  /** A checkpoint's aggregate, restored when first needed (see `OwnedSymbol`). */
  private deferredAggregate(symbol: string, record: CheckpointRecord): DeferredAggregate {
    return {
      restore: () => this.loadAggregate(symbol, record),
      summary:
        record.aggregate instanceof PackedCheckpoint
          ? SymbolAggregate.summaryOfPacked(record.aggregate.bytes)
          : undefined,
    };
  }

  private loadAggregate(symbol: string, record: CheckpointRecord | null): SymbolAggregate | null {
    if (!record) return null;
    try {
      return this.restore(record);
    } catch (err) {
      this.corruptCheckpoints++;
      this.log.error({ err, symbol }, 'corrupt aggregate in checkpoint ignored; symbol starts empty');
      return null;
    }
  }

  private record(epoch: number, owned: OwnedSymbol, final: boolean, overlapped = false): CheckpointRecord {
    return {
      ...this.recordHead(epoch, owned, final, overlapped),
      aggregate: owned.aggregate.checkpointPacked(),
    };
  }

  private recordHead(epoch: number, owned: OwnedSymbol, final: boolean, overlapped = false): RecordHead {
    const position = this.owned.position(owned);
    return {
      v: 1,
      owner: this.id,
      epoch,
      writtenAt: Date.now(),
      watermark: position.key,
      final,
      position,
      overlapped,
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

  /**
   * Whether this checkpoint pass takes completed bars: the pass nearest to `barWriteMs` after the
   * last that did. Taking them at every pass was nearly half of the pass at 8,000 symbols (a bar
   * object, queue entry, series key and script arguments per symbol and second); every few seconds,
   * the per-series work is shared by several bars.
   */
  private barsDue(): boolean {
    const now = performance.now();
    const slack = Math.min(this.options.checkpointMs, this.barWriteMs) / 2;
    if (now - this.barsTakenAt < this.barWriteMs - slack) return false;
    this.barsTakenAt = now;
    return true;
  }

  /** Writes queued bars, giving the event loop turns by `slice`; never rejects (failed bars stay queued). */
  private async flushBars(slice?: TimeSlice): Promise<void> {
    try {
      if (await this.bars.flush(slice)) return;
    } catch (err) {
      this.log.debug({ err }, 'bar flush threw');
    }
    this.log.warn({ pending: this.bars.pendingBars }, 'completed bars not written; will retry');
  }

  private async writeCheckpoints(): Promise<void> {
    if (!this.mayCheckpoint()) return;
    // Sliced here: the loop below would otherwise restore them all at once through `aggregate`.
    await this.restoreDeferred();
    if (!this.mayCheckpoint()) return;
    const started = performance.now();
    const epoch = this.actingEpoch;
    // Packed straight into the batches as they go (see `CheckpointWriter`), each full batch sent at once.
    const writer = this.checkpoints.writer(epoch);
    // Trades applied while the write is in flight must keep their symbol dirty: remember how far
    // each checkpoint reached.
    const written: [SymbolAggregate, number][] = [];
    const takingBars = this.barsDue();
    const slice = new TimeSlice(CHECKPOINT_SLICE_MS);
    let cut = false;
    for (const [symbol, owned] of this.owned.entries()) {
      if (slice.spent) {
        // What is packed goes on the wire first: a hand-over starting meanwhile writes its finals
        // on the same connection, after these records, so none of them can overwrite a final.
        writer.sendPacked();
        await slice.yield();
        // Written at the pass's epoch or not at all; what is left stays dirty for the next pass.
        cut = !this.mayCheckpoint() || this.actingEpoch !== epoch;
        if (cut) break;
      }
      if (takingBars && owned.state === 'live') this.takeBars(symbol, owned.aggregate);
      if (owned.state !== 'live' || !owned.aggregate.dirty) continue;
      written.push([owned.aggregate, owned.aggregate.changes]);
      writer.addPacking(symbol, this.recordHead(epoch, owned, false), owned.aggregate);
    }
    const symbols = written.length;
    if (symbols === 0 && this.bars.pendingBars === 0) {
      if (!cut) await this.countPass();
      return;
    }
    let ok = true;
    try {
      // Sent back to back on one connection: checkpoints and bars share the round trip.
      const [refused] = await Promise.all([writer.done(), this.flushBars(slice)]);
      for (const [aggregate, asOf] of written) aggregate.markClean(asOf);
      if (refused.length > 0)
        this.log.warn({ epoch, refused: refused.length }, 'checkpoints refused: newer owner');
    } catch (err) {
      ok = false;
      this.checkpointFailures++;
      this.log.warn({ err, symbols }, 'checkpoint failed; will retry');
    }
    // Only a whole pass whose writes all landed counts: a standby settles on what it then reads.
    if (ok && !cut) await this.countPass();
    this.emit('checkpointed', { symbols, ms: performance.now() - started, ok });
  }

  private mayCheckpoint(): boolean {
    return this.membership.leaseValid && (this.status === 'ready' || this.status === 'starting');
  }

  /**
   * Counts a periodic checkpoint pass as completed, where standbys may need it: a standby trusts an
   * unchanged checkpoint of this worker only after two more passes (see `SettledCheckpoints`). A
   * count that fails delays settling, nothing more, and does not make the pass's writes fail.
   */
  private async countPass(): Promise<void> {
    if (this.options.replicas < 2) return;
    await this.checkpoints
      .passCompleted()
      .catch((err: unknown) => this.log.debug({ err }, 'checkpoint pass not counted'));
  }

  private onFenced(): void {
    if (this.status === 'closed' || this.status === 'draining') return;
    this.status = 'fenced';
    this.previousAssignment = this.membership.assignment ?? this.previousAssignment;
    // Whatever we hold may be overtaken by the next owner: drop it all, write nothing.
    this.feed.setSymbols([]);
    this.owned.clear();
    this.unfinishedTakeOvers.clear();
    this.abandonedHandOvers.clear();
    this.standbys.clear();
    this.bars.discard();
    this.actingEpoch = 0;
  }

  /**
   * Graceful stop: first drain, so every symbol moves by the overlapping hand-over while this worker
   * still applies it; then final checkpoints of whatever is left (the drain timed out, or nobody
   * else is in the ring), and leave so others take over at once.
   */
  async close(): Promise<void> {
    if (this.status === 'closed' || this.status === 'draining' || this.closing) return;
    this.closing = true;
    // Stopped while its first take-over runs: that take-over ends first, and what it claimed is
    // handed over as a serving worker's symbols are. Leaving at once let the next owners go live
    // from the previous owners' finals, without the trades applied here since: a dense chaos run
    // lost 15 AAPL trades to a joiner stopped 33 ms after it joined.
    if (this.status === 'starting' && (await this.firstTakeOverEnded())) this.status = 'ready';
    if (this.status === 'ready') {
      await this.handOverEverything();
      await this.outlastSilentOwners();
    }
    const wasServing = this.status === 'ready';
    this.status = 'draining';
    clearInterval(this.checkpointTimer);
    clearInterval(this.quietSampleTimer);
    for (const timer of this.timers) clearTimeout(timer);
    await this.rebalancing;
    await this.checkpointing;
    this.feed.close();
    if (wasServing && this.membership.leaseValid) {
      const finals = new Map<string, CheckpointRecord>();
      for (const [symbol, owned] of this.owned.entries()) {
        if (owned.state === 'loading') continue;
        this.takeBars(symbol, owned.aggregate);
        finals.set(symbol, this.record(this.actingEpoch, owned, true));
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
    this.standbys.clear();
    this.status = 'closed';
  }

  /** Lets a first take-over in flight end; whether this worker owns symbols from it (fenced: none). */
  private async firstTakeOverEnded(): Promise<boolean> {
    await this.rebalancing;
    return this.owned.size > 0;
  }

  /**
   * A drained worker may still hold the only live copy of a symbol whose owner died or froze and is
   * not reaped yet (a shadow it follows or keeps retiring, see `Standbys.retire`): leaving now would
   * lose what that owner applied since its last checkpoint. It stays, still acting on epochs, until
   * none of its live shadows belongs to a silent owner (the epoch that reaps the owner makes it a
   * stand-in, and the hand-over runs), bounded by a lease and two hand-over timeouts.
   */
  private async outlastSilentOwners(): Promise<void> {
    if (this.options.replicas < 2) return;
    const deadline = performance.now() + this.leaseMs() + 2 * this.options.handoverTimeoutMs;
    let waited = false;
    while (this.status === 'ready' && this.membership.leaseValid && performance.now() < deadline) {
      const assignment = this.membership.assignment;
      const owners = new Set<string>();
      for (const symbol of this.standbys.names()) {
        const owner = assignment?.ownerOf(symbol);
        if (owner !== undefined && owner !== this.id && this.standbys.stateOf(symbol) === 'live')
          owners.add(owner);
      }
      const silent = await this.membership.silentMembers([...owners]).then(
        (members) => members.size,
        (err: unknown) => {
          this.log.warn({ err }, "owners' leases unreadable before leaving; leaving anyway");
          return 0;
        },
      );
      if (silent === 0) break;
      if (!waited)
        this.log.info(
          { owners: silent },
          'drained, but holding live shadows of silent owners: staying until they are reaped',
        );
      waited = true;
      await sleep(this.options.membership.pollMs ?? DEFAULT_MEMBERSHIP_OPTIONS.pollMs);
    }
    // The stand-ins' hand-overs, begun by the epoch that reaped the owner.
    if (waited) await this.rebalancing;
  }

  /**
   * A peer that did not answer the drain notice may be busy, of an older version, or dead or frozen
   * with its lease still running, the ring unaware. Draining past a dead one would give it symbols
   * it never takes: they would wait for its lease to run out, then move again from this worker's
   * final checkpoints, and what the feed sent meanwhile would be lost. So this worker watches the
   * unanswered peers' leases, still applying its symbols. One that renews its lease after the notice
   * ended is alive (a peer that froze as the notice began renews nothing after it: a mark taken at
   * the start could count its last renewal, still queued in Redis); once one is silent (two
   * heartbeats behind), the worker waits until the ring drops it, bounded by a lease and two polls.
   * It looks every half heartbeat, for three heartbeats at most. Returns whether it waited for the
   * ring.
   */
  private async outlastSilentPeers(unanswered: readonly string[]): Promise<boolean> {
    // The ring this worker holds is the one it reads on every epoch event: looking costs nothing.
    const onRing = (id: string): boolean =>
      this.membership.assignment?.record.members.some((member) => member.id === id) ?? false;
    // A peer the ring dropped meanwhile (it left, stopping as well) is gone, not silent: no drain
    // gives it anything.
    let pending = unanswered.filter(onRing);
    if (pending.length === 0) return false;
    const mark = this.membership.renewalMark();
    const heartbeatMs = this.options.membership.heartbeatMs ?? DEFAULT_MEMBERSHIP_OPTIONS.heartbeatMs;
    const lookUntil = performance.now() + 3 * heartbeatMs;
    let silent = new Set<string>();
    while (pending.length > 0 && this.membership.leaseValid) {
      try {
        const states = await this.membership.leaseStates(pending, mark);
        silent = states.silent;
        pending = pending.filter((id) => !states.renewedSince.has(id));
      } catch (err) {
        this.log.warn({ err }, "peers' leases unreadable before draining; draining anyway");
        return false;
      }
      if (silent.size > 0 || performance.now() >= lookUntil) break;
      await sleep(heartbeatMs / 2);
    }
    if (silent.size === 0) return false;
    this.log.info(
      { silent: [...silent] },
      'peers silent in the leases: waiting for the ring to drop them before draining',
    );
    const pollMs = this.options.membership.pollMs ?? DEFAULT_MEMBERSHIP_OPTIONS.pollMs;
    const deadline = performance.now() + this.leaseMs() + 2 * pollMs;
    while ([...silent].some(onRing) && this.membership.leaseValid && performance.now() < deadline)
      await sleep(HANDOVER_POLL_MS);
    return true;
  }

  /** Drains this worker through the ring and waits (bounded) until every symbol was handed over. */
  private async handOverEverything(): Promise<void> {
    const others = this.membership.assignment?.record.members.filter((m) => m.id !== this.id && !m.draining);
    if (!this.membership.leaseValid || this.owned.size === 0 || !others?.length) return;
    if (this.membership.assignment?.isDraining(this.id) === true) return;
    // A static member keeps its place across a restart: its symbols wait for it (lease permitting).
    if (this.options.membership.staticMembership === true) return;
    const limitMs = 2 * this.options.handoverTimeoutMs + 2_000;
    let timer: NodeJS.Timeout | undefined;
    let onDrained: (() => void) | undefined;
    const drained = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), limitMs);
      onDrained = () => resolve(true);
      this.once('drained', onDrained);
    });
    try {
      // Make before break: the others subscribe to what they gain first (see `prepareForLeave`).
      const noticeMs = SUBSCRIBE_AHEAD_MAX_MS + this.pacingMs(this.owned.size);
      let notice = await noticeDrain(this.redis, this.keys, this.id, noticeMs);
      // Told anew after the ring dropped a silent peer: the others prepared for the ring with it.
      if (await this.outlastSilentPeers(notice.unanswered))
        notice = await noticeDrain(this.redis, this.keys, this.id, noticeMs);
      this.log.info(notice, 'peers subscribed to what they gain; draining');
      await drainMember(this.redis, this.keys, this.id, this.options.membership.vnodes ?? DEFAULT_VNODES);
      if (!(await drained)) {
        this.log.warn({ limitMs }, 'drain did not finish in time; writing final checkpoints of the rest');
      }
    } catch (err) {
      // Peers stopping at the same moment drained first: the last of them has nobody to drain to.
      if (isLastMemberRefusal(err))
        this.log.info('the last active worker: nobody to hand over to; writing final checkpoints');
      else this.log.warn({ err }, 'drain before shutdown failed; writing final checkpoints instead');
    } finally {
      clearTimeout(timer);
      if (onDrained) this.off('drained', onDrained);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function timed(work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}
