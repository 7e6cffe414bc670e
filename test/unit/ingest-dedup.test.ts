/**
 * The de-duplication window, both ways in: by key text, and field by field for adapters that declare
 * their `dedupFields`, which must drop (and find, without admitting) exactly the trades the key text
 * would.
 */
import { describe, expect, it } from 'vitest';
import type { FeedAdapter } from '../../feeds/adapter.js';
import { alpaca } from '../../feeds/alpaca.js';
import { binance } from '../../feeds/binance.js';
import { coinbase } from '../../feeds/coinbase.js';
import { polygon } from '../../feeds/polygon.js';
import { makeTrade, type Trade, type TradeKind } from '../../feeds/trade.js';
import { DedupWindow } from '../../src/ingest/dedup.js';
import { Prng } from '../../src/sim/prng.js';

const trade = (symbol: string, id: string, exchange = '4', kind: TradeKind = 'trade'): Trade =>
  makeTrade({ symbol, price: 1, size: 1, timeMs: 1_700_000_000_000, id, exchange, kind });

describe('DedupWindow', () => {
  it('drops a key seen within the window and forgets the oldest beyond it', () => {
    const window = new DedupWindow(3);
    expect(['a', 'b', 'a', 'c', 'd', 'a'].map((key) => window.admit(key))).toEqual([
      true,
      true,
      false,
      true,
      true,
      true, // 'a' was pushed out by b, c, d
    ]);
    expect(window.dropped).toBe(1);
  });

  it('compares trades field by field, exactly, and forgets the oldest beyond the window', () => {
    const fields = { exchange: true, kind: true };
    const window = new DedupWindow(3);
    const admitted = [
      trade('AAPL', '1'),
      trade('AAPL', '1'), // duplicate
      trade('AAPL', '1', '12'), // another exchange
      trade('MSFT', '1'), // another symbol
      trade('AAPL', '1', '4', 'cancel'), // another kind
      trade('AAPL', '1'), // forgotten by now: the window holds the three before
    ].map((t) => window.admitTrade(t, fields));
    expect(admitted).toEqual([true, false, true, true, true, true]);
    expect(window.dropped).toBe(1);
    expect(window.admitTrade(trade('AAPL', '1', '4', 'cancel'), fields)).toBe(false);
    expect(window.admitTrade(trade('AAPL', '1', '12'), { exchange: false, kind: false })).toBe(true);
  });

  it('tells whether a trade is in the field window without admitting it', () => {
    const fields = { exchange: true, kind: true };
    const window = new DedupWindow(2);
    expect(window.hasTrade(trade('AAPL', '1'), fields)).toBe(false); // nothing admitted yet
    window.admitTrade(trade('AAPL', '1'), fields);
    // Found by an identity alone, not only by the trade object that was admitted.
    expect(window.hasTrade({ symbol: 'AAPL', id: '1', exchange: '4', kind: 'trade' }, fields)).toBe(true);
    expect(window.hasTrade(trade('AAPL', '01'), fields)).toBe(false); // text, not the number 1
    expect(window.hasTrade(trade('AAPL', '1', '12'), fields)).toBe(false);
    expect(window.hasTrade(trade('AAPL', '1', '4', 'cancel'), fields)).toBe(false);
    // Looking did not admit: the window still holds one trade, and that one is still the oldest.
    expect(window.size).toBe(1);
    expect(window.admitTrade(trade('AAPL', '01'), fields)).toBe(true);
    expect(window.admitTrade(trade('AAPL', '2'), fields)).toBe(true); // pushes out AAPL 1
    expect(window.hasTrade(trade('AAPL', '1'), fields)).toBe(false);
    expect(window.hasTrade(trade('AAPL', '2'), fields)).toBe(true);
    expect(window.dropped).toBe(0);
  });

  it('never takes one trade for another whose fields hash alike', () => {
    // "xhtk" and "xrh50" hash alike for AAPL with symbol and id only (found by a birthday search
    // over the table's FNV-1a hash): only the exact comparison of the fields tells them apart.
    const fields = { exchange: false, kind: false };
    const window = new DedupWindow(1_000);
    expect(window.admitTrade(trade('AAPL', 'xhtk'), fields)).toBe(true);
    expect(window.hasTrade(trade('AAPL', 'xrh50'), fields)).toBe(false);
    expect(window.admitTrade(trade('AAPL', 'xrh50'), fields)).toBe(true);
    expect(window.hasTrade(trade('AAPL', 'xhtk'), fields)).toBe(true);
    expect(window.hasTrade(trade('AAPL', 'xrh50'), fields)).toBe(true);
    expect(window.dropped).toBe(0);
  });

  it('drops exactly what the key text drops, for every adapter that lists its fields', () => {
    const random = new Prng(11);
    const pick = <T>(items: readonly T[]): T => items[random.int(0, items.length - 1)] as T;
    const adapters: FeedAdapter[] = [polygon, alpaca, binance, coinbase];
    for (const adapter of adapters) {
      const fields = adapter.dedupFields;
      expect(fields, adapter.name).toBeDefined();
      if (!fields) continue;
      const byKey = new DedupWindow(500);
      const byFields = new DedupWindow(500);
      for (let n = 0; n < 20_000; n++) {
        const t = trade(
          pick(['AAPL', 'MSFT', 'BTC-USD', 'X']),
          // Plain numbers (kept as numbers), and texts that only look alike ("07", "7x", "").
          pick(['', '0', 'x', '']) + String(random.int(0, 400)) + pick(['', '', 'x']),
          pick(['4', '12', 'V', '']),
          pick<TradeKind>(['trade', 'trade', 'trade', 'cancel', 'correction']),
        );
        const key = adapter.dedupKey(t);
        expect(key).not.toBeNull();
        // Looked up before admitting, as the hand-over does (an `expect` per trade would double the time).
        const found = byFields.hasTrade(t, fields);
        if (found !== byKey.has(key ?? ''))
          expect.unreachable(`${adapter.name}: hasTrade ${found} for ${key}`);
        expect(byFields.admitTrade(t, fields), `${adapter.name} ${key}`).toBe(byKey.admit(key ?? ''));
      }
      expect(byFields.dropped).toBe(byKey.dropped);
      expect(byFields.dropped).toBeGreaterThan(100);
    }
  });
});
