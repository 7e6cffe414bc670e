/**
 * One real `Worker` in the test's own process, on the shared Redis under a key prefix of its own and
 * fed by the simulator, which sends trades only when the test emits them: for tests that look into
 * the worker's state (its aggregates, passes and counters) while it runs.
 */
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { polygon } from '../../feeds/polygon.js';
import { addSymbols } from '../../src/cluster/universe.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import { Worker, type WorkerOptions } from '../../src/worker/worker.js';
import { eventually } from './eventually.js';
import { testCluster, testRedis, type TestCluster } from './redis.js';

export interface InProcessWorker {
  readonly env: TestCluster;
  readonly sim: RunningSimulator;
  readonly worker: Worker;
  /** Starts the worker and waits until it owns every symbol live, each subscription confirmed. */
  start(timeoutMs?: number): Promise<void>;
  /** Emits `count` trades and waits until the worker applied every one. */
  emitAndApply(count: number): Promise<void>;
  /** Stops the worker (a graceful stop, if the test did not stop it), the simulator and the keys. */
  close(): Promise<void>;
}

/**
 * A worker `w1` on a Polygon simulator of `symbols` (seeded; `skew` 1 unless given), its passes
 * run by hand: the checkpoint timer is set beyond any test's length unless `options` says otherwise.
 */
export async function inProcessWorker(
  label: string,
  symbols: readonly string[],
  { skew = 1, ...options }: Partial<WorkerOptions> & { skew?: number } = {},
): Promise<InProcessWorker> {
  const env = await testCluster(label);
  const sim = await startSimulator({ protocol: polygon, symbols, rate: 0, seed: 5, skew });
  await addSymbols(env.redis, env.keys, symbols);
  const subscriber: Redis = testRedis();
  const worker = new Worker(
    { redis: env.redis, subscriber, keys: env.keys, logger: pino({ level: 'silent' }) },
    {
      id: 'w1',
      address: 'http://127.0.0.1:1',
      feed: polygon,
      feedUrl: sim.wsUrl,
      credentials: { key: 'k', secret: '' },
      checkpointMs: 600_000,
      membership: { leaseMs: 5_000, heartbeatMs: 500, pollMs: 500 },
      ...options,
    },
  );
  return {
    env,
    sim,
    worker,
    async start(timeoutMs = 15_000) {
      await worker.start();
      await eventually(
        'the worker to own every symbol live',
        () =>
          worker.status === 'ready' &&
          worker.owned.countIn('loading') === 0 &&
          symbols.every((symbol) => worker.feed.isConfirmed(symbol))
            ? true
            : undefined,
        timeoutMs,
      );
    },
    async emitAndApply(count) {
      const before = worker.owned.tradesApplied;
      sim.emit(count);
      await eventually('trades applied', () =>
        worker.owned.tradesApplied === before + count ? true : undefined,
      );
    },
    async close() {
      await worker.close();
      subscriber.disconnect();
      await sim.close();
      await env.cleanup();
    },
  };
}
