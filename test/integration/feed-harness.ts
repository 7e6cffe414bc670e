/**
 * The real feed client against the real simulator, for the feed and simulator tests: a `FeedClient`
 * driving any adapter, recording what it decoded and logged (JSON lines), an in-process `Worker`
 * likewise, plus the waiting helpers.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { FeedAdapter, FeedEvent } from '../../feeds/adapter.js';
import type { Trade } from '../../feeds/trade.js';
import { FeedClient, type FeedClientOptions } from '../../src/ingest/feed-client.js';
import type { Logger } from '../../src/log.js';
import type { RunningSimulator } from '../../src/sim/simulator.js';
import { Worker, type WorkerOptions } from '../../src/worker/worker.js';
import { testRedis, type TestCluster } from '../support/redis.js';

/** A logger whose JSON lines land in `lines`, for asserting what was logged. */
export function captureLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

export interface Harness {
  readonly client: FeedClient;
  readonly trades: Trade[];
  readonly events: FeedEvent[];
  readonly lines: Record<string, unknown>[];
  /** Millisecond timestamps of each `ready`. */
  readonly readyAt: number[];
}

export function feedClient(
  adapter: FeedAdapter,
  url: string,
  options: Partial<FeedClientOptions> = {},
  userAgent = 'tickring/test feed-harness',
): Harness {
  const { log, lines } = captureLogger();
  const trades: Trade[] = [];
  const events: FeedEvent[] = [];
  const readyAt: number[] = [];
  const client = new FeedClient(
    {
      backoff: { baseMs: 20, maxMs: 200 },
      connectionLimitBackoffMs: 1_000,
      ...options,
      adapter,
      url,
      credentials: { key: 'test-key', secret: 'test-secret' },
      userAgent,
    },
    (trade) => trades.push(trade),
    log,
  );
  client.on('event', (event) => events.push(event));
  client.on('ready', () => readyAt.push(Date.now()));
  return { client, trades, events, lines, readyAt };
}

/** Polls `condition` every 5 ms; fails with `what` and the last `explain()` after `timeoutMs`. */
export async function until(
  condition: () => boolean,
  what: string,
  timeoutMs = 5_000,
  explain: () => unknown = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} ${JSON.stringify(explain())}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The simulator's subscriptions of the connection whose user agent ends with `agentSuffix`. */
export function simSubscriptions(sim: RunningSimulator, agentSuffix = 'feed-harness'): string[][] {
  return sim
    .stats()
    .connections.filter((c) => c.userAgent.endsWith(agentSuffix))
    .map((c) => [...c.subscriptions].sort());
}

/** Waits until the simulator holds exactly one connection of the harness subscribed to `symbols`. */
export async function subscribedExactly(
  sim: RunningSimulator,
  symbols: readonly string[],
  agentSuffix = 'feed-harness',
  timeoutMs = 5_000,
): Promise<void> {
  const want = JSON.stringify([[...symbols].sort()]);
  await until(
    () => JSON.stringify(simSubscriptions(sim, agentSuffix)) === want,
    `subscriptions ${want}`,
    timeoutMs,
    () => simSubscriptions(sim, agentSuffix),
  );
}

/** Sums the trades and sizes per symbol, as a test's own aggregate of what a client received. */
export function tally(trades: readonly Trade[]): Map<string, { trades: number; volume: number }> {
  const out = new Map<string, { trades: number; volume: number }>();
  for (const trade of trades) {
    const entry = out.get(trade.symbol) ?? { trades: 0, volume: 0 };
    entry.trades++;
    entry.volume += trade.size;
    out.set(trade.symbol, entry);
  }
  return out;
}

/** An in-process worker of `inProcessWorker`, its log, and what closes it. */
export interface InProcessWorker {
  readonly worker: Worker;
  readonly lines: Record<string, unknown>[];
  readonly close: () => Promise<void>;
}

/**
 * A `Worker` in this process on the test cluster's Redis, reading `feedUrl`, its log captured, with
 * the tests' fast timings (checkpoints every 200 ms, heartbeats and ring polls every 250 ms);
 * `options` adds or overrides (`membership` is merged with those timings). Not started.
 */
export function inProcessWorker(
  env: TestCluster,
  id: string,
  feed: FeedAdapter,
  feedUrl: string,
  options: Partial<WorkerOptions> = {},
): InProcessWorker {
  const subscriber = testRedis();
  const { log, lines } = captureLogger();
  const worker = new Worker(
    { redis: env.redis, subscriber, keys: env.keys, logger: log },
    {
      id,
      address: 'http://127.0.0.1:1',
      feed,
      feedUrl,
      credentials: { key: 'test-key', secret: 'test-secret' },
      checkpointMs: 200,
      ...options,
      membership: { heartbeatMs: 250, pollMs: 250, ...options.membership },
    },
  );
  return {
    worker,
    lines,
    close: async () => {
      await worker.close();
      subscriber.disconnect();
    },
  };
}
