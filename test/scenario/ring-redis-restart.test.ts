/**
 * Redis restarted empty under a running ring. The test runs its own redis-server on a free port
 * (never the shared one), kills it, and starts it again with nothing in it. Every worker must fence
 * itself while Redis is gone, then rejoin: the universe comes back from the workers' `--symbols`,
 * epochs keep going up (a rejoining worker passes the highest epoch it saw), and every symbol ends
 * with exactly one owner, with no overlap longer than a hand-over window.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { polygon } from '../../feeds/polygon.js';
import { readRingRecord } from '../../src/cluster/membership.js';
import { listSymbols } from '../../src/cluster/universe.js';
import { clusterKeys } from '../../src/redis/keys.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import type { Redis } from 'ioredis';
import { uniquePrefix } from '../support/redis.js';
import { eventually, stopAll, type WorkerProcess } from '../support/workers.js';
import {
  converged,
  FAST_SETTLE,
  figure,
  HANDOVER_WINDOW_MS,
  launcher,
  LEASE_MS,
  logLines,
  OverlapMonitor,
  OwnRedis,
  sleep,
  subscribers,
  type ConvergeTarget,
} from './ring-harness.js';

const SYMBOLS = generateSymbols(40);
const IDS = ['w1', 'w2', 'w3'];

describe('Redis restarted empty under a running ring', () => {
  const server = new OwnRedis();
  let redis: Redis;
  let sim: RunningSimulator;
  let target: ConvergeTarget;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    await server.start();
    redis = server.client();
    sim = await startSimulator({ protocol: polygon, symbols: SYMBOLS, rate: 200, seed: 11 });
    const prefix = uniquePrefix('ring-restart');
    const keys = clusterKeys(prefix, 'test');
    target = { redis, keys, sim, symbols: () => listSymbols(redis, keys), workers: () => workers };
    const launch = launcher({ prefix, cluster: 'test', feedUrl: sim.wsUrl }, workers, [
      ...FAST_SETTLE,
      '--redis',
      server.url,
      '--symbols',
      SYMBOLS.join(','),
    ]);
    for (const id of IDS) launch(id);
    await converged(target, IDS);
  });

  afterAll(async () => {
    await stopAll(workers);
    await sim.close();
    redis.disconnect();
    await server.close();
  });

  it('fences every worker while Redis is gone, then rejoins and converges on the empty Redis', async () => {
    const monitor = new OverlapMonitor(sim).start();
    const before = await readRingRecord(redis, target.keys);
    const killedAt = Date.now();
    await server.kill();
    // Every worker stops ingesting on its own: no subscription is left.
    await eventually(
      'every worker fenced',
      () =>
        workers.every((w) => logLines(w).some((l) => l.msg.startsWith('fenced') && l.time >= killedAt)) &&
        subscribers(sim).size === 0
          ? true
          : undefined,
      10_000,
      20,
    );
    const fencedWithinMs = Date.now() - killedAt;
    expect(fencedWithinMs).toBeLessThan(LEASE_MS + 500);
    await sleep(500);
    const restartedAt = Date.now();
    await server.start();
    const after = await converged(target, IDS, { timeoutMs: 20_000 });
    figure('fast.redis-restart.back-to-converged-ms', Date.now() - restartedAt);
    figure('fast.redis-restart.kill-to-all-fenced-ms', fencedWithinMs);
    expect(after.epoch).toBeGreaterThan(before.epoch);
    expect(await listSymbols(redis, target.keys)).toEqual([...SYMBOLS].sort());
    for (const worker of workers) {
      expect(
        logLines(worker).some((l) => l.msg.startsWith('rejoined the ring') && l.time >= restartedAt),
      ).toBe(true);
    }
    monitor.stop();
    const overlap = monitor.report();
    figure('fast.redis-restart.max-overlap-ms', Math.round(overlap.maxMs));
    expect(overlap.maxMs, JSON.stringify(overlap.worst)).toBeLessThan(HANDOVER_WINDOW_MS);
  });
});
