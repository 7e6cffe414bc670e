/**
 * Completed bars reach Redis every `barWriteMs`, not at every checkpoint pass (a real worker
 * in-process, real Redis, the simulator as its feed). Meanwhile the aggregate keeps them marked as
 * not yet written: its checkpoints carry them, so an owner restoring one after a crash writes them,
 * and a graceful stop writes them with its finals. Every trade ends in exactly one stored bar.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCheckpoint, SymbolAggregate } from '../../src/aggregate/index.js';
import { decodeBar } from '../../src/cluster/bar-store.js';
import { barKey } from '../../src/redis/keys.js';
import type { RunningSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import type { Worker } from '../../src/worker/worker.js';
import { inProcessWorker, type InProcessWorker } from '../support/in-process-worker.js';
import type { TestCluster } from '../support/redis.js';

const SYMBOLS = generateSymbols(6);
const AGGREGATE = { barIntervalsMs: [1_000], barCap: 100 };
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('completed bars written every --bar-write-ms', () => {
  let running: InProcessWorker;
  let env: TestCluster;
  let sim: RunningSimulator;
  let worker: Worker;

  beforeAll(async () => {
    running = await inProcessWorker('barcadence', SYMBOLS, {
      barCloseGraceMs: 0,
      // Memory keeps 100 s of 1 s bars: capped at half of that, the period (50 s) outlasts the test.
      barWriteMs: 60_000,
      aggregate: AGGREGATE,
    });
    ({ env, sim, worker } = running);
    await running.start();
  });

  afterAll(() => running.close());

  /** Trades in `seconds` different seconds, each batch applied before the next second. */
  async function tradeFor(seconds: number): Promise<void> {
    for (let i = 0; i < seconds; i++) {
      await running.emitAndApply(120);
      await pause(1_050);
    }
  }

  async function storedBars(symbol: string): Promise<{ start: number; trades: number }[]> {
    const raw = await env.redis.zrange(barKey(env.keys, symbol, 1_000), 0, -1);
    return raw.map((member) => decodeBar(member, 1_000)).filter((bar) => bar !== undefined);
  }

  const traded = (): string[] => SYMBOLS.filter((s) => (sim.stats().symbols[s]?.trades ?? 0) > 0);

  it('writes at the first pass, then keeps later bars in the checkpoints until they are due', async () => {
    await tradeFor(2);
    await worker.checkpoint();
    const firstWrite = new Map<string, number>();
    for (const symbol of traded()) {
      const bars = await storedBars(symbol);
      expect(bars.length, symbol).toBeGreaterThan(0);
      firstWrite.set(symbol, bars.length);
    }

    await tradeFor(2);
    await worker.checkpoint();
    for (const symbol of traded()) {
      // Not due: Redis holds what the first pass wrote, no more.
      expect((await storedBars(symbol)).length, symbol).toBe(firstWrite.get(symbol) ?? 0);
      // The checkpoint just written carries the bars since, not yet written: an owner restoring it
      // (after this worker crashed) takes exactly those, and with Redis' they hold every trade.
      const record = await worker.checkpoints.read(symbol);
      expect(record).not.toBeNull();
      const restored = SymbolAggregate.fromCheckpoint(parseCheckpoint(record?.aggregate), AGGREGATE);
      restored.advanceTo(Date.now());
      const pending = restored.takeCompletedBars();
      const stored = await storedBars(symbol);
      const newestStored = Math.max(...stored.map((bar) => bar.start));
      expect(pending.length, symbol).toBeGreaterThan(0);
      expect(
        pending.every((bar) => bar.start > newestStored),
        symbol,
      ).toBe(true);
      const trades = [...stored, ...pending].reduce((sum, bar) => sum + bar.trades, 0);
      expect(trades, symbol).toBe(sim.stats().symbols[symbol]?.trades);
    }
  });

  it('writes what is still pending when it stops, every trade in exactly one stored bar', async () => {
    await worker.close();
    for (const symbol of traded()) {
      const bars = await storedBars(symbol);
      expect(new Set(bars.map((bar) => bar.start)).size, symbol).toBe(bars.length);
      expect(
        bars.reduce((sum, bar) => sum + bar.trades, 0),
        symbol,
      ).toBe(sim.stats().symbols[symbol]?.trades);
    }
  });
});
