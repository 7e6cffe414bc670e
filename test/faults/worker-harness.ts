/**
 * In-process workers for the fault tests, wired as `tickring worker` wires them (three Redis
 * connections from `createRedis`, fast timings), and the trade accounting every fault is judged by:
 * what the simulator sent against what the workers' aggregates hold.
 */
import type { FeedAdapter } from '../../feeds/adapter.js';
import { polygon } from '../../feeds/polygon.js';
import { parseCheckpointRecord } from '../../src/cluster/checkpoints.js';
import type { FeedClientOptions } from '../../src/ingest/feed-client.js';
import type { ClusterKeys } from '../../src/redis/keys.js';
import { connectRedis, createRedis } from '../../src/redis/connection.js';
import type { RunningSimulator } from '../../src/sim/simulator.js';
import { Worker } from '../../src/worker/worker.js';
import { captureLogger, sleep } from '../integration/feed-harness.js';

export const LEASE_MS = 1_500;
export const CHECKPOINT_MS = 200;

export interface TestWorker {
  readonly worker: Worker;
  readonly lines: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startTestWorker(
  id: string,
  options: {
    redisUrl: string;
    keys: ClusterKeys;
    sim: RunningSimulator;
    seedSymbols?: readonly string[];
    adapter?: FeedAdapter;
    feedClient?: Partial<FeedClientOptions>;
  },
): Promise<TestWorker> {
  const { log, lines } = captureLogger();
  const connections = ['cmd', 'sub', 'lease'].map((role) =>
    createRedis({ url: options.redisUrl, name: `tickring:worker:${id}:${role}`, logger: log }),
  );
  const [redis, subscriber, membershipRedis] = connections as [
    (typeof connections)[0],
    (typeof connections)[0],
    (typeof connections)[0],
  ];
  for (const connection of connections) await connectRedis(connection, options.redisUrl);
  const worker = new Worker(
    { redis, subscriber, membershipRedis, keys: options.keys, logger: log },
    {
      id,
      address: 'http://127.0.0.1:1',
      feed: options.adapter ?? polygon,
      feedUrl: options.sim.wsUrl,
      credentials: { key: 'test-key', secret: 'test-secret' },
      checkpointMs: CHECKPOINT_MS,
      membership: {
        leaseMs: LEASE_MS,
        heartbeatMs: 250,
        pollMs: 250,
        settleMs: 100,
        settleMaxMs: 500,
        seedSymbols: options.seedSymbols ?? [],
      },
      feedClient: options.feedClient ?? {
        silenceMs: 1_000,
        backoff: { baseMs: 20, maxMs: 200 },
        connectionLimitBackoffMs: 500,
      },
    },
  );
  await worker.start();
  return {
    worker,
    lines,
    async close() {
      await worker.close();
      for (const connection of connections) connection.disconnect();
    },
  };
}

/** Trades the simulator sent per symbol (all of them count: no corrections or cancels here). */
export function sentTotal(sim: RunningSimulator): number {
  return Object.values(sim.stats().symbols).reduce((sum, s) => sum + s.trades, 0);
}

/** Trades in the live aggregates of every symbol, over all workers. */
export function appliedTotal(workers: readonly TestWorker[]): number {
  let total = 0;
  for (const { worker } of workers) {
    for (const symbol of worker.owned.names()) {
      const owned = worker.owned.get(symbol);
      if (owned?.state === 'live') total += owned.aggregate.snapshot().trades;
    }
  }
  return total;
}

/** Symbols live on exactly one worker each, and every symbol of `universe` covered. */
export function oneLiveOwnerEach(workers: readonly TestWorker[], universe: readonly string[]): boolean {
  const owners = new Map<string, number>();
  for (const { worker } of workers) {
    if (worker.status !== 'ready') return false;
    for (const symbol of worker.owned.names()) {
      if (worker.owned.get(symbol)?.state === 'live') owners.set(symbol, (owners.get(symbol) ?? 0) + 1);
    }
  }
  return universe.every((symbol) => owners.get(symbol) === 1) && owners.size === universe.length;
}

/** Waits until the workers applied no trade for 200 ms. */
export async function quiet(workers: readonly TestWorker[]): Promise<void> {
  const applied = (): number => workers.reduce((sum, w) => sum + w.worker.owned.tradesApplied, 0);
  for (let last = -1; last !== applied();) {
    last = applied();
    await sleep(200);
  }
}

/** Every checkpoint record's trade count, by symbol, as Redis holds it now. */
export async function checkpointTrades(
  redis: { hgetallBuffer(key: string): Promise<Record<string, Buffer>> },
  keys: ClusterKeys,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const [symbol, raw] of Object.entries(await redis.hgetallBuffer(keys.checkpoints))) {
    const { aggregate } = parseCheckpointRecord(raw, symbol);
    out.set(symbol, (aggregate as { session?: { trades?: number } | null }).session?.trades ?? 0);
  }
  return out;
}

export function fencedCount(worker: TestWorker, since = 0): number {
  return worker.lines.filter(
    (l) => typeof l['msg'] === 'string' && l['msg'].startsWith('fenced') && Number(l['time']) >= since,
  ).length;
}
