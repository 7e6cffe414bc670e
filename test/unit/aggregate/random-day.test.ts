/**
 * A simulated trading day of 1,000,000 trades (cent prices, integer sizes, a mix of sale conditions,
 * out-of-order arrivals, cancels with corrections, and stragglers from the previous day), aggregated
 * and compared with an exact bigint model built from the same trades: session and every bar.
 */
import { describe, expect, it } from 'vitest';
import { makeTrade, type Trade } from '../../../feeds/trade.js';
import type { Bar } from '../../../src/aggregate/bars.js';
import { conditionRulesFor } from '../../../src/aggregate/conditions.js';
import { SymbolAggregate } from '../../../src/aggregate/symbol-aggregate.js';
import {
  ALL,
  mulberry32,
  NOTHING,
  RefBucket,
  relErr,
  VOLUME_HIGH_LOW,
  VOLUME_ONLY,
  type RefFlags,
} from './reference.js';

const N = 1_000_000;
const DAY = 86_400_000;
const DAY_START = Date.UTC(2024, 2, 4);
const INTERVALS = [1_000, 60_000, 300_000];
const STRAGGLERS = 20;

/** Condition sets with the flags we expect for them, written out here rather than taken from the table. */
const CONDITIONS: [string[], RefFlags][] = [
  [[], ALL],
  [[], ALL],
  [[], ALL],
  [['14', '41'], ALL],
  [['37'], VOLUME_ONLY],
  [['37'], VOLUME_ONLY],
  [['12'], VOLUME_ONLY],
  [['10'], VOLUME_HIGH_LOW],
  [['15'], NOTHING],
  [['14', '37'], VOLUME_ONLY],
  [['999'], VOLUME_ONLY],
];

interface Applied {
  trade: Trade;
  cents: number;
  flags: RefFlags;
}

describe('a simulated day of 1,000,000 trades', () => {
  it('matches the exact bigint model: session, every bar, and the counters', () => {
    const random = mulberry32(20240304);
    const agg = new SymbolAggregate('SIM', { conditionRules: conditionRulesFor('polygon'), barCap: 120 });
    const session = new RefBucket();
    // Reference bars per interval, indexed by bar number since the start of the day.
    const bars = INTERVALS.map((): RefBucket[] => []);
    const ours = new Map<string, Bar>();
    const recent: Applied[] = [];
    const cancelled = new Set<string>();
    let cents = 10_000;
    let arrival = 0;
    let cancels = 0;

    const bucketsOf = (timeMs: number): RefBucket[] =>
      INTERVALS.map((interval, k) => {
        const index = Math.floor((timeMs - DAY_START) / interval);
        const byIndex = bars[k]!;
        return (byIndex[index] ??= new RefBucket());
      });

    const apply = (trade: Trade, tradeCents: number, flags: RefFlags): void => {
      agg.apply(trade);
      const timed = {
        price: trade.price,
        size: trade.size,
        id: trade.id,
        timeMs: trade.timeMs,
        timeNanos: trade.timeNanos,
        arrival: arrival++,
        priceFixed: BigInt(tradeCents),
        sizeFixed: BigInt(trade.size),
      };
      session.add(timed, flags);
      for (const bucket of bucketsOf(trade.timeMs)) bucket.add(timed, flags);
    };

    for (let i = 0; i < N; i++) {
      cents = Math.max(100, cents + Math.floor(random() * 11) - 5);
      const size = random() < 0.01 ? 1 + Math.floor(random() * 50_000) : 1 + Math.floor(random() * 999);
      let timeMs = DAY_START + 5_000 + Math.floor((i * (DAY - 10_000)) / N);
      if (random() < 0.05) timeMs -= Math.floor(random() * 3_000); // arrives late
      const timeNanos = random() < 0.5 ? 0 : Math.floor(random() * 1_000_000);
      const [conditions, flags] = CONDITIONS[Math.floor(random() * CONDITIONS.length)]!;
      const trade = makeTrade({
        symbol: 'SIM',
        price: cents / 100,
        size,
        timeMs,
        timeNanos,
        id: String(i),
        conditions,
      });
      apply(trade, cents, flags);
      recent.push({ trade, cents, flags });
      if (recent.length > 50) recent.shift();

      // Now and then a recent trade is cancelled and corrected, as Alpaca sends it.
      const victim = recent[Math.floor(random() * recent.length)]!;
      if (random() < 0.002 && !cancelled.has(victim.trade.id) && victim.trade.kind === 'trade') {
        cancelled.add(victim.trade.id);
        cancels++;
        const original = victim.trade;
        agg.apply({ ...original, kind: 'cancel', amendsId: original.id });
        arrival++;
        session.remove(BigInt(victim.cents), BigInt(original.size), victim.flags);
        for (const bucket of bucketsOf(original.timeMs)) {
          bucket.remove(BigInt(victim.cents), BigInt(original.size), victim.flags);
        }
        const newCents = victim.cents + 1 + Math.floor(random() * 20);
        const newSize = 1 + Math.floor(random() * 999);
        const correction = {
          ...original,
          price: newCents / 100,
          size: newSize,
          kind: 'correction' as const,
          amendsId: original.id,
        };
        apply(correction, newCents, victim.flags);
      }

      // Stragglers from the previous day, late in this one: too old for the session and for every series.
      if (i >= N - STRAGGLERS * 1_000 && i % 1_000 === 0) {
        agg.apply(
          makeTrade({ symbol: 'SIM', price: 1, size: 1_000_000, timeMs: DAY_START - 1 - i, id: `old${i}` }),
        );
        arrival++;
      }
      if (i % 500 === 0)
        for (const bar of agg.takeCompletedBars()) ours.set(`${bar.intervalMs}:${bar.start}`, bar);
    }
    agg.advanceTo(DAY_START + DAY);
    for (const bar of agg.takeCompletedBars()) ours.set(`${bar.intervalMs}:${bar.start}`, bar);

    // The session.
    const snap = agg.snapshot();
    expect(snap.volume).toBe(Number(session.volume));
    expect(snap.trades).toBe(session.trades);
    expect(relErr(snap.vwap!, session.vwap(2)!)).toBeLessThan(1e-9);
    const price = (t: { priceFixed: bigint } | null): number | null =>
      t === null ? null : Number(t.priceFixed) / 100;
    expect([snap.open, snap.high, snap.low, snap.close]).toEqual(
      [session.open, session.high, session.low, session.close].map(price),
    );
    expect(snap.last).toMatchObject({
      price: price(session.last),
      size: session.last!.size,
      id: session.last!.id,
    });
    expect(snap.amended).toBe(session.amended);
    expect(session.amended).toBe(true);
    expect(snap.counters).toEqual({
      lateSession: STRAGGLERS,
      invalid: 0,
      cancels,
      corrections: cancels,
      unmatchedCancels: 0,
    });
    expect(cancels).toBeGreaterThan(1_000);
    for (const summary of snap.bars)
      expect(summary).toMatchObject({ lateDropped: STRAGGLERS, unmatchedCancels: 0, unpublishedDropped: 0 });

    // Every bar of every interval, as published. Mismatches are collected (a million expect() calls
    // would dominate the run) and shown together.
    const mismatches: string[] = [];
    let compared = 0;
    INTERVALS.forEach((interval, k) => {
      bars[k]!.forEach((ref, index) => {
        const start = DAY_START + index * interval;
        compared++;
        const bar = ours.get(`${interval}:${start}`);
        const at = `${interval} ms bar at ${new Date(start).toISOString()}`;
        if (bar === undefined) {
          mismatches.push(`${at}: missing`);
          return;
        }
        const expected = {
          volume: Number(ref.volume),
          trades: ref.trades,
          prices: [ref.open, ref.high, ref.low, ref.close].map(price),
          amended: ref.amended,
        };
        const actual = {
          volume: bar.volume,
          trades: bar.trades,
          prices: [bar.open, bar.high, bar.low, bar.close],
          amended: bar.amended,
        };
        if (JSON.stringify(actual) !== JSON.stringify(expected)) {
          mismatches.push(`${at}: ${JSON.stringify(actual)} != ${JSON.stringify(expected)}`);
        }
        const vwap = ref.vwap(2);
        if (vwap === null ? bar.vwap !== null : !(relErr(bar.vwap ?? NaN, vwap) < 1e-9)) {
          mismatches.push(`${at}: vwap ${bar.vwap} != ${vwap}`);
        }
      });
    });
    expect(mismatches.slice(0, 10)).toEqual([]);
    expect(ours.size).toBe(compared);
    expect(compared).toBeGreaterThan(86_000);
  });
});
