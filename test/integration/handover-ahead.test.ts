/**
 * Hand-over signals written ahead of their epoch: a worker about to join, or about to gain a draining
 * peer's symbols, is subscribed and buffering before the epoch that moves them, and says so in Redis
 * then. The old owner hands over at its first look at that epoch, even while the new owner has not
 * acted on it yet; and every trade still counts once. In-process `Worker`s on real Redis (a unique
 * prefix, cleaned up after) against the Polygon simulator at a steady rate. The new owner is held
 * back from acting on epochs for `HOLD_MS`: without the signals written ahead, the old owner would
 * wait for that worker's own, written only once it acts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { polygon } from '../../feeds/polygon.js';
import { CheckpointStore } from '../../src/cluster/checkpoints.js';
import { readRingRecord } from '../../src/cluster/membership.js';
import type { RingRecord } from '../../src/cluster/ring-record.js';
import { Assignment } from '../../src/cluster/ring.js';
import { addSymbols } from '../../src/cluster/universe.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { Worker } from '../../src/worker/worker.js';
import { testCluster, testRedis, type TestCluster } from '../support/redis.js';
import { captureLogger, sleep, until } from './feed-harness.js';

/** How long the new owner waits before acting on any epoch: well past what the old owner needs. */
const HOLD_MS = 3_000;

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  readonly env: TestCluster;
  readonly sim: RunningSimulator;
  readonly symbols: readonly string[];
}

async function setup(): Promise<Setup> {
  const env = await testCluster('ahead');
  cleanups.push(() => env.cleanup());
  const symbols = generateSymbols(40);
  const sim = await startSimulator({ protocol: polygon, symbols, paused: true, seed: 5, rate: 400 });
  cleanups.push(() => sim.close());
  await addSymbols(env.redis, env.keys, symbols);
  return { env, sim, symbols };
}

function createWorker({ env, sim }: Setup, id: string): { worker: Worker; lines: Record<string, unknown>[] } {
  const subscriber: Redis = testRedis();
  const { log, lines } = captureLogger();
  const worker = new Worker(
    { redis: env.redis, subscriber, keys: env.keys, logger: log },
    {
      id,
      address: 'http://127.0.0.1:1',
      feed: polygon,
      feedUrl: sim.wsUrl,
      credentials: { key: 'test-key', secret: 'test-secret' },
      checkpointMs: 200,
      // Joins admitted at once: the settle window would only add its second to every test.
      membership: { leaseMs: 5_000, heartbeatMs: 250, pollMs: 250, settleMs: 0, settleMaxMs: 0 },
    },
  );
  cleanups.push(async () => {
    await worker.close();
    subscriber.disconnect();
  });
  return { worker, lines };
}

/** Makes `worker` act on every epoch `HOLD_MS` late (its ring reads, notices and feed go on). */
function holdBack(worker: Worker): void {
  const held = worker as unknown as { rebalance: (...args: unknown[]) => Promise<void> };
  const rebalance = held.rebalance.bind(worker);
  held.rebalance = async (...args: unknown[]) => {
    await sleep(HOLD_MS);
    await rebalance(...args);
  };
}

async function ringWhere(env: TestCluster, test: (record: RingRecord) => boolean): Promise<RingRecord> {
  let record: RingRecord | undefined;
  const poll = async (): Promise<boolean> => {
    record = await readRingRecord(env.redis, env.keys);
    return test(record);
  };
  while (!(await poll())) await sleep(5);
  return record as RingRecord;
}

/**
 * Resolves once `from` has written the final checkpoint of every one of `symbols` at `epoch` or
 * later, within `timeoutMs` (rejects past it).
 */
async function finalsOf(
  { env }: Setup,
  from: string,
  symbols: readonly string[],
  epoch: number,
  timeoutMs: number,
): Promise<void> {
  const store = new CheckpointStore(env.redis, env.keys, 'observer');
  const deadline = performance.now() + timeoutMs;
  let missing: string[] = [...symbols];
  while (missing.length > 0) {
    if (performance.now() > deadline)
      throw new Error(`no final checkpoint from ${from} within ${timeoutMs} ms: ${missing.join(', ')}`);
    const records = await store.readMany(missing);
    missing = missing.filter((_, i) => {
      const record = records[i];
      return !(record?.final === true && record.owner === from && record.epoch >= epoch);
    });
    if (missing.length > 0) await sleep(10);
  }
}

/** Every symbol's trade count over `workers` equals the simulator's, once nothing is in flight. */
async function countedOnce({ sim, symbols }: Setup, workers: readonly Worker[]): Promise<void> {
  sim.pause();
  const counts = (): Map<string, number> => {
    const out = new Map<string, number>();
    for (const worker of workers)
      for (const symbol of worker.owned.names())
        out.set(
          symbol,
          (out.get(symbol) ?? 0) + (worker.owned.get(symbol)?.aggregate.snapshot().trades ?? 0),
        );
    return out;
  };
  const differences = (): string[] => {
    const truth = sim.stats().symbols;
    const got = counts();
    return symbols
      .filter((symbol) => (got.get(symbol) ?? 0) !== (truth[symbol]?.trades ?? 0))
      .map((symbol) => `${symbol}: ${got.get(symbol) ?? 0} of ${truth[symbol]?.trades ?? 0}`);
  };
  await until(() => differences().length === 0, 'every trade counted once', 5_000, differences);
  expect(Object.values(sim.stats().symbols).reduce((sum, s) => sum + s.trades, 0)).toBeGreaterThan(500);
}

describe('hand-over signals written ahead of the epoch', () => {
  it('let the old owner hand over to a joining worker before the joiner acts on its epoch', async () => {
    const context = await setup();
    const { env, sim, symbols } = context;
    const { worker: w1 } = createWorker(context, 'w1');
    await w1.start();
    sim.resume();
    await sleep(500);

    const { worker: w2, lines } = createWorker(context, 'w2');
    holdBack(w2);
    const starting = w2.start();
    const joined = await ringWhere(env, (record) => record.members.some((m) => m.id === 'w2'));
    const moved = new Assignment(joined, symbols).symbolsOf('w2');
    expect(moved.length).toBeGreaterThan(5);
    // Trades keep coming: symbols that traded since the joiner subscribed hand over by overlap
    // (the first trade the signal names), the others as quiet.
    await finalsOf(context, 'w1', moved, joined.epoch, HOLD_MS / 2);
    expect(w2.actingEpoch).toBeLessThan(joined.epoch);

    await starting;
    expect(w2.owned.names()).toEqual([...moved].sort());
    expect(lines.filter((line) => String(line['msg']).includes('did not hand over in time'))).toEqual([]);
    await sleep(300);
    await countedOnce(context, [w1, w2]);
  });

  it('let a draining worker hand over before the peer gaining its symbols acts on the drain', async () => {
    const context = await setup();
    const { env, sim, symbols } = context;
    const { worker: w1 } = createWorker(context, 'w1');
    await w1.start();
    const { worker: w2 } = createWorker(context, 'w2');
    await w2.start();
    sim.resume();
    await sleep(500);

    holdBack(w1);
    const before = await readRingRecord(env.redis, env.keys);
    const leaving = new Assignment(before, symbols).symbolsOf('w2');
    expect(leaving.length).toBeGreaterThan(5);
    const closing = w2.close();
    const drained = await ringWhere(env, (record) =>
      record.members.some((m) => m.id === 'w2' && m.draining === true),
    );
    await finalsOf(context, 'w2', leaving, drained.epoch, HOLD_MS / 2);
    expect(w1.actingEpoch).toBeLessThan(drained.epoch);

    await closing;
    await until(() => w1.owned.names().length === symbols.length, 'w1 to own every symbol', HOLD_MS * 2);
    await sleep(300);
    await countedOnce(context, [w1]);
  });
});
