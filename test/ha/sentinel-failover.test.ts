/**
 * A Sentinel failover under running workers. Three worker processes reach Redis only through
 * `redis+sentinel://` (three Sentinels watching a primary and its replica). `SENTINEL FAILOVER`
 * promotes the replica while trades flow; the workers must follow the new primary on their own,
 * keep (or regain) their leases there, re-read the ring, and end with every symbol owned by exactly
 * one worker, with no symbol held by two workers longer than a hand-over window at any moment. A
 * worker joining afterwards proves the ring runs on the new primary.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { polygon } from '../../feeds/polygon.js';
import { readRingRecord } from '../../src/cluster/membership.js';
import { listSymbols } from '../../src/cluster/universe.js';
import type { RedisClient } from '../../src/redis/client.js';
import { connectRedis, createRedis } from '../../src/redis/connection.js';
import { clusterKeys } from '../../src/redis/keys.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import {
  converged,
  FAST_SETTLE,
  figure,
  HANDOVER_WINDOW_MS,
  launcher,
  logLines,
  OverlapMonitor,
  type ConvergeTarget,
} from '../scenario/ring-harness.js';
import { uniquePrefix } from '../support/redis.js';
import { eventually, stopAll, type WorkerProcess } from '../support/workers.js';
import { startSentinelGroup, type SentinelGroup } from './servers.js';

const SYMBOLS = generateSymbols(40);
const IDS = ['w1', 'w2', 'w3'];

describe('a Sentinel failover under running workers', () => {
  let group: SentinelGroup;
  let redis: RedisClient;
  let sim: RunningSimulator;
  let target: ConvergeTarget;
  let launch: (id: string) => WorkerProcess;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    group = await startSentinelGroup();
    redis = createRedis({ url: group.url, name: 'tickring:test' });
    await connectRedis(redis, group.url);
    sim = await startSimulator({ protocol: polygon, symbols: SYMBOLS, rate: 300, seed: 5 });
    const prefix = uniquePrefix('sentinel');
    const keys = clusterKeys(prefix, 'test');
    target = { redis, keys, sim, symbols: () => listSymbols(redis, keys), workers: () => workers };
    launch = launcher({ prefix, cluster: 'test', feedUrl: sim.wsUrl }, workers, [
      ...FAST_SETTLE,
      '--redis',
      group.url,
      '--symbols',
      SYMBOLS.join(','),
    ]);
    for (const id of IDS) launch(id);
    await converged(target, IDS, { timeoutMs: 30_000 });
  });

  afterAll(async () => {
    await stopAll(workers);
    await sim.close();
    redis.disconnect();
    await group.stop();
  });

  it('follows the promoted replica and keeps exactly one owner per symbol', async () => {
    const monitor = new OverlapMonitor(sim).start();
    const before = await readRingRecord(redis, target.keys);
    expect(await group.primaryPort()).toBe(group.primary.port);

    const failoverAt = Date.now();
    const ask = group.sentinels[0]!.client();
    await ask.call('SENTINEL', 'FAILOVER', group.name);
    ask.disconnect();
    await eventually('the Sentinels to name the replica as primary', async () =>
      (await group.primaryPort()) === group.replica.port ? true : undefined,
    );
    figure('sentinel.failover-announced-ms', Date.now() - failoverAt);
    // Every worker's three connections (commands, subscriber, lease) moved to the new primary.
    const promoted = group.replica.client();
    const names = IDS.flatMap((id) => ['cmd', 'sub', 'lease'].map((c) => `tickring:worker:${id}:${c}`));
    await eventually(
      "every worker's connections on the new primary",
      async () => {
        const list = (await promoted.client('LIST')) as string;
        const missing = names.filter((name) => !list.includes(` name=${name} `));
        if (missing.length > 0) throw new Error(`not connected yet: ${missing.join(', ')}`);
        return true;
      },
      30_000,
    );
    promoted.disconnect();
    figure('sentinel.failover-to-all-reconnected-ms', Date.now() - failoverAt);

    // Every worker still (or again) holds a lease on the new primary and acts on its ring.
    const after = await converged(target, IDS, { timeoutMs: 30_000 });
    figure('sentinel.failover-to-converged-ms', Date.now() - failoverAt);
    expect(after.epoch).toBeGreaterThanOrEqual(before.epoch);
    const leases = await redis.zrange(target.keys.leases, 0, -1);
    expect(leases.sort()).toEqual(IDS);
    monitor.stop();
    const overlap = monitor.report();
    figure('sentinel.max-overlap-ms', Math.round(overlap.maxMs));
    expect(overlap.maxMs, JSON.stringify(overlap.worst)).toBeLessThan(HANDOVER_WINDOW_MS);
    for (const worker of workers) {
      const fenced = logLines(worker).filter((l) => l.msg.startsWith('fenced') && l.time >= failoverAt);
      figure(`sentinel.${worker.id}.fences`, fenced.length);
    }
  });

  it('runs the ring on the new primary: a worker joining afterwards gets its share', async () => {
    launch('w4');
    const assignment = await converged(target, [...IDS, 'w4'], { timeoutMs: 30_000 });
    expect(assignment.symbolsOf('w4').length).toBeGreaterThan(0);
    expect(await group.primaryPort()).toBe(group.replica.port);
  });
});
