/**
 * Answering a bars query: the newest `limit` bars whose start lies in `[from, to]`, oldest first,
 * from the bars an aggregate keeps in memory (the newest, the open one included) over the completed
 * bars in Redis (older history). Where both hold a bar, memory wins: it has every late amendment.
 * Redis is read only when memory cannot answer alone, so "the last N bars" for N within what memory
 * keeps costs no Redis call.
 */
import { BarSeries, parseCheckpoint, type Bar } from '../aggregate/index.js';
import type { BarRange } from './cluster-view.js';

/** A bar as the API shows it: `Bar` without its interval (the query names it), the start as text. */
export interface ApiBar extends Omit<Bar, 'intervalMs' | 'start'> {
  /** Start of the interval, ISO 8601 UTC. */
  readonly start: string;
}

export function toApiBar(bar: Bar): ApiBar {
  return {
    start: new Date(bar.start).toISOString(),
    open: bar.open,
    high: bar.high,
    low: bar.low,
    close: bar.close,
    volume: bar.volume,
    vwap: bar.vwap,
    trades: bar.trades,
    amended: bar.amended,
    complete: bar.complete,
  };
}

function inRange(bar: Bar, range: BarRange): boolean {
  return (
    (range.fromMs === null || bar.start >= range.fromMs) && (range.toMs === null || bar.start <= range.toMs)
  );
}

/**
 * Whether Redis may hold bars the answer needs: memory holds every bar from its oldest kept one on,
 * so it answers alone when it has `limit` bars in range or the range starts within it.
 */
export function needsHistory(recent: readonly Bar[], range: BarRange): boolean {
  const oldest = recent[0];
  if (oldest === undefined) return true;
  if (range.fromMs !== null && range.fromMs >= oldest.start) return false;
  let count = 0;
  for (const bar of recent) if (inRange(bar, range)) count++;
  return count < range.limit;
}

/** Merges history and recent bars (recent wins), keeps those in range, and returns the newest `limit`. */
export function selectBars(history: readonly Bar[], recent: readonly Bar[], range: BarRange): Bar[] {
  const byStart = new Map<number, Bar>();
  for (const bar of history) byStart.set(bar.start, bar);
  for (const bar of recent) byStart.set(bar.start, bar);
  const selected = [...byStart.values()]
    .filter((bar) => inRange(bar, range))
    .sort((a, b) => a.start - b.start);
  return selected.slice(Math.max(0, selected.length - range.limit));
}

/** The bars a checkpoint's aggregate kept for one interval (empty when it kept none or is corrupt). */
export function checkpointBars(aggregate: unknown, intervalMs: number): Bar[] {
  const checkpoint = parseCheckpoint(aggregate);
  const series = checkpoint.bars.find((s) => s.intervalMs === intervalMs);
  // An unbounded cap: list everything the checkpoint kept, whatever cap this worker runs with.
  return series ? BarSeries.fromCheckpoint(series, Number.MAX_SAFE_INTEGER).list() : [];
}
