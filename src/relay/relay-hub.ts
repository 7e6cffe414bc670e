/**
 * The worker-facing side of a relay: one WebSocket per worker, each subscribed to its own symbols.
 * Trades from upstream are appended to the queue of every worker that wants their symbol and sent
 * once per event-loop turn as one frame per worker (all trades decoded from the frames that arrived
 * together), so the added latency is one turn and the frame count does not grow with the trade rate.
 *
 * Back-pressure: while a worker's socket holds more than `highWaterBytes` unsent, its trades wait in
 * its own queue and nothing is written to it; the other workers are not held up. When its queue
 * passes `maxQueuedTrades` it is told `bye` (slow consumer), disconnected and counted.
 *
 * Takeover: for `replayMs` after a relay becomes active it keeps every trade it forwarded; a worker
 * subscribing in that window first gets the kept trades of its symbols (it de-duplicates by the
 * provider's ids, so what it already had is dropped), then live ones. Workers reconnecting after a
 * failover thus lose only what no relay received. Each worker is also sent one `gap` notice naming
 * the symbols it asked for that had been subscribed upstream while no relay held the connection.
 */
import type { WebSocket } from 'ws';
import {
  RELAY_PROTOCOL_VERSION,
  parseRelayRequest,
  relayFrames,
  type RelayHello,
} from '../../feeds/relay.js';
import type { Trade } from '../../feeds/trade.js';
import type { Logger } from '../log.js';

export interface RelayHubOptions {
  /** Unsent bytes on a worker's socket past which its trades wait in its queue. Default 1 MiB. */
  readonly highWaterBytes: number;
  /** Trades queued for one worker past which it is disconnected as a slow consumer. Default 200 000. */
  readonly maxQueuedTrades: number;
  /** Most trades in one frame to a worker. Default 5000. */
  readonly maxTradesPerFrame: number;
}

export const DEFAULT_RELAY_HUB_OPTIONS: RelayHubOptions = {
  highWaterBytes: 1024 * 1024,
  maxQueuedTrades: 200_000,
  maxTradesPerFrame: 5_000,
};

/** Most trades kept for replay after a takeover, whatever `replayMs` says: memory stays bounded. */
const MAX_REPLAY_TRADES = 1_000_000;
/** How soon a worker held back by back-pressure is tried again (ms). */
const RETRY_MS = 5;

export interface RelayHubStats {
  workersConnected: number;
  tradesIn: number;
  tradesOut: number;
  framesOut: number;
  /** Workers disconnected because their queue passed `maxQueuedTrades`. */
  slowConsumerDrops: number;
  /** Trades replayed to workers that subscribed after a takeover. */
  tradesReplayed: number;
  /** Gap notices sent, and the symbols named in them. */
  gapNotices: number;
  gapSymbols: number;
}

class Peer {
  readonly subscriptions = new Set<string>();
  queue: Trade[] = [];
  helloed = false;
  /** Symbols already named in a gap notice to this worker during the current activation. */
  readonly gapNotified = new Set<string>();

  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    readonly userAgent: string,
  ) {}
}

interface Takeover {
  /** Unix ms: the previous relay was last known to hold the connection / this one took it. */
  readonly fromMs: number;
  readonly toMs: number;
  /** The symbols subscribed upstream before the takeover (their trades in between are lost). */
  readonly symbols: ReadonlySet<string>;
}

export class RelayHub {
  readonly stats: RelayHubStats = {
    workersConnected: 0,
    tradesIn: 0,
    tradesOut: 0,
    framesOut: 0,
    slowConsumerDrops: 0,
    tradesReplayed: 0,
    gapNotices: 0,
    gapSymbols: 0,
  };
  private readonly options: RelayHubOptions;
  private readonly peers = new Set<Peer>();
  /** symbol → the workers subscribed to it. */
  private readonly bySymbol = new Map<string, Set<Peer>>();
  private readonly dirty = new Set<Peer>();
  private flushScheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private nextPeerId = 0;
  private replay: Trade[] | undefined;
  private takeover: Takeover | undefined;
  private takeoverTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly hello: () => RelayHello,
    /** Called (once per turn at most) when the union of the workers' symbols changed. */
    private readonly onUnionChanged: () => void,
    private readonly log: Logger,
    options: Partial<RelayHubOptions> = {},
  ) {
    this.options = { ...DEFAULT_RELAY_HUB_OPTIONS, ...options };
  }

  /** Every symbol some worker wants. */
  union(): IterableIterator<string> {
    return this.bySymbol.keys();
  }

  get workers(): number {
    return this.peers.size;
  }

  /** A worker connected: it is sent `hello` and may subscribe. */
  accept(ws: WebSocket, userAgent: string): void {
    const peer = new Peer(++this.nextPeerId, ws, userAgent);
    this.peers.add(peer);
    this.stats.workersConnected = this.peers.size;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) this.onRequest(peer, data.toString('utf8'));
    });
    ws.on('close', () => this.remove(peer));
    ws.on('error', (err) => {
      this.log.debug({ err: { message: err.message }, worker: peer.id }, 'worker socket error');
    });
    ws.send(relayFrames.hello(this.hello()));
    this.log.info({ worker: peer.id, userAgent }, 'worker connected');
  }

  private onRequest(peer: Peer, frame: string): void {
    const request = parseRelayRequest(frame);
    if (request === undefined) {
      peer.ws.send(relayFrames.error('unreadable request'));
      return;
    }
    if (request.op === 'hello') {
      if (request.v !== RELAY_PROTOCOL_VERSION) {
        peer.ws.send(relayFrames.error(`relay speaks protocol ${RELAY_PROTOCOL_VERSION}`));
        peer.ws.close(1002, 'unsupported relay protocol version');
        return;
      }
      peer.helloed = true;
      return;
    }
    if (!peer.helloed) {
      peer.ws.send(relayFrames.error('hello first'));
      return;
    }
    if (request.op === 'subscribe') this.subscribe(peer, request.symbols);
    else this.unsubscribe(peer, request.symbols);
  }

  private subscribe(peer: Peer, symbols: readonly string[]): void {
    const added = symbols.filter((symbol) => !peer.subscriptions.has(symbol));
    let unionChanged = false;
    for (const symbol of added) {
      peer.subscriptions.add(symbol);
      let peers = this.bySymbol.get(symbol);
      if (peers === undefined) {
        peers = new Set();
        this.bySymbol.set(symbol, peers);
        unionChanged = true;
      }
      peers.add(peer);
    }
    peer.ws.send(relayFrames.subscribed(symbols));
    if (added.length > 0) {
      this.notifyGap(peer, added);
      this.replayTo(peer, new Set(added));
    }
    if (unionChanged) this.onUnionChanged();
  }

  private unsubscribe(peer: Peer, symbols: readonly string[]): void {
    let unionChanged = false;
    for (const symbol of symbols) {
      if (!peer.subscriptions.delete(symbol)) continue;
      const peers = this.bySymbol.get(symbol);
      peers?.delete(peer);
      if (peers?.size === 0) {
        this.bySymbol.delete(symbol);
        unionChanged = true;
      }
    }
    if (peer.queue.length > 0)
      peer.queue = peer.queue.filter((trade) => peer.subscriptions.has(trade.symbol));
    peer.ws.send(relayFrames.unsubscribed(symbols));
    if (unionChanged) this.onUnionChanged();
  }

  private remove(peer: Peer): void {
    if (!this.peers.delete(peer)) return;
    this.dirty.delete(peer);
    this.stats.workersConnected = this.peers.size;
    const symbols = [...peer.subscriptions];
    peer.subscriptions.clear();
    let unionChanged = false;
    for (const symbol of symbols) {
      const peers = this.bySymbol.get(symbol);
      peers?.delete(peer);
      if (peers?.size === 0) {
        this.bySymbol.delete(symbol);
        unionChanged = true;
      }
    }
    this.log.info({ worker: peer.id, userAgent: peer.userAgent }, 'worker disconnected');
    if (unionChanged) this.onUnionChanged();
  }

  /** The per-trade path: queue the trade for every worker that wants it. */
  forward(trade: Trade): void {
    this.stats.tradesIn++;
    if (this.replay !== undefined && this.replay.length < MAX_REPLAY_TRADES) this.replay.push(trade);
    const peers = this.bySymbol.get(trade.symbol);
    if (peers === undefined) return;
    for (const peer of peers) {
      peer.queue.push(trade);
      this.dirty.add(peer);
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    let heldBack = false;
    for (const peer of this.dirty) {
      if (!this.send(peer)) heldBack = true;
      else this.dirty.delete(peer);
    }
    if (heldBack && this.retryTimer === undefined) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (!this.flushScheduled) this.flush();
      }, RETRY_MS);
    }
  };

  /** Sends what `peer` has queued; false when back-pressure holds it back (it stays queued). */
  private send(peer: Peer): boolean {
    const ws = peer.ws;
    if (ws.readyState !== ws.OPEN) {
      peer.queue.length = 0;
      return true;
    }
    if (ws.bufferedAmount > this.options.highWaterBytes) {
      if (peer.queue.length > this.options.maxQueuedTrades) this.dropSlow(peer);
      return !this.peers.has(peer);
    }
    const queue = peer.queue;
    const max = this.options.maxTradesPerFrame;
    for (let start = 0; start < queue.length; start += max) {
      const part = start === 0 && queue.length <= max ? queue : queue.slice(start, start + max);
      ws.send(relayFrames.trades(part));
      this.stats.framesOut++;
    }
    this.stats.tradesOut += queue.length;
    peer.queue = [];
    return true;
  }

  private dropSlow(peer: Peer): void {
    this.stats.slowConsumerDrops++;
    this.log.warn(
      { worker: peer.id, userAgent: peer.userAgent, queued: peer.queue.length },
      'slow worker disconnected: its queue passed the limit',
    );
    peer.queue = [];
    try {
      peer.ws.send(relayFrames.bye('slow-consumer', 'queue limit exceeded'));
    } finally {
      peer.ws.terminate();
      this.remove(peer);
    }
  }

  /**
   * This relay just became active: keep what it forwards for `replayMs`, and tell workers that the
   * trades of `previousSymbols` between `fromMs` and now were lost (when there was a previous holder).
   */
  startTakeover(previousSymbols: ReadonlySet<string>, fromMs: number, replayMs: number): void {
    this.replay = [];
    this.takeover = fromMs > 0 ? { fromMs, toMs: Date.now(), symbols: previousSymbols } : undefined;
    clearTimeout(this.takeoverTimer);
    this.takeoverTimer = setTimeout(() => this.endTakeover(), replayMs);
    this.takeoverTimer.unref();
  }

  private endTakeover(): void {
    clearTimeout(this.takeoverTimer);
    this.replay = undefined;
    this.takeover = undefined;
    for (const peer of this.peers) peer.gapNotified.clear();
  }

  private notifyGap(peer: Peer, added: readonly string[]): void {
    const takeover = this.takeover;
    if (takeover === undefined) return;
    const symbols = added.filter((symbol) => takeover.symbols.has(symbol) && !peer.gapNotified.has(symbol));
    if (symbols.length === 0) return;
    for (const symbol of symbols) peer.gapNotified.add(symbol);
    this.stats.gapNotices++;
    this.stats.gapSymbols += symbols.length;
    peer.ws.send(relayFrames.gap(symbols, takeover.fromMs, takeover.toMs));
  }

  private replayTo(peer: Peer, symbols: ReadonlySet<string>): void {
    const replay = this.replay;
    if (replay === undefined || replay.length === 0) return;
    let replayed = 0;
    for (const trade of replay) {
      if (!symbols.has(trade.symbol)) continue;
      peer.queue.push(trade);
      replayed++;
    }
    if (replayed === 0) return;
    this.stats.tradesReplayed += replayed;
    this.dirty.add(peer);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  /**
   * Upstream connections of the active relay dropped and came back: tell each worker subscribing
   * any of `interrupted` (the symbols those connections carried) that trades of those symbols
   * between `fromMs` and `toMs` were lost. Its symbols on the connections that stayed lost nothing.
   */
  broadcastGap(interrupted: ReadonlySet<string>, fromMs: number, toMs: number): void {
    for (const peer of this.peers) {
      const symbols = [...peer.subscriptions].filter((symbol) => interrupted.has(symbol));
      if (symbols.length === 0) continue;
      this.stats.gapNotices++;
      this.stats.gapSymbols += symbols.length;
      peer.ws.send(relayFrames.gap(symbols, fromMs, toMs));
    }
  }

  /** Tells every worker why it is dropped and disconnects it (the relay stepped down or stops). */
  disconnectAll(reason: 'forced' | 'server-shutdown', message: string): void {
    for (const peer of [...this.peers]) {
      try {
        peer.ws.send(relayFrames.bye(reason, message));
      } finally {
        peer.ws.close(1012, message);
        this.remove(peer);
      }
    }
    this.endTakeover();
  }

  close(): void {
    clearTimeout(this.retryTimer);
    this.disconnectAll('server-shutdown', 'relay shutting down');
  }
}
