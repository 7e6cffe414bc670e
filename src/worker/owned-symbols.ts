/**
 * The symbols a worker owns and their aggregates, and where each stands in a hand-over:
 * - `loading`: gained in a rebalance; trades are buffered until the previous owner's final
 *   checkpoint is loaded, then the buffer is replayed past the checkpoint's position;
 * - `live`: trades are applied as they arrive;
 * - `leaving`: lost in a rebalance, still applied until the new owner has received a trade this
 *   worker also applied (or the symbol was quiet), so the two streams overlap and none is lost.
 * Positions in the stream (`StreamPosition`) tell the next owner what to skip.
 */
import type { DedupFields, FeedAdapter } from '../../feeds/adapter.js';
import { copyTrade, type Trade } from '../../feeds/trade.js';
import { SymbolAggregate, type AggregateOptions } from '../aggregate/index.js';
import { DedupWindow } from '../ingest/dedup.js';
import type { StreamPosition } from '../ingest/stream-position.js';
import { OwnedSymbol, type DeferredAggregate } from './owned-symbol.js';
import type { TimeSlice } from './time-slice.js';

/** Trades buffered per loading symbol at most; past it the oldest are dropped and counted. */
export const MAX_BUFFERED_TRADES = 100_000;
/**
 * Trades dropped at once from a full buffer. One at a time, every trade moved the whole array
 * (`shift` on 100,000 entries: 88 µs a trade, more than a core at a hot symbol's 16,000 trades/s,
 * which made the slow take-over that filled the buffer slower still); a hundredth of it at once
 * costs about 0.4 µs a trade.
 */
export const BUFFER_OVERFLOW_DROP = MAX_BUFFERED_TRADES / 100;
/** `OwnedSymbols.lateFinalWatchMs` until set: the worker's default hand-over timeout. */
const DEFAULT_LATE_FINAL_WATCH_MS = 2_000;

/** How a loaded checkpoint's position was used when a symbol went live. */
export type GoLiveOutcome =
  /** Found in the buffer (or the buffer was all newer): replayed exactly past it. */
  | 'exact'
  /** Not reached yet in this stream: buffering on until it arrives. */
  | 'awaiting'
  /** Not found: the whole buffer was replayed (trades may be doubled or lost around the switch). */
  | 'replayed-all';

export class OwnedSymbols {
  private readonly symbols = new Map<string, OwnedSymbol>();
  private readonly dedup: DedupWindow;
  /** The adapter's, read once: where set, trades are de-duplicated field by field (`admit`). */
  private readonly dedupFields: DedupFields | undefined;
  tradesApplied = 0;
  unownedDropped = 0;
  /** Buffered trades dropped because their symbol's buffer was full (`MAX_BUFFERED_TRADES`). */
  bufferOverflows = 0;
  /** Symbols whose buffer overflowed since the last `takeOverflowed`. */
  private readonly overflowed = new Set<string>();
  /** Trades skipped at go-live or after it because the previous owner had applied them. */
  handoverSkipped = 0;
  /** Previous owners' last trades that arrived after their symbol went live here (`LateFinalWatch`). */
  lateFinalsCaught = 0;
  /**
   * How long a symbol that went live from a position not in its buffer looks for that trade
   * arriving late (`LateFinalWatch`); 0: not at all. The worker sets its hand-over timeout.
   */
  lateFinalWatchMs = DEFAULT_LATE_FINAL_WATCH_MS;
  /** `performance.now()` of the last `sampleQuiet`, and of the one before it. */
  private sampledAt = 0;
  private earlierSampledAt = 0;

  /**
   * `dedup`: the window's capacity, or a window shared with another set (a worker's owned symbols
   * and its standby shadows share one: a shadow adopted as owned, or standing in, keeps the trades
   * it saw, so a repeated frame is still dropped and the hand-over finds them).
   */
  constructor(
    private readonly adapter: FeedAdapter,
    private readonly aggregateOptions: Partial<AggregateOptions>,
    dedup: number | DedupWindow,
  ) {
    this.dedup = typeof dedup === 'number' ? new DedupWindow(dedup) : dedup;
    this.dedupFields = adapter.dedupFields;
  }

  /** The symbols whose buffer overflowed since the last call, sorted; clears them. */
  takeOverflowed(): string[] {
    const symbols = [...this.overflowed].sort();
    this.overflowed.clear();
    return symbols;
  }

  get duplicatesDropped(): number {
    return this.dedup.dropped;
  }

  get size(): number {
    return this.symbols.size;
  }

  /** How many symbols are in `state` (a walk over all of them: for reports, not the trade path). */
  countIn(state: OwnedSymbol['state']): number {
    let count = 0;
    for (const owned of this.symbols.values()) if (owned.state === state) count++;
    return count;
  }

  /**
   * Notes how many trades each symbol has applied so far, keeping the note before too, so that
   * `quietSince` can later tell how long one has been quiet without a clock read per trade. Called
   * every `QUIET_SAMPLE_MS` (a walk over the symbols, no allocation).
   */
  sampleQuiet(): void {
    this.earlierSampledAt = this.sampledAt;
    this.sampledAt = performance.now();
    for (const owned of this.symbols.values()) {
      owned.appliedAtEarlierSample = owned.appliedAtSample;
      owned.appliedAtSample = owned.applied;
    }
  }

  /**
   * Since when `owned` has applied nothing, as far as the samples tell: the earliest sample with
   * nothing applied since it, otherwise `now` (`applied` only grows, so an equal count means no
   * trade in between).
   */
  quietSince(owned: OwnedSymbol, now: number): number {
    if (owned.applied === owned.appliedAtEarlierSample) return this.earlierSampledAt;
    return owned.applied === owned.appliedAtSample ? this.sampledAt : now;
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
  acquire(name: string): void {
    if (this.symbols.has(name)) return;
    const symbol = this.keyOf(name);
    this.symbols.set(symbol, new OwnedSymbol(symbol, this.aggregateOptions));
  }

  /** A live symbol keeps being applied while it is handed over. */
  beginLeaving(symbol: string): void {
    const owned = this.symbols.get(symbol);
    if (owned?.state === 'live') owned.state = 'leaving';
  }

  /**
   * A leaving symbol whose hand-over is called off (its new owner left before taking it): owned
   * again as if it had never begun, and dirty, so the next checkpoint writes it at the current
   * epoch. It was applied all along.
   */
  keepOwning(symbol: string): boolean {
    const owned = this.symbols.get(symbol);
    if (owned?.state !== 'leaving') return false;
    owned.state = 'live';
    owned.markDirty();
    return true;
  }

  release(symbol: string): OwnedSymbol | undefined {
    const owned = this.symbols.get(symbol);
    this.symbols.delete(symbol);
    return owned;
  }

  clear(): void {
    this.symbols.clear();
  }

  /**
   * The position of the last trade applied to a live or leaving symbol. The sequence number stays
   * the one it went live from, as it always has (applying a trade never advanced it).
   */
  position(owned: OwnedSymbol): StreamPosition {
    const last = owned.lastApplied;
    const { timeMs, atTime } = owned;
    if (last === undefined) return { key: owned.resumedFrom.key, seq: owned.resumedFrom.seq, timeMs, atTime };
    const key = this.adapter.dedupKey(last) ?? '';
    // Where the provider numbers a symbol's trades one by one, the number places the position in a
    // buffer that does not hold it (yet); a trade without one (a Coinbase correction) leaves none.
    const seq = this.adapter.sequentialId?.(last) ?? null;
    return { key, seq, timeMs, atTime };
  }

  /** The position of the first trade a loading symbol buffered, or `undefined` before any. */
  firstBuffered(owned: OwnedSymbol): StreamPosition | undefined {
    const first = owned.buffer[0];
    if (first === undefined) return undefined;
    const key = this.adapter.dedupKey(first) ?? '';
    const { symbol, id, exchange, kind } = first;
    return {
      key,
      seq: this.adapter.sequentialId?.(first) ?? null,
      timeMs: first.timeMs,
      atTime: 1,
      // The old owner's window compares fields, not key text (`hasReached`).
      ...(key !== '' && this.dedupFields !== undefined ? { identity: { symbol, id, exchange, kind } } : {}),
    };
  }

  /**
   * Whether a leaving symbol's stream here has reached `mark`, the first trade its new owner
   * buffered: every trade from there on is in the new owner's buffer too.
   */
  hasReached(owned: OwnedSymbol, mark: StreamPosition): boolean {
    if (mark.key !== '') {
      if (this.dedupFields === undefined) return this.dedup.has(mark.key);
      // A signal of an earlier version names the trade by key text only, which this window does
      // not keep: not reached, so the old owner hands over at its timeout, as without a signal.
      return mark.identity !== undefined && this.dedup.hasTrade(mark.identity, this.dedupFields);
    }
    // Without ids, only a later trade time proves the new owner's first trade was passed (the
    // caller also accepts the same time once the symbol went quiet).
    return owned.applied > 0 && owned.timeMs > mark.timeMs;
  }

  /** The per-trade path: de-duplicate, then buffer or apply. */
  ingest(trade: Trade): void {
    const owned = this.symbols.get(trade.symbol);
    if (!owned) {
      this.unownedDropped++;
      return;
    }
    if (!this.admit(trade)) return;
    if (owned.state === 'loading') {
      if (owned.buffer.length >= MAX_BUFFERED_TRADES) {
        owned.buffer.splice(0, BUFFER_OVERFLOW_DROP);
        this.bufferOverflows += BUFFER_OVERFLOW_DROP;
        this.overflowed.add(trade.symbol);
      }
      // A copy: the decoder's `Trade` must die young. Every symbol loads at once when a worker
      // starts, and a buffer holds its trades across collections; V8 then allocates every `Trade`
      // of that decoder in the old generation from there on (allocation-site pretenuring, which
      // it does not take back), and the per-trade path runs slower for the life of the process.
      owned.buffer.push(copyTrade(trade));
      if (owned.awaiting !== undefined) this.catchUp(owned, trade);
      return;
    }
    if (owned.lateFinal !== undefined && this.caughtLateFinal(owned, trade)) return;
    if (owned.floorSeq >= 0) {
      const seq = this.adapter.sequentialId?.(trade) ?? null;
      if (seq !== null && seq <= owned.floorSeq) {
        this.handoverSkipped++;
        return;
      }
      owned.floorSeq = -1;
    }
    this.apply(owned, trade);
  }

  /**
   * Whether a trade is new within the window: field by field where the adapter lists its key's
   * fields, so no key text is built per trade; by the key text otherwise.
   */
  private admit(trade: Trade): boolean {
    const fields = this.dedupFields;
    if (fields !== undefined) return this.dedup.admitTrade(trade, fields);
    const key = this.adapter.dedupKey(trade);
    return key === null || this.dedup.admit(key);
  }

  private apply(owned: OwnedSymbol, trade: Trade): void {
    owned.aggregate.apply(trade);
    owned.lastApplied = owned.lastCopy = copyTrade(trade, owned.lastCopy);
    if (trade.timeMs === owned.timeMs) owned.atTime++;
    else {
      owned.timeMs = trade.timeMs;
      owned.atTime = 1;
    }
    owned.applied++;
    this.tradesApplied++;
  }

  /**
   * Installs the loaded aggregate (if any) and replays the buffer past `from`, the position the
   * previous owner reached. `expectAhead`: the previous owner saw this worker's first buffered
   * trade, so `from` is in this stream; if not buffered yet, the symbol keeps buffering until it is.
   * A `DeferredAggregate` is restored only when something first reads it (a replayed trade here, or
   * later; see `OwnedSymbol`).
   */
  goLive(
    symbol: string,
    loaded: SymbolAggregate | DeferredAggregate | null,
    from: StreamPosition,
    expectAhead: boolean,
  ): GoLiveOutcome | undefined {
    const owned = this.symbols.get(symbol);
    if (!owned || owned.state !== 'loading') return undefined;
    if (loaded instanceof SymbolAggregate) owned.aggregate = loaded;
    else if (loaded) owned.deferRestore(loaded);
    this.resumeFrom(owned, from);
    const start = this.resumeIndex(owned.buffer, from);
    if (start === undefined && expectAhead) {
      owned.awaiting = from;
      // Kept for `stopAwaiting`: should the position not come in time, it is watched for after all.
      this.watchLateFinal(owned, loaded, from, 0, Infinity);
      return 'awaiting';
    }
    if (start !== undefined) {
      this.replay(owned, start, from);
      return 'exact';
    }
    // Not in the buffer: either from before this worker subscribed, so every buffered trade comes
    // after it, or not here yet. Replayed as the former, and watched for in case it is the latter.
    const buffered = owned.buffer.length;
    // A position by time that no buffered trade passes: all of them are as old as it.
    const replayFrom = from.key === '' && from.timeMs > 0 ? buffered : 0;
    this.replay(owned, replayFrom, from);
    this.watchLateFinal(
      owned,
      loaded,
      from,
      buffered - replayFrom,
      performance.now() + this.lateFinalWatchMs,
    );
    return buffered === 0 ? 'exact' : 'replayed-all';
  }

  /**
   * Looks for the trade at `from` arriving after the symbol went live, `applied` trades applied
   * since, until `until`: where `from` names a trade by key, and the symbol can start over from
   * `loaded` (a checkpoint not restored yet, so restoring it again gives the same aggregate).
   */
  private watchLateFinal(
    owned: OwnedSymbol,
    loaded: SymbolAggregate | DeferredAggregate | null,
    from: StreamPosition,
    applied: number,
    until: number,
  ): void {
    if (from.key === '' || loaded === null || loaded instanceof SymbolAggregate) return;
    if (this.lateFinalWatchMs > 0) owned.lateFinal = { key: from.key, from, loaded, until, applied };
  }

  /**
   * Whether `trade`, on a symbol that went live from a position not in its buffer, is the trade at
   * that position, arriving late: then every trade applied here since going live came before it,
   * and the previous owner had applied them all. The symbol starts over from its checkpoint, past
   * that trade. Only for the watch's length; only this symbol's trades build their key for it.
   */
  private caughtLateFinal(owned: OwnedSymbol, trade: Trade): boolean {
    const watch = owned.lateFinal;
    if (watch === undefined) return false;
    if (performance.now() > watch.until) {
      owned.lateFinal = undefined;
      return false;
    }
    if (this.adapter.dedupKey(trade) !== watch.key) {
      watch.applied++;
      return false;
    }
    owned.lateFinal = undefined;
    owned.deferRestore(watch.loaded);
    // The checkpoints written since going live may hold the doubled trades: the next one mends them.
    owned.markDirty();
    this.resumeFrom(owned, watch.from);
    this.handoverSkipped += watch.applied + 1;
    this.lateFinalsCaught++;
    return true;
  }

  /**
   * A standby's shadow goes live only when the owner's checkpoint meets its buffer exactly: the
   * checkpoint's position is in the buffer with nothing missing before it, or the checkpoint is
   * `settled` (the owner wrote nothing new for a while after this shadow subscribed, so it holds
   * every trade from before the subscription and none of the buffered ones). A settled checkpoint
   * places a non-empty buffer only by a trade key: one by time (no trade ids) cannot tell which
   * buffered trades it already holds, and one with a sequence number that does not place the buffer
   * proves trades are missing. Returns whether it went live; otherwise it keeps buffering.
   */
  warm(symbol: string, loaded: SymbolAggregate | null, from: StreamPosition, settled: boolean): boolean {
    const owned = this.symbols.get(symbol);
    if (owned?.state !== 'loading') return false;
    const placed = owned.buffer.length === 0 ? undefined : this.placedExactly(owned.buffer, from);
    // A sequence number places a position for certain (not placed: trades are missing before the
    // buffer); a time cannot tell which buffered trades the checkpoint holds.
    const byKey = from.key !== '' && !(from.seq !== null && this.adapter.sequentialId);
    const start = placed ?? (settled && (owned.buffer.length === 0 || byKey) ? 0 : undefined);
    if (start === undefined) return false;
    owned.aggregate = loaded ?? new SymbolAggregate(symbol, this.aggregateOptions);
    this.resumeFrom(owned, from);
    this.replay(owned, start, from);
    return true;
  }

  /**
   * Restores every aggregate whose restore was deferred at go-live, yielding to the event loop
   * whenever `slice` is spent. Returns how many it restored.
   */
  async restoreDeferred(slice: TimeSlice): Promise<number> {
    // Run by every checkpoint pass: a walk that allocates only for the few found (`forEach` makes
    // no entry array per symbol, as spreading the map did for all 8,000 of a worker's, every second).
    const pending: [string, OwnedSymbol][] = [];
    this.symbols.forEach((owned, symbol) => {
      if (owned.restorePending) pending.push([symbol, owned]);
    });
    let restored = 0;
    for (const [symbol, owned] of pending) {
      if (slice.spent) await slice.yield();
      // Only while still this set's and still deferred: one released or read meanwhile is not.
      if (this.symbols.get(symbol) !== owned || !owned.restorePending) continue;
      owned.restoreDeferred();
      restored++;
    }
    return restored;
  }

  /** A symbol's buffer and aggregate start over (its stream had a gap). */
  restart(symbol: string): void {
    if (!this.symbols.has(symbol)) return;
    this.symbols.delete(symbol);
    this.acquire(symbol);
  }

  /** Takes over a live symbol kept elsewhere (a promoted standby's shadow). */
  adopt(symbol: string, owned: OwnedSymbol): void {
    this.symbols.set(this.keyOf(symbol), owned);
  }

  /** The decoder's own string for `symbol`, as the map's key: `ingest` looks every trade up by it. */
  private keyOf(symbol: string): string {
    return this.adapter.canonicalSymbol?.(symbol) ?? symbol;
  }

  /** Gives up waiting for an awaited position: replays the whole buffer. */
  stopAwaiting(symbol: string): boolean {
    const owned = this.symbols.get(symbol);
    if (owned?.state !== 'loading' || owned.awaiting === undefined) return false;
    const from = owned.awaiting;
    const kept = owned.lateFinal;
    const buffered = owned.buffer.length;
    this.replay(owned, 0, from);
    // The position is in this stream (the previous owner saw it pass this worker's first trade),
    // only later than the wait: everything replayed here comes before it.
    if (kept !== undefined)
      owned.lateFinal = { ...kept, until: performance.now() + this.lateFinalWatchMs, applied: buffered };
    return true;
  }

  /** The aggregate stands at `from`: where it goes on from once live. */
  private resumeFrom(owned: OwnedSymbol, from: StreamPosition): void {
    owned.resumedFrom = from;
    owned.lastApplied = undefined;
    owned.timeMs = from.timeMs;
    owned.atTime = from.atTime;
  }

  /** A trade was buffered while awaiting the previous owner's position: has it arrived? */
  private catchUp(owned: OwnedSymbol, newest: Trade): void {
    const from = owned.awaiting;
    if (from === undefined) return;
    if (from.key !== '') {
      // Only while awaiting, a bounded moment of a hand-over: the key text is built for it.
      if (this.adapter.dedupKey(newest) === from.key) this.replay(owned, owned.buffer.length, from);
      return;
    }
    if (newest.timeMs < from.timeMs) return;
    const start = this.resumeIndex(owned.buffer, from);
    if (start !== undefined) this.replay(owned, start, from);
  }

  private replay(owned: OwnedSymbol, start: number, from: StreamPosition): void {
    this.handoverSkipped += start;
    for (let i = start; i < owned.buffer.length; i++) {
      const trade = owned.buffer[i];
      if (trade) this.apply(owned, trade);
    }
    owned.buffer = [];
    owned.awaiting = undefined;
    owned.lateFinal = undefined;
    owned.floorSeq = from.seq ?? -1;
    owned.state = 'live';
  }

  /**
   * Like `resumeIndex`, but only where the buffer provably continues the position without a hole:
   * the position itself is buffered (or, by sequence numbers, the buffer starts right after it).
   */
  private placedExactly(buffer: readonly Trade[], from: StreamPosition): number | undefined {
    const first = buffer[0];
    if (first === undefined) return undefined;
    if (from.seq !== null && this.adapter.sequentialId) {
      const firstSeq = this.adapter.sequentialId(first);
      if (firstSeq === null || firstSeq > from.seq + 1) return undefined;
      return this.resumeIndex(buffer, from);
    }
    if (from.key === '' && from.timeMs > 0) {
      // By time: something older than the position must be buffered, or trades may be missing.
      if (first.timeMs >= from.timeMs) return undefined;
    } else if (from.key === '') return undefined;
    return this.resumeIndex(buffer, from);
  }

  /**
   * Index of the first buffered trade past `from`, or `undefined` when `from` is not in the buffer
   * and cannot be placed relative to it. An empty position (no checkpoint, or one without a
   * position) starts at the beginning.
   */
  private resumeIndex(buffer: readonly Trade[], from: StreamPosition): number | undefined {
    const adapter = this.adapter;
    if (from.seq !== null && adapter.sequentialId) {
      // Sequence numbers place the position even when it is not buffered (yet).
      const fromSeq = from.seq;
      const index = buffer.findIndex((trade) => (adapter.sequentialId?.(trade) ?? Infinity) > fromSeq);
      return index < 0 ? buffer.length : index;
    }
    if (from.key !== '') {
      const index = buffer.findIndex((trade) => this.adapter.dedupKey(trade) === from.key);
      return index < 0 ? undefined : index + 1;
    }
    if (from.timeMs === 0) return 0;
    // No ids: skip trades older than the position's time, and as many at that time as it applied.
    let atTime = 0;
    for (const [i, trade] of buffer.entries()) {
      const time = trade.timeMs;
      if (time < from.timeMs) continue;
      if (time === from.timeMs && atTime < from.atTime) {
        atTime++;
        continue;
      }
      return i;
    }
    // Every trade up to the position is buffered and nothing after it yet.
    return atTime === from.atTime ? buffer.length : undefined;
  }
}
