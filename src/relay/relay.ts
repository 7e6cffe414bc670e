/**
 * `tickring relay`: holds the single upstream connection a provider allows per API key and fans its
 * trades out to the workers, each of which subscribes to its own symbols (see docs/relay-protocol.md).
 *
 * Several relays of one group (same cluster, feed and key) may run; a fenced lease in Redis makes one
 * active. The active one connects upstream with the worker's own feed client (subscribe pacing,
 * back-off, pings, gap counting) and subscribes to the union of what its workers want, plus, for the
 * first `replayMs` after it took over, what its predecessor had subscribed (so the new connection
 * catches trades while workers are still reconnecting, kept for replay). Standbys refuse workers
 * (503) and wait. On losing the lease the active relay closes its upstream connection first, then
 * drops its workers; it has stopped before any standby can acquire the lease.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RedisClient as Redis } from '../redis/client.js';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { WebSocketServer } from 'ws';
import type { Credentials, FeedAdapter } from '../../feeds/adapter.js';
import { RELAY_PATH } from '../../feeds/relay.js';
import { sendJson } from '../http/respond.js';
import { FeedClient, type FeedClientOptions } from '../ingest/feed-client.js';
import type { Logger } from '../log.js';
import { relayKeys, type ClusterKeys, type RelayKeys } from '../redis/keys.js';
import { RelayHub, type RelayHubOptions } from './relay-hub.js';
import { RelayLease, type Acquired } from './relay-lease.js';

export interface RelayOptions {
  readonly id: string;
  readonly upstream: FeedAdapter;
  readonly upstreamUrl: string;
  readonly credentials: Credentials;
  /** The worker-facing URL published in Redis (`ws://host:port/relay`); may be set until `start`. */
  readonly address: string;
  readonly leaseMs: number;
  readonly renewMs: number;
  /** How long after a takeover forwarded trades are kept for workers still reconnecting (ms). */
  readonly replayMs: number;
  readonly hub: Partial<RelayHubOptions>;
  readonly feedClient: Partial<FeedClientOptions>;
  readonly version: string;
}

export const DEFAULT_RELAY_OPTIONS = {
  leaseMs: 3_000,
  renewMs: 1_000,
  replayMs: 10_000,
  hub: {},
  feedClient: {},
  version: '0.0.0',
} as const satisfies Partial<RelayOptions>;

export interface RelayDeps {
  /** Reads and writes of the saved symbol set. */
  readonly redis: Redis;
  /** The lease's own connection, so renewals never queue behind other commands. */
  readonly leaseRedis: Redis;
  readonly keys: ClusterKeys;
  readonly logger: Logger;
}

/** Identifies an API key in Redis key names without revealing it. */
export function keyFingerprint(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

/** Saved symbol sets are written at most this often (ms): subscription bursts come in waves. */
const SAVE_DELAY_MS = 200;

export type RelayState = 'standby' | 'active' | 'closed';

export class Relay {
  state: RelayState = 'standby';
  readonly hub: RelayHub;
  readonly registry = new Registry();
  /** Takeovers by this relay (times it became active). */
  activations = 0;
  /** Gaps in this relay's own upstream connection while active (it reconnected). */
  upstreamGaps = 0;
  private readonly options: RelayOptions;
  private readonly keys: RelayKeys;
  private lease: RelayLease | undefined;
  private feed: FeedClient | undefined;
  /** Upstream counters of feed clients closed before, so metrics keep rising across activations. */
  private readonly pastUpstream = { reconnects: 0, trades: 0, missedTrades: 0, connectionLimits: 0 };
  /** The predecessor's symbols, subscribed until `replayMs` after a takeover. */
  private held = new Set<string>();
  private heldTimer: NodeJS.Timeout | undefined;
  private syncScheduled = false;
  private saveTimer: NodeJS.Timeout | undefined;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  private upstreamDownAt = 0;
  /** The symbols whose upstream subscription was interrupted since `upstreamDownAt`. */
  private upstreamInterrupted = new Set<string>();
  private activation = 0;

  constructor(
    private readonly deps: RelayDeps,
    options: Pick<RelayOptions, 'id' | 'upstream' | 'upstreamUrl' | 'credentials' | 'address'> &
      Partial<RelayOptions>,
  ) {
    this.options = { ...DEFAULT_RELAY_OPTIONS, ...options };
    this.keys = relayKeys(
      deps.keys,
      this.options.upstream.name,
      keyFingerprint(this.options.credentials.key),
    );
    this.hub = new RelayHub(
      () => ({ feed: this.options.upstream.name, relay: this.options.id, token: this.lease?.token ?? 0 }),
      () => this.scheduleSync(),
      deps.logger.child({ component: 'relay-hub' }),
      this.options.hub,
    );
    this.defineMetrics();
  }

  get id(): string {
    return this.options.id;
  }

  get token(): number {
    return this.lease?.token ?? 0;
  }

  /** True when active with a ready upstream connection. */
  get ready(): boolean {
    return this.state === 'active' && this.feed?.status === 'ready';
  }

  /** The upstream feed client while active (its stats, its subscriptions). */
  get upstream(): FeedClient | undefined {
    return this.feed;
  }

  /** Starts competing for the lease at `address` (the worker-facing URL, known once listening). */
  start(address = this.options.address): void {
    if (this.lease !== undefined) return;
    this.lease = new RelayLease(
      this.deps.leaseRedis,
      this.deps.keys,
      this.keys,
      {
        id: this.options.id,
        address,
        feed: this.options.upstream.name,
        leaseMs: this.options.leaseMs,
        renewMs: this.options.renewMs,
      },
      this.deps.logger.child({ component: 'relay-lease' }),
    );
    this.lease.on('acquired', (acquired) => void this.activate(acquired));
    this.lease.on('lost', (reason) => this.stepDown(reason));
    this.deps.logger.info(
      { relay: this.options.id, feed: this.options.upstream.name, address },
      'relay standing by for the lease',
    );
    this.lease.start();
  }

  private async activate(acquired: Acquired): Promise<void> {
    const activation = ++this.activation;
    const lease = this.lease;
    if (lease === undefined) return;
    let saved: string[] = [];
    try {
      saved = await this.deps.redis.smembers(this.keys.symbols);
    } catch (err) {
      this.deps.logger.warn({ err: { message: (err as Error).message } }, 'saved relay symbols unreadable');
    }
    // The lease may have been lost while reading.
    if (activation !== this.activation || !lease.valid) return;
    this.state = 'active';
    this.activations++;
    this.held = new Set(saved);
    this.hub.startTakeover(this.held, acquired.previousHeldAt, this.options.replayMs);
    clearTimeout(this.heldTimer);
    this.heldTimer = setTimeout(() => {
      this.held = new Set();
      this.scheduleSync();
    }, this.options.replayMs);
    if (acquired.previousHeldAt > 0) {
      this.deps.logger.warn(
        {
          token: acquired.token,
          symbols: saved.length,
          gapMs: Math.max(0, Date.now() - acquired.previousHeldAt),
        },
        'relay took over: trades of the subscribed symbols since the previous relay last held the lease are lost',
      );
    }
    const feed = new FeedClient(
      {
        ...this.options.feedClient,
        adapter: this.options.upstream,
        url: this.options.upstreamUrl,
        credentials: this.options.credentials,
        userAgent: `tickring/${this.options.version} relay/${this.options.id}`,
      },
      (trade) => this.hub.forward(trade),
      this.deps.logger.child({ component: 'upstream' }),
    );
    // Once per upstream frame, by the monotonic clock: after a stall, frames buffered in the socket
    // are not forwarded when the lease may have passed to another relay.
    feed.acceptTrades = () => lease.valid;
    // With several upstream connections (Binance caps streams per connection) another may drop
    // before the first is back: the gap runs from the first drop until all are ready again, and
    // names the symbols of every connection that dropped meanwhile (the others lost nothing).
    feed.on('disconnected', (_reason, interrupted) => {
      if (this.upstreamDownAt === 0) this.upstreamDownAt = Date.now();
      for (const symbol of interrupted) this.upstreamInterrupted.add(symbol);
    });
    feed.on('ready', () => {
      if (this.upstreamDownAt === 0) return;
      this.upstreamGaps++;
      this.hub.broadcastGap(this.upstreamInterrupted, this.upstreamDownAt, Date.now());
      this.upstreamDownAt = 0;
      this.upstreamInterrupted = new Set();
    });
    this.feed = feed;
    this.upstreamDownAt = 0;
    this.upstreamInterrupted = new Set();
    feed.setSymbols(this.wanted());
    feed.start();
  }

  /** Closes the upstream connection first, then drops every worker: they reconnect to the next relay. */
  private stepDown(reason: string): void {
    this.activation++;
    this.retireFeed();
    clearTimeout(this.heldTimer);
    this.held = new Set();
    this.hub.disconnectAll('forced', `relay stepped down: ${reason}`);
    if (this.state === 'active') this.state = 'standby';
  }

  private retireFeed(): void {
    const feed = this.feed;
    if (feed === undefined) return;
    feed.close();
    this.pastUpstream.reconnects += feed.stats.reconnects;
    this.pastUpstream.trades += feed.stats.trades;
    this.pastUpstream.missedTrades += feed.stats.missedTrades;
    this.pastUpstream.connectionLimits += feed.stats.connectionLimits;
    this.feed = undefined;
  }

  private wanted(): Set<string> {
    const symbols = new Set(this.held);
    for (const symbol of this.hub.union()) symbols.add(symbol);
    return symbols;
  }

  private scheduleSync(): void {
    if (this.syncScheduled) return;
    this.syncScheduled = true;
    setImmediate(() => {
      this.syncScheduled = false;
      if (this.state !== 'active' || this.feed === undefined) return;
      this.feed.setSymbols(this.wanted());
      this.scheduleSave();
    });
  }

  private scheduleSave(): void {
    if (this.saveTimer !== undefined) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.save();
    }, SAVE_DELAY_MS);
  }

  /** Saves the upstream symbol set so the next relay subscribes it at once on taking over. */
  private async save(): Promise<void> {
    if (this.state !== 'active' || this.lease?.valid !== true) return;
    const symbols = [...this.wanted()];
    const multi = this.deps.redis.multi().del(this.keys.symbols);
    for (let i = 0; i < symbols.length; i += 10_000)
      multi.sadd(this.keys.symbols, ...symbols.slice(i, i + 10_000));
    try {
      await multi.exec();
    } catch (err) {
      this.deps.logger.warn({ err: { message: (err as Error).message } }, 'relay symbols not saved');
      this.scheduleSave();
    }
  }

  /** The HTTP server's upgrade handler: workers connect at `/relay`, and only to the active relay. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    const path = new URL(req.url ?? '/', 'http://relay.invalid').pathname;
    let refusal = '';
    if (path !== RELAY_PATH) refusal = '404 Not Found';
    else if (this.state !== 'active') refusal = '503 Service Unavailable';
    if (refusal !== '') {
      socket.end(`HTTP/1.1 ${refusal}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.hub.accept(ws, req.headers['user-agent'] ?? '');
    });
  }

  /** `/healthz`, `/readyz` (200 only when active with a ready upstream), `/metrics`. */
  handleRequest(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const path = new URL(req.url ?? '/', 'http://relay.invalid').pathname;
    if (path === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
    } else if (path === '/readyz') {
      sendJson(res, this.ready ? 200 : 503, this.describe());
    } else if (path === '/metrics') {
      this.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': this.registry.contentType });
          res.end(text);
        },
        () => sendJson(res, 500, { error: { code: 'internal', message: 'metrics failed' } }),
      );
    } else {
      sendJson(res, 404, { error: { code: 'not_found', message: `no route ${path}` } });
    }
  }

  describe(): Record<string, unknown> {
    return {
      relay: this.options.id,
      state: this.state,
      token: this.token,
      feed: this.options.upstream.name,
      upstream: this.feed?.status ?? 'closed',
      upstreamSymbols: this.feed?.subscriptions().length ?? 0,
      upstreamConnections: this.feed?.stats.connections ?? 0,
      workers: this.hub.workers,
      ...this.hub.stats,
    };
  }

  private defineMetrics(): void {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    };
    const counter = (name: string, help: string, read: () => number): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    };
    const stats = this.hub.stats;
    gauge('tickring_relay_active', '1 while this relay holds the lease', () =>
      this.state === 'active' ? 1 : 0,
    );
    gauge('tickring_relay_lease_token', 'Fencing token of the lease this relay last held', () => this.token);
    gauge('tickring_relay_workers', 'Workers connected', () => this.hub.workers);
    gauge(
      'tickring_relay_upstream_symbols',
      'Symbols subscribed upstream',
      () => this.feed?.subscriptions().length ?? 0,
    );
    gauge(
      'tickring_relay_upstream_connections',
      'Upstream connections held (more than one where the provider caps streams per connection)',
      () => this.feed?.stats.connections ?? 0,
    );
    counter('tickring_relay_activations_total', 'Times this relay became active', () => this.activations);
    counter('tickring_relay_trades_in_total', 'Trades received from upstream', () => stats.tradesIn);
    counter('tickring_relay_trades_out_total', 'Trades sent to workers', () => stats.tradesOut);
    counter('tickring_relay_frames_out_total', 'Frames sent to workers', () => stats.framesOut);
    counter(
      'tickring_relay_slow_consumer_drops_total',
      'Workers disconnected for falling too far behind',
      () => stats.slowConsumerDrops,
    );
    counter(
      'tickring_relay_trades_replayed_total',
      'Trades replayed to workers reconnecting after a takeover',
      () => stats.tradesReplayed,
    );
    counter('tickring_relay_gap_notices_total', 'Gap notices sent to workers', () => stats.gapNotices);
    counter(
      'tickring_relay_upstream_reconnects_total',
      'Upstream reconnect attempts',
      () => this.pastUpstream.reconnects + (this.feed?.stats.reconnects ?? 0),
    );
    counter(
      'tickring_relay_upstream_missed_trades_total',
      'Trades skipped over upstream sequence gaps (Binance, Coinbase)',
      () => this.pastUpstream.missedTrades + (this.feed?.stats.missedTrades ?? 0),
    );
    counter(
      'tickring_relay_upstream_connection_limits_total',
      'Connection-limit answers from upstream',
      () => this.pastUpstream.connectionLimits + (this.feed?.stats.connectionLimits ?? 0),
    );
  }

  /** Graceful stop: upstream closed first, workers told, then the lease released for a standby. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    // The symbol set a successor subscribes at once must not miss the last changes.
    if (this.saveTimer !== undefined) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
      await this.save();
    }
    this.state = 'closed';
    this.activation++;
    clearTimeout(this.heldTimer);
    clearTimeout(this.saveTimer);
    this.retireFeed();
    this.hub.close();
    await this.lease?.close(true);
    this.wss.close();
  }
}
