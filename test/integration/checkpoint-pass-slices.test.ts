/**
 * The periodic checkpoint pass gives the event loop turns (a real worker in-process, real Redis,
 * the simulator as its feed): with 8,000 changed symbols it used to hold the loop for the whole
 * pass, and every HTTP query, feed frame and timer waited behind it. Sliced, every symbol is
 * still written exactly as before, and nothing is lost when trades arrive between slices.
 */
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { polygon } from '../../feeds/polygon.js';
import { parseCheckpoint } from '../../src/aggregate/index.js';
import { addSymbols } from '../../src/cluster/universe.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { Worker } from '../../src/worker/worker.js';
import { testCluster, testRedis, type TestCluster } from '../support/redis.js';
import { eventually } from '../support/workers.js';

const SYMBOLS = generateSymbols(8_000);

describe('the periodic checkpoint pass, in slices', () => {
  let env: TestCluster;
  let sim: RunningSimulator;
  let worker: Worker;
  let subscriber: Redis;

  beforeAll(async () => {
    env = await testCluster('passslices');
    sim = await startSimulator({ protocol: polygon, symbols: SYMBOLS, rate: 0, seed: 9, skew: 0 });
    await addSymbols(env.redis, env.keys, SYMBOLS);
    subscriber = testRedis();
    worker = new Worker(
      { redis: env.redis, subscriber, keys: env.keys, logger: pino({ level: 'silent' }) },
      {
        id: 'w1',
        address: 'http://127.0.0.1:1',
        feed: polygon,
        feedUrl: sim.wsUrl,
        credentials: { key: 'k', secret: '' },
        // Passes are run by hand below; the timer never fires during the test.
        checkpointMs: 600_000,
        membership: { leaseMs: 5_000, heartbeatMs: 500, pollMs: 500 },
      },
    );
    await worker.start();
    await eventually(
      'the worker to own every symbol live',
      () =>
        worker.status === 'ready' &&
        worker.owned.countIn('loading') === 0 &&
        SYMBOLS.every((symbol) => worker.feed.isConfirmed(symbol))
          ? true
          : undefined,
      60_000,
    );
  }, 90_000);

  afterAll(async () => {
    await worker.close();
    subscriber.disconnect();
    await sim.close();
    await env.cleanup();
  });

  /** Emits `count` trades (every symbol trades: no skew) and waits until all are applied. */
  async function trade(count: number): Promise<void> {
    const before = worker.owned.tradesApplied;
    sim.emit(count);
    await eventually('trades applied', () =>
      worker.owned.tradesApplied === before + count ? true : undefined,
    );
  }

  it('lets timers run during a pass of every symbol, and writes every symbol at its count', async () => {
    // Two rounds, so the second pass runs on code the first warmed, as a worker's passes do.
    for (let round = 0; round < 2; round++) {
      await trade(2 * SYMBOLS.length);
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
      const during = trade(SYMBOLS.length);
      await worker.checkpoint();
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
    await worker.checkpoint();
    const truth = sim.stats().symbols;
    const records = await worker.checkpoints.readMany(SYMBOLS);
    SYMBOLS.forEach((symbol, i) => {
      const record = records[i] ?? null;
      // A symbol the random draw never picked has no checkpoint.
      const trades = record === null ? 0 : (parseCheckpoint(record.aggregate).session?.trades ?? 0);
      expect(trades, symbol).toBe(truth[symbol]?.trades ?? 0);
    });
  }, 60_000);
});
