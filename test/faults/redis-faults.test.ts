/**
 * Redis faults under running workers, each on a server of the test's own, with trades flowing all the
 * while: a pause shorter than the lease (CLIENT PAUSE), a freeze longer than the lease (DEBUG SLEEP),
 * a restart with nothing in it, and a failover to a replica behind a stable address. For each: the
 * workers recover with no help, every symbol ends with exactly one live owner, the checkpoints Redis
 * acknowledged before the fault are still there (except after the empty restart, where Redis itself
 * forgot them), and the trades lost stay within what the design promises:
 * - while the lease holds, nothing: the worker keeps ingesting in memory;
 * - once a worker fenced itself, what arrived while no one owned the symbol, plus what was applied
 *   since its last checkpoint (at most one checkpoint period).
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { polygon } from '../../feeds/polygon.js';
import { addSymbols } from '../../src/cluster/universe.js';
import { clusterKeys } from '../../src/redis/keys.js';
import { registerScripts } from '../../src/redis/scripts.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { sleep } from '../integration/feed-harness.js';
import { uniquePrefix } from '../support/redis.js';
import { eventually } from '../support/workers.js';
import { faultFigure } from './figures.js';
import { RedisServer } from './redis-server.js';
import { TcpProxy } from './tcp-proxy.js';
import {
  appliedTotal,
  CHECKPOINT_MS,
  checkpointTrades,
  fencedCount,
  LEASE_MS,
  oneLiveOwnerEach,
  quiet,
  sentTotal,
  startTestWorker,
  type TestWorker,
} from './worker-harness.js';

const RATE = 400;
const SYMBOLS = generateSymbols(24);

interface Outcome {
  readonly sent: number;
  readonly lost: number;
  /** Trades sent from one checkpoint period before the fault until every symbol was live again. */
  readonly window: number;
  readonly fenced: number;
  readonly recoveredMs: number;
  /** Symbols whose acknowledged checkpoint went missing or backwards. */
  readonly ackedLost: number;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function subscribedOnce(sim: RunningSimulator): boolean {
  const seen = new Map<string, number>();
  for (const c of sim.stats().connections)
    for (const s of c.subscriptions) seen.set(s, (seen.get(s) ?? 0) + 1);
  return SYMBOLS.every((s) => seen.get(s) === 1);
}

async function healthy(workers: readonly TestWorker[], sim: RunningSimulator): Promise<void> {
  await eventually(
    'every symbol live on exactly one worker and subscribed once',
    () => (oneLiveOwnerEach(workers, SYMBOLS) && subscribedOnce(sim) ? true : undefined),
    25_000,
    20,
  );
}

async function scenario(
  name: string,
  target: { url: string; admin: () => Redis },
  inject: () => Promise<void>,
  options: { expectAckedKept: boolean },
): Promise<Outcome> {
  const keys = clusterKeys(uniquePrefix(`faults-${name}`), 'test');
  const sim = await startSimulator({
    protocol: polygon,
    symbols: SYMBOLS,
    rate: RATE,
    paused: true,
    seed: 5,
  });
  cleanups.push(() => sim.close());
  const admin = target.admin();
  cleanups.push(() => admin.disconnect());
  await addSymbols(admin, keys, SYMBOLS);
  const workers: TestWorker[] = [];
  cleanups.push(async () => {
    for (const w of workers) await w.close().catch(() => undefined);
  });
  for (const id of ['w1', 'w2'])
    workers.push(await startTestWorker(id, { redisUrl: target.url, keys, sim, seedSymbols: SYMBOLS }));
  await healthy(workers, sim);
  sim.resume();
  await sleep(1_000);
  const acked = await checkpointTrades(admin, keys);
  const faultAt = Date.now();
  const sentAtFault = sentTotal(sim);
  await inject();
  await healthy(workers, sim);
  const recoveredMs = Date.now() - faultAt;
  const sentAtRecovery = sentTotal(sim);
  await sleep(500);
  sim.pause();
  await quiet(workers);
  const sent = sentTotal(sim);
  const lost = sent - appliedTotal(workers);
  let ackedLost = 0;
  if (options.expectAckedKept) {
    // One more checkpoint round, then every symbol's record holds at least what it held before.
    await sleep(CHECKPOINT_MS * 3);
    const after = await checkpointTrades(admin, keys);
    ackedLost = [...acked].filter(([symbol, trades]) => (after.get(symbol) ?? -1) < trades).length;
  }
  const outcome: Outcome = {
    sent,
    lost,
    window: sentAtRecovery - sentAtFault + Math.ceil((RATE * CHECKPOINT_MS * 2) / 1000),
    fenced: workers.reduce((n, w) => n + fencedCount(w, faultAt), 0),
    recoveredMs,
    ackedLost,
  };
  for (const [key, value] of Object.entries(outcome) as [string, number][])
    faultFigure(`redis.${name}.${key}`, value);
  return outcome;
}

describe('Redis faults under running workers', () => {
  const server = new RedisServer();

  beforeAll(async () => {
    await server.start();
  });

  afterAll(async () => {
    await server.close();
  });

  const target = { url: '', admin: () => server.client() };

  it('CLIENT PAUSE shorter than the lease: workers keep ingesting, nothing is lost, nobody fences', async () => {
    target.url = server.url();
    const outcome = await scenario(
      'client-pause-700ms',
      target,
      async () => {
        const admin = server.client();
        await admin.client('PAUSE', 700, 'ALL');
        admin.disconnect();
        await sleep(700);
      },
      { expectAckedKept: true },
    );
    expect(outcome.fenced).toBe(0);
    expect(outcome.lost).toBe(0);
    expect(outcome.ackedLost).toBe(0);
  });

  it('DEBUG SLEEP past the lease: workers fence before the lease can lapse, then recover alone', async () => {
    target.url = server.url();
    const outcome = await scenario(
      'debug-sleep-3s',
      target,
      async () => {
        const admin = server.client({ commandTimeout: 10_000 });
        await admin.call('DEBUG', 'SLEEP', '3');
        admin.disconnect();
      },
      { expectAckedKept: true },
    );
    expect(outcome.fenced).toBeGreaterThanOrEqual(2);
    expect(outcome.lost).toBeLessThanOrEqual(outcome.window);
    expect(outcome.ackedLost).toBe(0);
  });

  it('Redis restarted empty: workers fence, rejoin and rebuild the universe from their seed symbols', async () => {
    target.url = server.url();
    const outcome = await scenario(
      'restart-empty',
      target,
      async () => {
        await server.kill();
        await sleep(500);
        await server.start();
      },
      // Redis forgot everything: there is nothing acknowledged left to keep.
      { expectAckedKept: false },
    );
    expect(outcome.fenced).toBeGreaterThanOrEqual(2);
    expect(outcome.lost).toBeGreaterThan(0);
  });
});

describe('Redis fails over to its replica behind a stable address', () => {
  const primary = new RedisServer();
  let replica: RedisServer;
  let proxy: TcpProxy;

  beforeAll(async () => {
    await primary.start();
    replica = new RedisServer({ replicaOf: `127.0.0.1:${primary.port}` });
    await replica.start();
    const r = replica.client();
    await eventually(
      'the replica in sync',
      async () => ((await r.info('replication')).includes('master_link_status:up') ? true : undefined),
      10_000,
      50,
    );
    r.disconnect();
    proxy = new TcpProxy(primary.port);
    await proxy.start();
  });

  afterAll(async () => {
    await proxy.close();
    await replica.close();
    await primary.close();
  });

  it('keeps what the primary acknowledged and replicated, and the workers carry on', async () => {
    const outcome = await scenario(
      'failover',
      {
        url: `redis://127.0.0.1:${proxy.port}`,
        admin: () => {
          // Through the stable address, as every client: the primary before, the replica after.
          const redis = new Redis(`redis://127.0.0.1:${proxy.port}`, { maxRetriesPerRequest: 1 });
          redis.on('error', () => undefined);
          registerScripts(redis);
          return redis;
        },
      },
      async () => {
        // A controlled failover (Sentinel's FAILOVER, CLUSTER FAILOVER) waits for the replica to
        // catch up before promoting it; WAIT does the same here.
        const p = primary.client();
        expect(await p.call('WAIT', '1', '2000')).toBe(1);
        p.disconnect();
        const r = replica.client();
        await r.call('REPLICAOF', 'NO', 'ONE');
        r.disconnect();
        proxy.upstreamPort = replica.port;
        proxy.cutAll();
        await primary.kill();
      },
      { expectAckedKept: true },
    );
    expect(outcome.ackedLost).toBe(0);
    expect(outcome.lost).toBeLessThanOrEqual(outcome.window);
    faultFigure('redis.failover.lease-ms', LEASE_MS);
  });
});
