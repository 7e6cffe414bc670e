/**
 * Completed bars in Redis, so history outlives the worker that built it and any worker can answer
 * for it. One ZSET per symbol and interval (`barKey`), scored by the bar's start, each member a
 * compact JSON tuple; the newest `cap` bars are kept. All keys share the cluster's hash tag, so one
 * script call writes many symbols atomically on Redis Cluster too.
 *
 * The owner queues the bars its aggregates hand out (`takeCompletedBars`, every `barWriteMs`) and
 * flushes them alongside that periodic checkpoint, on the same connection and without waiting for
 * it, so both travel in one round trip. A bar amended after it was written (a late trade, a cancel)
 * is written again: the member at its start is removed and the new one added in the same script
 * call, so a reader never sees both or neither. When Redis is away the queue keeps the newest
 * version of each bar, up to `maxPending` bars; beyond that the oldest are dropped and counted.
 *
 * Bar writes are not fenced by epoch as checkpoints are (no script checks them): a worker writes only
 * while its lease is valid, and discards its queue when it fences itself. A process paused between
 * that check and the write could still re-write a bar it really built; the new owner re-writes any
 * bar it amends, so the window is one bar version, never a stream of writes.
 */
import type { RedisClient as Redis } from '../redis/client.js';
import type { Bar } from '../aggregate/index.js';
import { barKey, type ClusterKeys } from '../redis/keys.js';

export interface BarStoreOptions {
  /** Completed bars kept in Redis per symbol and interval. Default 1000. */
  readonly cap: number;
  /** Bars queued while Redis is unreachable, at most. Default 100 000. */
  readonly maxPending: number;
  /**
   * Bars per write (one script call); larger flushes go out as several, pipelined. Default 500: a
   * call of 500 runs about 3 ms in Redis, which runs nothing else meanwhile (2,000, the MULTI's
   * size, took 16 ms as a script against 10 ms as a MULTI).
   */
  readonly barsPerMulti: number;
}

export const DEFAULT_BAR_STORE_OPTIONS: BarStoreOptions = Object.freeze({
  cap: 1_000,
  maxPending: 100_000,
  barsPerMulti: 500,
});

/** What one read asks for: the newest `limit` bars whose start lies in `[fromMs, toMs]`. */
export interface BarRange {
  readonly fromMs: number | null;
  readonly toMs: number | null;
  readonly limit: number;
}

/** The stored form: `[start, open, high, low, close, volume, vwap, trades, amended]`. */
type StoredBar = [
  number,
  number | null,
  number | null,
  number | null,
  number | null,
  number,
  number | null,
  number,
  0 | 1,
];

export function encodeBar(bar: Bar): string {
  const tuple: StoredBar = [
    bar.start,
    bar.open,
    bar.high,
    bar.low,
    bar.close,
    bar.volume,
    bar.vwap,
    bar.trades,
    bar.amended ? 1 : 0,
  ];
  return JSON.stringify(tuple);
}

const isPrice = (v: unknown): v is number | null =>
  v === null || (typeof v === 'number' && Number.isFinite(v));

/** Decodes a stored bar; `undefined` for anything that is not one (Redis content is untrusted). */
export function decodeBar(raw: string, intervalMs: number): Bar | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 9) return undefined;
  const [start, open, high, low, close, volume, vwap, trades, amended] = value as unknown[];
  if (typeof start !== 'number' || !Number.isSafeInteger(start) || start % intervalMs !== 0) return undefined;
  if (!isPrice(open) || !isPrice(high) || !isPrice(low) || !isPrice(close) || !isPrice(vwap))
    return undefined;
  if (typeof volume !== 'number' || !Number.isFinite(volume)) return undefined;
  if (typeof trades !== 'number' || !Number.isSafeInteger(trades) || trades < 0) return undefined;
  return {
    intervalMs,
    start,
    open,
    high,
    low,
    close,
    volume,
    vwap,
    trades,
    amended: amended === 1,
    complete: true,
  };
}

interface PendingSeries {
  readonly symbol: string;
  readonly intervalMs: number;
  /** start → newest version of the bar. */
  readonly bars: Map<number, Bar>;
}

/** Lets a long flush give the event loop a turn (a `TimeSlice`). */
export interface FlushPacer {
  /** The caller's slice of the event loop is used up. */
  readonly spent: boolean;
  yield(): Promise<void>;
}

function barsIn(chunk: readonly PendingSeries[]): number {
  let bars = 0;
  for (const series of chunk) bars += series.bars.size;
  return bars;
}

export class BarStore {
  readonly options: BarStoreOptions;
  /** Bars written, write failures, queued bars dropped, and stored bars that did not decode. */
  written = 0;
  failures = 0;
  dropped = 0;
  corrupt = 0;
  private pending = new Map<string, PendingSeries>();
  private pendingCount = 0;
  /** Settles once the flush begun last has sent its last script call (see `flush`). */
  private sending: Promise<void> = Promise.resolve();
  /** Counts `discard()` calls: a flush under way sends nothing more once it moved on. */
  private generation = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keys: ClusterKeys,
    options: Partial<BarStoreOptions> = {},
  ) {
    this.options = { ...DEFAULT_BAR_STORE_OPTIONS, ...options };
    for (const [name, value] of Object.entries(this.options)) {
      if (!Number.isSafeInteger(value) || value < 1)
        throw new RangeError(`bar store option ${name} must be a positive integer, got ${String(value)}`);
    }
  }

  /** Bars waiting to be written. */
  get pendingBars(): number {
    return this.pendingCount;
  }

  /** Queues bars of one symbol; a newer version of a queued bar replaces it. */
  add(symbol: string, bars: readonly Bar[]): void {
    for (const bar of bars) {
      const id = `${bar.intervalMs}:${symbol}`;
      let series = this.pending.get(id);
      if (!series) {
        series = { symbol, intervalMs: bar.intervalMs, bars: new Map() };
        this.pending.set(id, series);
      }
      if (!series.bars.has(bar.start)) this.pendingCount++;
      series.bars.set(bar.start, bar);
    }
    this.trim();
  }

  /**
   * Forgets every queued bar (counted as dropped): the worker was fenced, and what it built after its
   * last checkpoint is no longer its to write.
   */
  discard(): void {
    this.generation++;
    this.dropped += this.pendingCount;
    this.pending = new Map();
    this.pendingCount = 0;
  }

  /** Drops the oldest queued series until the queue fits (only while Redis is unreachable). */
  private trim(): void {
    for (const [id, series] of this.pending) {
      if (this.pendingCount <= this.options.maxPending) return;
      this.pending.delete(id);
      this.pendingCount -= series.bars.size;
      this.dropped += series.bars.size;
    }
  }

  /**
   * Writes every queued bar and trims each touched series to `cap`. Resolves to false (and keeps the
   * bars queued, unless newer versions arrived meanwhile) when Redis refused or did not answer.
   * With `pacer`, the event loop gets a turn between script calls once the pacer's slice is spent:
   * a worker flushing 8,000 symbols' bars at once held it for 300 ms. Flushes send one at a time,
   * in the order they began, since a later one may hold a newer version of a bar an earlier one has
   * not sent yet; bars not sent before `discard()` are dropped with the rest.
   */
  async flush(pacer?: FlushPacer): Promise<boolean> {
    if (this.pendingCount === 0) return true;
    const batch = this.pending;
    this.pending = new Map();
    this.pendingCount = 0;
    const chunks: PendingSeries[][] = [[]];
    let inChunk = 0;
    for (const series of batch.values()) {
      if (inChunk >= this.options.barsPerMulti) {
        chunks.push([]);
        inChunk = 0;
      }
      chunks[chunks.length - 1]?.push(series);
      inChunk += series.bars.size;
    }
    const writes = await this.sendInTurn(chunks, pacer);
    const results = await Promise.allSettled(writes);
    let ok = true;
    for (const [i, result] of results.entries()) {
      const chunk = chunks[i] ?? [];
      if (result.status === 'fulfilled') {
        this.written += barsIn(chunk);
        continue;
      }
      ok = false;
      this.failures++;
      for (const series of chunk) this.requeue(series);
    }
    this.trim();
    return ok;
  }

  /** Sends `chunks` once every earlier flush has sent its own; the writes, one per chunk sent. */
  private async sendInTurn(chunks: readonly PendingSeries[][], pacer?: FlushPacer): Promise<Promise<void>[]> {
    const earlier = this.sending;
    let sent!: () => void;
    this.sending = new Promise<void>((resolve) => (sent = resolve));
    const generation = this.generation;
    const writes: Promise<void>[] = [];
    try {
      await earlier;
      for (const chunk of chunks) {
        if (pacer?.spent) await pacer.yield();
        if (this.generation !== generation) {
          for (const rest of chunks.slice(writes.length)) this.dropped += barsIn(rest);
          break;
        }
        writes.push(this.writeChunk(chunk));
      }
    } finally {
      sent();
    }
    return writes;
  }

  private requeue(series: PendingSeries): void {
    const id = `${series.intervalMs}:${series.symbol}`;
    const newer = this.pending.get(id);
    if (!newer) {
      this.pending.set(id, series);
      this.pendingCount += series.bars.size;
      return;
    }
    for (const [start, bar] of series.bars) {
      if (newer.bars.has(start)) continue;
      newer.bars.set(start, bar);
      this.pendingCount++;
    }
  }

  /**
   * One `write-bars` script call per chunk (see `lua/write-bars-n.lua`). It was a MULTI of three
   * commands per bar: at thousands of symbols, one 1 s bar each per checkpoint, those ioredis
   * command objects, held until the reply, were most of what the collector copied per checkpoint.
   */
  private async writeChunk(chunk: readonly PendingSeries[]): Promise<void> {
    const keys: string[] = [];
    const args: (string | number)[] = [this.options.cap];
    for (const series of chunk) {
      keys.push(barKey(this.keys, series.symbol, series.intervalMs));
      args.push(series.bars.size);
      for (const bar of series.bars.values()) args.push(bar.start, encodeBar(bar));
    }
    await this.redis.tickringWriteBars(keys.length, ...keys, ...args);
  }

  /** The newest `limit` stored bars in the range, oldest first. */
  async read(symbol: string, intervalMs: number, range: BarRange): Promise<Bar[]> {
    const raw = await this.redis.zrevrangebyscore(
      barKey(this.keys, symbol, intervalMs),
      range.toMs ?? '+inf',
      range.fromMs ?? '-inf',
      'LIMIT',
      0,
      range.limit,
    );
    const bars: Bar[] = [];
    for (let i = raw.length - 1; i >= 0; i--) {
      const bar = decodeBar(raw[i] ?? '', intervalMs);
      if (bar) bars.push(bar);
      else this.corrupt++;
    }
    return bars;
  }

  /** Deletes a symbol's history (it left the universe). */
  async remove(symbol: string, intervalsMs: readonly number[]): Promise<void> {
    if (intervalsMs.length === 0) return;
    await this.redis.unlink(...intervalsMs.map((ms) => barKey(this.keys, symbol, ms)));
  }
}
