/**
 * `/v1/stream`: Server-Sent Events of symbol updates. One hub per worker serves every client.
 *
 * Once per flush interval the hub asks for the answers of every symbol any client follows whose
 * version changed: this worker's own symbols from memory, every other owner's in one internal call
 * per owner (`Snapshots.collect`). Polling the owners keeps the design simple and correct across
 * rebalances (each poll routes by the current ring; nothing to re-subscribe), and its cost is bounded
 * by the number of owners per flush, whatever the number of clients or trades.
 *
 * Back-pressure: updates coalesce per symbol, so a client is sent at most one event per symbol per
 * flush, the newest. Before writing, the hub looks at what the client's socket still holds unsent;
 * past `maxBufferedBytes` the client is too slow and is disconnected and counted. So a client costs
 * at most that buffer plus one flush of events, however slowly it reads.
 */
import type { ServerResponse } from 'node:http';
import type { Counter, Gauge } from 'prom-client';
import { ApiError } from './respond.js';
import type { SymbolUpdate } from './snapshots.js';

export interface StreamOptions {
  /** How often updates are collected and written (ms). Default 250. */
  readonly flushMs: number;
  /** Unsent bytes a client may hold before it is dropped as too slow. Default 256 KiB. */
  readonly maxBufferedBytes: number;
  /** Clients per worker. Default 1000. */
  readonly maxClients: number;
  /** Symbols per client. Default 100. */
  readonly maxSymbols: number;
  /** A comment line is sent after this long without events, so proxies keep the stream open (ms). Default 15 000. */
  readonly heartbeatMs: number;
}

export const DEFAULT_STREAM_OPTIONS: StreamOptions = Object.freeze({
  flushMs: 250,
  maxBufferedBytes: 256 * 1024,
  maxClients: 1_000,
  maxSymbols: 100,
  heartbeatMs: 15_000,
});

/** Returns the answers of `symbols` whose version differs from `known`. */
export type CollectUpdates = (
  symbols: readonly string[],
  known: ReadonlyMap<string, string>,
) => Promise<Map<string, SymbolUpdate>>;

export interface StreamMetrics {
  readonly clients: Gauge;
  readonly dropped: Counter;
  readonly events: Counter;
}

interface Client {
  readonly res: ServerResponse;
  readonly symbols: readonly string[];
  /** Not sent anything yet: the first flush sends the latest answer of every symbol. */
  fresh: boolean;
  lastWriteAt: number;
}

export class StreamHub {
  readonly options: StreamOptions;
  private readonly clients = new Set<Client>();
  /** Per followed symbol: the version and the event data last collected. */
  private readonly latest = new Map<string, { version: string; data: string }>();
  private timer: NodeJS.Timeout | undefined;
  private collecting = false;
  private nextEventId = 0;
  dropped = 0;

  constructor(
    private readonly collect: CollectUpdates,
    private readonly metrics: StreamMetrics,
    options: Partial<StreamOptions> = {},
  ) {
    this.options = { ...DEFAULT_STREAM_OPTIONS, ...options };
  }

  get size(): number {
    return this.clients.size;
  }

  /** Starts the event stream on `res`; throws 503 when the worker already serves its maximum. */
  open(res: ServerResponse, symbols: readonly string[]): void {
    if (this.clients.size >= this.options.maxClients) {
      throw new ApiError(
        503,
        'unavailable',
        `this worker already streams to ${this.options.maxClients} clients; try another`,
        undefined,
        {
          'retry-after': '5',
        },
      );
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // Tell buffering proxies (nginx) to pass events through as they come.
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\n: following ${symbols.join(',')}\n\n`);
    const client: Client = { res, symbols, fresh: true, lastWriteAt: Date.now() };
    this.clients.add(client);
    this.metrics.clients.set(this.clients.size);
    res.once('close', () => this.remove(client));
    if (!this.timer) {
      this.timer = setInterval(() => void this.flush(), this.options.flushMs);
      this.timer.unref();
    }
  }

  /** Ends every stream (the server is closing). */
  close(): void {
    for (const client of this.clients) client.res.destroy();
    this.clients.clear();
    this.stop();
  }

  private remove(client: Client): void {
    if (!this.clients.delete(client)) return;
    this.metrics.clients.set(this.clients.size);
    if (this.clients.size === 0) this.stop();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.latest.clear();
    this.metrics.clients.set(0);
  }

  /** One flush: collect what changed, then write to each client. Public for tests. */
  async flush(): Promise<void> {
    if (this.collecting || this.clients.size === 0) return;
    this.collecting = true;
    try {
      const followed = new Set<string>();
      for (const client of this.clients) for (const symbol of client.symbols) followed.add(symbol);
      for (const symbol of this.latest.keys()) if (!followed.has(symbol)) this.latest.delete(symbol);
      const known = new Map<string, string>();
      for (const [symbol, { version }] of this.latest) known.set(symbol, version);
      let updates: Map<string, SymbolUpdate>;
      try {
        updates = await this.collect([...followed], known);
      } catch {
        updates = new Map();
      }
      for (const [symbol, update] of updates) {
        if (followed.has(symbol))
          this.latest.set(symbol, { version: update.version, data: JSON.stringify(update.data) });
      }
      const now = Date.now();
      for (const client of this.clients) this.deliver(client, updates, now);
    } finally {
      this.collecting = false;
    }
  }

  private deliver(client: Client, updates: ReadonlyMap<string, SymbolUpdate>, now: number): void {
    const { res } = client;
    if (res.destroyed) return;
    if (res.writableLength > this.options.maxBufferedBytes) {
      // Too slow: it would make us hold ever more for it. Cut it off; EventSource clients reconnect.
      this.dropped++;
      this.metrics.dropped.inc();
      res.destroy();
      this.remove(client);
      return;
    }
    let chunk = '';
    let events = 0;
    for (const symbol of client.symbols) {
      if (!client.fresh && !updates.has(symbol)) continue;
      const latest = this.latest.get(symbol);
      if (!latest) continue;
      chunk += `id: ${++this.nextEventId}\nevent: update\ndata: ${latest.data}\n\n`;
      events++;
    }
    client.fresh = false;
    if (chunk === '' && now - client.lastWriteAt >= this.options.heartbeatMs) chunk = ': keep-alive\n\n';
    if (chunk === '') return;
    client.lastWriteAt = now;
    if (events > 0) this.metrics.events.inc(events);
    res.write(chunk);
  }
}
