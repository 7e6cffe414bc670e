import { describe, expect, it } from 'vitest';
import { GapTracker } from '../../src/ingest/gap-tracker.js';

describe('GapTracker', () => {
  it('counts jumps per symbol and the trades skipped, from the first number seen', () => {
    const gaps = new GapTracker();
    expect([5, 6, 7].map((n) => gaps.observe('BTCUSDT', n))).toEqual([0, 0, 0]);
    expect(gaps.observe('BTCUSDT', 10)).toBe(2);
    expect(gaps.observe('ETHUSDT', 100)).toBe(0); // no baseline yet: not a gap
    expect(gaps.observe('ETHUSDT', 102)).toBe(1);
    expect({ gaps: gaps.gaps, missed: gaps.missed }).toEqual({ gaps: 2, missed: 3 });
  });

  it('ignores repeats and older numbers (duplicates, replays) without lowering the mark', () => {
    const gaps = new GapTracker();
    gaps.observe('BTC-USD', 10);
    expect(gaps.observe('BTC-USD', 10)).toBe(0);
    expect(gaps.observe('BTC-USD', 4)).toBe(0);
    expect(gaps.observe('BTC-USD', 11)).toBe(0);
    expect(gaps.gaps).toBe(0);
  });

  it('forgets a symbol, so its next number starts a new run', () => {
    const gaps = new GapTracker();
    gaps.observe('BTCUSDT', 1);
    gaps.forget('BTCUSDT');
    expect(gaps.symbols).toBe(0);
    expect(gaps.observe('BTCUSDT', 50)).toBe(0);
    expect(gaps.gaps).toBe(0);
  });
});
