/**
 * Pre-serialized Polygon trade frames for the ingest benchmarks: every trade has a unique id across
 * the pool, and the pool is larger than a worker's de-duplication window, so cycling through it
 * never feeds tickring a trade it would drop as a duplicate.
 */
import { generateSymbols } from '../../src/sim/universe.js';

export interface FramePool {
  readonly frames: readonly string[];
  readonly tradesPerFrame: number;
  readonly symbols: readonly string[];
}

export function buildFramePool(symbolCount: number, tradesPerFrame: number, totalTrades: number): FramePool {
  const symbols = generateSymbols(symbolCount);
  const frames: string[] = [];
  const now = Date.now();
  let seq = 0;
  for (let made = 0; made < totalTrades; made += tradesPerFrame) {
    const events: string[] = [];
    for (let i = 0; i < tradesPerFrame; i++) {
      seq++;
      const sym = symbols[seq % symbols.length]!;
      const price = (100 + (seq % 997) / 100).toFixed(2);
      events.push(
        `{"ev":"T","sym":"${sym}","i":"${seq}","x":4,"p":${price},"s":${100 + (seq % 9) * 100},"c":[14,41],"t":${now + (seq >> 10)},"q":${seq},"z":3}`,
      );
    }
    frames.push(`[${events.join(',')}]`);
  }
  return { frames, tradesPerFrame, symbols };
}
