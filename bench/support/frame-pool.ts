/**
 * Pre-serialized Polygon trade frames for the ingest benchmarks: every trade has a unique id across
 * the pool, and the pool is larger than a worker's de-duplication window, so cycling through it
 * never feeds tickring a trade it would drop as a duplicate. Symbols take turns (round robin), so
 * every symbol trades at the same rate.
 *
 * Trade times: the pool's trades span 390 ms from the start of a whole second, so that cycling
 * through it keeps every trade in the bars it opened. They used to start at the moment the pool was
 * built: when that was in the last 390 ms of a second, part of every cycle fell in the previous
 * second's bar, and each time the cycle came round those trades went to a completed bar, as late
 * trades, through a slower path, and dirtied it again. That decided by the clock alone whether a run
 * measured the path every trade takes or a stream half made of late trades (per-process rates
 * spread twofold). A server that cycles the pool for longer than a second re-stamps the times with
 * the clock (`timeOffsets`).
 */
import { generateSymbols } from '../../src/sim/universe.js';

export interface FramePool {
  readonly frames: readonly string[];
  readonly tradesPerFrame: number;
  readonly symbols: readonly string[];
}

/** Every trade time in the pool has this many digits (Unix ms, until the year 2286). */
export const TIME_DIGITS = 13;

/** One Polygon trade event, as the provider sends it. */
export function tradeEvent(symbol: string, seq: number, timeMs: number): string {
  const price = (100 + (seq % 997) / 100).toFixed(2);
  return `{"ev":"T","sym":"${symbol}","i":"${seq}","x":4,"p":${price},"s":${100 + (seq % 9) * 100},"c":[14,41],"t":${timeMs},"q":${seq},"z":3}`;
}

export function buildFramePool(
  symbolsOrCount: number | readonly string[],
  tradesPerFrame: number,
  totalTrades: number,
): FramePool {
  const symbols = typeof symbolsOrCount === 'number' ? generateSymbols(symbolsOrCount) : symbolsOrCount;
  const frames: string[] = [];
  const second = Math.floor(Date.now() / 1000) * 1000;
  let seq = 0;
  for (let made = 0; made < totalTrades && symbols.length > 0; made += tradesPerFrame) {
    const events: string[] = [];
    for (let i = 0; i < tradesPerFrame; i++) {
      seq++;
      events.push(tradeEvent(symbols[seq % symbols.length]!, seq, second + (seq >> 10)));
    }
    frames.push(`[${events.join(',')}]`);
  }
  return { frames, tradesPerFrame, symbols };
}

/** Where each trade time's digits start in `frame` (as bytes: the frames are ASCII). */
export function timeOffsets(frame: string): number[] {
  const offsets: number[] = [];
  const key = ',"t":';
  for (let at = frame.indexOf(key); at >= 0; at = frame.indexOf(key, at + key.length)) {
    offsets.push(at + key.length);
  }
  return offsets;
}
