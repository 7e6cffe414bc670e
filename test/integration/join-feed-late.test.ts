/**
 * A joining worker whose feed connection is slow to come up, or whose provider is slow to answer
 * its subscribe frames, waits for them before it joins: joining first, it would own symbols it
 * cannot hear, and their old owners would hand over at their timeout with nothing overlapping.
 * In-process `Worker`s on real Redis (a unique prefix, cleaned up after) against the Polygon
 * simulator at a steady rate; the joiner reaches the simulator through a TCP proxy that holds each
 * new connection for `DELAY_MS`, or delivers what the joiner sends after its login
 * `ANSWER_DELAY_MS` late, much longer than the 1 s a joiner allows its subscriptions once its feed
 * is up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { polygon } from '../../feeds/polygon.js';
import { addSymbols } from '../../src/cluster/universe.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { Worker } from '../../src/worker/worker.js';
import { TcpProxy } from '../faults/tcp-proxy.js';
import { testCluster, type TestCluster } from '../support/redis.js';
import { inProcessWorker, sleep, until, type InProcessWorker } from './feed-harness.js';

/**
 * Past the 4 s an old owner waits for a new owner that never announced (its 2 s bound, and as long
 * again for one behind): a joiner that joined before its feed was up would overlap with nobody.
 */
const DELAY_MS = 4_500;

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * How late a slow provider acts on subscribe frames: past the 1 s a joiner allows its subscriptions
 * and the 4 s its old owners then wait, within the 10 s a joiner waits for a feed at most.
 */
const ANSWER_DELAY_MS = 5_500;

/** Joins admitted at once: the settle window would hide nothing here, only add its second. */
function createWorker(env: TestCluster, feedUrl: string, id: string): InProcessWorker {
  const started = inProcessWorker(env, id, polygon, feedUrl, {
    membership: { leaseMs: 5_000, settleMs: 0, settleMaxMs: 0 },
  });
  cleanups.push(() => started.close());
  return started;
}

/** Every symbol's trade count over `workers` equals the simulator's, once nothing is in flight. */
async function countedOnce(
  sim: RunningSimulator,
  symbols: readonly string[],
  workers: readonly Worker[],
): Promise<void> {
  sim.pause();
  const differences = (): string[] => {
    const truth = sim.stats().symbols;
    const got = new Map<string, number>();
    for (const worker of workers)
      for (const symbol of worker.owned.names())
        got.set(
          symbol,
          (got.get(symbol) ?? 0) + (worker.owned.get(symbol)?.aggregate.snapshot().trades ?? 0),
        );
    return symbols
      .filter((symbol) => (got.get(symbol) ?? 0) !== (truth[symbol]?.trades ?? 0))
      .map((symbol) => `${symbol}: ${got.get(symbol) ?? 0} of ${truth[symbol]?.trades ?? 0}`);
  };
  await until(() => differences().length === 0, 'every trade counted once', 5_000, differences);
}

/**
 * w1 owns every symbol while trades flow; w2 joins through the proxy, set up by `slowDown`. w2 must
 * join only once every expected subscription is confirmed, later than `delayMs`, with no hand-over
 * at a timeout on either side, and every trade counted once.
 */
async function joinsConfirmedAndExact(
  prefix: string,
  delayMs: number,
  slowDown: (proxy: TcpProxy) => void,
): Promise<void> {
  const env = await testCluster(prefix);
  cleanups.push(() => env.cleanup());
  const symbols = generateSymbols(40);
  const sim = await startSimulator({ protocol: polygon, symbols, paused: true, seed: 8, rate: 400 });
  cleanups.push(() => sim.close());
  await addSymbols(env.redis, env.keys, symbols);
  const simUrl = new URL(sim.wsUrl);
  const proxy = new TcpProxy(Number(simUrl.port));
  await proxy.start();
  cleanups.push(() => proxy.close());
  slowDown(proxy);

  const { worker: w1, lines: w1Lines } = createWorker(env, sim.wsUrl, 'w1');
  await w1.start();
  sim.resume();
  await sleep(300);
  const { worker: w2, lines } = createWorker(env, `ws://127.0.0.1:${proxy.port}${simUrl.pathname}`, 'w2');
  const startedAt = performance.now();
  await w2.start();

  const joining = lines.find((line) => line['msg'] === 'subscribed to the expected symbols; joining');
  expect(joining?.['expected']).toBeGreaterThan(5);
  expect(joining?.['confirmed']).toBe(joining?.['expected']);
  expect(performance.now() - startedAt).toBeGreaterThan(delayMs);
  const warned = (text: string): unknown[] =>
    [...lines, ...w1Lines].filter((line) => String(line['msg']).includes(text));
  expect(warned('did not overlap in time')).toEqual([]);
  expect(warned('did not hand over in time')).toEqual([]);
  expect(w2.owned.names().length).toBe(joining?.['expected']);
  await sleep(300);
  await countedOnce(sim, symbols, [w1, w2]);
}

describe('a joining worker whose feed is slow', () => {
  it('to connect joins once its subscriptions are confirmed, and the hand-over loses nothing', () =>
    joinsConfirmedAndExact('feedlate', DELAY_MS, (proxy) => {
      proxy.connectDelayMs = DELAY_MS;
    }));

  it('to answer joins once its subscriptions are confirmed, and the hand-over loses nothing', () =>
    joinsConfirmedAndExact('slowack', ANSWER_DELAY_MS, (proxy) => {
      // The handshake and the login pass at once (the feed is up); every frame after them, the
      // subscribe frames and the pings that confirm them, reaches the provider late.
      proxy.requestDelayMs = ANSWER_DELAY_MS;
      proxy.undelayedChunks = 2;
    }));
});
