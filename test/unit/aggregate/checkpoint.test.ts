import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { makeTrade } from '../../../feeds/trade.js';
import {
  checkBars,
  checkpointSchema,
  isCheckpoint,
  parseCheckpoint,
  type AggregateCheckpoint,
  type BarSeriesCheckpoint,
  type BarTuple,
} from '../../../src/aggregate/checkpoint.js';
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

describe('parseCheckpoint', () => {
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

/** `text` as a regular expression matching it literally. */
const literally = (text: string): RegExp => new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

describe('parseCheckpoint: bar tuples', () => {
  /** One wrong element of the second bar of the 1 s series, and the reason the first issue gives. */
  const ELEMENTS: [element: number, value: unknown, reason: string][] = [
    [0, 1.5, 'Invalid input: expected int, received number'], // start
    [0, '60000', 'Invalid input: expected number, received string'],
    [1, true, 'Invalid input: expected number, received boolean'], // open
    [2, 2 ** 53, 'Too big: expected int to be <=9007199254740991'], // openMs
    [3, -1, 'Too small: expected number to be >=0'], // openNs
    [3, 0.5, 'Invalid input: expected int, received number'],
    [4, NaN, 'Invalid input: expected number, received NaN'], // high
    [5, {}, 'Invalid input: expected number, received object'], // low
    [6, Infinity, 'Invalid input: expected number, received Infinity'], // close
    [7, -(2 ** 53), 'Too small: expected int to be >=-9007199254740991'], // closeMs
    [8, 1_000_000, 'Too big: expected number to be <=999999'], // closeNs
    [9, null, 'Invalid input: expected number, received null'], // volume
    [10, undefined, 'Invalid input: expected number, received undefined'], // volumeC
    [11, [], 'Invalid input: expected number, received array'], // notional
    [12, -Infinity, 'Invalid input: expected number, received -Infinity'], // notionalC
    [13, -1, 'Too small: expected number to be >=0'], // trades
    [13, 2.5, 'Invalid input: expected int, received number'],
    [14, 4, 'Too big: expected number to be <=3'], // flags
    [14, -1, 'Too small: expected number to be >=0'],
    [14, 1.5, 'Invalid input: expected int, received number'],
  ];

  it.each(ELEMENTS)('rejects element %i = %o, naming its path and why', (element, value, reason) => {
    const c = good();
    (c.bars[0]!.bars[1] as unknown[])[element] = value;
    rejects(c, literally(`is corrupt: bars[0].bars[1][${element}]: ${reason}`));
  });

  it('rejects a tuple of the wrong length or no tuple at all, and a list that is no array', () => {
    const short = good();
    short.bars[0]!.bars[1]!.pop();
    rejects(short, literally('bars[0].bars[1]: Too small: expected array to have >=15 items'));
    const long = good();
    (long.bars[0]!.bars[1] as unknown[]).push(0);
    rejects(long, literally('bars[0].bars[1]: Too big: expected array to have <=15 items'));
    const empty = good();
    empty.bars[0]!.bars[1] = [] as never;
    rejects(empty, literally('bars[0].bars[1]: Too small: expected array to have >=15 items'));
    const scalar = good();
    scalar.bars[0]!.bars[1] = 7 as never;
    rejects(scalar, literally('bars[0].bars[1]: Invalid input: expected tuple, received number'));
    const notArray = good();
    notArray.bars[1]!.bars = { 0: notArray.bars[1]!.bars[0] } as never;
    rejects(notArray, literally('bars[1].bars: Invalid input: expected array, received object'));
    const missing: Partial<BarSeriesCheckpoint>[] = good().bars;
    delete missing[2]!.outbox;
    rejects(
      { ...good(), bars: missing },
      literally('bars[2].outbox: Invalid input: expected array, received undefined'),
    );
  });

  it('checks the outbox as the bars, under its own path', () => {
    const c = good();
    const bar = [...c.bars[0]!.bars[0]!] as BarTuple;
    bar[14] = 9;
    c.bars[0]!.outbox = [bar];
    rejects(c, literally('bars[0].outbox[0][14]: Too big: expected number to be <=3'));
  });

  it('accepts null prices and every bound, and returns the bars unchanged', () => {
    const c = good();
    const bar = c.bars[0]!.bars[1]!;
    bar[1] = bar[4] = bar[5] = bar[6] = null;
    [bar[3], bar[8], bar[13], bar[14]] = [0, 999_999, 0, 3];
    [bar[9], bar[10], bar[11], bar[12]] = [-1.5, 1e300, -Number.MAX_VALUE, 5e-324];
    c.bars[0]!.bars[2]![2] = Number.MAX_SAFE_INTEGER;
    c.bars[0]!.bars[2]![7] = Number.MIN_SAFE_INTEGER;
    expect(parseCheckpoint(c)).toEqual(c);
  });

  it('lets order and alignment be checked after a value out of range, not after a wrong type, as before', () => {
    const range = good();
    range.bars[0]!.bars[1]![3] = -1;
    range.bars[0]!.bars.reverse();
    rejects(range, /\[3\]: Too small: .*bars are not in ascending order/);
    const type = good();
    (type.bars[0]!.bars[1] as unknown[])[3] = 'x';
    type.bars[0]!.bars.reverse();
    rejects(
      type,
      /is corrupt: bars\[0\]\.bars\[\d+\]\[3\]: Invalid input: expected number, received string$/,
    );
  });
});

/**
 * The bar series schema as it was before the bar tuples got their own loop: a z.tuple of zod number
 * schemas, and the order and alignment refinement, which runs or not depending on the tuples' issues.
 * The reference of the differential test below; only the bar series are mutated there, so only they
 * need one.
 */
const reference = (() => {
  const count = z.number().int().nonnegative();
  const nanos = z.number().int().min(0).max(999_999);
  const time = z.number().int();
  const price = z.number().nullable();
  const num = z.number();
  const flags = z.number().int().min(0).max(3);
  const barTuple = z.tuple([
    time,
    price,
    time,
    nanos,
    price,
    price,
    price,
    time,
    nanos,
    num,
    num,
    num,
    num,
    count,
    flags,
  ]);
  const series = z
    .object({
      intervalMs: z.number().int().positive(),
      watermarkMs: time.nullable(),
      lateDropped: count,
      unmatchedCancels: count,
      unpublishedDropped: count,
      bars: z.array(barTuple),
      outbox: z.array(barTuple),
    })
    .strict()
    .superRefine((s, ctx) => {
      checkBars(s.bars, s.intervalMs, ctx, 'bars');
      checkBars(s.outbox, s.intervalMs, ctx, 'outbox');
    });
  return z.array(series).refine((all) => new Set(all.map((s) => s.intervalMs)).size === all.length, {
    message: 'two bar series have the same interval',
  });
})();

describe('parseCheckpoint: bar tuples against the z.tuple schema they replaced', () => {
  /** Values of every kind the rules tell apart: wrong types, JSON's impossibles, bounds and just past. */
  const ODD: readonly unknown[] = [
    ...[null, undefined, true, false, '', '12', [], [1], {}, NaN, Infinity, -Infinity],
    ...[0, -0, 1, -1, 0.5, -0.5, 1.5, 3, 4, 999_999, 1_000_000, 5e-324, 1e300, -1e300],
    ...[2 ** 53 - 1, 2 ** 53, -(2 ** 53) + 1, -(2 ** 53)],
  ];

  type Random = { pick: <T>(of: readonly T[]) => T; int: (below: number) => number };
  /** Mutations of one bar tuple. */
  const TUPLE_MUTATIONS: readonly ((tuple: unknown[], r: Random) => void)[] = [
    (tuple, { pick, int }) => {
      // an element set to an odd value, or moved a little (a start off its alignment or order)
      const at = int(15);
      tuple[at] = int(3) === 0 ? (tuple[at] as number) + pick([-1, 1, 1000, -0.5]) : pick(ODD);
    },
    (tuple, { pick, int }) => (tuple[1 + int(14)] = pick([0, 1, 3])), // a value all but the start allow
    (tuple, { pick }) => tuple.push(pick(ODD)), // one element too many
    (tuple, { int }) => tuple.splice(int(15), 1 + int(3)), // elements missing
    (tuple, { pick, int }) => tuple.splice(int(15), 0, pick(ODD)), // one inserted
  ];
  /** Mutations of one list of bar tuples (a series' bars or outbox). */
  const LIST_MUTATIONS: readonly ((list: unknown[], r: Random) => void)[] = [
    (list, { pick, int }) => (list[int(list.length)] = pick(ODD)), // a tuple replaced by anything
    (list, { pick, int }) => list.splice(int(list.length), 0, structuredClone(pick(list))), // a bar repeated
    (list) => list.reverse(),
    (list, { pick }) => list.push(pick(ODD)),
  ];

  /** Mutates one list of one series: mostly a tuple in it, sometimes the list, rarely its very type. */
  function mutate(c: AggregateCheckpoint, r: Random): void {
    const series = r.pick(c.bars) as unknown as Record<string, unknown>;
    const key = r.pick(['bars', 'outbox']);
    const list = series[key];
    if (r.int(50) === 0 || !Array.isArray(list)) {
      series[key] = r.pick(ODD);
      return;
    }
    const tuple: unknown = r.pick(list); // undefined in an empty list
    if (r.int(4) > 0 && Array.isArray(tuple)) r.pick(TUPLE_MUTATIONS)(tuple, r);
    else r.pick(LIST_MUTATIONS)(list, r);
  }

  /** Issues in full (code, path, message and zod's details), the paths from the checkpoint's root. */
  const rooted = (issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[] = []): z.core.$ZodIssue[] =>
    issues.map((issue) => ({ ...issue, path: [...prefix, ...issue.path] }));

  function actual(value: AggregateCheckpoint): { data?: unknown; issues: z.core.$ZodIssue[] } {
    try {
      return { data: parseCheckpoint(value).bars, issues: [] };
    } catch (err) {
      expect(err).toBeInstanceOf(TickringError);
      return { issues: rooted(((err as TickringError).cause as z.ZodError).issues) };
    }
  }

  function expected(value: AggregateCheckpoint): { data?: unknown; issues: z.core.$ZodIssue[] } {
    const result = reference.safeParse(value.bars);
    return result.success
      ? { data: result.data, issues: [] }
      : { issues: rooted(result.error.issues, ['bars']) };
  }

  it('accepts and rejects exactly as z.tuple did, with the same issues, over random mutations', () => {
    const random = mulberry32(20_240_301);
    const int = (below: number): number => Math.floor(random() * below);
    const r: Random = { int, pick: (of) => of[int(of.length)]! };
    const bases = [4, 5, 6].map((seed) => JSON.stringify(busyAggregate(seed, 400).toCheckpoint()));
    const outcomes = { accepted: 0, rejected: 0 };
    for (let run = 0; run < 3_000; run++) {
      const c = JSON.parse(r.pick(bases)) as AggregateCheckpoint;
      for (let n = 1 + int(3); n > 0; n--) mutate(c, r);
      const got = actual(c);
      expect(got, `run ${run}`).toEqual(expected(c));
      outcomes[got.issues.length === 0 ? 'accepted' : 'rejected']++;
    }
    // Both ways in good numbers, or the comparison proves little.
    expect(outcomes.accepted).toBeGreaterThan(200);
    expect(outcomes.rejected).toBeGreaterThan(2_000);
  });
});

describe('isCheckpoint against the schema whose verdicts it gives', () => {
  /** Anything a corrupt value could hold in place of a field. */
  const ODD: readonly unknown[] = [
    ...[null, undefined, true, false, '', 'AAPL', 'x'.repeat(65), [], [1, 2], {}, NaN, Infinity],
    ...[0, -0, 1, -1, 0.5, 3, 4, 999_999, 1_000_000, 1e300, -1e300, 2 ** 53, -(2 ** 53)],
  ];

  /** Every object and array in `value`, with itself first. */
  function containers(value: unknown, out: (Record<string, unknown> | unknown[])[] = []): typeof out {
    if (typeof value !== 'object' || value === null) return out;
    out.push(value as Record<string, unknown>);
    for (const child of Object.values(value)) containers(child, out);
    return out;
  }

  it('accepts and rejects exactly as the schema does, over random changes anywhere in a checkpoint', () => {
    const random = mulberry32(77);
    const int = (below: number): number => Math.floor(random() * below);
    const pick = <T>(of: readonly T[]): T => of[int(of.length)]!;
    const bases = [7, 8].map((seed) => JSON.stringify(busyAggregate(seed, 300).toCheckpoint()));
    const outcomes = { accepted: 0, rejected: 0 };
    for (let run = 0; run < 4_000; run++) {
      const c = JSON.parse(pick(bases)) as Record<string, unknown>;
      for (let n = 1 + int(2); n > 0; n--) {
        const target = pick(containers(c)) as Record<string, unknown>;
        const keys = Object.keys(target);
        const key = pick(keys.length > 0 ? keys : ['0']);
        const old = target[key];
        const change = int(10);
        if (change === 0) Reflect.deleteProperty(target, key);
        else if (change === 1 && !Array.isArray(target)) {
          // An own key, as JSON.parse makes it (assigning `__proto__` would set the prototype).
          const extra = pick(['extra', '__proto__']);
          Object.defineProperty(target, extra, { value: 1, enumerable: true, writable: true });
        } else if (change < 5 && typeof old === 'number')
          target[key] = old + pick([-1, 1, -0.5, 1_000, -1e6]);
        else if (change < 7 && typeof old === 'string')
          target[key] = pick(['', 'aapl', 'x'.repeat(65), 'MSFT']);
        else target[key] = structuredClone(pick(ODD)); // a copy: never a value inside itself
      }
      const schema = checkpointSchema.safeParse(c);
      expect(isCheckpoint(c), `run ${run}: ${JSON.stringify(schema.error?.issues[0])}`).toBe(schema.success);
      if (schema.success) expect(parseCheckpoint(c)).toEqual(schema.data);
      outcomes[schema.success ? 'accepted' : 'rejected']++;
    }
    expect(outcomes.accepted).toBeGreaterThan(300);
    expect(outcomes.rejected).toBeGreaterThan(2_000);
  });
});
