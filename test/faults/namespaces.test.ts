/**
 * Two clusters on one Redis cannot collide: a seeded property over every pair of valid names shows
 * that no key, bar key or channel of one is a key of the other; and live, two clusters with the same
 * worker ids and the same symbols each keep their own ring, while a hostile neighbour trashing every
 * key of one cluster leaves the other untouched.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { readRingRecord } from '../../src/cluster/membership.js';
import { addSymbols } from '../../src/cluster/universe.js';
import { WORKER_ID_PATTERN } from '../../src/config/options.js';
import { barKey, clusterKeys, type ClusterKeys } from '../../src/redis/keys.js';
import { polygon } from '../../feeds/polygon.js';
import { startSimulator } from '../../src/sim/simulator.js';
import { REDIS_URL, testCluster, type TestCluster } from '../support/redis.js';
import { eventually } from '../support/workers.js';
import { faultFigure, FUZZ_SEED, fuzzRuns } from './figures.js';
import { startTestWorker, type TestWorker } from './worker-harness.js';

const name = fc.stringMatching(WORKER_ID_PATTERN);

function names(keys: ClusterKeys, symbol: string): string[] {
  return [...(Object.values(keys) as string[]), barKey(keys, symbol, 60_000), barKey(keys, symbol, 1_000)];
}

describe('namespaces', () => {
  it('no two (prefix, cluster) pairs share a key, bar key or channel', () => {
    let pairs = 0;
    fc.assert(
      fc.property(
        name,
        name,
        name,
        name,
        fc.stringMatching(/^[A-Z0-9][A-Z0-9.\-/:_]{0,31}$/),
        (p1, c1, p2, c2, symbol) => {
          fc.pre(p1 !== p2 || c1 !== c2);
          pairs++;
          const a = new Set(names(clusterKeys(p1, c1), symbol));
          for (const key of names(clusterKeys(p2, c2), symbol)) expect(a.has(key), key).toBe(false);
        },
      ),
      { seed: FUZZ_SEED, numRuns: fuzzRuns(5_000) },
    );
    // The tag names the cluster alone: keys one cluster scans for cannot match another's.
    expect(clusterKeys('a.b', 'c').ring).not.toBe(clusterKeys('a', 'b.c').ring);
    faultFigure('namespaces.pairs-checked', pairs);
  });

  describe('two clusters on one Redis, same worker ids and symbols', () => {
    const envs: TestCluster[] = [];
    const workers: TestWorker[] = [];
    const cleanup: (() => Promise<void>)[] = [];

    afterAll(async () => {
      for (const w of workers) await w.close();
      for (const c of cleanup) await c();
      for (const env of envs) await env.cleanup();
    });

    it('each keeps its own ring, and trashing one leaves the other alone', async () => {
      const symbols = ['AAPL', 'MSFT', 'NVDA'];
      const sim = await startSimulator({ protocol: polygon, symbols, rate: 50, seed: 8 });
      cleanup.push(() => sim.close());
      const [a, b] = [await testCluster('ns-a'), await testCluster('ns-b')];
      envs.push(a, b);
      for (const env of [a, b]) {
        await addSymbols(env.redis, env.keys, symbols);
        workers.push(await startTestWorker('w1', { redisUrl: REDIS_URL, keys: env.keys, sim }));
      }
      const [wa, wb] = workers as [TestWorker, TestWorker];
      await eventually('both own every symbol', () =>
        wa.worker.owned.size === 3 && wb.worker.owned.size === 3 ? true : undefined,
      );
      const before = await readRingRecord(b.redis, b.keys);
      // The hostile neighbour deletes every key of cluster A.
      const trashed = await a.redis.del(...(Object.values(a.keys) as string[]));
      expect(trashed).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const after = await readRingRecord(b.redis, b.keys);
      expect(after.epoch).toBe(before.epoch);
      expect(wb.worker.owned.size).toBe(3);
      expect(wb.worker.status).toBe('ready');
      faultFigure('namespaces.neighbour-keys-trashed', trashed);
    });
  });
});
