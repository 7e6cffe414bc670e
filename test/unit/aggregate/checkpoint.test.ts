import { describe, expect, it } from 'vitest';
import { makeTrade } from '../../../feeds/trade.js';
import { parseCheckpoint, type AggregateCheckpoint } from '../../../src/aggregate/checkpoint.js';
import { conditionRulesFor } from '../../../src/aggregate/conditions.js';
import { SymbolAggregate } from '../../../src/aggregate/symbol-aggregate.js';
import { TickringError } from '../../../src/errors.js';
import { mulberry32 } from './reference.js';

const START = Date.UTC(2024, 2, 1, 23, 50);
const options = { conditionRules: conditionRulesFor('polygon'), barCap: 5 };

/** An aggregate with every kind of state: rolled session, late trades, cancels, evicted untaken bars. */
function busyAggregate(seed: number, count: number): SymbolAggregate {
  const random = mulberry32(seed);
  const agg = new SymbolAggregate('AAPL', options);
  const codes = [[], [], ['37'], ['14', '41'], ['12'], ['15'], ['999']];
  for (let i = 0; i < count; i++) {
    const timeMs = START + i * 700 - Math.floor(random() * 3_000);
    const price = Math.round(10_000 + random() * 500) / 100;
    const size = random() < 0.1 ? Math.round(random() * 1e6) / 1e6 : 1 + Math.floor(random() * 300);
    const conditions = codes[Math.floor(random() * codes.length)] ?? [];
    const kind = random() < 0.05 ? 'cancel' : 'trade';
    agg.apply(
      makeTrade({
        symbol: 'AAPL',
        price,
        size,
        timeMs,
        timeNanos: i % 1000,
        id: String(i),
        kind,
        conditions,
      }),
    );
    if (i % 97 === 0) agg.takeCompletedBars();
  }
  agg.apply(makeTrade({ symbol: 'AAPL', price: 1, size: 1, timeMs: START })); // from the previous session
  return agg;
}

describe('checkpoint round trip', () => {
  it('restores deep-equal state, directly and through JSON', () => {
    const agg = busyAggregate(1, 2_000);
    const checkpoint = agg.toCheckpoint();
    expect(checkpoint.session?.startMs).toBe(Date.UTC(2024, 2, 2)); // the run crossed midnight
    expect(checkpoint.bars.some((s) => s.outbox.length > 0)).toBe(true);
    expect(checkpoint.counters.lateSession).toBeGreaterThan(0);
    expect(checkpoint.session?.volume[1]).not.toBe(0); // a hidden error term is in play
    const restored = SymbolAggregate.fromCheckpoint(checkpoint, options);
    expect(restored.toCheckpoint()).toEqual(checkpoint);
    expect(restored.snapshot()).toEqual(agg.snapshot());
    const viaJson = SymbolAggregate.fromCheckpoint(
      parseCheckpoint(JSON.parse(JSON.stringify(checkpoint))),
      options,
    );
    expect(viaJson.toCheckpoint()).toEqual(checkpoint);
    expect(JSON.stringify(viaJson.toCheckpoint())).toBe(JSON.stringify(checkpoint));
  });

  it('continues bit for bit: the same trades after a restore give the same state', () => {
    const a = busyAggregate(2, 1_000);
    const b = SymbolAggregate.fromCheckpoint(
      parseCheckpoint(JSON.parse(JSON.stringify(a.toCheckpoint()))),
      options,
    );
    for (let i = 0; i < 500; i++) {
      const t = makeTrade({
        symbol: 'AAPL',
        price: 100 + (i % 7) / 100,
        size: 0.1 * (i % 13),
        timeMs: START + 700_000 + i,
      });
      a.apply(t);
      b.apply(t);
    }
    expect(b.takeCompletedBars()).toEqual(a.takeCompletedBars());
    expect(b.toCheckpoint()).toEqual(a.toCheckpoint());
  });

  it('round-trips an empty aggregate and comes back clean', () => {
    const empty = new SymbolAggregate('BTC-USD');
    const restored = SymbolAggregate.fromCheckpoint(
      parseCheckpoint(JSON.parse(JSON.stringify(empty.toCheckpoint()))),
    );
    expect(restored.toCheckpoint()).toEqual(empty.toCheckpoint());
    expect(restored.dirty).toBe(false);
    expect(restored.snapshot()).toMatchObject({
      symbol: 'BTC-USD',
      last: null,
      sessionStart: null,
      vwap: null,
    });
  });

  it('restores only the bar series the new options still name', () => {
    const agg = busyAggregate(3, 300);
    const restored = SymbolAggregate.fromCheckpoint(agg.toCheckpoint(), {
      ...options,
      barIntervalsMs: [60_000, 3_600_000],
    });
    expect(restored.listBars(60_000)).toEqual(agg.listBars(60_000));
    expect(restored.listBars(3_600_000)).toEqual([]);
    expect(restored.listBars(1_000)).toBeUndefined();
  });
});

describe('parseCheckpoint', () => {
  const good = (): AggregateCheckpoint =>
    JSON.parse(JSON.stringify(busyAggregate(4, 200).toCheckpoint())) as AggregateCheckpoint;

  function rejects(value: unknown, message: RegExp): void {
    let caught: unknown;
    try {
      parseCheckpoint(value);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TickringError);
    expect((caught as TickringError).code).toBe('TICKRING_ERR_CORRUPT_STATE');
    expect((caught as Error).message).toMatch(/^aggregate checkpoint( for "[^"]*")? is corrupt: /);
    expect((caught as Error).message).toMatch(message);
  }

  it('accepts a real checkpoint', () => {
    expect(parseCheckpoint(good())).toEqual(good());
  });

  it('rejects values that are not a checkpoint at all', () => {
    rejects(null, /\(root\): .*expected object/);
    rejects('{"version":1}', /\(root\)/);
    rejects([], /\(root\)/);
  });

  it('rejects a wrong version, missing or extra fields, and wrong types, naming the path', () => {
    rejects({ ...good(), version: 2 }, /version: /);
    const noCounters: Partial<AggregateCheckpoint> = good();
    delete noCounters.counters;
    rejects(noCounters, /counters: /);
    rejects({ ...good(), extra: true }, /extra/);
    const c = good();
    c.session!.volume = ['1', 0] as never;
    rejects(c, /session\.volume\[0\]: /);
    const d = good();
    d.bars[0]!.bars[0]![13] = -1;
    rejects(d, /bars\[0\]\.bars\[0\]\[13\]: /);
  });

  it('rejects values JSON cannot carry and numbers out of range', () => {
    const c = good();
    c.session!.notional = [Infinity, 0];
    rejects(c, /session\.notional\[0\]/);
    const d = good();
    d.last!.timeNanos = 1_000_000;
    rejects(d, /last\.timeNanos/);
    const e = good();
    e.session!.trades = 1.5;
    rejects(e, /session\.trades/);
  });

  it('rejects inconsistent content: unordered or misaligned bars, high below low, repeated intervals', () => {
    const c = good();
    c.bars[0]!.bars.reverse();
    rejects(c, /bars\[0\]\.bars\[\d+\]\[0\]: bars are not in ascending order/);
    const d = good();
    d.bars[1]!.bars[0]![0] += 1;
    rejects(d, /bars\[1\]\.bars\[0\]\[0\]: bar start \d+ is not aligned to 60000/);
    const e = good();
    e.session!.high = (e.session!.low ?? 0) - 1;
    rejects(e, /session: high is below low/);
    const f = good();
    f.bars.push(f.bars[0]!);
    rejects(f, /bars: two bar series have the same interval/);
  });

  it('names the symbol when the corrupt value has one, quoted and cut short', () => {
    rejects({ ...good(), version: 0 }, /for "AAPL"/);
    rejects(
      { ...good(), symbol: 'X'.repeat(500) },
      /for "X{64}" is corrupt: symbol: must be 1 to 32 characters/,
    );
  });
});
