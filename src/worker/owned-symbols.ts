/**
 * The symbols a worker owns and their aggregates. A symbol gained in a rebalance starts `loading`:
 * its trades are buffered while the previous owner's checkpoint is fetched, then the buffer is
 * replayed past the checkpoint's watermark and the symbol goes `live`.
 */
import type { FeedAdapter } from '../../feeds/adapter.js';
import type { Trade } from '../../feeds/trade.js';
import { SymbolAggregate, type AggregateOptions } from '../aggregate/index.js';
import { DedupWindow } from '../ingest/dedup.js';

export type OwnedSymbolState = 'loading' | 'live';

/** Trades buffered per loading symbol at most; past it the oldest are dropped and counted. */
export const MAX_BUFFERED_TRADES = 100_000;

export interface OwnedSymbol {
  state: OwnedSymbolState;
  aggregate: SymbolAggregate;
  buffer: Trade[];
  /** De-duplication key of the last trade applied. */
  watermark: string;
}

export class OwnedSymbols {
  private readonly symbols = new Map<string, OwnedSymbol>();
  private readonly dedup: DedupWindow;
  tradesApplied = 0;
  unownedDropped = 0;
  bufferOverflows = 0;

  constructor(
    private readonly adapter: FeedAdapter,
    private readonly aggregateOptions: Partial<AggregateOptions>,
    dedupWindow: number,
  ) {
    this.dedup = new DedupWindow(dedupWindow);
  }

  get duplicatesDropped(): number {
    return this.dedup.dropped;
  }

  get size(): number {
    return this.symbols.size;
  }

  has(symbol: string): boolean {
    return this.symbols.has(symbol);
  }

  get(symbol: string): OwnedSymbol | undefined {
    return this.symbols.get(symbol);
  }

  names(): string[] {
    return [...this.symbols.keys()].sort();
  }

  entries(): IterableIterator<[string, OwnedSymbol]> {
    return this.symbols.entries();
  }

  /** Starts owning a symbol: trades are buffered until `goLive`. */
  acquire(symbol: string): void {
    if (this.symbols.has(symbol)) return;
    this.symbols.set(symbol, {
      state: 'loading',
      aggregate: new SymbolAggregate(symbol, this.aggregateOptions),
      buffer: [],
      watermark: '',
    });
  }

  release(symbol: string): OwnedSymbol | undefined {
    const owned = this.symbols.get(symbol);
    this.symbols.delete(symbol);
    return owned;
  }

  clear(): void {
    this.symbols.clear();
  }

  /** The per-trade path: de-duplicate, then buffer or apply. */
  ingest(trade: Trade): void {
    const owned = this.symbols.get(trade.symbol);
    if (!owned) {
      this.unownedDropped++;
      return;
    }
    const key = this.adapter.dedupKey(trade);
    if (key !== null && !this.dedup.admit(key)) return;
    if (owned.state === 'loading') {
      if (owned.buffer.length >= MAX_BUFFERED_TRADES) {
        owned.buffer.shift();
        this.bufferOverflows++;
      }
      owned.buffer.push(trade);
      return;
    }
    owned.aggregate.apply(trade);
    owned.watermark = key ?? '';
    this.tradesApplied++;
  }

  /**
   * Installs the loaded aggregate (if any) and replays the buffer past `watermark`: when the
   * watermark is found in the buffer, everything up to it was already in the checkpoint.
   */
  goLive(symbol: string, loaded: SymbolAggregate | null, watermark: string): void {
    const owned = this.symbols.get(symbol);
    if (!owned || owned.state === 'live') return;
    if (loaded) owned.aggregate = loaded;
    owned.watermark = watermark;
    let start = 0;
    if (watermark !== '') {
      const index = owned.buffer.findIndex((trade) => this.adapter.dedupKey(trade) === watermark);
      if (index >= 0) start = index + 1;
    }
    for (let i = start; i < owned.buffer.length; i++) {
      const trade = owned.buffer[i];
      if (!trade) continue;
      owned.aggregate.apply(trade);
      owned.watermark = this.adapter.dedupKey(trade) ?? '';
      this.tradesApplied++;
    }
    owned.buffer = [];
    owned.state = 'live';
  }
}
