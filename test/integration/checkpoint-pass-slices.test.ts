/**
 * The periodic checkpoint pass gives the event loop turns (a real worker in-process, real Redis,
 * the simulator as its feed): with 8,000 changed symbols it used to hold the loop for the whole
 * pass, and every HTTP query, feed frame and timer waited behind it. Sliced, every symbol is
 * still written exactly as before, and nothing is lost when trades arrive between slices.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCheckpoint } from '../../src/aggregate/index.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { inProcessWorker, type InProcessWorker } from '../support/in-process-worker.js';

const SYMBOLS = generateSymbols(8_000);

describe('the periodic checkpoint pass, in slices', () => {
  let running: InProcessWorker;

  beforeAll(async () => {
    // No skew: every symbol trades, so every one is in the pass.
    running = await inProcessWorker('passslices', SYMBOLS, { skew: 0 });
    await running.start(60_000);
  }, 90_000);

  afterAll(() => running.close());

  it('lets timers run during a pass of every symbol, and writes every symbol at its count', async () => {
    // Two rounds, so the second pass runs on code the first warmed, as a worker's passes do.
    for (let round = 0; round < 2; round++) {
      await running.emitAndApply(2 * SYMBOLS.length);
      let ticks = 0;
      let last = performance.now();
      let longestGap = 0;
      const ticker = setInterval(() => {
        const now = performance.now();
        longestGap = Math.max(longestGap, now - last);
        last = now;
        ticks++;
      }, 1);
      const started = performance.now();
      // Trades arrive while the pass runs: they must land in this pass or keep their symbol dirty.
      const during = running.emitAndApply(SYMBOLS.length);
      await running.worker.checkpoint();
      const passMs = performance.now() - started;
      clearInterval(ticker);
      await during;
      if (round === 0) continue;
      // A pass of 8,000 symbols holds the loop for 150 ms and more unsliced (one timer turn, two
      // at most); in 10 ms slices, with trades applied between them, the longest hold was a
      // third of the pass.
      expect(ticks).toBeGreaterThanOrEqual(4);
      expect(longestGap).toBeLessThan(passMs / 2);
    }
    // Whatever the second round's pass missed is written by the next one; then every checkpoint
    // holds exactly the trades the simulator sent for its symbol.
    await running.worker.checkpoint();
    const truth = running.sim.stats().symbols;
    const records = await running.worker.checkpoints.readMany(SYMBOLS);
    SYMBOLS.forEach((symbol, i) => {
      const record = records[i] ?? null;
      // A symbol the random draw never picked has no checkpoint.
      const trades = record === null ? 0 : (parseCheckpoint(record.aggregate).session?.trades ?? 0);
      expect(trades, symbol).toBe(truth[symbol]?.trades ?? 0);
    });
  }, 60_000);
});
