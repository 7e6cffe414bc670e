/**
 * The feed client against the simulator's faults: silence, drops mid-stream, connection limits, gaps
 * and lag. Timings are short so that each bound is checked, not just eventually met.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { FeedAdapter } from '../../feeds/adapter.js';
import { binance } from '../../feeds/binance.js';
import { coinbase } from '../../feeds/coinbase.js';
import { polygon } from '../../feeds/polygon.js';
import type { FeedClient, FeedClientOptions } from '../../src/ingest/feed-client.js';
import { startSimulator, type RunningSimulator, type SimulatorInput } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { feedClient, sleep, subscribedExactly, until, type Harness } from './feed-harness.js';

const sims: RunningSimulator[] = [];
const clients: FeedClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(sims.splice(0).map((sim) => sim.close()));
});

/** Blocks this process for `ms`: nothing runs, nothing is read from a socket. */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

async function simFor(
  adapter: FeedAdapter,
  options: Partial<SimulatorInput> = {},
): Promise<RunningSimulator> {
  const sim = await startSimulator({
    protocol: adapter,
    symbols: generateSymbols(10, adapter.server.market),
    paused: true,
    seed: 5,
    ...options,
  });
  sims.push(sim);
  return sim;
}

async function started(
  adapter: FeedAdapter,
  sim: RunningSimulator,
  symbols: readonly string[],
  options: Partial<FeedClientOptions> = {},
): Promise<Harness> {
  const h = feedClient(adapter, sim.wsUrl, options);
  clients.push(h.client);
  h.client.setSymbols(symbols);
  h.client.start();
  await subscribedExactly(sim, symbols);
  return h;
}

describe('feed client: silence', () => {
  it('replaces a connection that is open but silent within silenceMs plus one watchdog period', async () => {
    const silenceMs = 600;
    const period = silenceMs / 3;
    const sim = await simFor(polygon);
    const symbols = ['AAPL', 'MSFT'];
    const h = await started(polygon, sim, symbols, { silenceMs, backoff: { baseMs: 1, maxMs: 1 } });
    const silencedAt = Date.now();
    sim.fault('silent');
    await until(() => h.readyAt.length === 2, 'a second connection', 3_000);
    const replacedAfter = (h.readyAt[1] ?? 0) - silencedAt;
    // Detection within silenceMs + one period; the rest is the reconnect and handshake on loopback.
    expect(replacedAfter).toBeGreaterThanOrEqual(silenceMs);
    expect(replacedAfter).toBeLessThan(silenceMs + period + 150);
    expect(h.client.stats.silenceDrops).toBe(1);
    // The new connection carries exactly the same symbols, and trades again.
    await subscribedExactly(sim, symbols);
    expect(sim.stats().connections.filter((c) => !c.silenced)).toHaveLength(1);
    const before = h.trades.length;
    sim.emit(300);
    const expected = (sim.stats().symbols['AAPL']?.trades ?? 0) + (sim.stats().symbols['MSFT']?.trades ?? 0);
    expect(expected).toBeGreaterThan(0);
    await until(() => h.trades.length > before, 'trades on the new connection');
    expect(
      h.lines.some((l) => l['msg'] === 'feed disconnected' && String(l['reason']).startsWith('silent')),
    ).toBe(true);
  });

  it("does not take its own stall for the provider's silence: what arrived meanwhile is read, not dropped", async () => {
    const silenceMs = 300;
    const sim = await simFor(binance);
    const symbols = Object.keys(sim.stats().symbols);
    const h = await started(binance, sim, symbols, { silenceMs });
    await until(() => symbols.every((symbol) => h.client.isConfirmed(symbol)), 'subscriptions confirmed');
    // The trades are in the socket; then this process does not run for twice silenceMs, as under
    // a starved CPU or a long task. Timers run before the loop reads sockets: the watchdog looks
    // first, and the trades are still unread.
    sim.emit(500);
    stall(2 * silenceMs);
    await until(
      () => h.trades.length === 500,
      'every trade read',
      2_000,
      () => h.trades.length,
    );
    // A quiet connection too: its pongs wait in the socket the same way.
    stall(2 * silenceMs);
    await sleep(silenceMs);
    expect(h.client.stats.silenceDrops).toBe(0);
    expect(h.client.stats.connects).toBe(1);
  });

  it('keeps a connection whose symbols are quiet: pongs prove it alive', async () => {
    const sim = await simFor(polygon);
    const h = await started(polygon, sim, ['SYM00010'], { silenceMs: 300 });
    await sleep(1_200); // four times silenceMs without a single trade
    expect(h.client.stats.connects).toBe(1);
    expect(h.client.stats.silenceDrops).toBe(0);
    expect(h.client.status).toBe('ready');
  });
});

describe('feed client: reconnect', () => {
  it('resubscribes exactly the symbols wanted at the moment of reconnecting, after a drop mid-stream', async () => {
    const sim = await simFor(polygon, { rate: 2_000, paused: false });
    const first = ['AAPL', 'MSFT', 'NVDA'];
    const h = await started(polygon, sim, first, { backoff: { baseMs: 100, maxMs: 100 } });
    await until(() => h.trades.length > 50, 'trades flowing');
    // Ownership changes while the connection is down: the new set is what must come back.
    const second = ['MSFT', 'GOOGL', 'META', 'TSLA'];
    h.client.once('disconnected', () => h.client.setSymbols(second));
    expect(sim.dropConnections()).toBe(1);
    await until(() => h.readyAt.length === 2, 'the reconnect');
    await subscribedExactly(sim, second);
    const sentAfter = h.trades.length;
    await until(() => h.trades.length > sentAfter + 50, 'trades flowing again');
    const late = h.trades.slice(sentAfter + 10);
    expect(new Set(late.map((t) => t.symbol)).size).toBeGreaterThan(1);
    expect(late.every((t) => second.includes(t.symbol))).toBe(true);
    expect(h.client.stats.reconnects).toBe(1);
    expect(h.client.subscriptions()).toEqual([...second].sort());
  });

  it('backs off exponentially with jitter while the feed is gone, and recovers when it returns', async () => {
    const sim = await simFor(polygon);
    const port = sim.port;
    const h = await started(polygon, sim, ['AAPL'], { backoff: { baseMs: 50, maxMs: 400 } });
    await sim.close();
    sims.length = 0;
    await sleep(1_500);
    // Ceilings 50, 100, 200, 400, 400...: far fewer attempts than a reconnect storm would make.
    const attempts = h.client.stats.reconnects;
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(attempts).toBeLessThan(25);
    const again = await simFor(polygon, { port });
    await subscribedExactly(again, ['AAPL'], 'feed-harness', 3_000);
    expect(h.client.status).toBe('ready');
  });
});

describe('feed client: connection limit', () => {
  it('waits at least connectionLimitBackoffMs after an in-band "connection limit" (Polygon)', async () => {
    const floor = 700;
    const sim = await simFor(polygon);
    const h = await started(polygon, sim, ['AAPL'], {
      connectionLimitBackoffMs: floor,
      backoff: { baseMs: 1, maxMs: 1 },
    });
    const at = Date.now();
    sim.fault('connection-limit');
    await until(() => h.readyAt.length === 2, 'the reconnect', 3_000);
    expect((h.readyAt[1] ?? 0) - at).toBeGreaterThanOrEqual(floor);
    expect(h.client.stats.connectionLimits).toBe(1);
    expect(h.client.stats.disconnects['connection-limit']).toBe(1);
    await subscribedExactly(sim, ['AAPL']);
  });

  it('waits the floor again for each refused upgrade (HTTP 429, Binance)', async () => {
    const floor = 400;
    const sim = await simFor(binance);
    const h = await started(binance, sim, ['BTCUSDT'], {
      connectionLimitBackoffMs: floor,
      backoff: { baseMs: 1, maxMs: 1 },
    });
    const at = Date.now();
    sim.fault('connection-limit', 2); // close the open one, then refuse two attempts
    await until(() => h.readyAt.length === 2, 'the reconnect', 4_000);
    // Closed with the reason, then two 429s: three floors before the connection that works.
    expect((h.readyAt[1] ?? 0) - at).toBeGreaterThanOrEqual(3 * floor);
    expect(h.client.stats.connectionLimits).toBe(3);
    expect(h.client.stats.reconnects).toBe(3);
    await subscribedExactly(sim, ['BTCUSDT']);
  });
});

/** Per symbol, the last id the simulator handed out. */
function lastIds(sim: RunningSimulator): Map<string, number> {
  return new Map(Object.entries(sim.stats().symbols).map(([symbol, s]) => [symbol, Number(s.lastId || 0)]));
}

describe('feed client: gaps', () => {
  it('Binance: counts the trades missed while disconnected, once later trades show the jump', async () => {
    const sim = await simFor(binance);
    const symbols = Object.keys(sim.stats().symbols);
    const h = await started(binance, sim, symbols, { backoff: { baseMs: 50, maxMs: 50 } });
    sim.emit(300);
    await until(() => h.trades.length >= 300, 'the first batch');
    const before = lastIds(sim);
    sim.dropConnections();
    sim.emit(200); // nobody hears these
    const during = lastIds(sim);
    await until(() => h.readyAt.length === 2, 'the reconnect');
    await subscribedExactly(sim, symbols);
    sim.emit(300);
    const after = lastIds(sim);
    await until(() => h.trades.length >= 600, 'the last batch');
    let gaps = 0;
    let missed = 0;
    for (const symbol of symbols) {
      const [b, d, a] = [before.get(symbol) ?? 0, during.get(symbol) ?? 0, after.get(symbol) ?? 0];
      if (b > 0 && d > b && a > d) {
        gaps++;
        missed += d - b;
      }
    }
    expect(gaps).toBeGreaterThan(0);
    expect(h.client.stats.gaps).toBe(gaps);
    expect(h.client.stats.missedTrades).toBe(missed);
    expect(h.lines.some((l) => l['msg'] === 'feed skipped trades: gap in trade numbers')).toBe(true);
  });

  it('Coinbase: the last_match replay after resubscribing shows the gap at once, and is itself delivered', async () => {
    const sim = await simFor(coinbase);
    const symbols = Object.keys(sim.stats().symbols);
    const h = await started(coinbase, sim, symbols, { backoff: { baseMs: 50, maxMs: 50 } });
    sim.emit(300);
    await until(() => h.trades.length >= 300, 'the first batch');
    const before = lastIds(sim);
    sim.dropConnections();
    sim.emit(200);
    const during = lastIds(sim);
    const replays = symbols.filter((s) => (during.get(s) ?? 0) > 0).length;
    await until(() => h.trades.length >= 300 + replays, 'the last_match replays');
    let gaps = 0;
    let missed = 0;
    for (const symbol of symbols) {
      const [b, d] = [before.get(symbol) ?? 0, during.get(symbol) ?? 0];
      if (b > 0 && d > b + 1) {
        gaps++;
        missed += d - b - 1;
      }
    }
    expect(gaps).toBeGreaterThan(0);
    expect(h.client.stats.gaps).toBe(gaps);
    expect(h.client.stats.missedTrades).toBe(missed);
  });

  it('forgets a symbol let go, so taking it back later is not a gap', async () => {
    const sim = await simFor(binance);
    const h = await started(binance, sim, ['BTCUSDT', 'ETHUSDT']);
    sim.emit(200);
    await until(() => h.trades.length > 0, 'trades');
    h.client.setSymbols(['ETHUSDT']);
    await subscribedExactly(sim, ['ETHUSDT']);
    sim.emit(200);
    h.client.setSymbols(['BTCUSDT', 'ETHUSDT']);
    await subscribedExactly(sim, ['BTCUSDT', 'ETHUSDT']);
    const count = h.trades.length;
    sim.emit(200);
    await until(
      () => h.trades.filter((t) => t.symbol === 'BTCUSDT').length > 0 && h.trades.length > count,
      'more',
    );
    await sleep(50);
    expect(h.client.stats.gaps).toBe(0);
  });
});

describe('feed client: decode lag', () => {
  it('samples arrival minus trade time, cheaply, and keeps the recent peak', async () => {
    const sim = await simFor(polygon);
    const h = await started(polygon, sim, generateSymbols(10));
    sim.emit(2_000);
    await until(() => h.trades.length >= 2_000, '2000 trades');
    expect(h.client.stats.lagMs).toBeGreaterThanOrEqual(0);
    expect(h.client.stats.lagMs).toBeLessThan(2_000);
    expect(h.client.stats.lagPeakMs).toBeGreaterThanOrEqual(h.client.stats.lagMs);
  });
});

describe('feed client: confirmations', () => {
  it('does not take a late answer to an earlier subscribe as confirming a symbol subscribed again', async () => {
    // A Binance-speaking server that answers the first subscribe, and every ping, 150 ms late.
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, autoPong: false });
    await new Promise<void>((resolve) => server.once('listening', resolve));
    try {
      server.on('connection', (socket) => {
        socket.on('ping', (data: Buffer) => setTimeout(() => socket.pong(data), 150));
        socket.on('message', (raw: Buffer) => {
          const { id } = JSON.parse(raw.toString()) as { id: number };
          const reply = JSON.stringify({ result: null, id });
          setTimeout(() => socket.send(reply), id === 1 ? 150 : 0);
        });
      });
      const h = feedClient(binance, `ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
      clients.push(h.client);
      h.client.start();
      await until(() => h.readyAt.length > 0, 'ready', 5_000);
      h.client.setSymbols(['BTCUSDT']); // subscribe #1, sent at once
      await sleep(10);
      h.client.setSymbols([]); // unsubscribe, paced: Binance takes 4 frames a second
      h.client.setSymbols(['BTCUSDT']); // subscribe #3, after it
      // The answer and the pong for #1 arrive before the server has taken #3.
      await sleep(300);
      expect(h.client.isConfirmed('BTCUSDT')).toBe(false);
      await until(() => h.client.isConfirmed('BTCUSDT'), 'the newest subscribe confirmed', 5_000);
    } finally {
      for (const socket of server.clients) socket.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
