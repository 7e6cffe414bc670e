/**
 * The simulator speaks all five protocols: the real feed client of each adapter connects, handshakes,
 * subscribes and receives exactly the trades the simulator says it generated for those symbols, with
 * per-symbol ids 1, 2, 3... Crypto protocols trade crypto pairs in decimal sizes. Binance's streams in
 * the URL (raw and combined) and Coinbase's per-simulator `last_match` memory are checked on the wire.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { FeedAdapter } from '../../feeds/adapter.js';
import { binance } from '../../feeds/binance.js';
import { coinbase } from '../../feeds/coinbase.js';
import { FEEDS } from '../../feeds/index.js';
import type { Trade } from '../../feeds/trade.js';
import type { FeedClient } from '../../src/ingest/feed-client.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { feedClient, subscribedExactly, tally, until } from './feed-harness.js';
import { text } from './sim-client.js';

const sims: RunningSimulator[] = [];
const clients: FeedClient[] = [];
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const socket of sockets.splice(0)) socket.terminate();
  await Promise.all(sims.splice(0).map((sim) => sim.close()));
});

async function simFor(adapter: FeedAdapter, count = 12): Promise<RunningSimulator> {
  const sim = await startSimulator({
    protocol: adapter,
    symbols: generateSymbols(count, adapter.server.market),
    paused: true,
    seed: 7,
  });
  sims.push(sim);
  return sim;
}

/** Relative difference, for volumes of decimal sizes summed in another order. */
function relativeDiff(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(1, Math.abs(b));
}

for (const adapter of Object.values(FEEDS)) {
  describe(`simulator speaking ${adapter.name}`, () => {
    it('serves the real client: handshake, subscribe, exactly the truth for the subscribed symbols', async () => {
      const sim = await simFor(adapter);
      const symbols = generateSymbols(12, adapter.server.market);
      const wanted = symbols.slice(0, 6);
      const h = feedClient(adapter, sim.wsUrl);
      clients.push(h.client);
      h.client.setSymbols(wanted);
      h.client.start();
      await subscribedExactly(sim, wanted);

      sim.emit(3_000);
      const sent = sim.stats().connections[0]?.tradesSent ?? -1;
      await until(
        () => h.trades.length >= sent,
        `${sent} trades`,
        5_000,
        () => h.trades.length,
      );
      const stats = sim.stats({ ids: true });
      const got = tally(h.trades);
      for (const symbol of symbols) {
        const truth = stats.symbols[symbol];
        const mine = got.get(symbol);
        if (!wanted.includes(symbol)) {
          expect(mine, symbol).toBeUndefined();
          continue;
        }
        expect(truth?.trades, symbol).toBeGreaterThan(0);
        expect(mine?.trades, symbol).toBe(truth?.trades);
        expect(relativeDiff(mine?.volume ?? 0, truth?.volume ?? -1), symbol).toBeLessThan(1e-12);
        // Finnhub sends no ids: the count and volume are all it can be held to.
        if (!adapter.hasTradeIds) continue;
        const ids = h.trades.filter((t) => t.symbol === symbol).map((t) => t.id);
        expect(ids, symbol).toEqual(truth?.ids);
      }
      expect(Object.values(h.client.stats.rejects).every((n) => n === 0)).toBe(true);
      expect(h.client.stats.gaps).toBe(0);
    });

    it('trades a market shaped like the provider’s', async () => {
      const sim = await simFor(adapter);
      const symbols = generateSymbols(12, adapter.server.market);
      const h = feedClient(adapter, sim.wsUrl);
      clients.push(h.client);
      h.client.setSymbols(symbols);
      h.client.start();
      await subscribedExactly(sim, symbols);
      sim.emit(2_000);
      await until(() => h.trades.length >= 2_000, '2000 trades');
      const trades: Trade[] = h.trades;
      if (adapter.server.market?.assetClass === 'crypto') {
        expect(symbols[0]).toBe(adapter === binance ? 'BTCUSDT' : 'BTC-USD');
        // Decimal sizes, never more than 8 decimals.
        expect(trades.some((t) => !Number.isInteger(t.size))).toBe(true);
        expect(trades.every((t) => Math.abs(t.size * 1e8 - Math.round(t.size * 1e8)) < 1e-6)).toBe(true);
        expect(trades.every((t) => t.exchange === '' && t.conditions.length === 0)).toBe(true);
        const prices = new Set(trades.map((t) => Math.floor(Math.log10(t.price))));
        expect(prices.size).toBeGreaterThan(2); // pairs priced over several orders of magnitude
      } else {
        expect(symbols[0]).toBe('AAPL');
        expect(trades.every((t) => Number.isInteger(t.size) && t.size >= 1)).toBe(true);
        const profile = adapter.server.market;
        const codes = new Set(trades.flatMap((t) => t.conditions));
        expect(
          [...codes].every((c) =>
            [...(profile?.oddLotConditions ?? []), ...(profile?.sweepConditions ?? [])].includes(c),
          ),
        ).toBe(true);
        if ((profile?.exchanges.length ?? 0) > 0) {
          expect(new Set(trades.map((t) => t.exchange))).toEqual(new Set(profile?.exchanges));
        }
      }
    });
  });
}

/** A raw socket that decodes Binance frames with the real session; keeps the text of each frame. */
async function rawBinance(url: string): Promise<{ ws: WebSocket; frames: string[]; trades: Trade[] }> {
  const ws = new WebSocket(url);
  sockets.push(ws);
  const frames: string[] = [];
  const trades: Trade[] = [];
  const session = binance.createSession({ key: '', secret: '' });
  ws.on('message', (data) => {
    frames.push(text(data));
    session.decode(text(data), {
      trade: (t) => trades.push(t),
      event: () => undefined,
      reject: () => undefined,
    });
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, frames, trades };
}

describe('simulator speaking binance: streams in the URL', () => {
  it('serves raw streams named in the path, one bare event per frame', async () => {
    const sim = await simFor(binance);
    const { frames, trades } = await rawBinance(`ws://127.0.0.1:${sim.port}/ws/btcusdt@trade/ethusdt@trade`);
    await until(() => sim.stats().connections[0]?.subscriptions.length === 2, 'URL subscriptions');
    sim.emit(1_000);
    const truth = sim.stats().symbols;
    const expected = (truth['BTCUSDT']?.trades ?? 0) + (truth['ETHUSDT']?.trades ?? 0);
    await until(() => trades.length >= expected, `${expected} trades`);
    expect(new Set(trades.map((t) => t.symbol))).toEqual(new Set(['BTCUSDT', 'ETHUSDT']));
    expect(frames.every((f) => f.startsWith('{"e":"trade"'))).toBe(true);
  });

  it('wraps every event as {stream, data} on a combined stream, also after SUBSCRIBE', async () => {
    const sim = await simFor(binance);
    const { ws, frames, trades } = await rawBinance(
      `ws://127.0.0.1:${sim.port}/stream?streams=btcusdt@trade`,
    );
    ws.send('{"method":"SUBSCRIBE","params":["solusdt@trade"],"id":"0123456789abcdef0123456789abcdef"}');
    await until(() => frames.length > 0, 'the SUBSCRIBE answer');
    expect(frames[0]).toBe('{"result":null,"id":"0123456789abcdef0123456789abcdef"}');
    sim.emit(1_000);
    const truth = sim.stats().symbols;
    const expected = (truth['BTCUSDT']?.trades ?? 0) + (truth['SOLUSDT']?.trades ?? 0);
    await until(() => trades.length >= expected, `${expected} trades`);
    const events = frames.slice(1);
    expect(events.every((f) => /^\{"stream":"(btcusdt|solusdt)@trade","data":\{"e":"trade"/.test(f))).toBe(
      true,
    );
    expect(trades).toHaveLength(expected);
  });
});

describe('simulator speaking coinbase: last_match', () => {
  it('replays the latest match to a new subscriber, from its own memory per simulator', async () => {
    const first = await simFor(coinbase);
    const second = await simFor(coinbase);
    first.emit(500);
    const lastId = first.stats().symbols['BTC-USD']?.lastId;
    expect(lastId).not.toBe('');

    const h = feedClient(coinbase, first.wsUrl);
    clients.push(h.client);
    h.client.setSymbols(['BTC-USD']);
    h.client.start();
    await until(() => h.trades.length === 1, 'the last_match replay');
    expect(h.trades[0]?.id).toBe(lastId);

    const other = feedClient(coinbase, second.wsUrl);
    clients.push(other.client);
    other.client.setSymbols(['BTC-USD']);
    other.client.start();
    await subscribedExactly(second, ['BTC-USD']);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(other.trades).toEqual([]); // the second simulator never traded: nothing to replay
  });
});
