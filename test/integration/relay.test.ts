/**
 * The relay in process, against real Redis, the real simulator (Polygon, one connection per key) and
 * real feed clients speaking the relay protocol:
 * - the fenced lease: one holder, tokens rising with each change of holder, a standby taking over
 *   when the holder stops, and a holder cut off from Redis stepping down before anyone else can
 *   take the lease;
 * - the protocol: version check, each worker gets exactly its own symbols' trades, the relay
 *   subscribes upstream to the union and unsubscribes what nobody wants;
 * - back-pressure: a worker that stops reading is disconnected and counted, the others get everything;
 * - a failover behind Binance: the worker follows the lease to the new relay and counts exactly the
 *   trades sent while no relay was connected, from Binance's trade numbers.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { FeedAdapter } from '../../feeds/adapter.js';
import { binance } from '../../feeds/binance.js';
import { polygon } from '../../feeds/polygon.js';
import { relayAdapter, RELAY_PATH } from '../../feeds/relay.js';
import type { Trade } from '../../feeds/trade.js';
import type { FeedClient } from '../../src/ingest/feed-client.js';
import { relayKeys } from '../../src/redis/keys.js';
import { RelayLease, readActiveRelay, type Acquired } from '../../src/relay/relay-lease.js';
import { keyFingerprint, Relay, type RelayOptions } from '../../src/relay/relay.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { testCluster, testRedis, type TestCluster } from '../support/redis.js';
import { feedClient, sleep, until } from './feed-harness.js';
import { text } from './sim-client.js';

const silent = pino({ level: 'silent' });
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function cluster(label: string): Promise<TestCluster> {
  const env = await testCluster(label);
  cleanups.push(() => env.cleanup());
  return env;
}

interface RunningRelay {
  readonly relay: Relay;
  readonly url: string;
  readonly httpUrl: string;
  close(): Promise<void>;
}

async function startRelay(
  env: TestCluster,
  sim: RunningSimulator,
  id: string,
  options: Partial<RelayOptions> = {},
  upstream: FeedAdapter = polygon,
): Promise<RunningRelay> {
  const redis = testRedis();
  const leaseRedis = testRedis();
  const relay = new Relay(
    { redis, leaseRedis, keys: env.keys, logger: silent },
    {
      id,
      upstream,
      upstreamUrl: sim.wsUrl,
      credentials: { key: 'test-key', secret: '' },
      address: '',
      leaseMs: 900,
      renewMs: 300,
      replayMs: 2_000,
      feedClient: { backoff: { baseMs: 20, maxMs: 200 }, connectionLimitBackoffMs: 500 },
      ...options,
    },
  );
  const server: Server = createServer((req, res) => relay.handleRequest(req, res));
  server.on('upgrade', (req, socket, head: Buffer) => relay.handleUpgrade(req, socket, head));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `ws://127.0.0.1:${port}${RELAY_PATH}`;
  relay.start(url);
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await relay.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    redis.disconnect();
    leaseRedis.disconnect();
  };
  cleanups.push(close);
  return { relay, url, httpUrl: `http://127.0.0.1:${port}`, close };
}

async function simulator(symbols: readonly string[]): Promise<RunningSimulator> {
  const sim = await startSimulator({
    protocol: polygon,
    symbols,
    paused: true,
    seed: 11,
    connectionsPerKey: 1,
  });
  cleanups.push(() => sim.close());
  return sim;
}

function worker(url: string, name: string): { client: FeedClient; trades: Trade[] } {
  const h = feedClient(relayAdapter(polygon), url, {}, `tickring/test worker/${name}`);
  cleanups.push(() => h.client.close());
  return h;
}

function upstreamSubscriptions(sim: RunningSimulator): string[] {
  const connections = sim.stats().connections;
  if (connections.length !== 1) return [`${connections.length} connections`];
  return [...(connections[0]?.subscriptions ?? [])].sort();
}

describe('relay lease', () => {
  function lease(
    env: TestCluster,
    id: string,
    redis = testRedis(),
  ): { lease: RelayLease; acquired: Acquired[] } {
    const keys = relayKeys(env.keys, 'polygon', keyFingerprint('k'));
    const made = new RelayLease(
      redis,
      env.keys,
      keys,
      { id, address: `ws://${id}${RELAY_PATH}`, feed: 'polygon', leaseMs: 600, renewMs: 150 },
      silent,
    );
    const acquired: Acquired[] = [];
    made.on('acquired', (a) => acquired.push(a));
    cleanups.push(async () => {
      await made.close(false);
      redis.disconnect();
    });
    return { lease: made, acquired };
  }

  it('elects one holder; a standby takes over after the holder stops, with a higher token', async () => {
    const env = await cluster('relay-lease');
    const a = lease(env, 'a');
    a.lease.start();
    await until(() => a.lease.valid, 'a to hold the lease');
    const b = lease(env, 'b');
    b.lease.start();
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(b.lease.status).toBe('standby');
    expect(a.acquired).toEqual([{ token: 1, previousHeldAt: 0 }]);
    expect(await readActiveRelay(env.redis, env.keys)).toMatchObject({
      holder: 'a',
      token: 1,
      feed: 'polygon',
    });

    // Stops renewing without releasing, like a crash: b must wait for the lease to lapse.
    const stoppedAt = Date.now();
    await a.lease.close(false);
    await until(() => b.lease.valid, 'b to take over', 5_000);
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(300);
    expect(b.acquired[0]?.token).toBe(2);
    expect(b.acquired[0]?.previousHeldAt).toBeGreaterThan(0);
    expect(await readActiveRelay(env.redis, env.keys)).toMatchObject({ holder: 'b', token: 2 });

    // A graceful release hands over at once.
    const c = lease(env, 'c');
    c.lease.start();
    await b.lease.close(true);
    await until(() => c.lease.valid, 'c to take over', 2_000);
    expect(c.acquired[0]?.token).toBe(3);
  });

  it('a holder cut off from Redis steps down before a standby can acquire the lease', async () => {
    const env = await cluster('relay-fence');
    const redisA = testRedis();
    const a = lease(env, 'a', redisA);
    let lostAt = 0;
    a.lease.on('lost', () => {
      lostAt = performance.now();
    });
    a.lease.start();
    await until(() => a.lease.valid, 'a to hold the lease');
    const b = lease(env, 'b');
    let acquiredAt = 0;
    b.lease.on('acquired', () => {
      acquiredAt = performance.now();
    });
    b.lease.start();
    redisA.disconnect();
    await until(() => acquiredAt > 0, 'b to take over', 5_000);
    expect(lostAt).toBeGreaterThan(0);
    expect(lostAt).toBeLessThan(acquiredAt);
    expect(a.lease.valid).toBe(false);
  });
});

describe('relay protocol', () => {
  it('gives each worker exactly its symbols; upstream holds the union, incrementally', async () => {
    const env = await cluster('relay-fanout');
    const symbols = generateSymbols(16);
    const sim = await simulator(symbols);
    const relay = await startRelay(env, sim, 'r1');
    await until(() => relay.relay.ready, 'the relay to be active');
    const parts = [0, 1, 2, 3].map((i) => symbols.filter((_, index) => index % 4 === i));
    const workers = parts.map((part, i) => {
      const w = worker(relay.url, `w${i}`);
      w.client.setSymbols(part);
      w.client.start();
      return w;
    });
    await until(
      () => JSON.stringify(upstreamSubscriptions(sim)) === JSON.stringify([...symbols].sort()),
      'the union upstream',
      5_000,
      () => upstreamSubscriptions(sim),
    );
    await until(() => workers.every((w) => w.client.subscriptions().length === 4), 'workers subscribed');
    sim.emit(4_000);
    const truth = sim.stats().symbols;
    const expected = parts.map((part) => part.reduce((sum, s) => sum + (truth[s]?.trades ?? 0), 0));
    await until(
      () => workers.every((w, i) => w.trades.length >= (expected[i] ?? 0)),
      'every trade',
      10_000,
      () => workers.map((w) => w.trades.length),
    );
    workers.forEach((w, i) => {
      const mine = new Set(parts[i]);
      expect(w.trades.every((t) => mine.has(t.symbol))).toBe(true);
      for (const symbol of parts[i] ?? []) {
        const got = w.trades.filter((t) => t.symbol === symbol);
        expect(got.length, symbol).toBe(truth[symbol]?.trades);
        expect(
          got.reduce((sum, t) => sum + t.size, 0),
          symbol,
        ).toBe(truth[symbol]?.volume);
      }
    });
    expect(sim.stats().maxConnectionsPerKey).toBe(1);

    // A symbol nobody wants any more is unsubscribed upstream; one worker leaving drops its symbols.
    const first = parts[0] ?? [];
    workers[0]?.client.setSymbols(first.slice(1));
    workers[1]?.client.close();
    const left = symbols.filter((s) => s !== first[0] && !(parts[1] ?? []).includes(s)).sort();
    await until(
      () => JSON.stringify(upstreamSubscriptions(sim)) === JSON.stringify(left),
      'the smaller union upstream',
      5_000,
      () => upstreamSubscriptions(sim),
    );

    const metrics = await (await fetch(`${relay.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/tickring_relay_active 1/);
    expect(metrics).toMatch(/tickring_relay_trades_out_total 4000/);
    expect((await fetch(`${relay.httpUrl}/readyz`)).status).toBe(200);
  });

  it('refuses another protocol version; a standby refuses workers', async () => {
    const env = await cluster('relay-version');
    const sim = await simulator(generateSymbols(2));
    const active = await startRelay(env, sim, 'r1');
    await until(() => active.relay.ready, 'the relay to be active');
    const standby = await startRelay(env, sim, 'r2');
    expect((await fetch(`${standby.httpUrl}/readyz`)).status).toBe(503);
    const refused = await new Promise<string>((resolve) => {
      const ws = new WebSocket(standby.url);
      ws.on('error', (err) => resolve(err.message));
      ws.on('open', () => resolve('open'));
    });
    expect(refused).toMatch(/503/);

    const ws = new WebSocket(active.url);
    cleanups.push(() => ws.terminate());
    const frames: string[] = [];
    ws.on('message', (data) => frames.push(text(data)));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ op: 'hello', v: 2 }));
    const code = await new Promise<number>((resolve) => ws.once('close', resolve));
    expect(code).toBe(1002);
    expect(JSON.parse(frames[0] ?? '{}')).toMatchObject({
      t: 'hello',
      v: 1,
      feed: 'polygon',
      relay: 'r1',
      token: 1,
    });
  });

  it('disconnects a worker that stops reading, without holding up the others', async () => {
    const env = await cluster('relay-slow');
    const symbols = generateSymbols(4);
    const sim = await simulator(symbols);
    const relay = await startRelay(env, sim, 'r1', {
      // Room for a burst the fast worker drains between emits, none for one that never reads.
      hub: { highWaterBytes: 256 * 1024, maxQueuedTrades: 20_000 },
    });
    await until(() => relay.relay.ready, 'the relay to be active');
    const fast = worker(relay.url, 'fast');
    fast.client.setSymbols(symbols);
    fast.client.start();

    // A raw client that subscribes, then stops reading its socket.
    const slow = new WebSocket(relay.url);
    cleanups.push(() => slow.terminate());
    await new Promise((resolve) => slow.once('open', resolve));
    slow.send(JSON.stringify({ op: 'hello', v: 1 }));
    slow.send(JSON.stringify({ op: 'subscribe', s: symbols }));
    await until(() => fast.client.subscriptions().length === 4, 'the fast worker subscribed');
    await until(() => relay.relay.hub.workers === 2, 'two workers');
    await new Promise((resolve) => setTimeout(resolve, 100));
    slow.pause();

    let sent = 0;
    for (let i = 0; i < 200 && relay.relay.hub.stats.slowConsumerDrops === 0; i++) {
      // Everything runs in this process: let the fast worker catch up before the next burst.
      const target = sent + 2_000;
      sim.emit(2_000);
      sent = target;
      await until(() => fast.trades.length >= target, `${target} trades at the fast worker`, 20_000);
    }
    expect(relay.relay.hub.stats.slowConsumerDrops).toBe(1);
    await until(
      () => fast.trades.length >= sent,
      `${sent} trades at the fast worker`,
      20_000,
      () => fast.trades.length,
    );
    expect(fast.trades).toHaveLength(sent);
    expect(relay.relay.hub.workers).toBe(1);
  });

  it('across a failover (Binance ids): every trade a relay received arrives, the gap is counted exactly by trade numbers', async () => {
    const env = await cluster('relay-gap');
    const symbols = generateSymbols(6, binance.server.market);
    const sim = await startSimulator({ protocol: binance, symbols, paused: true, seed: 3 });
    cleanups.push(() => sim.close());
    const first = await startRelay(env, sim, 'r1', {}, binance);
    await until(() => first.relay.ready, 'r1 to be active');
    const second = await startRelay(env, sim, 'r2', {}, binance);
    const redis = testRedis();
    cleanups.push(() => redis.disconnect());
    // A worker's client: finds the active relay in Redis before every attempt.
    const h = feedClient(relayAdapter(binance), '', {
      resolveUrl: async () => {
        const active = await readActiveRelay(redis, env.keys);
        if (!active) throw new Error('no relay');
        return active.address;
      },
    });
    cleanups.push(() => h.client.close());
    h.client.setSymbols(symbols);
    h.client.start();
    await until(
      () => first.relay.hub.stats.workersConnected === 1 && h.client.subscriptions().length === 6,
      'subscribed',
    );
    await until(() => (sim.stats().connections[0]?.subscriptions.length ?? 0) === 6, 'upstream subscribed');
    sim.emit(500);
    await until(
      () => h.trades.length >= 500,
      '500 trades',
      5_000,
      () => h.trades.length,
    );

    await first.close();
    // What r1 subscribed upstream is saved for its successor (a graceful close writes it at once).
    const saved = relayKeys(env.keys, 'binance', keyFingerprint('test-key')).symbols;
    expect((await redis.smembers(saved)).sort()).toEqual([...symbols].sort());
    await until(() => sim.stats().connections.length === 0, 'r1 gone upstream');
    sim.emit(300); // nobody hears these
    await until(
      () => second.relay.ready && (sim.stats().connections[0]?.subscriptions.length ?? 0) === 6,
      'r2 subscribed',
      10_000,
    );
    sim.emit(200);
    const stats = sim.stats();
    expect(stats.totals.undelivered).toBe(300);
    const keys = (): Set<string> => new Set(h.trades.map((t) => binance.dedupKey(t) ?? ''));
    await until(
      () => keys().size >= 700,
      '700 distinct trades',
      10_000,
      () => keys().size,
    );
    expect(keys().size).toBe(700);
    // Every symbol that traded while no relay was connected shows a gap of exactly what it missed.
    const missedSymbols = Object.values(stats.symbols).filter((s) => s.undelivered > 0).length;
    expect(h.client.stats.missedTrades).toBe(300);
    expect(h.client.stats.gaps).toBe(missedSymbols);
    expect(h.client.stats.relayGaps).toBeGreaterThanOrEqual(1);
    expect(h.client.stats.relayGapSymbols).toBe(6);
    expect(stats.maxConnectionsPerKey).toBeLessThanOrEqual(1);
    expect(stats.maxOpenConnections).toBe(1);
  });

  /**
   * An active relay over a paused Binance simulator of 30 symbols, ten streams per upstream
   * connection (Binance allows 1,024: ten keep the tests small), so three connections.
   */
  async function cappedBinanceRelay(label: string, seed: number) {
    const env = await cluster(label);
    const symbols = generateSymbols(30, binance.server.market);
    const sim = await startSimulator({ protocol: binance, symbols, paused: true, seed, skew: 0 });
    cleanups.push(() => sim.close());
    const r = await startRelay(
      env,
      sim,
      'r1',
      { feedClient: { backoff: { baseMs: 20, maxMs: 200 }, symbolsPerConnection: 10 } },
      binance,
    );
    await until(() => r.relay.ready, 'r1 to be active');
    return { env, symbols, sim, r };
  }

  it('spreads a Binance upstream over as many connections as its symbols need, one worker stream per symbol', async () => {
    const { symbols, sim, r } = await cappedBinanceRelay('relay-conns', 4);
    const h = feedClient(relayAdapter(binance), r.url);
    cleanups.push(() => h.client.close());
    h.client.setSymbols(symbols);
    h.client.start();
    const upstream = (): number[] => sim.stats().connections.map((c) => c.subscriptions.length);
    await until(() => upstream().join() === '10,10,10' && r.relay.ready, 'three upstream connections');
    await until(() => symbols.every((symbol) => h.client.isConfirmed(symbol)), 'the worker subscribed');
    expect(r.relay.describe()['upstreamConnections']).toBe(3);
    sim.emit(1_000);
    await until(
      () => h.trades.length >= 1_000,
      '1000 trades',
      5_000,
      () => h.trades.length,
    );
    await sleep(50);
    expect(h.trades).toHaveLength(1_000);
    expect(h.client.stats.gaps).toBe(0);
    const metrics = await (await fetch(`${r.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^tickring_relay_upstream_connections 3$/m);
  });

  it('one upstream connection of several drops: the gap notice names only the symbols it carried', async () => {
    const { symbols, sim, r } = await cappedBinanceRelay('relay-conn-gap', 5);
    const all = feedClient(relayAdapter(binance), r.url, {}, 'tickring/test worker/all');
    cleanups.push(() => all.client.close());
    all.client.setSymbols(symbols);
    all.client.start();
    const upstream = (): { id: number; subscriptions: string[] }[] =>
      sim.stats().connections.map((c) => ({ id: c.id, subscriptions: [...c.subscriptions].sort() }));
    await until(
      () => upstream().length === 3 && upstream().every((c) => c.subscriptions.length === 10),
      '3 × 10',
    );
    await until(
      () => symbols.every((symbol) => all.client.isConfirmed(symbol)),
      'the first worker subscribed',
    );
    // A second worker subscribes exactly the symbols of an upstream connection that stays.
    const [kept, dropped] = upstream();
    if (kept === undefined || dropped === undefined) throw new Error('no upstream connections');
    const some = feedClient(relayAdapter(binance), r.url, {}, 'tickring/test worker/some');
    cleanups.push(() => some.client.close());
    some.client.setSymbols(kept.subscriptions);
    some.client.start();
    await until(
      () => kept.subscriptions.every((symbol) => some.client.isConfirmed(symbol)),
      'the second worker subscribed',
    );
    expect(sim.dropConnections([dropped.id])).toBe(1);
    const gaps = (h: typeof all): string[][] =>
      h.events.flatMap((e) => (e.type === 'gap' ? [[...e.symbols].sort()] : []));
    await until(
      () => gaps(all).length > 0,
      'the gap notice',
      5_000,
      () => upstream(),
    );
    expect(gaps(all)).toEqual([dropped.subscriptions]);
    expect(all.client.stats.relayGapSymbols).toBe(10);
    // The second worker's symbols were never interrupted: no notice for it.
    await sleep(100);
    expect(gaps(some)).toEqual([]);
    expect(r.relay.upstreamGaps).toBe(1);
    expect(r.relay.hub.stats.gapSymbols).toBe(10);
  });
});
