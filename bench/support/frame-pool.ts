/**
 * Pre-serialized Polygon trade frames for the ingest benchmarks: every trade has a unique id across
 * the pool, and the pool is larger than a worker's de-duplication window, so cycling through it
 * never feeds tickring a trade it would drop as a duplicate. Symbols take turns (round robin), so
 * every symbol trades at the same rate.
 */
import { generateSymbols } from '../../src/sim/universe.js';

export interface FramePool {
  readonly frames: readonly string[];
  readonly tradesPerFrame: number;
  readonly symbols: readonly string[];
}

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
  const now = Date.now();
  let seq = 0;
  for (let made = 0; made < totalTrades && symbols.length > 0; made += tradesPerFrame) {
    const events: string[] = [];
    for (let i = 0; i < tradesPerFrame; i++) {
      seq++;
      events.push(tradeEvent(symbols[seq % symbols.length]!, seq, now + (seq >> 10)));
    }
    frames.push(`[${events.join(',')}]`);
  }
  return { frames, tradesPerFrame, symbols };
}
