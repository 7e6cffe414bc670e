/**
 * One WebSocket connection to one upstream, driven by a provider adapter. The connection keeps the set
 * of symbols it should carry and subscribes or unsubscribes the difference on the open socket, paced
 * to the provider's frame rate; it never reconnects to rebalance. When the socket drops or goes silent
 * it reconnects with jittered exponential back-off and resubscribes exactly the symbols wanted at that
 * moment. `FeedClient` (feed-client.ts) is what workers and relays use: it holds one of these, or
 * several where the provider caps the streams one connection may carry.
 *
 * What it watches, as plain counters in `stats` (shared by every connection of a client):
 * - silence: no frame and no pong for `silenceMs` replaces the connection. It pings every
 *   `silenceMs / 3`, so a connection whose symbols are merely quiet stays (its pongs count), and a
 *   dead one is replaced within `silenceMs` plus one period (`silenceDrops`). Time this process
 *   itself did not run (a watchdog tick that comes late) does not count as silence;
 * - "connection limit", said in-band (Polygon `max_connections`, Alpaca 406), by a refused upgrade
 *   (HTTP 429 or 418) or by the close reason: the next attempt waits at least
 *   `connectionLimitBackoffMs` (`connectionLimits`);
 * - decode lag: arrival minus trade time of one trade in `LAG_SAMPLE_EVERY` (`lag`, a `LagSampler`
 *   that also feeds the lag histogram; `lagMs` and `lagPeakMs` read it).
 * Gaps in trade numbers are counted by the client, on the one stream per symbol it hands on.
 */
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import type {
  Credentials,
  DecodeSink,
  FeedAdapter,
  FeedEvent,
  FeedSession,
  RejectReason,
} from '../../feeds/adapter.js';
import type { Trade } from '../../feeds/trade.js';
import type { Logger } from '../log.js';
import { Backoff, DEFAULT_BACKOFF_OPTIONS, type BackoffOptions } from './backoff.js';
import type { ConnectGate } from './connect-gate.js';
import { frameIntervalMs } from './connection-plan.js';
import { newFeedStats, type FeedClientStats } from './feed-stats.js';
import { LagSampler } from './lag-sampler.js';
import { RateLimitedLog } from './rate-limited-log.js';

/** A ping queued after subscribe frames: its pong confirms each symbol's subscribe by number. */
interface ConfirmingPing {
  readonly confirm: readonly (readonly [symbol: string, subscribeSeq: number])[];
}

export interface FeedConnectionOptions {
  readonly adapter: FeedAdapter;
  /** Base URL; the adapter adds what the provider wants (tokens, paths). */
  readonly url: string;
  readonly credentials: Credentials;
  /** Sent as the User-Agent header; identifies the worker to relays and simulators. */
  readonly userAgent: string;
  /** Reconnect when nothing (no frame, no pong) arrived for this long (ms). Default 15 000. */
  readonly silenceMs: number;
  /** Give up on a connection attempt or handshake after this long (ms). Default 10 000. */
  readonly handshakeTimeoutMs: number;
  /** Least back-off after the provider says "connection limit" (ms). Default 30 000. */
  readonly connectionLimitBackoffMs: number;
  readonly backoff: BackoffOptions;
  /**
   * Asked before every connection attempt for the URL to use, instead of `url`: a worker behind a
   * relay looks up the active relay's address, which changes when a standby takes over.
   */
  readonly resolveUrl?: () => Promise<string>;
}

export const DEFAULT_FEED_CONNECTION_OPTIONS = {
  silenceMs: 15_000,
  handshakeTimeoutMs: 10_000,
  connectionLimitBackoffMs: 30_000,
  backoff: DEFAULT_BACKOFF_OPTIONS,
} as const satisfies Partial<FeedConnectionOptions>;

export type FeedClientStatus = 'idle' | 'connecting' | 'handshake' | 'ready' | 'backoff' | 'closed';

export interface FeedClientEvents {
  ready: [];
  /**
   * A ready connection dropped: why, and the symbols whose subscription it interrupted (their trades
   * since are lost). A connection names what it had subscribed; a feed client names only the symbols
   * whose trades it was handing on from that connection.
   */
  disconnected: [reason: string, symbols: readonly string[]];
  event: [FeedEvent];
}

/**
 * What the connections of one client share: the counters, the lag sampler and the pacing of
 * connection attempts. A connection made alone gets its own.
 */
export interface FeedConnectionShared {
  readonly stats: FeedClientStats;
  readonly lag: LagSampler;
  readonly gate?: ConnectGate;
}

/** One trade in this many has its lag sampled: one `Date.now()` per sample, nothing on the others. */
export const LAG_SAMPLE_EVERY = 64;
/** `lagPeakMs` restarts after this long, so it shows recent trouble rather than the worst ever. */
export const LAG_WINDOW_MS = 10_000;

/** HTTP answers to an upgrade that mean "too many connections" (Binance: 429, then 418 when banned). */
const LIMIT_STATUS = /Unexpected server response: (429|418)\b/;
/** Close reasons that mean the same, from providers that close instead of replying in-band. */
const LIMIT_REASON = /connection limit|max(?:imum)?(?: number of)? connections|too many connections/i;

export class FeedConnection extends EventEmitter<FeedClientEvents> implements DecodeSink {
  status: FeedClientStatus = 'idle';
  /** Ingest lag, sampled on one trade in `LAG_SAMPLE_EVERY`; the worker's metrics drain it. */
  readonly lag: LagSampler;
  readonly stats: FeedClientStats;
  private readonly gate: ConnectGate | undefined;
  private readonly options: FeedConnectionOptions;
  private readonly wanted = new Set<string>();
  /** Symbols subscribed (or asked for) on the current connection. */
  private readonly subscribed = new Set<string>();
  /**
   * Subscribed symbols the provider has confirmed on this connection: by an acknowledgement naming
   * them, or by answering a ping sent after their subscribe frame (the provider handles a
   * connection's frames in order). A new owner tells the old one to stop only after this. Each maps
   * to when it was confirmed (monotonic ms): the old owner counts that time as overlap already had.
   */
  private readonly confirmed = new Map<string, number>();
  /** Pings in flight that confirm subscriptions, by payload. */
  private readonly confirmingPings = new Map<string, ConfirmingPing['confirm']>();
  /**
   * Per symbol, the number of its newest subscribe frame on this connection (kept after an
   * unsubscribe, so that a symbol subscribed again is known as such).
   */
  private readonly subscribeSeq = new Map<string, number>();
  private subscribeCount = 0;
  /**
   * Symbols subscribed again on this connection after an unsubscribe. Only a ping sent after the
   * newest subscribe frame confirms them: an acknowledgement or pong still in flight for an earlier
   * one would confirm a subscription the provider has not taken yet.
   */
  private readonly resubscribed = new Set<string>();
  private pingSeq = 0;
  /** Frames to send, and confirmation pings to send once the frames before them have left. */
  private readonly outbox: (string | ConfirmingPing)[] = [];
  private socket: WebSocket | undefined;
  private session: FeedSession | undefined;
  private readonly backoff: Backoff;
  private timers = new Set<NodeJS.Timeout>();
  private pacer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private lastActivity = 0;
  /**
   * Whether decoded trades may be handed on; asked once per frame. The worker says no while its
   * lease cannot be trusted (after a stall, buffered frames arrive before the fence timer runs).
   */
  acceptTrades: () => boolean = () => true;
  private tradesAccepted = true;
  private backoffFloorMs = 0;
  private readonly rejectLog: RateLimitedLog;
  /** Whether the current connection was already counted in `connectionLimits`. */
  private limitCounted = false;
  /** Never ready yet, and no attempt failed: see `opening`. */
  private firstAttempt = true;
  /** When the attempt waiting for its turn at the gate is made (monotonic ms). */
  private connectAt = 0;

  constructor(
    options: Pick<FeedConnectionOptions, 'adapter' | 'url' | 'credentials' | 'userAgent'> &
      Partial<FeedConnectionOptions>,
    private readonly onTrade: (trade: Trade) => void,
    private readonly log: Logger,
    shared?: FeedConnectionShared,
  ) {
    super();
    this.options = { ...DEFAULT_FEED_CONNECTION_OPTIONS, ...options };
    this.backoff = new Backoff(this.options.backoff);
    this.rejectLog = new RateLimitedLog(log, 10_000);
    this.lag = shared?.lag ?? new LagSampler(LAG_SAMPLE_EVERY, 4_096, LAG_WINDOW_MS);
    this.stats = shared?.stats ?? newFeedStats(this.lag);
    this.gate = shared?.gate;
  }

  /**
   * Whether this connection is still on its first attempt (waiting for its turn at the gate,
   * connecting or in the handshake): it never carried a subscription, so nothing it was asked for
   * has been interrupted yet. Once ready, or once an attempt failed, it is not.
   */
  get opening(): boolean {
    return this.firstAttempt && this.status !== 'ready' && this.status !== 'closed';
  }

  /** How much longer the next attempt waits for its turn at the connect gate (ms, 0 if none waits). */
  get gateWaitMs(): number {
    if (this.status !== 'connecting' || this.socket !== undefined) return 0;
    return Math.max(0, this.connectAt - performance.now());
  }

  /** The symbols currently subscribed on a ready connection. */
  subscriptions(): string[] {
    return this.status === 'ready' ? [...this.subscribed].sort() : [];
  }

  /** Whether the provider confirmed `symbol`'s subscription on the current connection. */
  isConfirmed(symbol: string): boolean {
    return this.status === 'ready' && this.confirmed.has(symbol);
  }

  /** How long ago the provider confirmed `symbol` on the current connection; `undefined` if not. */
  confirmedForMs(symbol: string): number | undefined {
    const at = this.status === 'ready' ? this.confirmed.get(symbol) : undefined;
    return at === undefined ? undefined : performance.now() - at;
  }

  private confirm(symbol: string, now: number): void {
    if (this.subscribed.has(symbol) && !this.confirmed.has(symbol)) this.confirmed.set(symbol, now);
  }

  /** The provider acknowledged subscriptions by name (symbols subscribed again wait for a ping). */
  private acknowledged(symbols: readonly string[]): void {
    const now = performance.now();
    for (const symbol of symbols) if (!this.resubscribed.has(symbol)) this.confirm(symbol, now);
  }

  start(): void {
    if (this.status !== 'idle') return;
    this.connect();
  }

  /** Declares the symbols wanted; the difference is sent on the open connection. */
  setSymbols(symbols: Iterable<string>): void {
    this.wanted.clear();
    for (const symbol of symbols) this.wanted.add(symbol);
    this.sync();
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  private connect(): void {
    if (this.status === 'closed') return;
    // The provider counts connection attempts per IP: the client's connections take turns.
    const waitMs = this.gate?.reserve() ?? 0;
    if (waitMs > 0) {
      this.status = 'connecting';
      this.connectAt = performance.now() + waitMs;
      this.later(waitMs, () => this.connectNow());
      return;
    }
    this.connectNow();
  }

  private connectNow(): void {
    if (this.status === 'closed') return;
    const resolveUrl = this.options.resolveUrl;
    if (resolveUrl === undefined) {
      this.open(this.options.url);
      return;
    }
    this.status = 'connecting';
    resolveUrl().then(
      (url) => {
        if (this.status === 'connecting' && this.socket === undefined) this.open(url);
      },
      (err: unknown) => {
        if (this.status !== 'connecting' || this.socket !== undefined) return;
        this.scheduleReconnect(`no feed address: ${err instanceof Error ? err.message : String(err)}`);
      },
    );
  }

  private open(baseUrl: string): void {
    const { adapter } = this.options;
    const url = adapter.connectUrl(baseUrl, this.options.credentials);
    this.status = 'connecting';
    this.session = adapter.createSession(this.options.credentials);
    this.subscribed.clear();
    this.confirmed.clear();
    this.confirmingPings.clear();
    this.subscribeSeq.clear();
    this.resubscribed.clear();
    this.outbox.length = 0;
    this.limitCounted = false;
    const socket = new WebSocket(url, {
      headers: { 'user-agent': this.options.userAgent },
      handshakeTimeout: this.options.handshakeTimeoutMs,
      perMessageDeflate: false,
      maxPayload: 16 * 1024 * 1024,
    });
    this.socket = socket;
    const handshakeTimer = setTimeout(() => {
      if (this.socket === socket && this.status !== 'ready') this.drop(socket, 'handshake timed out');
    }, this.options.handshakeTimeoutMs);
    socket.on('open', () => {
      this.stats.connects++;
      this.status = 'handshake';
      this.lastActivity = Date.now();
      this.log.info({ url: adapter.redactUrl(url) }, 'feed connected');
      for (const frame of this.session?.opening() ?? []) this.send(frame);
      this.checkReady();
      this.startWatchdog(socket);
    });
    socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      if (this.socket !== socket) return;
      this.lastActivity = Date.now();
      this.stats.frames++;
      this.stats.lastFrameAt = this.lastActivity;
      // Asked once per frame, not per trade: every trade of a frame is decoded in the same instant.
      this.tradesAccepted = this.acceptTrades();
      this.session?.decode(isBinary ? 'binary frame' : rawToString(data), this);
    });
    socket.on('pong', (data: Buffer) => {
      this.lastActivity = Date.now();
      if (this.socket !== socket || data.length === 0) return;
      const tag = data.toString();
      const sent = this.confirmingPings.get(tag);
      this.confirmingPings.delete(tag);
      const now = performance.now();
      for (const [symbol, seq] of sent ?? [])
        if (this.subscribeSeq.get(symbol) === seq) this.confirm(symbol, now);
    });
    socket.on('close', (code: number, reason: Buffer) => {
      clearTimeout(handshakeTimer);
      if (this.socket !== socket) return;
      const text = reason.toString().slice(0, 80);
      if (LIMIT_REASON.test(text)) this.connectionLimited(`closed: ${text}`);
      this.scheduleReconnect(`closed ${code} ${text}`);
    });
    socket.on('error', (err: Error) => {
      if (this.socket === socket && LIMIT_STATUS.test(err.message)) this.connectionLimited(err.message);
      this.log.warn({ err: { message: err.message } }, 'feed socket error');
    });
  }

  private startWatchdog(socket: WebSocket): void {
    clearInterval(this.watchdog);
    const period = Math.max(50, Math.floor(this.options.silenceMs / 3));
    let lastTick = performance.now();
    this.watchdog = setInterval(() => {
      if (this.socket !== socket) return;
      // A late tick means this process did not run (a long task, a GC pause, a starved CPU), not
      // that the provider said nothing: what the socket received meanwhile is still unread, and
      // timers run before the loop reads sockets. Dropping now would throw it away unread. The
      // silence clock stops for the stall; a dead connection is still found within `silenceMs`
      // of the process running.
      const now = performance.now();
      const stalledMs = now - lastTick - period;
      lastTick = now;
      if (stalledMs > 0) this.lastActivity = Math.min(Date.now(), this.lastActivity + stalledMs);
      if (Date.now() - this.lastActivity > this.options.silenceMs) {
        this.stats.silenceDrops++;
        this.drop(socket, `silent for ${this.options.silenceMs} ms`);
        return;
      }
      // A quiet symbol set sends nothing for a while; a ping tells silence from a dead link.
      if (socket.readyState === WebSocket.OPEN) socket.ping();
    }, period);
  }

  private drop(socket: WebSocket, reason: string): void {
    socket.terminate();
    if (this.socket === socket) this.scheduleReconnect(reason);
  }

  private scheduleReconnect(reason: string): void {
    if (this.status === 'closed') return;
    const wasReady = this.status === 'ready';
    this.firstAttempt = false;
    const interrupted = wasReady ? [...this.subscribed].sort() : [];
    this.socket = undefined;
    clearInterval(this.watchdog);
    clearInterval(this.pacer);
    this.pacer = undefined;
    this.subscribed.clear();
    this.confirmed.clear();
    this.confirmingPings.clear();
    this.subscribeSeq.clear();
    this.resubscribed.clear();
    this.status = 'backoff';
    const delay = this.backoff.next(this.backoffFloorMs);
    this.backoffFloorMs = 0;
    this.log.warn({ reason, retryInMs: delay }, 'feed disconnected');
    if (wasReady) this.emit('disconnected', reason, interrupted);
    this.later(delay, () => {
      this.stats.reconnects++;
      this.connect();
    });
  }

  private checkReady(): void {
    if (this.status !== 'handshake' || !this.session?.ready) return;
    this.status = 'ready';
    this.firstAttempt = false;
    this.backoff.reset();
    this.emit('ready');
    this.sync();
  }

  /** Sends subscribe frames for wanted symbols not yet subscribed and unsubscribe for the rest. */
  private sync(): void {
    if (this.status !== 'ready' || !this.session) return;
    const add: string[] = [];
    const remove: string[] = [];
    for (const symbol of this.wanted) if (!this.subscribed.has(symbol)) add.push(symbol);
    for (const symbol of this.subscribed) if (!this.wanted.has(symbol)) remove.push(symbol);
    for (const symbol of remove) {
      this.subscribed.delete(symbol);
      this.confirmed.delete(symbol);
    }
    for (const symbol of add) {
      this.subscribed.add(symbol);
      if (this.subscribeSeq.has(symbol)) this.resubscribed.add(symbol);
      this.subscribeSeq.set(symbol, ++this.subscribeCount);
    }
    if (remove.length > 0) for (const frame of this.session.unsubscribe(remove.sort())) this.send(frame);
    if (add.length > 0) {
      for (const frame of this.session.subscribe(add.sort())) this.send(frame);
      this.send({ confirm: add.map((symbol) => [symbol, this.subscribeSeq.get(symbol) ?? 0] as const) });
    }
    if (add.length + remove.length > 0) {
      this.log.debug({ subscribed: add.length, unsubscribed: remove.length }, 'feed subscriptions changed');
    }
  }

  /** Queues a client frame; frames leave at most at the provider's rate. */
  private send(frame: string | ConfirmingPing): void {
    this.outbox.push(frame);
    if (this.pacer) return;
    const interval = frameIntervalMs(this.options.adapter.limits.framesPerSecond);
    const flush = (): void => {
      let next = this.outbox.shift();
      const socket = this.socket;
      while (typeof next === 'object' && socket?.readyState === WebSocket.OPEN) {
        // A ping takes no slot of the provider's frame rate: it is answered by the WebSocket layer.
        const tag = `c${++this.pingSeq}`;
        this.confirmingPings.set(tag, next.confirm);
        socket.ping(tag);
        next = this.outbox.shift();
      }
      if (typeof next !== 'string' || !socket || socket.readyState !== WebSocket.OPEN) {
        clearInterval(this.pacer);
        this.pacer = undefined;
        return;
      }
      socket.send(next);
    };
    flush();
    this.pacer = setInterval(flush, interval);
  }

  /** Raises the next back-off to the connection-limit floor: hammering only prolongs the refusal. */
  private connectionLimited(why: string): void {
    if (!this.limitCounted) this.stats.connectionLimits++;
    this.limitCounted = true;
    this.backoffFloorMs = this.options.connectionLimitBackoffMs;
    this.log.warn({ why, retryAfterMs: this.backoffFloorMs }, 'feed connection limit reached');
  }

  trade(trade: Trade): void {
    if (!this.tradesAccepted) {
      this.stats.gatedTrades++;
      return;
    }
    this.stats.trades++;
    this.lag.sample(trade.timeMs);
    this.onTrade(trade);
  }

  event(event: FeedEvent): void {
    for (const frame of this.session?.reply(event) ?? []) this.send(frame);
    switch (event.type) {
      case 'subscribed':
        this.acknowledged(event.symbols);
        break;
      case 'authenticated':
      case 'hello':
        this.checkReady();
        break;
      case 'auth-failed':
        this.log.error({ message: event.message }, 'feed refused the credentials');
        this.backoffFloorMs = this.options.connectionLimitBackoffMs;
        break;
      case 'disconnect':
        this.stats.disconnects[event.reason]++;
        this.log.warn({ reason: event.reason, message: event.message }, 'feed is dropping the connection');
        if (event.reason === 'connection-limit') this.connectionLimited(event.message);
        break;
      case 'error':
        this.log.warn({ message: event.message }, 'feed error');
        break;
      case 'gap':
        this.stats.relayGaps++;
        this.stats.relayGapSymbols += event.symbols.length;
        // One line per notice (a relay failover), naming the symbols: rare, and what an operator needs.
        this.log.warn(
          {
            symbols: event.symbols.slice(0, 500),
            count: event.symbols.length,
            fromMs: event.fromMs,
            toMs: event.toMs,
            ms: event.toMs - event.fromMs,
          },
          'relay gap: trades of these symbols were lost while no relay held the upstream connection',
        );
        break;
      default:
        break;
    }
    this.emit('event', event);
  }

  reject(reason: RejectReason, detail: string): void {
    this.stats.rejects[reason]++;
    this.rejectLog.warn(reason, { reason, detail: detail.slice(0, 120) }, 'feed frame rejected');
  }

  close(): void {
    if (this.status === 'closed') return;
    this.status = 'closed';
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    clearInterval(this.watchdog);
    clearInterval(this.pacer);
    this.socket?.terminate();
    this.socket = undefined;
  }
}

function rawToString(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
