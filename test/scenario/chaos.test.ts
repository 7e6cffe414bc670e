/**
 * The chaos harness (bench/chaos) in short runs: worker processes, the simulator and the harness's
 * own Redis, with planned changes only (joins, graceful leaves, drains) on a seeded schedule.
 *
 * With trade ids (Polygon) a planned change must neither lose nor duplicate a trade. Until the exact
 * hand-over protocol of issue 5 lands, the `lost` assertion fails: planned moves lose the trades sent
 * while neither owner held the symbol (18-78 trades in these runs). Without them
 * (Finnhub) a hand-over may lose or double the trades that arrived while the two owners acted on the
 * new epoch apart, so the test holds it to what docs/chaos.md promises: symbols no change touched
 * are exact, and the error of the moved ones stays within the hand-over allowance.
 */
import { describe, expect, it } from 'vitest';
import { ATTRIBUTION_CLASSES } from '../../bench/chaos/accounting.js';
import { runChaos, type ChaosReport } from '../../bench/chaos/chaos.js';
import { chaosOptions, type ChaosOptions } from '../../bench/chaos/options.js';
import { formatChaos } from '../../bench/chaos/report.js';

const SHORT: Partial<ChaosOptions> = {
  durationMs: 14_000,
  workers: 3,
  minWorkers: 2,
  maxWorkers: 4,
  rate: 200,
  symbols: 40,
  minGapMs: 1_500,
  maxGapMs: 3_500,
  events: ['join', 'leave', 'drain'],
  seed: 7,
};

/** What holds whatever the provider: the figures add up and every planned change completed. */
function expectConsistent(report: ChaosReport): void {
  const a = report.account;
  expect(a.unanswered).toEqual([]);
  // No Redis restart: one segment, nothing forgotten, everything sent is expected.
  expect(a.segments).toBe(1);
  expect(report.forgotten).toBe(0);
  expect(a.expected).toBe(report.sent);
  expect(a.expected - a.lost + a.duplicated).toBe(a.aggregated);
  expect(a.volumeExpected - a.volumeLost + a.volumeDuplicated).toBe(a.volumeAggregated);
  const classes = ATTRIBUTION_CLASSES.map((c) => a.byClass[c]);
  expect(classes.reduce((s, c) => s + c.lost, 0)).toBe(a.lost);
  expect(classes.reduce((s, c) => s + c.duplicated, 0)).toBe(a.duplicated);
  expect(classes.reduce((s, c) => s + c.symbols, 0)).toBe(report.options.symbols);
  // Planned events only: nothing can be attributed to a kill, a stop or a Redis restart.
  for (const c of ['redis-restart', 'kill', 'stop'] as const) expect(a.byClass[c].symbols).toBe(0);
  expect(report.events.length).toBeGreaterThanOrEqual(3);
  expect(report.events.every((e) => ['join', 'leave', 'drain'].includes(e.kind))).toBe(true);
  expect(report.timeouts).toEqual({ handover: 0, failover: 0, recovery: 0 });
  for (const event of report.events) expect(event.handoverMs, event.kind).toBeGreaterThanOrEqual(0);
  expect(report.sent).toBeGreaterThan(report.options.rate * 10);
}

describe('the chaos harness, planned changes only', () => {
  it('with trade ids (Polygon): no trade lost or duplicated', { timeout: 180_000 }, async () => {
    const report = await runChaos(chaosOptions({ ...SHORT, feed: 'polygon' }));
    console.log(formatChaos(report));
    expectConsistent(report);
    expect(report.tradeIds).toBe(true);
    const a = report.account;
    expect(a.duplicated).toBe(0);
    expect(a.volumeDuplicated).toBe(0n);
    // The exact hand-over protocol must bring this to zero; before it, planned moves lose trades.
    expect(a.lost).toBe(0);
    expect(a.volumeLost).toBe(0n);
  });

  it(
    'without trade ids (Finnhub): untouched symbols exact, moved ones within the hand-over allowance',
    { timeout: 180_000 },
    async () => {
      // Uniform rates and more symbols than events move, so some symbols stay put and none dominates.
      const report = await runChaos(
        chaosOptions({ ...SHORT, feed: 'finnhub', symbols: 60, skew: 0, maxWorkers: 3, seed: 5 }),
      );
      console.log(formatChaos(report));
      expectConsistent(report);
      expect(report.tradeIds).toBe(false);
      const a = report.account;
      expect(a.byClass.none.lost + a.byClass.none.duplicated).toBe(0);
      const planned = a.byClass.planned;
      expect(planned.lost + planned.duplicated).toBeLessThanOrEqual(report.handoverAllowance.bound);
    },
  );
});
