import { describe, expect, it } from 'vitest';
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
