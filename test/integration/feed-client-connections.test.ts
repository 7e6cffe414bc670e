/**
 * The feed client over several provider connections, against the simulator speaking Binance (which
 * refuses a 1,025th stream on one connection, as Binance does): symbols spread by the cap, every
 * trade received once, connections closed as the set shrinks without a kept symbol ever leaving the
 * feed, a dropped connection resubscribing only its own symbols, and one connection for providers
 * without a cap. Past the first test the cap is lowered to 10 symbols per connection to stay fast.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FeedAdapter } from '../../feeds/adapter.js';
import { binance } from '../../feeds/binance.js';
import { polygon } from '../../feeds/polygon.js';
import { subscribePacingMs } from '../../src/ingest/connection-plan.js';
import type { FeedClient, FeedClientOptions } from '../../src/ingest/feed-client.js';
import { startSimulator, type RunningSimulator, type SimulatorInput } from '../../src/sim/simulator.js';
import type { SimConnectionStats } from '../../src/sim/sim-stats.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { feedClient, sleep, subscribedExactly, until, type Harness } from './feed-harness.js';

const sims: RunningSimulator[] = [];
const clients: FeedClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(sims.splice(0).map((sim) => sim.close()));
});

async function simFor(
  adapter: FeedAdapter,
  symbols: readonly string[],
  options: Partial<SimulatorInput> = {},
): Promise<RunningSimulator> {
  // Uniform rates, so that every symbol trades in a short test.
  const sim = await startSimulator({
    protocol: adapter,
    symbols,
    paused: true,
    seed: 11,
    skew: 0,
    ...options,
  });
  sims.push(sim);
  return sim;
}

function client(
  adapter: FeedAdapter,
  sim: RunningSimulator,
  options: Partial<FeedClientOptions> = {},
): Harness {
  const h = feedClient(adapter, sim.wsUrl, { backoff: { baseMs: 20, maxMs: 50 }, ...options });
  clients.push(h.client);
  return h;
}

/** The harness's connections as the simulator sees them, oldest first. */
function connections(sim: RunningSimulator): SimConnectionStats[] {
  return sim
    .stats()
    .connections.filter((c) => c.userAgent.endsWith('feed-harness'))
    .sort((a, b) => a.id - b.id);
}

function subscribedAnywhere(sim: RunningSimulator): Set<string> {
  return new Set(connections(sim).flatMap((c) => c.subscriptions));
}

async function allConfirmed(h: Harness, symbols: readonly string[], timeoutMs = 10_000): Promise<void> {
  await until(
    () => symbols.every((symbol) => h.client.isConfirmed(symbol)),
    'every subscription confirmed',
    timeoutMs,
    () => symbols.filter((symbol) => !h.client.isConfirmed(symbol)).length,
  );
}

/** Symbols whose received trades are not exactly the simulator's ids 1..lastId, once each, in order. */
function inexact(h: Harness, sim: RunningSimulator, symbols: readonly string[]): string[] {
  const seqs = new Map<string, number[]>();
  for (const trade of h.trades) {
    const list = seqs.get(trade.symbol) ?? [];
    list.push(trade.seq ?? -1);
    seqs.set(trade.symbol, list);
  }
  const truth = sim.stats().symbols;
  return symbols.filter((symbol) => {
    const got = seqs.get(symbol) ?? [];
    const last = Number(truth[symbol]?.lastId || 0);
    return got.length !== last || got.some((seq, i) => seq !== i + 1);
  });
}

describe('feed client: Binance symbols over several connections', () => {
  it('spreads 2,500 symbols over 3 connections of at most 1,024 and receives every trade of each', async () => {
    const symbols = generateSymbols(2_500, binance.server.market);
    const sim = await simFor(binance, symbols);
    const h = client(binance, sim);
    h.client.setSymbols(symbols);
    h.client.start();
    await allConfirmed(h, symbols);
    const open = connections(sim);
    expect(open.map((c) => c.subscriptions.length).sort()).toEqual([1_024, 1_024, 452].sort());
    expect(subscribedAnywhere(sim).size).toBe(2_500);
    expect(h.client.stats.connections).toBe(3);
    expect(h.client.status).toBe('ready');
    expect(h.client.subscriptions()).toHaveLength(2_500);
    sim.emit(25_000);
    await until(
      () => h.trades.length >= 25_000,
      'every trade',
      20_000,
      () => h.trades.length,
    );
    expect(inexact(h, sim, symbols)).toEqual([]);
    expect(h.client.stats.gaps).toBe(0);
    // The logs say how many connections there are, and which one each line is about.
    const connected = h.lines.filter((l) => l['msg'] === 'feed connected').map((l) => l['connection']);
    expect(connected.sort()).toEqual([0, 1, 2]);
    expect(h.lines.some((l) => l['msg'] === 'feed connections changed' && l['connections'] === 3)).toBe(true);
  });

  it('sends subscribe frames on each connection in parallel, within subscribePacingMs', async () => {
    const symbols = generateSymbols(4_500, binance.server.market);
    const sim = await simFor(binance, symbols);
    const h = client(binance, sim, { consolidateAfterMs: 60_000 });
    // Three open connections keeping one symbol each, so that what follows is subscribes only.
    const first = symbols.slice(0, 2_049);
    h.client.setSymbols(first);
    h.client.start();
    await allConfirmed(h, first);
    const keep = connections(sim).map((c) => c.subscriptions[0] ?? '');
    h.client.setSymbols(keep);
    await until(
      () => connections(sim).every((c) => c.subscriptions.length === 1),
      'the unsubscribes to leave',
      5_000,
    );
    // Past the last unsubscribe's interval, so the first subscribe frame goes at once.
    await sleep(300);
    // 2,400 new symbols: 1,023, 1,023 and 354 on the three connections, each sending its frames at
    // 4 a second in parallel with the others.
    const added = symbols.slice(2_100);
    const started = performance.now();
    h.client.setSymbols([...keep, ...added]);
    await until(() => subscribedAnywhere(sim).size === 2_403, 'the subscriptions to arrive', 5_000);
    const tookMs = performance.now() - started;
    expect(connections(sim)).toHaveLength(3);
    expect(h.client.stats.connections).toBe(3);
    const bound = subscribePacingMs(added.length, binance.limits.symbolsPerConnection, binance.limits);
    // The busiest connection's 6 frames (the last leaves 5 intervals after the first; the bound
    // allows one more for a pacer still busy with earlier frames); one connection would take 12.
    expect(bound).toBe(1_500);
    // In parallel, not one connection after another (12 frames: 2,750 ms). Halfway between the two
    // leaves a loaded machine its scheduling delays without letting a serial sender pass.
    expect(tookMs).toBeLessThan((bound + 11 * 250) / 2);
    // The frames were paced, not sent at once.
    expect(tookMs).toBeGreaterThanOrEqual(5 * 250 - 10);
  });

  it('closes a connection its symbols all left, at once, touching no other', async () => {
    const symbols = generateSymbols(30, binance.server.market);
    const sim = await simFor(binance, symbols);
    const h = client(binance, sim, { symbolsPerConnection: 10, consolidateAfterMs: 100 });
    h.client.setSymbols(symbols);
    h.client.start();
    await allConfirmed(h, symbols);
    const [first, second, third] = connections(sim);
    expect(third?.subscriptions).toHaveLength(10);
    const gone = new Set(second?.subscriptions);
    h.client.setSymbols(symbols.filter((symbol) => !gone.has(symbol)));
    await until(() => connections(sim).length === 2, 'the emptied connection closed');
    await sleep(300); // past consolidateAfterMs: two full connections need no move
    expect(connections(sim)).toEqual([first, third]);
    expect(h.client.stats.connections).toBe(2);
    expect(h.client.stats.symbolsMoved).toBe(0);
    expect(h.client.stats.connects).toBe(3);
  });

  it('drains a connection make before break when the set shrinks evenly: no kept symbol misses a trade', async () => {
    const symbols = generateSymbols(30, binance.server.market);
    const sim = await simFor(binance, symbols);
    const h = client(binance, sim, { symbolsPerConnection: 10, consolidateAfterMs: 200 });
    h.client.setSymbols(symbols);
    h.client.start();
    await allConfirmed(h, symbols);
    expect(connections(sim)).toHaveLength(3);
    // Half of each connection's symbols leave: 15 fit two connections, the third must be drained.
    const kept = connections(sim).flatMap((c) => [...c.subscriptions].sort().slice(0, 5));
    h.client.setSymbols(kept);
    // Trades flow all along, and every kept symbol stays subscribed somewhere at every look.
    const missing = new Set<string>();
    const flowing = { on: true };
    const flow = (async () => {
      while (flowing.on) {
        sim.emit(40);
        for (const symbol of kept) if (!subscribedAnywhere(sim).has(symbol)) missing.add(symbol);
        await sleep(5);
      }
    })();
    await until(
      () =>
        h.client.stats.connections === 2 &&
        connections(sim).length === 2 &&
        h.client.stats.symbolsMoved === 5,
      'the drained connection closed',
      8_000,
      () => [h.client.stats.connections, h.client.stats.symbolsMoved],
    );
    await sleep(200);
    flowing.on = false;
    await flow;
    expect(missing).toEqual(new Set());
    await until(
      () => inexact(h, sim, kept).length === 0,
      'every trade of the kept symbols',
      3_000,
      () => inexact(h, sim, kept),
    );
    expect(subscribedAnywhere(sim)).toEqual(new Set(kept));
    expect(
      connections(sim)
        .map((c) => c.subscriptions.length)
        .sort(),
    ).toEqual([10, 5].sort());
    expect(h.client.stats.gaps).toBe(0);
    expect(
      h.lines.some((l) => l['msg'] === 'moving symbols to close feed connections no longer needed'),
    ).toBe(true);
  });

  it('reconnects only the connection that dropped, with exactly its symbols', async () => {
    const symbols = generateSymbols(30, binance.server.market);
    const sim = await simFor(binance, symbols);
    const h = client(binance, sim, { symbolsPerConnection: 10 });
    h.client.setSymbols(symbols);
    h.client.start();
    await allConfirmed(h, symbols);
    const [first, second, third] = connections(sim);
    const disconnects: (readonly string[])[] = [];
    h.client.on('disconnected', (_reason, symbols) => disconnects.push(symbols));
    expect(sim.dropConnections([second?.id ?? -1])).toBe(1);
    await until(() => connections(sim).length === 3 && h.client.status === 'ready', 'the reconnect');
    await allConfirmed(h, symbols);
    const [a, b, c] = connections(sim);
    expect([a?.id, b?.id]).toEqual([first?.id, third?.id]);
    expect(c?.subscriptions.sort()).toEqual(second?.subscriptions.sort());
    expect(h.client.stats.reconnects).toBe(1);
    // It names the symbols whose subscription the drop interrupted: that connection's, no others.
    expect(disconnects.map((symbols) => [...symbols].sort())).toEqual([second?.subscriptions.sort()]);
    // Trades of every symbol flow again.
    sim.emit(3_000);
    await until(() => inexact(h, sim, symbols).length === 0, 'every trade after the reconnect', 5_000);
  });

  it('stays ready while new connections open for new symbols, taking turns at the connect gate', async () => {
    const symbols = generateSymbols(80, binance.server.market);
    const sim = await simFor(binance, symbols);
    const h = client(binance, sim, { symbolsPerConnection: 10 });
    h.client.setSymbols(symbols.slice(0, 10));
    h.client.start();
    await allConfirmed(h, symbols.slice(0, 10));
    const disconnects: string[] = [];
    h.client.on('disconnected', (reason) => disconnects.push(reason));
    // Seven more connections: past the gate's burst of five, the last ones wait a second each
    // (Binance: 300 attempts per 5 minutes), so the new symbols take seconds to be subscribed.
    const started = Date.now();
    h.client.setSymbols(symbols);
    const seen = new Set<string>();
    while (!symbols.every((symbol) => h.client.isConfirmed(symbol))) {
      seen.add(h.client.status);
      expect(Date.now() - started).toBeLessThan(10_000);
      await sleep(5);
    }
    expect(Date.now() - started).toBeGreaterThan(1_500);
    expect(connections(sim)).toHaveLength(8);
    // Nothing that was subscribed was interrupted: the feed never read as anything but ready.
    expect([...seen]).toEqual(['ready']);
    expect(disconnects).toEqual([]);
  });

  it('is not ready once a new connection fails to connect', async () => {
    const symbols = generateSymbols(20, binance.server.market);
    const sim = await simFor(binance, symbols);
    // The second attempt goes to a port nobody listens on: the new connection's first attempt
    // fails, and its symbols cannot be subscribed until it connects. The retry is held until the
    // test has seen the client not ready: the backoff alone (full jitter, 0-300 ms) can be too short
    // for a poll to see.
    let attempts = 0;
    let releaseRetry = (): void => undefined;
    const retryHeld = new Promise<void>((resolve) => (releaseRetry = resolve));
    const h = client(binance, sim, {
      symbolsPerConnection: 10,
      backoff: { baseMs: 300, maxMs: 300 },
      resolveUrl: async () => {
        attempts++;
        if (attempts === 2) return 'ws://127.0.0.1:1/ws';
        if (attempts === 3) await retryHeld;
        return sim.wsUrl;
      },
    });
    h.client.setSymbols(symbols.slice(0, 10));
    h.client.start();
    await allConfirmed(h, symbols.slice(0, 10));
    h.client.setSymbols(symbols);
    await until(() => attempts === 3, 'the retry after the failed attempt');
    expect(['backoff', 'connecting']).toContain(h.client.status);
    releaseRetry();
    await allConfirmed(h, symbols);
    expect(h.client.status).toBe('ready');
    expect(attempts).toBe(3);
  });

  it('refuses more symbols per connection than the provider allows', () => {
    const h = (): Harness => feedClient(binance, 'ws://127.0.0.1:1/ws', { symbolsPerConnection: 1_025 });
    expect(h).toThrow(RangeError);
  });
});

describe('feed client: providers without a cap', () => {
  it('Polygon: 3,000 symbols on one connection, as always', async () => {
    const symbols = generateSymbols(3_000);
    const sim = await simFor(polygon, symbols);
    const h = client(polygon, sim);
    h.client.setSymbols(symbols);
    h.client.start();
    await subscribedExactly(sim, symbols, 'feed-harness', 10_000);
    expect(h.client.stats.connections).toBe(1);
    expect(h.lines.some((l) => l['connection'] !== undefined)).toBe(false);
    h.client.setSymbols(symbols.slice(0, 10));
    await subscribedExactly(sim, symbols.slice(0, 10));
    expect(h.client.stats.connects).toBe(1);
  });
});
