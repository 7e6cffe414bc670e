/**
 * The shadows a worker prepares before it joins are buffers to take over, not standbys to warm:
 * warm-up leaves them alone until the epoch that admits the worker, after which those it still
 * keeps (the symbols it now follows) warm like any other.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { polygon } from '../../feeds/polygon.js';
import type { CheckpointStore } from '../../src/cluster/checkpoints.js';
import { Assignment } from '../../src/cluster/ring.js';
import type { RingRecord } from '../../src/cluster/ring-record.js';
import { RateLimitedLog } from '../../src/ingest/rate-limited-log.js';
import { OwnedSymbols } from '../../src/worker/owned-symbols.js';
import { Standbys } from '../../src/worker/standbys.js';

const RECORD: RingRecord = {
  epoch: 2,
  members: ['w1', 'w2'].map((id) => ({ id, weight: 1, address: '' })),
  pins: {},
  vnodes: 50,
  changedAt: 0,
  reason: 'test',
};

describe('Standbys: shadows prepared for a join', () => {
  it('are not warmed until the worker is admitted; a followed one warms from then on', async () => {
    const assignment = new Assignment(RECORD, ['AAPL', 'MSFT']);
    const read: string[] = [];
    const checkpoints = {
      readMany: (symbols: readonly string[]) => {
        read.push(...symbols);
        return Promise.resolve(symbols.map(() => null));
      },
      fences: (symbols: readonly string[]) => Promise.resolve(symbols.map(() => null)),
      passes: (owners: readonly string[]) => Promise.resolve(owners.map(() => null)),
    } as unknown as CheckpointStore;
    const log = pino({ level: 'silent' });
    const standbys = new Standbys(
      {
        id: 'w2',
        shadows: new OwnedSymbols(polygon, {}, 1_000),
        owned: new OwnedSymbols(polygon, {}, 1_000),
        checkpoints,
        feed: { isConfirmed: () => true },
        membership: { assignment, leaseValid: true, silentMembers: () => Promise.resolve(new Set<string>()) },
        loadAggregate: () => null,
        log,
        handoverLog: new RateLimitedLog(log, 10_000),
      },
      { replicas: 2, leaseMs: 5_000, handoverTimeoutMs: 2_000 },
    );
    standbys.prepare('AAPL');
    standbys.prepare('MSFT');
    await standbys.warm();
    expect(read).toEqual([]);
    expect(standbys.countIn('loading')).toBe(2);

    // Admitted: AAPL is followed from now on, MSFT is not (a prepared buffer is never a retiring one).
    standbys.retire(assignment, undefined, new Set(['AAPL']));
    expect(standbys.names()).toEqual(['AAPL']);
    await standbys.warm();
    expect(read).toEqual(['AAPL']);
  });
});
