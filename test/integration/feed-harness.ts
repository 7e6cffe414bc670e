/**
 * The real feed client against the real simulator, for the feed and simulator tests: a `FeedClient`
 * driving any adapter, recording what it decoded and logged (JSON lines), plus the waiting helpers.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { FeedAdapter, FeedEvent } from '../../feeds/adapter.js';
import type { Trade } from '../../feeds/trade.js';
import { FeedClient, type FeedClientOptions } from '../../src/ingest/feed-client.js';
import type { Logger } from '../../src/log.js';
import type { RunningSimulator } from '../../src/sim/simulator.js';

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
