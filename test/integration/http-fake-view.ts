/**
 * A fake cluster for in-process HTTP tests: several `buildApp` servers on port 0, each with a fake
 * `ClusterView` over one shared state (ring record, universe, checkpoints, bar history). Ownership is
 * set by pins, so a test knows which worker owns what; a test can make a worker stop serving, make
 * Redis fail, or close a worker to see the others fall back.
 */
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { makeTrade } from '../../feeds/trade.js';
import { SymbolAggregate, type AggregateSummary, type Bar } from '../../src/aggregate/index.js';
import type { BarRange } from '../../src/cluster/bar-store.js';
import type { CheckpointRecord } from '../../src/cluster/checkpoints.js';
import { Assignment } from '../../src/cluster/ring.js';
import type { RingRecord } from '../../src/cluster/ring-record.js';
import { buildApp, type AppOptions, type AppServer } from '../../src/http/app.js';
import type {
  ActiveRelayRecord,
  ClusterView,
  LocalSnapshot,
  PlacementChange,
  PlacementWrites,
  Readiness,
  UniverseChange,
} from '../../src/http/cluster-view.js';
import type { RebalanceEntry, WorkerReport } from '../../src/http/worker-report.js';
import { TickringError } from '../../src/errors.js';
import { createWorkerMetrics, type WorkerMetricSources, type WorkerMetrics } from '../../src/metrics.js';

export const INTERVALS = [1_000, 60_000, 300_000] as const;

/** State every fake worker reads, as Redis would hold it. */
export class FakeState {
  epoch = 1;
  readonly symbols = new Set<string>();
  readonly pins: Record<string, string> = {};
  members: { id: string; address: string; weight: number }[] = [];
  readonly checkpoints = new Map<string, CheckpointRecord>();
  /** `${intervalMs}:${symbol}` → completed bars, oldest first. */
  readonly history = new Map<string, Bar[]>();
  /** Members marked draining (still listed, as the ring record lists them). */
  readonly draining = new Set<string>();
  redisDown = false;
  /** The active relay's record, as Redis would hold it; undefined: none. */
  relay: ActiveRelayRecord | undefined;
  private cached: Assignment | undefined;

  assignment(): Assignment {
    const record: RingRecord = {
      epoch: this.epoch,
      members: [...this.members].sort((a, b) => (a.id < b.id ? -1 : 1)),
      pins: { ...this.pins },
      vnodes: 50,
      changedAt: 0,
      reason: 'test',
    };
    if (this.cached?.epoch !== this.epoch) this.cached = new Assignment(record, this.symbols);
    return this.cached;
  }

  bump(): void {
    this.epoch++;
  }
}

export class FakeView implements ClusterView {
  /** Live aggregates this worker owns. */
  readonly aggregates = new Map<string, SymbolAggregate>();
  serving = true;
  ready = true;
  refreshes = 0;
  /** What `report()` lists as this worker's rebalances. */
  rebalances: RebalanceEntry[] = [];
  /** Symbols this worker follows as a standby, and how far each is. */
  readonly followed = new Map<string, 'loading' | 'live'>();
  standbyPromotions = 0;
  feedName = 'sim';
  adminCalls: { op: 'add' | 'rm' | 'pin' | 'unpin' | 'drain'; symbols: readonly string[] }[] = [];
  /** Placement writes over the shared state, refusing as the Lua scripts do. */
  readonly placement: PlacementWrites = {
    pin: (symbol, workerId) =>
      this.placementChange('pin', symbol, () => {
        if (!this.state.symbols.has(symbol)) throw new TickringError('TICKRING_ERR_CONFIG', `pin ${symbol}`);
        this.requireActive(workerId);
        if (this.state.pins[symbol] === workerId) return false;
        this.state.pins[symbol] = workerId;
        return true;
      }),
    unpin: (symbol) =>
      this.placementChange('unpin', symbol, () => {
        if (!(symbol in this.state.pins)) return false;
        // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- a record keyed by symbol
        delete this.state.pins[symbol];
        return true;
      }),
    drain: (workerId) =>
      this.placementChange('drain', workerId, () => {
        if (!this.state.members.some((m) => m.id === workerId))
          throw new TickringError('TICKRING_ERR_NOT_MEMBER', `drain ${workerId}`);
        if (this.state.draining.has(workerId)) return false;
        const active = this.state.members.filter((m) => !this.state.draining.has(m.id));
        if (active.length === 1) throw new TickringError('TICKRING_ERR_CONFIG', `drain ${workerId}`);
        this.state.draining.add(workerId);
        return true;
      }),
  };

  constructor(
    readonly workerId: string,
    private readonly state: FakeState,
  ) {}

  epoch(): number {
    return this.state.epoch;
  }

  assignment(): Assignment | undefined {
    return this.state.members.length === 0 ? undefined : this.state.assignment();
  }

  barIntervalsMs(): readonly number[] {
    return INTERVALS;
  }

  private live(symbol: string): SymbolAggregate | undefined {
    return this.assignment()?.ownerOf(symbol) === this.workerId ? this.aggregates.get(symbol) : undefined;
  }

  localSnapshot(symbol: string): LocalSnapshot | undefined {
    const aggregate = this.live(symbol);
    return (
      aggregate && { snapshot: aggregate.snapshot(), version: `${this.state.epoch}:${aggregate.changes}` }
    );
  }

  localSummary(symbol: string): AggregateSummary | undefined {
    return this.live(symbol)?.summary();
  }

  /** As the worker's view: epoch, the aggregate object and its change count. */
  localVersion(symbol: string): string | undefined {
    const aggregate = this.live(symbol);
    if (!aggregate) return undefined;
    let id = this.identities.get(aggregate);
    if (id === undefined) this.identities.set(aggregate, (id = this.identities.size + 1));
    return `${this.state.epoch}:${id}:${aggregate.changes}`;
  }

  private readonly identities = new Map<SymbolAggregate, number>();

  localBars(symbol: string, intervalMs: number): readonly Bar[] | undefined {
    return this.live(symbol)?.listBars(intervalMs);
  }

  ownsAt(symbol: string, minEpoch: number): boolean {
    return this.state.epoch >= minEpoch && this.live(symbol) !== undefined;
  }

  readCheckpoint(symbol: string): Promise<CheckpointRecord | null> {
    if (this.state.redisDown) return Promise.reject(new Error('redis down'));
    return Promise.resolve(this.state.checkpoints.get(symbol) ?? null);
  }

  readBarHistory(symbol: string, intervalMs: number, range: BarRange): Promise<Bar[]> {
    if (this.state.redisDown) return Promise.reject(new Error('redis down'));
    const all = this.state.history.get(`${intervalMs}:${symbol}`) ?? [];
    const inRange = all.filter(
      (bar) =>
        (range.fromMs === null || bar.start >= range.fromMs) &&
        (range.toMs === null || bar.start <= range.toMs),
    );
    return Promise.resolve(inRange.slice(Math.max(0, inRange.length - range.limit)));
  }

  refreshRing(): Promise<void> {
    this.refreshes++;
    return Promise.resolve();
  }

  readiness(): Readiness {
    const reasons = this.ready ? [] : ['feed is connecting'];
    return {
      ready: this.ready,
      serving: this.serving,
      reasons: this.serving ? reasons : ['worker is starting'],
    };
  }

  standbyState(symbol: string): 'loading' | 'live' | undefined {
    return this.followed.get(symbol);
  }

  activeRelay(): Promise<ActiveRelayRecord | undefined> {
    if (this.state.redisDown) return Promise.reject(new Error('redis down'));
    return Promise.resolve(this.state.relay);
  }

  report(): WorkerReport {
    let symbols = 0;
    for (const symbol of this.aggregates.keys()) if (this.live(symbol)) symbols++;
    const warming = [...this.followed.values()].filter((state) => state === 'loading').length;
    return {
      id: this.workerId,
      role: 'worker',
      state: this.serving ? 'ready' : 'starting',
      epoch: this.state.epoch,
      ringEpoch: this.state.epoch,
      symbols,
      loading: 0,
      trades: 0,
      tradesPerSec: 0,
      ingestLag: { p50Ms: null, maxMs: null },
      leaseAgeMs: 100,
      leaseValid: true,
      feed: 'ready',
      feedName: this.feedName,
      replicas: this.followed.size > 0 ? 2 : 1,
      standby: { symbols: this.followed.size, warming, promotions: this.standbyPromotions },
      handover: { timeouts: 0, fallbacks: 0 },
      startedAt: new Date(0).toISOString(),
      rebalances: this.rebalances,
    };
  }

  addSymbols(symbols: readonly string[]): Promise<UniverseChange> {
    if (this.state.redisDown) return Promise.reject(new Error('redis down'));
    this.adminCalls.push({ op: 'add', symbols });
    const changed = symbols.filter((s) => !this.state.symbols.has(s));
    for (const s of changed) this.state.symbols.add(s);
    if (changed.length > 0) this.state.bump();
    return Promise.resolve({ epoch: this.state.epoch, changed: changed.length });
  }

  removeSymbols(symbols: readonly string[]): Promise<UniverseChange> {
    this.adminCalls.push({ op: 'rm', symbols });
    const changed = symbols.filter((s) => this.state.symbols.delete(s));
    if (changed.length > 0) this.state.bump();
    return Promise.resolve({ epoch: this.state.epoch, changed: changed.length });
  }

  private requireActive(workerId: string): void {
    if (!this.state.members.some((m) => m.id === workerId) || this.state.draining.has(workerId))
      throw new TickringError('TICKRING_ERR_NOT_MEMBER', `not an active member: ${workerId}`);
  }

  private placementChange(
    op: 'pin' | 'unpin' | 'drain',
    target: string,
    change: () => boolean,
  ): Promise<PlacementChange> {
    if (this.state.redisDown) return Promise.reject(new Error('redis down'));
    this.adminCalls.push({ op, symbols: [target] });
    try {
      const changed = change();
      if (changed) this.state.bump();
      return Promise.resolve({ epoch: this.state.epoch, changed });
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Applies `count` trades of `symbol` at `timeMs`, price rising by one cent each. */
  trade(symbol: string, timeMs: number, count = 1, price = 100): SymbolAggregate {
    let aggregate = this.aggregates.get(symbol);
    if (!aggregate) {
      aggregate = new SymbolAggregate(symbol, { barIntervalsMs: INTERVALS });
      this.aggregates.set(symbol, aggregate);
    }
    for (let i = 0; i < count; i++) {
      aggregate.apply(
        makeTrade({ symbol, price: price + i / 100, size: 100, timeMs, id: `${symbol}-${timeMs}-${i}` }),
      );
    }
    return aggregate;
  }
}

export interface FakeNode {
  readonly id: string;
  readonly view: FakeView;
  readonly app: AppServer;
  readonly metrics: WorkerMetrics;
  readonly url: string;
  close(): Promise<void>;
}

/** A worker's metrics over counters that read 0, but for those `sources` gives. */
export function fakeMetrics(sources: Partial<WorkerMetricSources> = {}): WorkerMetrics {
  return createWorkerMetrics({
    tradesIngested: () => 0,
    duplicatesDropped: () => 0,
    unownedDropped: () => 0,
    rejects: () => ({}),
    symbolsOwned: () => 0,
    epoch: () => 0,
    feedReconnects: () => 0,
    leaseValid: () => true,
    ...sources,
  });
}

/** Starts one fake worker on port 0 and adds it to the state's members. */
export async function startNode(
  state: FakeState,
  id: string,
  options: Partial<AppOptions> = {},
): Promise<FakeNode> {
  const view = new FakeView(id, state);
  const metrics = fakeMetrics();
  const app = buildApp(
    { view, metrics, logger: pino({ level: 'silent' }) },
    { forwardTimeoutMs: 500, ...options },
  );
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  state.members = [...state.members.filter((m) => m.id !== id), { id, address: url, weight: 1 }];
  state.bump();
  return {
    id,
    view,
    app,
    metrics,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        app.closeAllConnections();
        app.close(() => resolve());
      }),
  };
}

export const TOKEN = 'test-admin-token-0123456789';

/** A fetch that returns status, headers and the parsed JSON body; the caller states the shape it expects. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the shape
export async function call<T = ApiBody>(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; headers: Headers; body: T; text: string }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(5_000) });
  const text = await response.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (metrics)
  }
  return { status: response.status, headers: response.headers, body: body as T, text };
}

/** The fields tests look at most; every field optional, as any answer may be an error. */
export interface ApiBody {
  readonly error?: { code: string; message: string; param?: string };
  readonly symbol?: string;
  readonly owner?: string | null;
  readonly epoch?: number;
  readonly answeredBy?: string;
  readonly forwardedTo?: string;
  readonly stale?: boolean;
  readonly ageMs?: number;
  readonly trades?: number;
  readonly volume?: number;
  readonly interval?: string;
  readonly bars?: { start: string; volume: number; trades: number; complete: boolean; open: number | null }[];
  readonly symbols?: {
    symbol: string;
    owner: string | null;
    trades: number | null;
    lastPrice: number | null;
  }[];
  readonly nextCursor?: string | null;
  readonly ready?: boolean;
  readonly reasons?: string[];
  readonly added?: number;
  readonly removed?: number;
}
