/**
 * A Polygon client for the simulator's tests: a real `ws` socket whose frames are decoded by the real
 * Polygon adapter, so each test also checks that the simulator's server half and the client half agree.
 */
import WebSocket, { type RawData } from 'ws';
import type { FeedEvent } from '../../feeds/adapter.js';
import { polygon } from '../../feeds/polygon.js';
import type { Trade } from '../../feeds/trade.js';

/** A text frame's content; ws delivers a Buffer by default. */
export function text(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString('utf8');
}

export interface SimClientOptions {
  key?: string;
  userAgent?: string;
}

export class SimClient {
  readonly trades: Trade[] = [];
  readonly events: FeedEvent[] = [];
  readonly rejects: string[] = [];
  closed = false;
  private readonly session;
  private readonly waiters = new Set<() => void>();

  private constructor(
    readonly ws: WebSocket,
    key: string,
  ) {
    this.session = polygon.createSession({ key, secret: '' });
    ws.on('message', (data) => {
      this.session.decode(text(data), {
        trade: (trade) => this.trades.push(trade),
        event: (event) => this.events.push(event),
        reject: (reason, detail) => this.rejects.push(`${reason}: ${detail}`),
      });
      this.wake();
    });
    ws.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static async connect(url: string, options: SimClientOptions = {}): Promise<SimClient> {
    const headers = options.userAgent === undefined ? {} : { 'user-agent': options.userAgent };
    const ws = new WebSocket(url, { headers });
    const client = new SimClient(ws, options.key ?? 'test-key');
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => {
        resolve();
      });
      ws.once('error', reject);
    });
    return client;
  }

  /** Connects, waits for Polygon's hello, authenticates and, when given, subscribes to `symbols`. */
  static async ready(
    url: string,
    symbols: string[] = [],
    options: SimClientOptions = {},
  ): Promise<SimClient> {
    const client = await SimClient.connect(url, options);
    await client.handshake();
    if (symbols.length > 0) await client.subscribe(symbols);
    return client;
  }

  async handshake(): Promise<void> {
    await this.waitFor(() => this.has('hello'), 'hello');
    // The real session builds the auth frame, as the feed client does in reply to hello.
    for (const frame of this.session.reply({ type: 'hello' })) this.send(frame);
    await this.waitFor(() => this.has('authenticated') || this.has('auth-failed'), 'auth reply');
  }

  async subscribe(symbols: string[]): Promise<void> {
    const before = this.count('subscribed');
    for (const frame of this.session.subscribe(symbols)) this.send(frame);
    await this.waitFor(() => this.count('subscribed') >= before + symbols.length, 'subscribe acks');
  }

  async unsubscribe(symbols: string[]): Promise<void> {
    const before = this.count('unsubscribed');
    for (const frame of this.session.unsubscribe(symbols)) this.send(frame);
    await this.waitFor(() => this.count('unsubscribed') >= before + symbols.length, 'unsubscribe acks');
  }

  send(frame: string): void {
    this.ws.send(frame);
  }

  has(type: FeedEvent['type']): boolean {
    return this.events.some((event) => event.type === type);
  }

  count(type: FeedEvent['type']): number {
    return this.events.filter((event) => event.type === type).length;
  }

  /** Resolves once `predicate` holds (checked after every frame), or rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; events ${JSON.stringify(this.events)}`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  async close(): Promise<void> {
    if (this.closed || this.ws.readyState === WebSocket.CLOSED) return;
    const done = new Promise<void>((resolve) =>
      this.ws.once('close', () => {
        resolve();
      }),
    );
    this.ws.terminate();
    await done;
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
