/**
 * What a Redis failover with asynchronous replication can do to the ring record, played on the
 * shared Redis by writing the record back: the promoted replica may hold an older record than the
 * one workers act on, or a different record under the same epoch number. Workers must not act on
 * either (one epoch, one assignment): their next heartbeat carries the highest epoch they saw, the
 * script rewrites the record above it, and everybody converges on that new epoch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { polygon } from '../../feeds/polygon.js';
import { readRingRecord } from '../../src/cluster/membership.js';
import { listSymbols } from '../../src/cluster/universe.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { testCluster, type TestCluster } from '../support/redis.js';
import { stopAll, type WorkerProcess } from '../support/workers.js';
import { converged, FAST_SETTLE, launcher, logLines, type ConvergeTarget } from './ring-harness.js';

const SYMBOLS = generateSymbols(30);

describe('a ring record lost by a Redis failover', () => {
  let env: TestCluster;
  let sim: RunningSimulator;
  let target: ConvergeTarget;
  let launch: (id: string) => WorkerProcess;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    env = await testCluster('lost-record');
    sim = await startSimulator({ protocol: polygon, symbols: SYMBOLS, rate: 0, seed: 3 });
    target = {
      redis: env.redis,
      keys: env.keys,
      sim,
      symbols: () => listSymbols(env.redis, env.keys),
      workers: () => workers,
    };
    launch = launcher({ prefix: env.prefix, cluster: env.cluster, feedUrl: sim.wsUrl }, workers, [
      ...FAST_SETTLE,
      '--symbols',
      SYMBOLS.join(','),
    ]);
    launch('w1');
    launch('w2');
    await converged(target, ['w1', 'w2']);
  });

  afterAll(async () => {
    await stopAll(workers);
    await sim.close();
    await env.cleanup();
  });

  it('moves every worker past an older record to a new epoch', async () => {
    const older = (await env.redis.get(env.keys.ring)) ?? '';
    launch('w3');
    const acting = await converged(target, ['w1', 'w2', 'w3']);
    // The failover "lost" w3's admission: Redis holds the two-member record again.
    await env.redis.set(env.keys.ring, older);
    const after = await converged(target, ['w1', 'w2', 'w3']);
    expect(after.epoch).toBeGreaterThan(acting.epoch);
    const record = await readRingRecord(env.redis, env.keys);
    expect(record.reason).toContain('ring record restored');
  });

  it('moves every worker past a different record under the same epoch', async () => {
    const acting = await readRingRecord(env.redis, env.keys);
    // The new primary wrote its own record under the epoch the workers act on, without w2.
    const impostor = {
      ...acting,
      members: acting.members.filter((member) => member.id !== 'w2'),
      changedAt: acting.changedAt + 1,
      reason: 'reaped w2',
    };
    await env.redis.set(env.keys.ring, JSON.stringify({ v: 1, ...impostor }));
    const after = await converged(target, ['w1', 'w2', 'w3']);
    expect(after.epoch).toBeGreaterThan(acting.epoch);
    const noticed = workers.filter((w) =>
      logLines(w).some((l) => l.msg.startsWith('Redis lost the ring record')),
    );
    expect(noticed.length).toBeGreaterThan(0);
  });
});
