/**
 * The worker report the dashboard shows: rebalances logged with the symbols gained and lost, the
 * trade rate from the counter, ingest lag from the worker's sampler (passed on to the metrics), the
 * state in one word, and a fenced worker starting its gains over.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Assignment } from '../../src/cluster/ring.js';
import { mergeRebalances } from '../../src/http/dashboard-routes.js';
import { LagSampler } from '../../src/metrics.js';
import { WorkerStats, type StatsSource } from '../../src/worker/worker-stats.js';
import type { OwnedSymbolState } from '../../src/worker/owned-symbol.js';

class FakeWorker extends EventEmitter implements StatsSource {
  readonly id = 'w1';
  status = 'ready';
  actingEpoch = 0;
  names: string[] = [];
  readonly membership = Object.assign(new EventEmitter(), {
    epoch: 0,
    waiting: false,
    leaseValid: true,
    lastRenewedAt: 0,
    assignment: undefined as Assignment | undefined,
  });
  readonly owned = {
    size: 0,
    tradesApplied: 0,
    names: () => this.names,
    countIn: (state: OwnedSymbolState) => (state === 'live' ? this.names.length : 0),
  };
  /** Followed symbols and their state, as the worker's standby shadows hold them. */
  followed = new Map<string, { state: OwnedSymbolState }>();
  get standbys() {
    const followed = this.followed;
    return {
      size: followed.size,
      countIn: (state: OwnedSymbolState) => [...followed.values()].filter((f) => f.state === state).length,
      promotions: this.standbyPromotions,
    };
  }
  standbyPromotions = 0;
  handoverTimeouts = 0;
  handoverFallbacks = 0;
  readonly feed = { status: 'ready' };
  readonly ingestLag = new LagSampler(1);

  rebalance(epoch: number, names: string[], ms = 12): void {
    const gained = names.filter((n) => !this.names.includes(n)).length;
    const lost = this.names.filter((n) => !names.includes(n)).length;
    this.names = names;
    this.owned.size = names.length;
    this.actingEpoch = epoch;
    this.membership.epoch = epoch;
    this.membership.assignment = new Assignment(
      {
        epoch,
        members: [{ id: 'w1', weight: 1, address: '' }],
        pins: {},
        vnodes: 10,
        changedAt: 0,
        reason: `reason ${epoch}`,
      },
      names,
    );
    this.emit('rebalanced', { epoch, gained, lost, ms });
  }
}

describe('WorkerStats', () => {
  it('logs each rebalance with the symbols gained and lost', () => {
    const worker = new FakeWorker();
    const stats = new WorkerStats(worker, { keep: 2, listed: 2 });
    worker.rebalance(1, ['A', 'B', 'C']);
    worker.rebalance(2, ['B', 'C', 'D']);
    let report = stats.report();
    expect(report.rebalances).toEqual([
      expect.objectContaining({ epoch: 1, gained: 3, lost: 0, gainedSymbols: ['A', 'B'], lostSymbols: [] }),
      expect.objectContaining({
        epoch: 2,
        gained: 1,
        lost: 1,
        gainedSymbols: ['D'],
        lostSymbols: ['A'],
        reason: 'reason 2',
        ms: 12,
      }),
    ]);
    worker.rebalance(3, ['B']);
    report = stats.report();
    expect(report.rebalances.map((r) => r.epoch)).toEqual([2, 3]);
    // Fenced: everything dropped, so the next rebalance gains it all again.
    worker.membership.emit('fenced');
    worker.names = [];
    worker.rebalance(4, ['B', 'E']);
    expect(stats.report().rebalances.at(-1)).toMatchObject({
      epoch: 4,
      gainedSymbols: ['B', 'E'],
      lostSymbols: [],
    });
  });

  it('reports the trade rate, ingest lag (passed on to the metrics), lease and state', async () => {
    const worker = new FakeWorker();
    const stats = new WorkerStats(worker, { window: 3 });
    worker.rebalance(5, ['A']);
    stats.sample();
    worker.owned.tradesApplied = 500;
    for (const lag of [5, 1, 3]) worker.ingestLag.sample(Date.now() - lag);
    await new Promise((resolve) => setTimeout(resolve, 250));
    stats.sample();
    const report = stats.report();
    expect(report.tradesPerSec).toBeGreaterThan(500 / 1.5);
    expect(report.tradesPerSec).toBeLessThan(500 / 0.2);
    expect(report.ingestLag.p50Ms).toBeGreaterThanOrEqual(3);
    expect(report.ingestLag.maxMs).toBeGreaterThanOrEqual(5);
    const passedOn: number[] = [];
    stats.metricsLag.drain((lag) => passedOn.push(lag));
    expect(passedOn).toHaveLength(3);
    expect(report).toMatchObject({
      id: 'w1',
      role: 'worker',
      state: 'ready',
      epoch: 5,
      symbols: 1,
      leaseAgeMs: null,
    });
    worker.membership.waiting = true;
    expect(stats.report().state).toBe('joining');
    expect(report).toMatchObject({
      feedName: 'unknown',
      replicas: 1,
      standby: { symbols: 0, warming: 0, promotions: 0 },
      handover: { timeouts: 0, fallbacks: 0 },
    });
    worker.membership.waiting = false;
    worker.status = 'fenced';
    expect(stats.report().state).toBe('fenced');
  });
});

describe('WorkerStats standby and feed', () => {
  it('counts the symbols followed as a standby, those warming, promotions and hand-over trouble', () => {
    const worker = new FakeWorker();
    const stats = new WorkerStats(worker, { feedName: 'relay', replicas: 2 });
    worker.followed = new Map([
      ['A', { state: 'loading' }],
      ['B', { state: 'live' }],
      ['C', { state: 'loading' }],
    ]);
    worker.standbyPromotions = 4;
    worker.handoverTimeouts = 2;
    worker.handoverFallbacks = 1;
    expect(stats.report()).toMatchObject({
      feedName: 'relay',
      replicas: 2,
      standby: { symbols: 3, warming: 2, promotions: 4 },
      handover: { timeouts: 2, fallbacks: 1 },
    });
    worker.followed.set('A', { state: 'live' });
    expect(stats.report().standby).toEqual({ symbols: 3, warming: 1, promotions: 4 });
  });
});

describe('mergeRebalances', () => {
  it('joins the members’ logs by epoch, newest first, the slowest member as the duration', () => {
    const entry = (epoch: number, ms: number, gained: number, at: string) => ({
      epoch,
      at,
      ms,
      gained,
      lost: 0,
      gainedSymbols: [],
      lostSymbols: [],
      reason: epoch === 2 ? 'join b' : null,
    });
    const report = (id: string, rebalances: ReturnType<typeof entry>[]) => ({
      id,
      report: { rebalances } as unknown as import('../../src/http/worker-report.js').WorkerReport,
    });
    const merged = mergeRebalances([
      report('b', [entry(2, 40, 5, '2024-01-01T00:00:02Z')]),
      report('a', [entry(1, 5, 10, '2024-01-01T00:00:01Z'), entry(2, 25, 0, '2024-01-01T00:00:03Z')]),
      { id: 'gone', report: null },
    ]);
    expect(merged.map((m) => [m.epoch, m.ms, m.moved, m.reason, m.at])).toEqual([
      [2, 40, 5, 'join b', '2024-01-01T00:00:03Z'],
      [1, 5, 10, null, '2024-01-01T00:00:01Z'],
    ]);
    expect(merged[0]?.workers.map((w) => w.id)).toEqual(['a', 'b']);
  });
});
