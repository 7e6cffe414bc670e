import { describe, expect, it } from 'vitest';
import { binance } from '../../feeds/binance.js';
import { formatFixed, parseDecimal } from '../../feeds/decimal.js';
import type { Trade } from '../../feeds/trade.js';
import { Market } from '../../src/sim/market.js';
import { generateSymbols } from '../../src/sim/universe.js';

function run(
  seed: number,
  count: number,
  symbols = generateSymbols(30),
): { market: Market; trades: Trade[] } {
  const market = new Market({ symbols, seed, skew: 1 });
  const trades: Trade[] = [];
  market.generate(count, 1_700_000_000_000, trades);
  return { market, trades };
}

describe('Market', () => {
  it('generates the same trades for the same seed, in any batch sizes', () => {
    const { trades } = run(11, 1_000);
    const market = new Market({ symbols: generateSymbols(30), seed: 11, skew: 1 });
    const chunked: Trade[] = [];
    for (const n of [1, 99, 400, 500]) market.generate(n, 1_700_000_000_000, chunked);
    expect(chunked).toEqual(trades);
    expect(run(12, 1_000).trades).not.toEqual(trades);
  });

  it('numbers trades per symbol from 1 and globally by seq', () => {
    const { market, trades } = run(3, 5_000);
    expect(trades.map((t) => t.seq)).toEqual(trades.map((_, i) => i + 1));
    const lastId = new Map<string, number>();
    for (const t of trades) {
      expect(Number(t.id)).toBe((lastId.get(t.symbol) ?? 0) + 1);
      lastId.set(t.symbol, Number(t.id));
    }
    expect(market.totalTrades).toBe(5_000);
    expect(market.totalsOf(0)).toEqual({
      trades: lastId.get('AAPL'),
      volume: trades.filter((t) => t.symbol === 'AAPL').reduce((sum, t) => sum + t.size, 0),
      lastId: String(lastId.get('AAPL')),
      lastPrice: trades.filter((t) => t.symbol === 'AAPL').at(-1)?.price,
      lastSize: trades.filter((t) => t.symbol === 'AAPL').at(-1)?.size,
      cancelledIds: [],
      cancels: 0,
      corrections: 0,
    });
    expect(market.totalVolumeTraded).toBe(trades.reduce((sum, t) => sum + t.size, 0));
  });

  it('walks each price in whole cents by small steps', () => {
    const { trades } = run(4, 20_000);
    const last = new Map<string, number>();
    // Collected rather than asserted per trade: 60k expect() calls would dominate the run time.
    const problems: string[] = [];
    for (const t of trades) {
      const cents = Math.round(t.price * 100);
      if (Math.abs(t.price * 100 - cents) > 1e-6) problems.push(`${t.symbol} ${t.price} is not whole cents`);
      if (t.price < 1) problems.push(`${t.symbol} ${t.price} is below $1`);
      const previous = last.get(t.symbol);
      if (previous !== undefined && Math.abs(cents - previous) > Math.max(1, Math.floor(previous / 5_000))) {
        problems.push(`${t.symbol} jumped from ${previous} to ${cents} cents`);
      }
      last.set(t.symbol, cents);
    }
    expect(problems).toEqual([]);
    const firstPrices = new Set(trades.slice(0, 200).map((t) => t.price));
    expect(firstPrices.size).toBeGreaterThan(10); // start prices differ between symbols
  });

  it('mostly trades round lots, with about 10% odd lots marked as such', () => {
    const { trades } = run(5, 20_000);
    const odd = trades.filter((t) => t.size < 100);
    expect(odd.length / trades.length).toBeGreaterThan(0.08);
    expect(odd.length / trades.length).toBeLessThan(0.12);
    expect(odd.every((t) => t.size >= 1 && t.conditions.join() === '37')).toBe(true);
    const round = trades.filter((t) => t.size >= 100);
    expect(round.every((t) => t.size % 100 === 0 && t.size <= 1_000)).toBe(true);
    expect(round.some((t) => t.conditions.join() === '14,41')).toBe(true);
    expect(round.every((t) => t.conditions.length === 0 || t.conditions.join() === '14,41')).toBe(true);
    expect(new Set(trades.map((t) => t.exchange))).toEqual(new Set(['4', '8', '10', '11', '12', '15', '19']));
    expect(trades.every((t) => t.kind === 'trade' && t.timeNanos === 0 && t.amendsId === '')).toBe(true);
  });
});

describe('Market with a crypto profile', () => {
  const profile = binance.server.market;

  it('trades the pairs in decimal sizes of at most 8 decimals, with exact volume totals', () => {
    const symbols = generateSymbols(20, profile);
    expect(symbols.slice(0, 3)).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);
    const market = new Market({ symbols, seed: 6, skew: 1, ...(profile ? { profile } : {}) });
    const trades: Trade[] = [];
    market.generate(20_000, 1_700_000_000_000, trades);
    const problems: string[] = [];
    for (const t of trades) {
      const units = Math.round(t.size * 1e8);
      if (units < 1 || Math.abs(t.size * 1e8 - units) > 1e-6) problems.push(`${t.symbol} size ${t.size}`);
      if (t.price < 0.01 || Math.abs(t.price * 1e4 - Math.round(t.price * 1e4)) > 1e-6) {
        problems.push(`${t.symbol} price ${t.price}`);
      }
      if (t.exchange !== '' || t.conditions.length > 0) problems.push(`${t.symbol} has codes`);
    }
    expect(problems).toEqual([]);
    expect(trades.some((t) => t.size < 0.001)).toBe(true);
    expect(trades.some((t) => t.size > 1)).toBe(true);
    // The total is the float nearest the exact decimal sum, whatever order a client adds in.
    const unitsSum = trades.reduce((sum, t) => sum + Math.round(t.size * 1e8), 0);
    expect(market.totalVolumeTraded).toBe(unitsSum / 1e8);
    expect(trades.every((t) => parseDecimal(formatFixed(t.size, 8)) === t.size)).toBe(true);
  });

  it('is as deterministic as the stock market', () => {
    const make = () => {
      const market = new Market({
        symbols: generateSymbols(5, profile),
        seed: 8,
        skew: 0.5,
        ...(profile ? { profile } : {}),
      });
      const out: Trade[] = [];
      market.generate(500, 1, out);
      return out;
    };
    expect(make()).toEqual(make());
  });
});

describe('Market.amend', () => {
  it('cancels and corrects recent trades, keeping the per-symbol truth', () => {
    const { market, trades } = run(9, 2_000, generateSymbols(5));
    const before = generateSymbols(5).map((_, k) => market.totalsOf(k));
    const corrections = market.amend('correction', 3);
    const cancels = market.amend('cancel', 4);
    expect(
      corrections.every((a) => a.length === 2 && a[0].kind === 'cancel' && a[1].kind === 'correction'),
    ).toBe(true);
    expect(cancels.every((a) => a.length === 1 && a[0].kind === 'cancel')).toBe(true);
    const amended = [...corrections, ...cancels];
    // Every amended original is a trade that was sent, amended once.
    const originals = amended.map((a) => a[0].amendsId + '@' + a[0].symbol);
    expect(new Set(originals).size).toBe(7);
    for (const [cancel] of amended) {
      const original = trades.find((t) => t.symbol === cancel.symbol && t.id === cancel.amendsId);
      expect(original).toMatchObject({ price: cancel.price, size: cancel.size, timeMs: cancel.timeMs });
    }
    generateSymbols(5).forEach((symbol, k) => {
      const now = market.totalsOf(k);
      const mine = amended.filter((a) => a[0].symbol === symbol);
      const removed = mine.reduce((sum, a) => sum + a[0].size, 0);
      const added = mine.reduce((sum, a) => sum + (a[1]?.size ?? 0), 0);
      expect(now.trades, symbol).toBe((before[k]?.trades ?? 0) - mine.filter((a) => a.length === 1).length);
      expect(now.volume, symbol).toBe((before[k]?.volume ?? 0) - removed + added);
      expect(now.cancelledIds, symbol).toEqual(mine.map((a) => a[0].id));
      expect(market.liveIds(k)).toHaveLength(now.trades);
      // A correction's replacement takes the next id of its symbol.
      for (const a of mine) if (a[1]) expect(Number(a[1].id)).toBeGreaterThan(Number(before[k]?.lastId));
    });
  });
});
