import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { polygon } from '../../feeds/polygon.js';
import { startSimulator, type RunningSimulator, type SimulatorInput } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { SimClient, text } from './sim-client.js';

const running: RunningSimulator[] = [];
const clients: SimClient[] = [];

async function sim(options: Partial<SimulatorInput> = {}): Promise<RunningSimulator> {
  const started = await startSimulator({
    protocol: polygon,
    symbols: generateSymbols(20),
    paused: true,
    ...options,
  });
  running.push(started);
  return started;
}

async function client(
  url: string,
  symbols: string[] = [],
  options: { key?: string; userAgent?: string } = {},
) {
  const c = await SimClient.ready(url, symbols, options);
  clients.push(c);
  return c;
}

/** Waits until the client has every trade the simulator says it sent it. */
async function settle(s: RunningSimulator, c: SimClient, index = 0): Promise<number> {
  const sent = s.stats().connections[index]?.tradesSent ?? -1;
  await c.waitFor(() => c.trades.length >= sent, `${sent} trades`);
  return sent;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(running.splice(0).map((s) => s.close()));
});

describe('simulator speaking Polygon', () => {
  it('serves the canonical path and refuses other upgrades with 404', async () => {
    const s = await sim();
    expect(s.wsUrl).toBe(`ws://127.0.0.1:${s.port}/stocks`);
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/crypto`);
    const outcome = await new Promise<string>((resolve) => {
      ws.once('error', (err) => {
        resolve(err.message);
      });
      ws.once('open', () => {
        resolve('opened');
      });
    });
    expect(outcome).toBe('Unexpected server response: 404');
    const res = await fetch(`http://127.0.0.1:${s.port}/stocks`);
    expect(res.status).toBe(426);
    expect(await res.json()).toMatchObject({ error: { code: 'upgrade_required' } });
  });

  it('does the handshake, acks each channel and sends only the subscribed symbols', async () => {
    const s = await sim();
    const c = await client(s.wsUrl, ['AAPL', 'MSFT'], { userAgent: 'tickring/0.1.0 worker/w1' });
    expect(c.events.map((e) => e.type)).toEqual(['hello', 'authenticated', 'subscribed', 'subscribed']);
    expect(c.events.slice(2)).toEqual([
      { type: 'subscribed', symbols: ['AAPL'] },
      { type: 'subscribed', symbols: ['MSFT'] },
    ]);

    s.emit(2_000);
    const sent = await settle(s, c);
    const stats = s.stats();
    const expected = (stats.symbols['AAPL']?.trades ?? 0) + (stats.symbols['MSFT']?.trades ?? 0);
    expect(sent).toBe(expected);
    expect(expected).toBeGreaterThan(0);
    expect(c.trades).toHaveLength(expected);
    expect(new Set(c.trades.map((t) => t.symbol))).toEqual(new Set(['AAPL', 'MSFT']));
    expect(c.rejects).toEqual([]);
    expect(stats.connections).toEqual([
      {
        id: 1,
        userAgent: 'tickring/0.1.0 worker/w1',
        authenticated: true,
        subscriptions: ['AAPL', 'MSFT'],
        tradesSent: expected,
        malformedSent: 0,
        silenced: false,
      },
    ]);

    // Per-symbol ids count up from 1 without gaps, and the last one is what stats report.
    const aaplIds = c.trades.filter((t) => t.symbol === 'AAPL').map((t) => Number(t.id));
    expect(aaplIds).toEqual(aaplIds.map((_, i) => i + 1));
    expect(String(aaplIds.at(-1))).toBe(stats.symbols['AAPL']?.lastId);
    // Volume in stats is the sum of the sizes the client saw.
    const msftVolume = c.trades.filter((t) => t.symbol === 'MSFT').reduce((sum, t) => sum + t.size, 0);
    expect(stats.symbols['MSFT']?.volume).toBe(msftVolume);
  });

  it('stops sending a symbol after unsubscribe', async () => {
    const s = await sim();
    const c = await client(s.wsUrl, ['AAPL', 'MSFT']);
    await c.unsubscribe(['MSFT']);
    expect(c.events.at(-1)).toEqual({ type: 'unsubscribed', symbols: ['MSFT'] });
    s.emit(1_000);
    await settle(s, c);
    expect(c.trades.length).toBe(s.stats().symbols['AAPL']?.trades);
    expect(c.trades.every((t) => t.symbol === 'AAPL')).toBe(true);
    expect(s.stats().connections[0]?.subscriptions).toEqual(['AAPL']);
  });

  it('sends every symbol to a T.* subscriber, in frames of at most maxTradesPerFrame', async () => {
    const s = await sim({ maxTradesPerFrame: 7 });
    const c = await client(s.wsUrl, ['*']);
    let frames = 0;
    let largest = 0;
    c.ws.on('message', (data) => {
      frames++;
      largest = Math.max(largest, (JSON.parse(text(data)) as unknown[]).length);
    });
    s.emit(100);
    await settle(s, c);
    expect(c.trades).toHaveLength(100);
    expect(c.trades.map((t) => t.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(frames).toBe(Math.ceil(100 / 7));
    expect(largest).toBe(7);
    expect(s.stats().connections[0]?.subscriptions).toEqual(['*']);
  });

  it('answers a wrong key with auth_failed and sends it nothing', async () => {
    const s = await sim({ key: 'right-key' });
    const bad = await client(s.wsUrl, [], { key: 'wrong-key' });
    expect(bad.events.map((e) => e.type)).toEqual(['hello', 'auth-failed']);
    bad.send(JSON.stringify({ action: 'subscribe', params: 'T.*' }));
    const good = await client(s.wsUrl, ['*'], { key: 'right-key' });
    s.emit(50);
    await settle(s, good, 1);
    expect(good.trades).toHaveLength(50);
    expect(bad.trades).toHaveLength(0);
    const [badStats] = s.stats().connections;
    expect(badStats).toMatchObject({ authenticated: false, subscriptions: [], tradesSent: 0 });
  });

  it('produces the same trades for the same seed and different ones for another seed', async () => {
    const sequence = async (seed: number) => {
      const s = await sim({ seed, symbols: generateSymbols(50) });
      const c = await client(s.wsUrl, ['*']);
      s.emit(500);
      await settle(s, c);
      return c.trades.map((t) => [
        t.symbol,
        t.price,
        t.size,
        t.id,
        t.exchange,
        t.conditions.join('+'),
        t.seq,
      ]);
    };
    const first = await sequence(42);
    const again = await sequence(42);
    const other = await sequence(43);
    expect(first).toHaveLength(500);
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
  });

  it('gives the top symbol far more than a uniform share under skew 1, and about a uniform share under skew 0', async () => {
    const trades = 20_000;
    const symbols = generateSymbols(100);
    const skewed = await sim({ symbols, skew: 1 });
    skewed.emit(trades);
    const uniformShare = trades / symbols.length;
    const skewedStats = skewed.stats();
    expect(skewedStats.totals.trades).toBe(trades);
    // Zipf(1) over 100 symbols gives rank 1 about 19% of trades, ~19x a uniform share.
    expect(skewedStats.symbols['AAPL']?.trades).toBeGreaterThan(10 * uniformShare);
    expect(skewedStats.symbols['AAPL']?.trades).toBeGreaterThan(
      skewedStats.symbols['MSFT']?.trades ?? Infinity,
    );

    const flat = await sim({ symbols, skew: 0 });
    flat.emit(trades);
    const counts = Object.values(flat.stats().symbols).map((v) => v.trades);
    expect(Math.max(...counts)).toBeLessThan(1.5 * uniformShare);
    expect(Math.min(...counts)).toBeGreaterThan(0.5 * uniformShare);
  });
});
