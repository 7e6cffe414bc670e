/**
 * One client of the simulator: the `SimConnection` a protocol's server half talks to, plus the fan-out
 * of market trades to that client. Subscriptions are a Set; `*` means every symbol.
 */
import type { WebSocket } from 'ws';
import type { SimConnection, SimServerProtocol } from '../../feeds/adapter.js';
import type { Trade } from '../../feeds/trade.js';
import type { SimConnectionStats } from './sim-stats.js';

export const WILDCARD = '*';

/** What happened when a batch was offered to a connection. */
export type DeliveryResult = 'sent' | 'skipped' | 'slow-consumer';

export class ClientConnection implements SimConnection {
  private isAuthenticated = false;
  private readonly subs = new Set<string>();
  private sent = 0;
  /** Reused across batches: the trades of one frame, so filtering allocates no array per batch. */
  private readonly pending: Trade[] = [];

  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    readonly url: URL,
    readonly userAgent: string,
    readonly expectedKey: string,
  ) {}

  get authenticated(): boolean {
    return this.isAuthenticated;
  }

  get tradesSent(): number {
    return this.sent;
  }

  send(frame: string): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(frame);
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  authenticate(): void {
    this.isAuthenticated = true;
  }

  subscribe(symbols: readonly string[]): void {
    for (const symbol of symbols) this.subs.add(symbol);
  }

  unsubscribe(symbols: readonly string[]): void {
    for (const symbol of symbols) this.subs.delete(symbol);
  }

  subscriptions(): readonly string[] {
    return [...this.subs];
  }

  /**
   * Sends the trades of `batch` this client subscribed to, in frames of at most `batch.maxPerFrame` trades.
   * Stops and reports `slow-consumer` as soon as the socket's unsent bytes pass `maxBuffered`.
   */
  deliver(batch: BatchFrames, maxBuffered: number): DeliveryResult {
    if (!this.isAuthenticated || this.subs.size === 0 || this.ws.readyState !== this.ws.OPEN) {
      return 'skipped';
    }
    if (this.subs.has(WILDCARD)) {
      // Every wildcard subscriber gets the same bytes: encoded once per batch, not once per client.
      for (const frame of batch.all()) {
        this.ws.send(frame.data, { binary: false });
        this.sent += frame.trades;
        if (this.ws.bufferedAmount > maxBuffered) return 'slow-consumer';
      }
      return 'sent';
    }
    const pending = this.pending;
    const maxPerFrame = batch.maxPerFrame;
    pending.length = 0;
    for (const trade of batch.trades) {
      if (!this.subs.has(trade.symbol)) continue;
      pending.push(trade);
      if (pending.length === maxPerFrame && !this.sendTrades(batch.protocol, maxBuffered)) {
        return 'slow-consumer';
      }
    }
    if (pending.length > 0 && !this.sendTrades(batch.protocol, maxBuffered)) return 'slow-consumer';
    return 'sent';
  }

  /** Encodes and sends `pending`, then empties it; false when the socket's buffer is over the limit. */
  private sendTrades(protocol: SimServerProtocol, maxBuffered: number): boolean {
    for (const frame of protocol.encode(this.pending)) this.ws.send(frame);
    this.sent += this.pending.length;
    this.pending.length = 0;
    return this.ws.bufferedAmount <= maxBuffered;
  }

  snapshot(): SimConnectionStats {
    return {
      id: this.id,
      userAgent: this.userAgent,
      authenticated: this.isAuthenticated,
      subscriptions: [...this.subs],
      tradesSent: this.sent,
    };
  }
}

export interface EncodedFrame {
  readonly data: Buffer;
  readonly trades: number;
}

/**
 * One generated batch on its way to every connection. The frames for `*` subscribers are encoded the
 * first time one asks and shared by the rest (as UTF-8 bytes, so ws does not re-encode per client).
 */
export class BatchFrames {
  private encoded: EncodedFrame[] | undefined;
  private current: readonly Trade[] = [];

  constructor(
    readonly protocol: SimServerProtocol,
    readonly maxPerFrame: number,
  ) {}

  get trades(): readonly Trade[] {
    return this.current;
  }

  reset(trades: readonly Trade[]): void {
    this.current = trades;
    this.encoded = undefined;
  }

  all(): readonly EncodedFrame[] {
    if (this.encoded !== undefined) return this.encoded;
    const encoded: EncodedFrame[] = [];
    const trades = this.current;
    for (let start = 0; start < trades.length; start += this.maxPerFrame) {
      const part = trades.slice(start, start + this.maxPerFrame);
      const frames = this.protocol.encode(part);
      // A protocol may split one batch into several frames; the trade count goes with the last one.
      frames.forEach((frame, index) => {
        encoded.push({
          data: Buffer.from(frame, 'utf8'),
          trades: index === frames.length - 1 ? part.length : 0,
        });
      });
    }
    this.encoded = encoded;
    return encoded;
  }
}
