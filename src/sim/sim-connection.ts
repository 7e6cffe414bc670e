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

/** Called when a connection authenticates with a key, so the simulator can enforce a per-key limit. */
export type OnAuthenticate = (conn: ClientConnection, key: string) => void;

export class ClientConnection implements SimConnection {
  private isAuthenticated = false;
  private presentedKey = '';
  private readonly subs = new Set<string>();
  private sent = 0;
  private malformed = 0;
  private muted = false;
  /** Reused across batches: the trades of one frame, so filtering allocates no array per batch. */
  private readonly pending: Trade[] = [];

  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    readonly url: URL,
    readonly userAgent: string,
    readonly expectedKey: string,
    private readonly protocol: SimServerProtocol,
    private readonly onAuthenticate: OnAuthenticate = () => undefined,
  ) {}

  get authenticated(): boolean {
    return this.isAuthenticated;
  }

  /** The key presented at authentication; `''` for providers without keys. */
  get key(): string {
    return this.presentedKey;
  }

  get tradesSent(): number {
    return this.sent;
  }

  get open(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  /** Muted by the `silent` fault: the socket stays open but nothing is sent and pings go unanswered. */
  get silenced(): boolean {
    return this.muted;
  }

  silence(): void {
    this.muted = true;
  }

  send(frame: string): void {
    if (this.open && !this.muted) this.ws.send(frame);
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  authenticate(key?: string): void {
    this.isAuthenticated = true;
    this.presentedKey = key ?? '';
    if (key !== undefined && key !== '') this.onAuthenticate(this, key);
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

  wants(symbol: string): boolean {
    return this.subs.has(symbol) || this.subs.has(WILDCARD);
  }

  /** Whether trades may flow to this client now. */
  get receiving(): boolean {
    return this.isAuthenticated && !this.muted && this.subs.size > 0 && this.open;
  }

  /** Answers a ping as a live server does, unless muted. */
  pong(data: Buffer): void {
    if (this.open && !this.muted) this.ws.pong(data);
  }

  /**
   * Sends the trades of `batch` this client subscribed to, in frames of at most `batch.maxPerFrame` trades.
   * Stops and reports `slow-consumer` as soon as the socket's unsent bytes pass `maxBuffered`.
   */
  deliver(batch: BatchFrames, maxBuffered: number): DeliveryResult {
    if (!this.receiving) return 'skipped';
    const all = this.subs.has(WILDCARD);
    if (all && this.protocol.encodeFor === undefined) {
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
      if (!all && !this.subs.has(trade.symbol)) continue;
      pending.push(trade);
      if (pending.length === maxPerFrame && !this.sendPending(maxBuffered)) return 'slow-consumer';
    }
    if (pending.length > 0 && !this.sendPending(maxBuffered)) return 'slow-consumer';
    return 'sent';
  }

  /**
   * Sends groups of trades that must travel in one message each (a correction is a cancel and its
   * replacement, one Alpaca `T:"c"`), skipping the groups of symbols this client does not want.
   */
  deliverGroups(groups: readonly (readonly Trade[])[]): void {
    if (!this.receiving) return;
    for (const group of groups) {
      const first = group[0];
      if (first === undefined || !this.wants(first.symbol)) continue;
      for (const frame of this.encode(group)) this.ws.send(frame);
      this.sent += group.length;
    }
  }

  /** Sends frames built to be refused (the `malformed` fault); returns how many went out. */
  sendMalformed(frames: readonly string[]): number {
    if (!this.isAuthenticated || !this.open || this.muted) return 0;
    for (const frame of frames) this.ws.send(frame);
    this.malformed += frames.length;
    return frames.length;
  }

  encode(trades: readonly Trade[]): string[] {
    return this.protocol.encodeFor ? this.protocol.encodeFor(this, trades) : this.protocol.encode(trades);
  }

  /** Encodes and sends `pending`, then empties it; false when the socket's buffer is over the limit. */
  private sendPending(maxBuffered: number): boolean {
    for (const frame of this.encode(this.pending)) this.ws.send(frame);
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
      malformedSent: this.malformed,
      silenced: this.muted,
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
