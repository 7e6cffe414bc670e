/**
 * The bar history behind `/v1/symbols/{symbol}/bars`, against the real Redis: completed bars taken
 * from an aggregate come back equal, oldest first; an amended bar replaces its earlier version; each
 * series is capped; a paced flush lets the event loop run between calls, without reordering bar
 * versions across flushes; a failed write keeps the bars queued (bounded) for the next flush; stored
 * values that are not bars are skipped and counted.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTrade } from '../../feeds/trade.js';
import { SymbolAggregate, type Bar } from '../../src/aggregate/index.js';
import { BarStore, decodeBar, encodeBar } from '../../src/cluster/bar-store.js';
import { barKey } from '../../src/redis/keys.js';
import { testCluster, type TestCluster } from '../support/redis.js';

const T0 = Date.UTC(2024, 5, 10, 14, 30);
const ALL = { fromMs: null, toMs: null, limit: 1_000 };

function aggregateWith(minutes: number, symbol = 'AAPL'): SymbolAggregate {
  const aggregate = new SymbolAggregate(symbol, { barIntervalsMs: [60_000], barCap: 500 });
  for (let m = 0; m < minutes; m++) {
    for (let i = 0; i < 3; i++) {
      aggregate.apply(
        makeTrade({ symbol, price: 100 + m + i / 100, size: 10 + i, timeMs: T0 + m * 60_000 + i * 1_000 }),
      );
    }
  }
  return aggregate;
}

describe('BarStore on Redis', () => {
  let env: TestCluster;

  beforeAll(async () => {
    env = await testCluster('bars');
  });

  afterAll(async () => {
    await env.cleanup();
  });

  it('stores the completed bars an aggregate hands out and reads them back equal, oldest first', async () => {
    const store = new BarStore(env.redis, env.keys);
    const aggregate = aggregateWith(5);
    aggregate.advanceTo(T0 + 5 * 60_000);
    const completed = aggregate.takeCompletedBars();
    expect(completed).toHaveLength(5);
    store.add('AAPL', completed);
    expect(store.pendingBars).toBe(5);
    expect(await store.flush()).toBe(true);
    expect(store.pendingBars).toBe(0);
    expect(store.written).toBe(5);
    expect(await store.read('AAPL', 60_000, ALL)).toEqual(completed);
    expect(await env.redis.zcard(barKey(env.keys, 'AAPL', 60_000))).toBe(5);
    // Nothing new: a flush is free.
    expect(aggregate.takeCompletedBars()).toEqual([]);
    expect(await store.flush()).toBe(true);
  });

  it('answers the newest `limit` bars in [from, to]', async () => {
    const store = new BarStore(env.redis, env.keys);
    const starts = (bars: Bar[]) => bars.map((bar) => (bar.start - T0) / 60_000);
    expect(starts(await store.read('AAPL', 60_000, { fromMs: null, toMs: null, limit: 2 }))).toEqual([3, 4]);
    expect(
      starts(await store.read('AAPL', 60_000, { fromMs: T0 + 60_000, toMs: T0 + 180_000, limit: 10 })),
    ).toEqual([1, 2, 3]);
    expect(starts(await store.read('AAPL', 60_000, { fromMs: T0 + 60_001, toMs: null, limit: 1 }))).toEqual([
      4,
    ]);
    expect(await store.read('MSFT', 60_000, ALL)).toEqual([]);
  });

  it('replaces a bar a late trade amended, keeping one member per start', async () => {
    const store = new BarStore(env.redis, env.keys);
    const aggregate = aggregateWith(3, 'LATE');
    aggregate.advanceTo(T0 + 3 * 60_000);
    store.add('LATE', aggregate.takeCompletedBars());
    await store.flush();
    aggregate.apply(makeTrade({ symbol: 'LATE', price: 50, size: 1_000, timeMs: T0 + 30_000 }));
    const amended = aggregate.takeCompletedBars();
    expect(amended).toHaveLength(1);
    store.add('LATE', amended);
    await store.flush();
    const stored = await store.read('LATE', 60_000, ALL);
    expect(stored).toHaveLength(3);
    expect(stored[0]).toMatchObject({ start: T0, trades: 4, low: 50 });
    expect(stored[0]?.volume).toBe(10 + 11 + 12 + 1_000);
  });

  it('keeps the newest `cap` bars of each series', async () => {
    const store = new BarStore(env.redis, env.keys, { cap: 4 });
    const aggregate = aggregateWith(10, 'CAPPED');
    aggregate.advanceTo(T0 + 10 * 60_000);
    store.add('CAPPED', aggregate.takeCompletedBars());
    await store.flush();
    const stored = await store.read('CAPPED', 60_000, ALL);
    expect(stored.map((bar) => (bar.start - T0) / 60_000)).toEqual([6, 7, 8, 9]);
  });

  it('splits large flushes into several transactions', async () => {
    const store = new BarStore(env.redis, env.keys, { barsPerMulti: 3 });
    for (let s = 0; s < 5; s++) {
      const aggregate = aggregateWith(2, `MANY${s}`);
      aggregate.advanceTo(T0 + 2 * 60_000);
      store.add(`MANY${s}`, aggregate.takeCompletedBars());
    }
    expect(await store.flush()).toBe(true);
    for (let s = 0; s < 5; s++) expect(await store.read(`MANY${s}`, 60_000, ALL)).toHaveLength(2);
  });

  it('gives the event loop turns between calls, sending flushes in the order they began', async () => {
    const store = new BarStore(env.redis, env.keys, { barsPerMulti: 1 });
    let turns = 0;
    const pacer = {
      spent: true,
      yield: async () => {
        turns++;
        await new Promise((resolve) => setImmediate(resolve));
      },
    };
    const aggregates = ['TURN0', 'TURN1', 'TURN2'].map((symbol) => {
      const aggregate = aggregateWith(1, symbol);
      aggregate.advanceTo(T0 + 60_000);
      store.add(symbol, aggregate.takeCompletedBars());
      return aggregate;
    });
    const first = store.flush(pacer);
    // While the first flush waits for its turns, a late trade amends TURN2's bar and a second
    // flush takes the new version: it must not be overwritten by the first flush's older one.
    const late = aggregates[2] as SymbolAggregate;
    late.apply(makeTrade({ symbol: 'TURN2', price: 50, size: 1_000, timeMs: T0 + 30_000 }));
    store.add('TURN2', late.takeCompletedBars());
    const second = store.flush();
    expect(await Promise.all([first, second])).toEqual([true, true]);
    expect(turns).toBe(3);
    expect(await store.read('TURN2', 60_000, ALL)).toEqual([expect.objectContaining({ trades: 4, low: 50 })]);
    for (const symbol of ['TURN0', 'TURN1']) expect(await store.read(symbol, 60_000, ALL)).toHaveLength(1);
    expect(store.written).toBe(4);
  });

  it('sends nothing more of a paced flush once the queue is discarded (the worker fenced itself)', async () => {
    const store = new BarStore(env.redis, env.keys, { barsPerMulti: 1 });
    const symbols = ['CUT0', 'CUT1', 'CUT2'];
    for (const symbol of symbols) {
      const aggregate = aggregateWith(2, symbol);
      aggregate.advanceTo(T0 + 2 * 60_000);
      store.add(symbol, aggregate.takeCompletedBars());
    }
    let turns = 0;
    const pacer = {
      get spent() {
        return true;
      },
      yield: async () => {
        // The first chunk goes out after the first turn; the worker is fenced during the second.
        if (++turns === 2) store.discard();
        await new Promise((resolve) => setImmediate(resolve));
      },
    };
    expect(await store.flush(pacer)).toBe(true);
    expect((await store.read('CUT0', 60_000, ALL)).length).toBe(2);
    for (const symbol of ['CUT1', 'CUT2']) expect(await store.read(symbol, 60_000, ALL)).toEqual([]);
    expect(store.written).toBe(2);
    expect(store.dropped).toBe(4);
  });

  it('keeps bars queued when Redis fails, newest versions winning, up to maxPending', async () => {
    const dead = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    dead.on('error', () => undefined);
    try {
      const store = new BarStore(dead, env.keys, { maxPending: 6 });
      const aggregate = aggregateWith(4, 'DOWN');
      aggregate.advanceTo(T0 + 4 * 60_000);
      store.add('DOWN', aggregate.takeCompletedBars());
      expect(await store.flush()).toBe(false);
      expect(store.failures).toBe(1);
      expect(store.pendingBars).toBe(4);
      // More bars of another symbol push the queue past its bound: the oldest series is dropped.
      const other = aggregateWith(3, 'OTHER');
      other.advanceTo(T0 + 3 * 60_000);
      store.add('OTHER', other.takeCompletedBars());
      expect(store.pendingBars).toBe(3);
      expect(store.dropped).toBe(4);
      // A fenced worker forgets what it queued.
      store.discard();
      expect(store.pendingBars).toBe(0);
      expect(store.dropped).toBe(7);
      expect(await store.flush()).toBe(true);
    } finally {
      dead.disconnect();
    }
  });

  it('skips and counts stored values that are not bars', async () => {
    const store = new BarStore(env.redis, env.keys);
    const key = barKey(env.keys, 'JUNK', 60_000);
    const good: Bar = {
      intervalMs: 60_000,
      start: T0,
      open: 1,
      high: 2,
      low: 0.5,
      close: 1.5,
      volume: 10,
      vwap: 1.2,
      trades: 3,
      amended: false,
      complete: true,
    };
    await env.redis.zadd(key, T0, encodeBar(good), T0 + 60_000, 'not json', T0 + 120_000, '[1,2,3]');
    expect(await store.read('JUNK', 60_000, ALL)).toEqual([good]);
    expect(store.corrupt).toBe(2);
    expect(decodeBar(encodeBar({ ...good, start: T0 + 1 }), 60_000)).toBeUndefined();
  });

  it('removes a symbol’s history', async () => {
    const store = new BarStore(env.redis, env.keys);
    await store.remove('AAPL', [1_000, 60_000]);
    expect(await store.read('AAPL', 60_000, ALL)).toEqual([]);
  });
});
