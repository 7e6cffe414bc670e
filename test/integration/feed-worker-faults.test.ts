/**
 * How a worker reacts to each feed fault: in-process `Worker`s on real Redis (a unique prefix per
 * test, cleaned up after) against the simulator. After each fault the worker's aggregates are held to
 * the simulator's truth, less exactly the trades no feed could have delivered.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FeedAdapter } from '../../feeds/adapter.js';
import { alpaca } from '../../feeds/alpaca.js';
import { binance } from '../../feeds/binance.js';
import { finnhub } from '../../feeds/finnhub.js';
import { polygon } from '../../feeds/polygon.js';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { addSymbols } from '../../src/cluster/universe.js';
import { buildApp } from '../../src/http/app.js';
import { startSimulator, type RunningSimulator, type SimulatorInput } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { Worker } from '../../src/worker/worker.js';
import { RedisErrorCounts, workerMetrics, workerView } from '../../src/worker/worker-view.js';
import { testCluster, type TestCluster } from '../support/redis.js';
import { inProcessWorker, sleep, until } from './feed-harness.js';

interface Setup {
  readonly env: TestCluster;
  readonly sim: RunningSimulator;
  readonly symbols: readonly string[];
}

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(
  adapter: FeedAdapter,
  options: Partial<SimulatorInput> = {},
  count = 12,
): Promise<Setup> {
  const env = await testCluster('feedfault');
  cleanups.push(() => env.cleanup());
  const symbols = generateSymbols(count, adapter.server.market);
  const sim = await startSimulator({ protocol: adapter, symbols, paused: true, seed: 9, ...options });
  cleanups.push(() => sim.close());
  await addSymbols(env.redis, env.keys, symbols);
  return { env, sim, symbols };
}

interface Started {
  readonly worker: Worker;
  readonly lines: Record<string, unknown>[];
}

async function startWorker(
  adapter: FeedAdapter,
  { env, sim }: Setup,
  id = 'w1',
  feedClient: Record<string, unknown> = {},
  { leaseMs = 1_500, ...options }: { replicas?: number; leaseMs?: number } = {},
): Promise<Started> {
  const { worker, lines, close } = inProcessWorker(env, id, adapter, sim.wsUrl, {
    membership: { leaseMs },
    feedClient: {
      silenceMs: 600,
      backoff: { baseMs: 20, maxMs: 100 },
      connectionLimitBackoffMs: 500,
      ...feedClient,
    },
    ...options,
  });
  cleanups.push(close);
  await worker.start();
  return { worker, lines };
}

/** The simulator's connection of `id`, once it holds exactly the worker's owned symbols. */
async function feedSettled(sim: RunningSimulator, worker: Worker, timeoutMs = 5_000): Promise<string[]> {
  let seen: string[][] = [];
  await until(
    () => {
      const mine = sim
        .stats()
        .connections.filter((c) => c.userAgent.endsWith(`worker/${worker.id}`) && !c.silenced);
      seen = mine.map((c) => [...c.subscriptions].sort());
      const owned = worker.owned.names();
      return owned.length > 0 && mine.length === 1 && JSON.stringify(seen[0]) === JSON.stringify(owned);
    },
    `${worker.id} to subscribe exactly what it owns`,
    timeoutMs,
    () => ({ seen, owned: worker.owned.names() }),
  );
  return seen[0] ?? [];
}

/** Waits until the workers applied no trade for 150 ms: nothing is in flight any more. */
async function quiet(workers: readonly Worker[]): Promise<void> {
  const applied = (): number => workers.reduce((sum, w) => sum + w.owned.tradesApplied, 0);
  for (let last = -1; last !== applied();) {
    last = applied();
    await sleep(150);
  }
}

type Counts = Map<string, { trades: number; volume: number }>;

function truth(sim: RunningSimulator): Counts {
  return new Map(
    Object.entries(sim.stats().symbols).map(([s, v]) => [s, { trades: v.trades, volume: v.volume }]),
  );
}

/** `a - b + c` per symbol: the truth at the end, less what was sent while the worker could not hear. */
function combine(a: Counts, minus: Counts, plus: Counts): Counts {
  const out: Counts = new Map();
  for (const [symbol, v] of a) {
    const m = minus.get(symbol) ?? { trades: 0, volume: 0 };
    const p = plus.get(symbol) ?? { trades: 0, volume: 0 };
    out.set(symbol, { trades: v.trades - m.trades + p.trades, volume: v.volume - m.volume + p.volume });
  }
  return out;
}

function aggregates(workers: readonly Worker[]): Counts {
  const out: Counts = new Map();
  for (const worker of workers) {
    for (const symbol of worker.owned.names()) {
      const snapshot = worker.owned.get(symbol)?.aggregate.snapshot();
      out.set(symbol, { trades: snapshot?.trades ?? 0, volume: snapshot?.volume ?? 0 });
    }
  }
  return out;
}

/**
 * Waits until the workers' aggregates equal `expected` for every symbol (volumes within 1e-9). A
 * worker whose lease could not be trusted dropped trades on purpose: the failure says so.
 */
async function matches(workers: readonly Worker[], expected: Counts, timeoutMs = 5_000): Promise<void> {
  const differences = (): string[] => {
    const got = aggregates(workers);
    const out: string[] = [];
    for (const [symbol, want] of expected) {
      const have = got.get(symbol) ?? { trades: 0, volume: 0 };
      if (
        have.trades !== want.trades ||
        Math.abs(have.volume - want.volume) > 1e-9 * Math.max(1, want.volume)
      ) {
        out.push(`${symbol}: ${have.trades}/${have.volume} want ${want.trades}/${want.volume}`);
      }
    }
    return out;
  };
  const explain = (): unknown => {
    const gatedTrades = workers.map((w) => w.feed.stats.gatedTrades);
    return gatedTrades.some((n) => n > 0) ? { gatedTrades, differences: differences() } : differences();
  };
  await until(() => differences().length === 0, 'aggregates to match', timeoutMs, explain);
}

/** Whether every symbol the worker owns has its subscription confirmed. */
function confirmed(w: Worker): boolean {
  return w.owned.names().every((symbol) => w.feed.isConfirmed(symbol));
}

/** Trades flowing through what follows: 100 every 20 ms until the returned stop is awaited. */
function keepEmitting(sim: { emit(count: number): unknown }): () => Promise<void> {
  const flowing = { on: true };
  const flow = (async () => {
    while (flowing.on) {
      sim.emit(100);
      await sleep(20);
    }
  })();
  return async () => {
    flowing.on = false;
    await flow;
  };
}

/**
 * The lease of the workers that take thousands of symbols and 5,000-trade bursts from the simulator
 * in this process: the production default, not the 1.5 s the other tests use. A worker applies no
 * trade once its lease is older than it can trust by its own clock (`acceptTrades`; 1.35 s after
 * the last heartbeat left at 1.5 s), and on a loaded 2-core machine encoding, sending and decoding
 * such a burst stalls the process longer than that: the trades are dropped on purpose (counted in
 * `gatedTrades`), which these tests are not about.
 */
const BURST_LEASE_MS = 5_000;

describe('worker with more Binance symbols than one connection carries', () => {
  it('spreads them over connections; a second worker joins, the first drains a connection, aggregates stay exact', async () => {
    const s = await setup(binance, { skew: 0 }, 1_100);
    const options = { consolidateAfterMs: 300, moveQuietMs: 200 };
    const a = await startWorker(binance, s, 'wa', options, { leaseMs: BURST_LEASE_MS });
    await until(() => a.worker.owned.size === 1_100 && confirmed(a.worker), 'wa to subscribe 1,100', 15_000);
    // Binance allows 1,024 streams per connection: one worker needs two.
    expect(a.worker.feed.stats.connections).toBe(2);
    const mine = s.sim.stats().connections.filter((c) => c.userAgent.endsWith('worker/wa'));
    expect(mine.map((c) => c.subscriptions.length).sort()).toEqual([1_024, 76].sort());
    s.sim.emit(5_000);
    await matches([a.worker], truth(s.sim));
    // Trades flow through the hand-over and the moves that follow it.
    const stopFlow = keepEmitting(s.sim);
    const b = await startWorker(binance, s, 'wb', options, { leaseMs: BURST_LEASE_MS });
    await until(
      () =>
        a.worker.owned.size + b.worker.owned.size === 1_100 &&
        b.worker.owned.size > 0 &&
        a.worker.feed.stats.connections === 1 &&
        confirmed(a.worker) &&
        confirmed(b.worker),
      'the split, and wa down to one connection',
      15_000,
      () => [a.worker.owned.size, b.worker.owned.size, a.worker.feed.stats.connections],
    );
    await stopFlow();
    await matches([a.worker, b.worker], truth(s.sim), 10_000);
    // wa's second connection kept some of its symbols: they moved, make before break.
    expect(a.worker.feed.stats.symbolsMoved).toBeGreaterThan(0);
    expect(a.worker.feed.stats.gaps + b.worker.feed.stats.gaps).toBe(0);
    expect(b.worker.feed.stats.connections).toBe(1);
  });
});

describe('a worker preparing its join over several Binance connections', () => {
  /** The line a joining worker logs once its expected symbols are subscribed (or it gave up waiting). */
  const prepared = (lines: readonly Record<string, unknown>[]): Record<string, unknown> | undefined =>
    lines.find((l) => l['msg'] === 'subscribed to the expected symbols; joining');

  it('subscribes more symbols than one connection carries before joining; the hand-over stays exact', async () => {
    const s = await setup(binance, { skew: 0 }, 2_200);
    const a = await startWorker(binance, s, 'wa', {}, { leaseMs: BURST_LEASE_MS });
    await until(() => a.worker.owned.size === 2_200 && confirmed(a.worker), 'wa to subscribe 2,200', 15_000);
    expect(a.worker.feed.stats.connections).toBe(3);
    s.sim.emit(5_000);
    await matches([a.worker], truth(s.sim));
    const stopFlow = keepEmitting(s.sim);
    const b = await startWorker(binance, s, 'wb', {}, { leaseMs: BURST_LEASE_MS });
    // Before joining, wb subscribed what it expected to own, over two connections.
    const line = prepared(b.lines);
    expect(line?.['expected']).toBeGreaterThan(1_024);
    expect(line?.['confirmed']).toBe(line?.['expected']);
    expect(line?.['connections']).toBe(2);
    await until(
      () =>
        a.worker.owned.size + b.worker.owned.size === 2_200 &&
        b.worker.owned.size === line?.['expected'] &&
        confirmed(a.worker) &&
        confirmed(b.worker),
      'the split',
      15_000,
      () => [a.worker.owned.size, b.worker.owned.size],
    );
    await stopFlow();
    await matches([a.worker, b.worker], truth(s.sim), 10_000);
    expect(a.worker.feed.stats.gaps + b.worker.feed.stats.gaps).toBe(0);
    // Every buffer overlapped its old owner's stream in time: nobody gave up waiting.
    expect(a.worker.handoverTimeouts + b.worker.handoverFallbacks).toBe(0);
  });

  it("waits for the connections past the gate's burst to have their turn before joining", async () => {
    const s = await setup(binance, { skew: 0 }, 140);
    const a = await startWorker(binance, s, 'wa');
    await until(() => a.worker.owned.size === 140, 'wa to own every symbol');
    // Ten streams per connection for wb: its 70-odd expected symbols take 7 or 8 connections, and
    // past the gate's burst of five each waits a second more (Binance: 300 attempts per 5 minutes).
    const b = await startWorker(binance, s, 'wb', { symbolsPerConnection: 10 });
    const line = prepared(b.lines);
    const expected = Number(line?.['expected']);
    expect(expected).toBeGreaterThan(60);
    expect(line?.['connections']).toBe(Math.ceil(expected / 10));
    expect(line?.['confirmed']).toBe(expected);
    // The last connections waited their turns: 2 s or more for the seventh.
    expect(line?.['ms']).toBeGreaterThan(1_800);
    const opened = b.lines.filter((l) => l['msg'] === 'feed connected').map((l) => Number(l['time']));
    expect(opened).toHaveLength(Math.ceil(expected / 10));
    expect(Math.max(...opened) - Math.min(...opened)).toBeGreaterThan(1_800);
  });
});

describe('worker with standbys over several Binance connections', () => {
  it('a dropped connection sends back to warming only the shadows it carried', async () => {
    const s = await setup(binance, { skew: 0 }, 40);
    // Ten streams per connection (Binance allows 1,024): each worker's 40 symbols, owned and
    // followed, take four connections.
    const feed = { symbolsPerConnection: 10 };
    const a = await startWorker(binance, s, 'wa', feed, { replicas: 2 });
    const b = await startWorker(binance, s, 'wb', feed, { replicas: 2 });
    const followed = (w: Worker): string[] => w.membership.assignment?.standbySymbolsOf(w.id) ?? [];
    const warm = (w: Worker): boolean =>
      w.owned.size > 0 &&
      JSON.stringify(w.standbys.names()) === JSON.stringify(followed(w)) &&
      w.standbys.countIn('loading') === 0;
    await until(
      () => a.worker.owned.size + b.worker.owned.size === 40 && warm(a.worker) && warm(b.worker),
      'a split with every standby warm',
      10_000,
      () => [a.worker.owned.size, b.worker.standbys.size, b.worker.standbys.countIn('loading')],
    );
    const shadows = new Set(b.worker.standbys.names());
    const mine = s.sim.stats().connections.filter((c) => c.userAgent.endsWith('worker/wb'));
    expect(mine).toHaveLength(4);
    // The connection carrying the most of wb's shadows drops; the others carry shadows too.
    const shadowsOn = (c: (typeof mine)[number]): string[] =>
      c.subscriptions.filter((symbol) => shadows.has(symbol));
    const [dropped, ...kept] = [...mine].sort((x, y) => shadowsOn(y).length - shadowsOn(x).length);
    if (dropped === undefined) throw new Error('no connection');
    const keptShadows = kept.flatMap(shadowsOn);
    expect(shadowsOn(dropped).length).toBeGreaterThan(0);
    expect(keptShadows.length).toBeGreaterThan(0);
    // The shadows' states the moment the worker has reacted to the drop (its listener runs first).
    let interrupted: readonly string[] = [];
    const states = new Map<string, string | undefined>();
    b.worker.feed.once('disconnected', (_reason, symbols) => {
      interrupted = symbols;
      for (const symbol of shadows) states.set(symbol, b.worker.standbys.stateOf(symbol));
    });
    expect(s.sim.dropConnections([dropped.id])).toBe(1);
    await until(() => states.size > 0, "wb's connection to drop");
    expect([...interrupted].sort()).toEqual([...dropped.subscriptions].sort());
    for (const symbol of shadowsOn(dropped))
      expect([symbol, states.get(symbol)]).toEqual([symbol, 'loading']);
    for (const symbol of keptShadows) expect([symbol, states.get(symbol)]).toEqual([symbol, 'live']);
    // They warm again from the next checkpoints once resubscribed.
    await until(() => warm(b.worker), 'the restarted shadows warm again', 10_000);
    expect(b.worker.feed.stats.reconnects).toBe(1);
  });
});

describe('worker readiness over several Binance connections', () => {
  it('/readyz does not flap while new connections open for symbols added to the universe', async () => {
    const env = await testCluster('feedready');
    cleanups.push(() => env.cleanup());
    const symbols = generateSymbols(90, binance.server.market);
    const sim = await startSimulator({ protocol: binance, symbols, paused: true, seed: 9 });
    cleanups.push(() => sim.close());
    await addSymbols(env.redis, env.keys, symbols.slice(0, 10));
    // Ten streams per connection (Binance allows 1,024): the 80 symbols added later need eight more
    // connections, past the connect gate's burst of five, so the last ones wait their turn for seconds.
    const { worker } = await startWorker(binance, { env, sim, symbols }, 'w1', { symbolsPerConnection: 10 });
    const errors = new RedisErrorCounts();
    const app = buildApp({
      view: workerView(worker, { redis: env.redis, keys: env.keys, vnodes: 500 }, errors),
      metrics: workerMetrics(worker, errors),
      logger: pino({ level: 'silent' }),
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      app.closeAllConnections();
      app.close();
    });
    const readyz = async (): Promise<{ status: number; reasons: string[] }> => {
      const res = await fetch(`http://127.0.0.1:${(app.address() as AddressInfo).port}/readyz`);
      const body = (await res.json()) as { reasons: string[] };
      return { status: res.status, reasons: body.reasons };
    };
    let last = await readyz();
    for (const deadline = Date.now() + 5_000; last.status !== 200; last = await readyz()) {
      if (Date.now() > deadline) throw new Error(`not ready: ${last.reasons.join('; ')}`);
      await sleep(20);
    }
    const started = Date.now();
    await addSymbols(env.redis, env.keys, symbols.slice(10));
    const reasons = new Set<string>();
    // Until the new symbols are live (each waits for its subscription), then ready again. The size
    // is read before asking, so a 200 counts only once the worker holds all of them.
    for (;;) {
      const owned = worker.owned.size;
      const answer = await readyz();
      for (const reason of answer.reasons) reasons.add(reason);
      if (owned === 90 && answer.status === 200) break;
      expect(Date.now() - started).toBeLessThan(15_000);
      await sleep(5);
    }
    expect(Date.now() - started).toBeGreaterThan(2_000);
    expect(worker.feed.stats.connections).toBe(9);
    expect(symbols.every((symbol) => worker.feed.isConfirmed(symbol))).toBe(true);
    // No connection that carried a subscription dropped: the feed is never named as a reason (the
    // new symbols still loading are, until their subscriptions are confirmed).
    expect([...reasons].filter((reason) => reason.startsWith('feed'))).toEqual([]);
  });
});

describe('worker under feed faults', () => {
  it('drop mid-stream: every worker resubscribes exactly its own symbols; only the unheard trades are missing', async () => {
    const s = await setup(binance, { rate: 3_000, paused: false }, 20);
    const a = await startWorker(binance, s, 'wa');
    const b = await startWorker(binance, s, 'wb');
    await until(
      () =>
        a.worker.owned.size + b.worker.owned.size === 20 &&
        a.worker.owned.size > 0 &&
        b.worker.owned.size > 0,
      'a split',
    );
    await feedSettled(s.sim, a.worker);
    await feedSettled(s.sim, b.worker);
    await sleep(300); // streaming
    expect(s.sim.dropConnections()).toBe(2);
    // Sent while both are away, to nobody, whatever the market's own timer manages meanwhile: on a
    // busy machine (the whole suite in parallel) it once sent nothing before both were back, and no
    // gap showed below.
    s.sim.emit(300);
    await until(
      () => a.worker.feed.stats.reconnects === 1 && b.worker.feed.stats.reconnects === 1,
      'both reconnect',
    );
    const subsA = await feedSettled(s.sim, a.worker);
    const subsB = await feedSettled(s.sim, b.worker);
    // Exactly the owned symbols, and together every symbol exactly once.
    expect(subsA).toEqual(a.worker.membership.assignment?.symbolsOf('wa'));
    expect(subsB).toEqual(b.worker.membership.assignment?.symbolsOf('wb'));
    expect([...subsA, ...subsB].sort()).toEqual([...s.symbols].sort());
    // What was sent while both were away is lost (no feed replays) and shows as gaps once later
    // trades of the same symbols arrive.
    s.sim.pause();
    s.sim.emit(1_000);
    await until(() => a.worker.feed.stats.gaps + b.worker.feed.stats.gaps > 0, 'gaps counted', 3_000);
    expect(a.worker.feed.stats.missedTrades + b.worker.feed.stats.missedTrades).toBeGreaterThan(0);
    // From here on nothing is lost: with nothing in flight, drop once more, then emit.
    await quiet([a.worker, b.worker]);
    const before = aggregates([a.worker, b.worker]);
    const atDrop = truth(s.sim);
    s.sim.dropConnections();
    await feedSettled(s.sim, a.worker);
    await feedSettled(s.sim, b.worker);
    s.sim.emit(1_000);
    await matches([a.worker, b.worker], combine(truth(s.sim), atDrop, before));
  });

  it('silent: the worker replaces the silent connection and misses only what was sent into the silence', async () => {
    const s = await setup(polygon);
    const { worker } = await startWorker(polygon, s);
    await feedSettled(s.sim, worker);
    s.sim.emit(500);
    await matches([worker], truth(s.sim));
    s.sim.fault('silent');
    const atSilence = truth(s.sim);
    s.sim.emit(300); // into the silence
    const afterSilence = truth(s.sim);
    await until(() => worker.feed.stats.silenceDrops === 1, 'the silence detected', 2_000);
    await feedSettled(s.sim, worker);
    s.sim.emit(500);
    await matches([worker], combine(truth(s.sim), afterSilence, atSilence));
    expect(worker.feed.stats.connects).toBe(2);
  });

  it('duplicate: the worker drops each duplicate by the provider key and counts it', async () => {
    const s = await setup(polygon);
    const { worker } = await startWorker(polygon, s);
    await feedSettled(s.sim, worker);
    s.sim.fault('duplicate', 60);
    s.sim.emit(800);
    await matches([worker], truth(s.sim));
    expect(worker.owned.duplicatesDropped).toBe(60);
    expect(worker.owned.tradesApplied).toBe(800);
  });

  it('duplicate on Finnhub: no ids, so a repeated print counts again (documented: identical prints are real trades)', async () => {
    const s = await setup(finnhub);
    const { worker } = await startWorker(finnhub, s);
    await feedSettled(s.sim, worker);
    s.sim.fault('duplicate', 20);
    s.sim.emit(300);
    // The duplicate is the same print again: it counts as another trade.
    const expected = truth(s.sim);
    for (const [symbol, stats] of Object.entries(s.sim.stats().symbols)) {
      const entry = expected.get(symbol);
      if (entry) entry.trades += stats.duplicatesSent;
    }
    await until(() => worker.owned.tradesApplied === 320, '320 trades applied');
    const got = aggregates([worker]);
    for (const [symbol, want] of expected) expect(got.get(symbol)?.trades ?? 0, symbol).toBe(want.trades);
    expect(worker.owned.duplicatesDropped).toBe(0);
  });

  it('malformed: each frame is rejected and counted by reason, logged at a bounded rate, and the aggregates stay exact', async () => {
    const s = await setup(alpaca);
    const { worker, lines } = await startWorker(alpaca, s);
    await feedSettled(s.sim, worker);
    s.sim.emit(300);
    s.sim.fault('malformed', 400);
    s.sim.emit(300);
    await matches([worker], truth(s.sim));
    const rejects = worker.feed.stats.rejects;
    expect(rejects['invalid-json'] + rejects['bad-price'] + rejects['bad-size'] + rejects['bad-time']).toBe(
      400,
    );
    expect(rejects['bad-price']).toBe(100);
    const logged = lines.filter((l) => l['msg'] === 'feed frame rejected');
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.length).toBeLessThanOrEqual(4); // one line per reason per 10 s
    expect(worker.feed.status).toBe('ready');
    expect(worker.feed.stats.connects).toBe(1);
  });

  it('connection limit: the worker backs off at least the floor, then resubscribes and aggregates exactly again', async () => {
    const s = await setup(alpaca);
    const { worker } = await startWorker(alpaca, s, 'w1', { connectionLimitBackoffMs: 800 });
    await feedSettled(s.sim, worker);
    s.sim.emit(400);
    await matches([worker], truth(s.sim));
    const at = Date.now();
    s.sim.fault('connection-limit', 1); // this connection, and the first retry
    const before = truth(s.sim);
    await until(() => worker.feed.status === 'backoff', 'back-off');
    await feedSettled(s.sim, worker, 5_000);
    expect(Date.now() - at).toBeGreaterThanOrEqual(2 * 800);
    expect(worker.feed.stats.connectionLimits).toBe(2);
    expect(worker.feed.stats.reconnects).toBe(2);
    const settled = truth(s.sim);
    expect(settled).toEqual(before);
    s.sim.emit(400);
    await matches([worker], truth(s.sim));
  });

  it('one connection per key: two workers sharing a Polygon key knock each other off, slowed by the floor', async () => {
    const s = await setup(polygon, { connectionsPerKey: 1 });
    const a = await startWorker(polygon, s, 'wa', { connectionLimitBackoffMs: 400 });
    const b = await startWorker(polygon, s, 'wb', { connectionLimitBackoffMs: 400 });
    await sleep(1_500);
    // Stop the loop (the relay's job in production), then count: every refusal reached a worker.
    await b.worker.close();
    await until(() => a.worker.feed.status === 'ready', 'a alone to connect', 2_000);
    await feedSettled(s.sim, a.worker);
    const limits = a.worker.feed.stats.connectionLimits + b.worker.feed.stats.connectionLimits;
    // Each eviction costs the evicted worker at least 400 ms: a handful, not a storm.
    expect(limits).toBeGreaterThanOrEqual(2);
    expect(limits).toBeLessThanOrEqual(1_500 / 400 + 3);
    expect(s.sim.stats().faults.connectionLimits).toBe(limits);
  });

  it('correction and cancel (Alpaca): the worker amends its aggregates to the truth', async () => {
    const s = await setup(alpaca);
    const { worker } = await startWorker(alpaca, s);
    await feedSettled(s.sim, worker);
    s.sim.emit(800);
    await matches([worker], truth(s.sim));
    expect(s.sim.fault('correction', 6)).toBe(6);
    expect(s.sim.fault('cancel', 5)).toBe(5);
    await matches([worker], truth(s.sim));
    let cancels = 0;
    let corrections = 0;
    for (const symbol of worker.owned.names()) {
      const counters = worker.owned.get(symbol)?.aggregate.snapshot().counters;
      cancels += counters?.cancels ?? 0;
      corrections += counters?.corrections ?? 0;
      expect(counters?.unmatchedCancels, symbol).toBe(0);
    }
    expect({ cancels, corrections }).toEqual({ cancels: 11, corrections: 6 });
  });
});
