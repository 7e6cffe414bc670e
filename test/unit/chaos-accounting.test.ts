/**
 * The chaos harness's arithmetic: exact decimal volumes, segments, attribution to the worst event,
 * the Redis-restart segment, and the options parser.
 */
import { describe, expect, it } from 'vitest';
import {
  accountSegment,
  fromUnits,
  handoverErrorBound,
  mergeAccounts,
  toUnits,
  type AttributionClass,
  type Totals,
} from '../../bench/chaos/accounting.js';
import { DownSpans } from '../../bench/chaos/down-spans.js';
import { ChaosUsageError, parseChaosOptions } from '../../bench/chaos/options.js';
import { chaosSection, replaceChaosSection } from '../../bench/chaos/results-section.js';

const map = (entries: Record<string, Totals>): Map<string, Totals> => new Map(Object.entries(entries));
const touched = (entries: Record<string, AttributionClass[]>): Map<string, Set<AttributionClass>> =>
  new Map(Object.entries(entries).map(([s, c]) => [s, new Set(c)]));

describe('chaos accounting', () => {
  it('converts volumes to exact units and back', () => {
    expect(toUnits(0.1 + 0.2, 8)).toBe(30_000_000n);
    expect(toUnits(12.5, 2)).toBe(1250n);
    expect(fromUnits(1250n, 2)).toBe('12.5');
    expect(fromUnits(-5n, 8)).toBe('-0.00000005');
    expect(fromUnits(300n, 0)).toBe('300');
  });

  it('counts lost and duplicated per symbol and attributes them to the worst event', () => {
    const account = accountSegment({
      symbols: ['A', 'B', 'C', 'D'],
      sent: map({
        A: { trades: 10, volume: 1000 },
        B: { trades: 5, volume: 50 },
        C: { trades: 3, volume: 3 },
      }),
      sentBefore: new Map(),
      held: map({
        A: { trades: 7, volume: 700 },
        B: { trades: 6, volume: 60 },
        C: { trades: 3, volume: 4 },
      }),
      heldBefore: new Map(),
      touched: touched({ A: ['planned', 'kill'], B: ['planned'] }),
      volumeDecimals: 4,
    });
    expect(account).toMatchObject({ expected: 18, aggregated: 16, lost: 3, duplicated: 1 });
    expect(account.unanswered).toEqual(['D']);
    expect(account.byClass.kill).toMatchObject({ symbols: 1, lost: 3, symbolsWithLoss: 1 });
    expect(account.byClass.planned).toMatchObject({ symbols: 1, duplicated: 1 });
    expect(account.byClass.none).toMatchObject({ symbols: 1, lost: 0 });
    expect(account.volumeOnlyMismatches).toBe(1);
    expect(account.volumeLost).toBe(toUnits(300, 4));
    expect(account.volumeDuplicated).toBe(toUnits(11, 4));
    expect(account.expected - account.lost + account.duplicated).toBe(account.aggregated);
  });

  it("counts a failure its standby shared apart from a SIGKILL's", () => {
    const account = accountSegment({
      symbols: ['A', 'B'],
      sent: map({ A: { trades: 10, volume: 10 }, B: { trades: 10, volume: 10 } }),
      sentBefore: new Map(),
      held: map({ A: { trades: 6, volume: 6 }, B: { trades: 9, volume: 9 } }),
      heldBefore: new Map(),
      touched: touched({ A: ['kill', 'every-copy-down'], B: ['kill'] }),
      volumeDecimals: 0,
    });
    expect(account.byClass['every-copy-down']).toMatchObject({ symbols: 1, lost: 4 });
    expect(account.byClass.kill).toMatchObject({ symbols: 1, lost: 1 });
  });

  it('tells whether a worker was down at any moment of a window', () => {
    const spans = new DownSpans();
    spans.down('w1', 100);
    spans.up('w1', 200);
    spans.down('w2', 150);
    expect(spans.wasDown('w1', 50, 99)).toBe(false);
    expect(spans.wasDown('w1', 50, 100)).toBe(true);
    expect(spans.wasDown('w1', 180, 300)).toBe(true);
    expect(spans.wasDown('w1', 201, 300)).toBe(false);
    // Still down: any window from its failure on.
    expect(spans.wasDown('w2', 10_000, 20_000)).toBe(true);
    expect(spans.wasDown('w3', 0, 20_000)).toBe(false);
    // Killed again after a restart: a second span.
    spans.down('w1', 500);
    expect(spans.wasDown('w1', 300, 400)).toBe(false);
    expect(spans.wasDown('w1', 300, 600)).toBe(true);
  });

  it('compares a Redis-restart segment from zero, or from what a symbol carried across it', () => {
    const account = accountSegment({
      symbols: ['A', 'B'],
      sent: map({ A: { trades: 30, volume: 30 }, B: { trades: 30, volume: 30 } }),
      sentBefore: map({ A: { trades: 20, volume: 20 }, B: { trades: 20, volume: 20 } }),
      // A started again from zero and missed 2; B kept its 20 and got all 10.
      held: map({ A: { trades: 8, volume: 8 }, B: { trades: 30, volume: 30 } }),
      heldBefore: new Map(),
      heldAtKill: map({ A: { trades: 20, volume: 20 }, B: { trades: 20, volume: 20 } }),
      touched: touched({ A: ['redis-restart'], B: ['redis-restart'] }),
      volumeDecimals: 0,
    });
    expect(account).toMatchObject({ lost: 2, duplicated: 0, carriedAcrossRestart: 1 });
    const merged = mergeAccounts([account, account]);
    expect(merged).toMatchObject({ segments: 2, lost: 4, carriedAcrossRestart: 2 });
    expect(merged.symbolsWithLoss).toEqual(['A']);
  });

  it('allows a provider without ids the trades of each hand-over window', () => {
    const rates = new Map([
      ['A', 10],
      ['B', 2],
    ]);
    // 1 s window + 2 symbols at 20 frames/s = 1.1 s each: (10 + 2) x 1.1
    expect(handoverErrorBound([{ moved: ['A', 'B'] }, { moved: [] }], rates, 1000, 20)).toBeCloseTo(13.2);
  });
});

describe('chaos options', () => {
  it('reads flags over CHAOS_* variables and passes words after -- to the workers', () => {
    const options = parseChaosOptions(
      ['--duration-s', '30', '--events', 'join,kill', '--', '--vnodes', '64'],
      {
        CHAOS_DURATION_S: '99',
        CHAOS_RATE: '500',
      },
    );
    if (options === 'help') throw new Error('help');
    expect(options.durationMs).toBe(30_000);
    expect(options.rate).toBe(500);
    expect(options.events).toEqual(['join', 'kill']);
    expect(options.workerArgs).toEqual(['--vnodes', '64']);
  });

  it('lists every problem at once', () => {
    expect(() => parseChaosOptions(['--feed', 'nope', '--events', 'explode', '--workers', '9'], {})).toThrow(
      ChaosUsageError,
    );
    try {
      parseChaosOptions(['--feed', 'nope', '--events', 'explode', '--workers', '9'], {});
    } catch (err) {
      expect((err as Error).message).toMatch(/--feed.*--events.*--workers/);
    }
  });

  it('replaces only the Chaos section of RESULTS.md', () => {
    const text = '# R\n\n## 1. A\n\na\n\n## Chaos\n\nold\n\n## Profile findings\n\np\n';
    expect(replaceChaosSection(text, '## Chaos\n\nnew\n')).toBe(
      '# R\n\n## 1. A\n\na\n\n## Chaos\n\nnew\n\n## Profile findings\n\np\n',
    );
    expect(replaceChaosSection('# R\n', '## Chaos\n\nnew\n')).toBe('# R\n\n## Chaos\n\nnew\n\n');
    // What `npm run bench` carries over when it rewrites the file.
    expect(chaosSection(text)).toBe('## Chaos\n\nold');
    expect(chaosSection('# R\n')).toBeUndefined();
  });
});
