/**
 * A network partition between one worker and Redis, made with a network namespace (see `netns.ts`):
 * w3 runs inside the namespace and reaches Redis over one veth link and the feed over another; the
 * test takes the Redis link down. w3 must stop ingesting (and so writing) on its own before its lease
 * can have lapsed, which the simulator sees as w3 dropping its subscriptions while its feed link is
 * still up; w1 and w2 take w3's symbols once the lease lapses; when the link comes back, w3 rejoins
 * and every symbol ends with exactly one owner, and no checkpoint w3 wrote after the cut carries an
 * epoch from before its rejoin.
 *
 * Needs root and iproute2; elsewhere the test is skipped (say so in CI logs).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { polygon } from '../../feeds/polygon.js';
import { parseCheckpointRecord } from '../../src/cluster/checkpoints.js';
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
  LEASE_MS,
  logLines,
  sleep,
  subscribers,
  type ConvergeTarget,
} from '../scenario/ring-harness.js';
import { faultFigure } from './figures.js';
import { netnsAvailable, PartitionableNamespace } from './netns.js';
import { spawnWorker } from './processes.js';
import { RedisServer } from './redis-server.js';

const SYMBOLS = generateSymbols(30);
const IDS = ['w1', 'w2', 'w3'];
const AVAILABLE = netnsAvailable();
if (!AVAILABLE) console.log('FAULT-FIGURE partition.skipped needs root and iproute2 (ip netns)');

describe.skipIf(!AVAILABLE)('a worker partitioned from Redis (network namespace)', () => {
  let ns: PartitionableNamespace;
  let server: RedisServer;
  let redis: Redis;
  let sim: RunningSimulator;
  let target: ConvergeTarget;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    ns = new PartitionableNamespace();
    server = new RedisServer({ bind: [ns.redisHost] });
    await server.start();
    redis = server.client();
    sim = await startSimulator({
      protocol: polygon,
      symbols: SYMBOLS,
      rate: 300,
      seed: 3,
      host: ns.feedHost,
    });
    const prefix = uniquePrefix('partition');
    const keys = clusterKeys(prefix, 'test');
    target = { redis, keys, sim, symbols: () => listSymbols(redis, keys), workers: () => workers };
    const common = [
      '--key-prefix',
      prefix,
      '--cluster',
      'test',
      '--redis',
      `redis://${ns.redisHost}:${server.port}`,
      '--feed',
      'polygon',
      '--feed-url',
      sim.wsUrl,
      '--http-port',
      '0',
      '--symbols',
      SYMBOLS.join(','),
      '--lease-ms',
      String(LEASE_MS),
      '--heartbeat-ms',
      '250',
      '--poll-ms',
      '250',
      '--checkpoint-ms',
      '200',
      ...FAST_SETTLE,
    ];
    workers.push(spawnWorker('w1', common), spawnWorker('w2', common), spawnWorker('w3', common, ns.exec()));
    try {
      await converged(target, IDS, { timeoutMs: 40_000 });
    } catch (err) {
      for (const w of workers) console.log(w.id, w.output.slice(-8).join('\n'));
      throw err;
    }
  }, 60_000);

  afterAll(async () => {
    await stopAll(workers);
    await sim.close();
    redis.disconnect();
    await server.close();
    ns.remove();
  });

  it('fences the partitioned worker before its lease lapses, moves its symbols, and heals to one owner each', async () => {
    const before = await converged(target, IDS);
    const theirs = before.symbolsOf('w3');
    expect(theirs.length).toBeGreaterThan(0);
    const seen = new Map<string, { owner: string; epoch: number; writtenAt: number }>();
    const sampling = { on: true };
    const sampler = (async () => {
      while (sampling.on) {
        for (const [symbol, raw] of Object.entries(await redis.hgetallBuffer(target.keys.checkpoints))) {
          const record = parseCheckpointRecord(raw, symbol);
          seen.set(`${record.owner}/${record.epoch}/${record.writtenAt}/${symbol}`, record);
        }
        await sleep(25);
      }
    })();

    const cutAt = Date.now();
    ns.partition();
    // w3's feed link is up: the simulator sees it let go of its symbols when it fences.
    const fencedAt = await eventually(
      'w3 to drop its subscriptions',
      () => (theirs.every((s) => !(subscribers(sim).get(s) ?? []).includes('w3')) ? Date.now() : undefined),
      10_000,
      10,
    );
    const takenAt = await eventually(
      'w1 and w2 to hold all of w3’s symbols',
      () => {
        const holders = subscribers(sim);
        return theirs.every((s) => (holders.get(s) ?? []).some((id) => id !== 'w3')) ? Date.now() : undefined;
      },
      15_000,
      10,
    );
    const reaped = await converged(target, ['w1', 'w2'], { exclude: new Set(['w3']) });
    expect(reaped.record.reason).toContain('reaped w3');
    // Stopped by its own clock before the others could have taken over.
    expect(fencedAt - cutAt).toBeLessThan(LEASE_MS);
    expect(fencedAt).toBeLessThanOrEqual(takenAt);

    await sleep(1_000);
    const healedAt = Date.now();
    ns.heal();
    const back = await converged(target, IDS, { timeoutMs: 30_000 });
    const rejoinedMs = Date.now() - healedAt;
    sampling.on = false;
    await sampler;
    expect(back.epoch).toBeGreaterThan(reaped.epoch);
    const w3 = workers.find((w) => w.id === 'w3');
    expect(logLines(w3!).some((l) => l.msg.startsWith('fenced') && l.time >= cutAt)).toBe(true);
    // No checkpoint of w3 written after the cut at an epoch from before its rejoin.
    const stale = [...seen.values()].filter(
      (r) => r.owner === 'w3' && r.writtenAt >= cutAt && r.epoch <= reaped.epoch,
    );
    expect(stale).toEqual([]);
    faultFigure('partition.method', 'ip netns + veth, Redis link down');
    faultFigure('partition.cut-to-fenced-ms', fencedAt - cutAt);
    faultFigure('partition.cut-to-taken-over-ms', takenAt - cutAt);
    faultFigure('partition.heal-to-one-owner-each-ms', rejoinedMs);
    faultFigure('partition.symbols-moved', theirs.length);
  });
});
