/**
 * A worker's owned symbols on the per-trade path and at the two ends of a hand-over: the stream
 * position it reports (built from the last applied trade only when asked), and whether a leaving
 * symbol's stream has reached the new owner's first trade, looked up field by field where the
 * adapter lists its key's fields and by key text where it does not.
 */
import { describe, expect, it } from 'vitest';
import { finnhub } from '../../feeds/finnhub.js';
import { binance } from '../../feeds/binance.js';
import { polygon } from '../../feeds/polygon.js';
import { relay } from '../../feeds/relay.js';
import { makeTrade, type Trade } from '../../feeds/trade.js';
import { decodeHandoverSignal, encodeHandoverSignal } from '../../src/cluster/handover-signals.js';
import { START_OF_STREAM, type StreamPosition } from '../../src/ingest/stream-position.js';
import type { DeferredAggregate, OwnedSymbol } from '../../src/worker/owned-symbol.js';
import { OwnedSymbols } from '../../src/worker/owned-symbols.js';
import { TimeSlice } from '../../src/worker/time-slice.js';
import { SymbolAggregate, type AggregateSummary } from '../../src/aggregate/index.js';

const T0 = 1_700_000_000_000;

const trade = (id: string, timeMs = T0): Trade =>
  makeTrade({ symbol: 'AAPL', price: 10, size: 1, timeMs, id, exchange: '4' });

function symbolOf(owned: OwnedSymbols, symbol = 'AAPL'): OwnedSymbol {
  const found = owned.get(symbol);
  if (found === undefined) throw new Error(`${symbol} is not owned`);
  return found;
}

/** A symbol live from the start of the stream, with `ids` applied. */
function liveWith(ids: readonly string[], adapter = polygon): OwnedSymbols {
  const owned = new OwnedSymbols(adapter, {}, 1_000);
  owned.acquire('AAPL');
  owned.goLive('AAPL', null, START_OF_STREAM, false);
  for (const id of ids) owned.ingest(trade(id));
  return owned;
}

/** A symbol still loading (a new owner's, or a standby's), with `trades` buffered. */
function buffering(trades: readonly Trade[], adapter = polygon): OwnedSymbols {
  const owned = new OwnedSymbols(adapter, {}, 1_000);
  owned.acquire(trades[0]?.symbol ?? 'AAPL');
  for (const t of trades) owned.ingest(t);
  return owned;
}

describe('OwnedSymbols position', () => {
  it('is the loaded position until a trade is applied, then the last applied trade', () => {
    const owned = new OwnedSymbols(polygon, {}, 1_000);
    owned.acquire('AAPL');
    const loaded: StreamPosition = { key: 'AAPL|4|7', seq: null, timeMs: T0 - 5, atTime: 3 };
    expect(owned.goLive('AAPL', null, loaded, false)).toBe('exact');
    const aapl = symbolOf(owned);
    expect(owned.position(aapl)).toEqual(loaded);

    owned.ingest(trade('8', T0));
    owned.ingest(trade('9', T0));
    expect(owned.position(aapl)).toEqual({ key: 'AAPL|4|9', seq: null, timeMs: T0, atTime: 2 });
    owned.ingest(trade('9', T0)); // a duplicate moves nothing
    expect(owned.duplicatesDropped).toBe(1);
    expect(owned.position(aapl)).toEqual({ key: 'AAPL|4|9', seq: null, timeMs: T0, atTime: 2 });
    expect(aapl.applied).toBe(2);
  });

  it('keeps a copy of the last applied trade, not the trade itself, overwritten by the next one', () => {
    const owned = liveWith([]);
    const aapl = symbolOf(owned);
    const first = makeTrade({
      symbol: 'AAPL',
      price: 10,
      size: 1,
      timeMs: T0,
      id: '8',
      exchange: '4',
      seq: 3,
    });
    owned.ingest(first);
    const kept = aapl.lastApplied;
    expect(kept).not.toBe(first);
    expect(kept).toEqual(first);
    const second = makeTrade({
      symbol: 'AAPL',
      price: 11,
      size: 2,
      timeMs: T0 + 1,
      timeNanos: 5,
      id: '9',
      exchange: '12',
      conditions: ['14'],
      kind: 'correction',
      amendsId: '8',
    });
    owned.ingest(second);
    // Every field of the new trade, in the same storage: nothing of the first one is left.
    expect(aapl.lastApplied).toBe(kept);
    expect(aapl.lastApplied).toEqual(second);
    expect(owned.position(aapl)).toEqual({ key: 'AAPL|12|9', seq: null, timeMs: T0 + 1, atTime: 1 });
  });

  it("buffers copies of a loading symbol's trades, and replays them as the trades themselves", () => {
    // The decoder's objects must die young (a buffer that keeps them makes V8 allocate every later
    // trade of that decoder in the old generation): the buffer holds equal copies instead.
    const trades = [
      makeTrade({ symbol: 'AAPL', price: 10.25, size: 3, timeMs: T0, timeNanos: 7, id: '8', exchange: '4' }),
      makeTrade({
        symbol: 'AAPL',
        price: 10.5,
        size: 1,
        timeMs: T0 + 1,
        id: '9',
        exchange: '12',
        conditions: ['37'],
        kind: 'correction',
        amendsId: '8',
      }),
    ];
    const owned = buffering(trades);
    const aapl = symbolOf(owned);
    expect(aapl.buffer).toEqual(trades);
    aapl.buffer.forEach((kept, i) => expect(kept).not.toBe(trades[i]));
    expect(owned.firstBuffered(aapl)?.key).toBe('AAPL|4|8');

    owned.goLive('AAPL', null, START_OF_STREAM, false);
    const direct = liveWith([]);
    for (const t of trades) direct.ingest(t);
    expect(aapl.aggregate.toCheckpoint()).toEqual(symbolOf(direct).aggregate.toCheckpoint());
    expect(owned.position(aapl)).toEqual(direct.position(symbolOf(direct)));
  });

  it('after a replay, is the last replayed trade; a restart starts it over', () => {
    const owned = new OwnedSymbols(polygon, {}, 1_000);
    owned.acquire('AAPL');
    for (const id of ['6', '7', '8', '9']) owned.ingest(trade(id, T0 + Number(id)));
    const from: StreamPosition = { key: 'AAPL|4|7', seq: null, timeMs: T0 + 7, atTime: 1 };
    expect(owned.goLive('AAPL', null, from, false)).toBe('exact');
    expect(owned.handoverSkipped).toBe(2);
    expect(owned.position(symbolOf(owned))).toEqual({
      key: 'AAPL|4|9',
      seq: null,
      timeMs: T0 + 9,
      atTime: 1,
    });

    owned.restart('AAPL');
    expect(owned.position(symbolOf(owned))).toEqual(START_OF_STREAM);
  });

  it('after a standby warms from a checkpoint in its buffer, is where the checkpoint left it', () => {
    const standby = buffering(['6', '7'].map((id) => trade(id, T0)));
    const checkpoint: StreamPosition = { key: 'AAPL|4|7', seq: null, timeMs: T0, atTime: 2 };
    expect(standby.warm('AAPL', null, checkpoint, false)).toBe(true);
    expect(standby.position(symbolOf(standby))).toEqual(checkpoint);
    standby.ingest(trade('8', T0));
    expect(standby.position(symbolOf(standby))).toEqual({
      key: 'AAPL|4|8',
      seq: null,
      timeMs: T0,
      atTime: 3,
    });
  });

  it('a standby warms on a settled checkpoint from before its buffer: every buffered trade is applied', () => {
    // The owner died before checkpointing what this shadow buffered; its last checkpoint, unchanged
    // for a while after the subscription, holds everything before it.
    const standby = buffering(['8', '9'].map((id) => trade(id, T0)));
    const before: StreamPosition = { key: 'AAPL|4|7', seq: null, timeMs: T0, atTime: 1 };
    expect(standby.warm('AAPL', null, before, false)).toBe(false);
    expect(standby.warm('AAPL', null, before, true)).toBe(true);
    const aapl = symbolOf(standby);
    expect(aapl.applied).toBe(2);
    expect(standby.position(aapl).key).toBe('AAPL|4|9');

    // Without ids a settled position by time cannot place a buffer: it waits for the next one.
    const byTime = buffering([trade('', T0 + 5)], finnhub);
    const timed: StreamPosition = { key: '', seq: null, timeMs: T0 + 5, atTime: 1 };
    expect(byTime.warm('AAPL', null, timed, true)).toBe(false);
  });

  it("carries the last trade's sequence number where the provider numbers trades, and places by it", () => {
    const numbered = (t: number): Trade =>
      makeTrade({ symbol: 'BTCUSDT', price: 10, size: 1, timeMs: T0 + t, id: String(t), seq: t });
    const old = new OwnedSymbols(binance, {}, 1_000);
    old.acquire('BTCUSDT');
    old.goLive('BTCUSDT', null, START_OF_STREAM, false);
    for (const t of [5, 6, 7]) old.ingest(numbered(t));
    const final = old.position(symbolOf(old, 'BTCUSDT'));
    expect(final).toMatchObject({ key: 'BTCUSDT|7', seq: 7 });

    // The new owner's connection lags: 7 is not buffered yet. The number places it all the same,
    // and 7 is skipped when it arrives.
    const next = buffering([5, 6].map(numbered), binance);
    expect(next.goLive('BTCUSDT', null, final, true)).toBe('exact');
    for (const t of [7, 8, 9]) next.ingest(numbered(t));
    const btc = symbolOf(next, 'BTCUSDT');
    expect(btc.applied).toBe(2);
    expect(next.position(btc)).toMatchObject({ key: 'BTCUSDT|9', seq: 9 });

    // A standby whose buffer starts past the position with a gap cannot be placed, settled or not.
    const standby = buffering([numbered(9)], binance);
    expect(standby.warm('BTCUSDT', null, final, false)).toBe(false);
    expect(standby.warm('BTCUSDT', null, final, true)).toBe(false);
    const contiguous = buffering([8, 9].map(numbered), binance);
    expect(contiguous.warm('BTCUSDT', null, final, false)).toBe(true);
    expect(symbolOf(contiguous, 'BTCUSDT').applied).toBe(2);
  });

  it('waits for a position still ahead in the stream, field window or not', () => {
    for (const adapter of [polygon, relay]) {
      const owned = new OwnedSymbols(adapter, {}, 1_000);
      owned.acquire('AAPL');
      owned.ingest(trade('5'));
      const key = adapter.dedupKey(trade('7')) ?? '';
      const ahead: StreamPosition = { key, seq: null, timeMs: T0, atTime: 3 };
      expect(owned.goLive('AAPL', null, ahead, true), adapter.name).toBe('awaiting');
      for (const id of ['6', '7', '8']) owned.ingest(trade(id));
      const aapl = symbolOf(owned);
      expect(aapl.state, adapter.name).toBe('live');
      // 5, 6 and 7 were the previous owner's; 8 is the first this worker applies.
      expect(owned.handoverSkipped, adapter.name).toBe(3);
      expect(aapl.applied, adapter.name).toBe(1);
      expect(owned.position(aapl).key, adapter.name).toBe(adapter.dedupKey(trade('8')));
    }
  });
});

describe('OwnedSymbols hand-over lookup', () => {
  /** The new owner's first buffered trade, as the old owner reads it from the signal in Redis. */
  function firstTradeSignal(first: Trade, adapter = polygon): StreamPosition {
    const next = new OwnedSymbols(adapter, {}, 1_000);
    next.acquire('AAPL');
    next.ingest(first);
    const mark = next.firstBuffered(symbolOf(next));
    if (mark === undefined) throw new Error('nothing buffered');
    const signal = decodeHandoverSignal(encodeHandoverSignal({ epoch: 2, first: mark }));
    if (signal?.first === undefined) throw new Error('the signal did not survive the trip');
    return signal.first;
  }

  it("finds the new owner's first trade field by field, once this stream has it", () => {
    const old = liveWith(['1', '2', '3']);
    old.beginLeaving('AAPL');
    const mark = firstTradeSignal(trade('4'));
    expect(mark.identity).toEqual({ symbol: 'AAPL', id: '4', exchange: '4', kind: 'trade' });
    const aapl = symbolOf(old);
    expect(old.hasReached(aapl, mark)).toBe(false);
    old.ingest(trade('4'));
    expect(old.hasReached(aapl, mark)).toBe(true);
    // Same id at another exchange is another trade.
    expect(old.hasReached(aapl, firstTradeSignal(makeTrade({ ...trade('4'), exchange: '12' })))).toBe(false);
  });

  it('owns a leaving symbol again when its hand-over is called off, applied all along and dirty', () => {
    const old = liveWith(['1', '2']);
    const aapl = symbolOf(old);
    aapl.aggregate.markClean(aapl.aggregate.changes);
    old.beginLeaving('AAPL');
    old.ingest(trade('3'));
    expect(old.keepOwning('AAPL')).toBe(true);
    expect(aapl.state).toBe('live');
    expect(aapl.applied).toBe(3);
    expect(aapl.aggregate.dirty).toBe(true);
    // Only a leaving symbol: a live or loading one is left as it is.
    expect(old.keepOwning('AAPL')).toBe(false);
    const next = buffering([trade('4')]);
    expect(next.keepOwning('AAPL')).toBe(false);
    expect(symbolOf(next).state).toBe('loading');
  });

  it('treats a signal without identity fields (an earlier version) as not reached in a field window', () => {
    const old = liveWith(['1', '2']);
    const legacy = decodeHandoverSignal(`2||${T0}|AAPL|4|2`)?.first;
    expect(legacy).toEqual({ key: 'AAPL|4|2', seq: null, timeMs: T0, atTime: 1 });
    if (legacy === undefined) return;
    expect(old.hasReached(symbolOf(old), legacy)).toBe(false);
  });

  it('looks the key text up where the adapter lists no fields', () => {
    // The generic relay key gives no key to a trade without an id, so it lists no fields.
    const old = liveWith(['1', '2'], relay);
    const mark = firstTradeSignal(trade('2'), relay);
    expect(mark.identity).toBeUndefined();
    expect(old.hasReached(symbolOf(old), mark)).toBe(true);
    expect(old.hasReached(symbolOf(old), firstTradeSignal(trade('3'), relay))).toBe(false);
  });

  it('goes by trade time where trades have no ids', () => {
    const old = new OwnedSymbols(finnhub, {}, 1_000);
    old.acquire('AAPL');
    old.goLive('AAPL', null, START_OF_STREAM, false);
    old.ingest(trade('', T0));
    const mark = firstTradeSignal(trade('', T0), finnhub);
    expect(mark).toMatchObject({ key: '', timeMs: T0 });
    expect(mark.identity).toBeUndefined();
    expect(old.hasReached(symbolOf(old), mark)).toBe(false);
    old.ingest(trade('', T0 + 1));
    expect(old.hasReached(symbolOf(old), mark)).toBe(true);
  });
});

describe('OwnedSymbols quietSince', () => {
  it('is the last sample time while nothing was applied since it, and now once a trade was', () => {
    const owned = liveWith(['1']);
    const aapl = symbolOf(owned);
    // Never sampled since acquired: no history to go by.
    expect(owned.quietSince(aapl, 123_456)).toBe(123_456);
    const before = performance.now();
    owned.sampleQuiet();
    const after = performance.now();
    const since = owned.quietSince(aapl, after + 1_000);
    expect(since).toBeGreaterThanOrEqual(before);
    expect(since).toBeLessThanOrEqual(after);
    owned.ingest(trade('2'));
    expect(owned.quietSince(aapl, after + 1_000)).toBe(after + 1_000);
    owned.ingest(trade('2')); // a duplicate applies nothing: still not quiet since the sample
    expect(owned.quietSince(aapl, after + 2_000)).toBe(after + 2_000);
    owned.sampleQuiet();
    expect(owned.quietSince(aapl, after + 3_000)).toBeLessThan(after + 3_000);
  });

  it('goes back to the sample before the last when nothing was applied since that one', () => {
    const owned = liveWith(['1']);
    const aapl = symbolOf(owned);
    const first = performance.now();
    owned.sampleQuiet();
    const between = performance.now();
    owned.sampleQuiet();
    // Quiet across both samples: quiet since the earlier one, not only since the latest.
    const since = owned.quietSince(aapl, between + 1_000);
    expect(since).toBeGreaterThanOrEqual(first);
    expect(since).toBeLessThanOrEqual(between);
    // A trade between two samples: quiet since the later one only.
    owned.ingest(trade('2'));
    const beforeThird = performance.now();
    owned.sampleQuiet();
    expect(owned.quietSince(aapl, beforeThird + 1_000)).toBeGreaterThanOrEqual(beforeThird);
    // A sample later, the trade is before both samples kept.
    const beforeFourth = performance.now();
    owned.sampleQuiet();
    expect(owned.quietSince(aapl, beforeFourth + 1_000)).toBeLessThan(beforeFourth);
  });

  it('knows nothing of a symbol acquired after the last sample', () => {
    const owned = liveWith([]);
    owned.sampleQuiet();
    owned.acquire('MSFT');
    expect(owned.quietSince(symbolOf(owned, 'MSFT'), 99)).toBe(99);
  });
});

describe('OwnedSymbols deferred restore', () => {
  /** An aggregate of AAPL with one trade at 50, as a checkpoint would restore it. */
  function checkpointed(): SymbolAggregate {
    const aggregate = new SymbolAggregate('AAPL');
    aggregate.apply(
      makeTrade({ symbol: 'AAPL', price: 50, size: 2, timeMs: T0 - 10, id: '1', exchange: '4' }),
    );
    return aggregate;
  }

  /** A deferred checkpoint that counts its restores in `counter.restores`. */
  function deferred(
    counter = { restores: 0 },
    restore: () => SymbolAggregate | null = checkpointed,
    summary?: AggregateSummary,
  ): DeferredAggregate {
    return {
      restore: () => {
        counter.restores++;
        return restore();
      },
      summary,
    };
  }

  it('goes live without restoring a quiet symbol, and restores it once, when first read', () => {
    const owned = new OwnedSymbols(polygon, {}, 1_000);
    owned.acquire('AAPL');
    const counter = { restores: 0 };
    expect(owned.goLive('AAPL', deferred(counter), START_OF_STREAM, false)).toBe('exact');
    const aapl = symbolOf(owned);
    expect(aapl.state).toBe('live');
    expect(aapl.restorePending).toBe(true);
    expect(counter.restores).toBe(0);
    expect(aapl.aggregate.snapshot().trades).toBe(1);
    expect(aapl.aggregate.snapshot().trades).toBe(1);
    expect(counter.restores).toBe(1);
    expect(aapl.restorePending).toBe(false);
  });

  it('answers the summary from the checkpoint without restoring, where it can', () => {
    const owned = new OwnedSymbols(polygon, {}, 1_000);
    owned.acquire('AAPL');
    owned.acquire('MSFT');
    const peeked = { restores: 0 };
    owned.goLive(
      'AAPL',
      deferred(peeked, checkpointed, { trades: 1, lastPrice: 50 }),
      START_OF_STREAM,
      false,
    );
    expect(symbolOf(owned).summary()).toEqual({ trades: 1, lastPrice: 50 });
    expect(peeked.restores).toBe(0);
    // Without a summary read in place, it restores to answer.
    const restored = { restores: 0 };
    owned.goLive(
      'MSFT',
      deferred(restored, () => new SymbolAggregate('MSFT')),
      START_OF_STREAM,
      false,
    );
    expect(symbolOf(owned, 'MSFT').summary()).toEqual({ trades: 0, lastPrice: null });
    expect(restored.restores).toBe(1);
  });

  it('restores before the first trade is applied, so the trade lands on the checkpoint', () => {
    const owned = new OwnedSymbols(polygon, {}, 1_000);
    owned.acquire('AAPL');
    owned.goLive('AAPL', deferred(), START_OF_STREAM, false);
    owned.ingest(trade('2', T0));
    const session = symbolOf(owned).aggregate.snapshot();
    expect(session.trades).toBe(2);
    expect(session.volume).toBe(3);
  });

  it('restores at go-live when buffered trades are replayed onto it', () => {
    const owned = buffering([trade('2', T0), trade('3', T0)]);
    const counter = { restores: 0 };
    owned.goLive('AAPL', deferred(counter), START_OF_STREAM, false);
    expect(counter.restores).toBe(1);
    expect(symbolOf(owned).aggregate.snapshot().trades).toBe(3);
  });

  it('keeps the empty aggregate when the checkpoint turns out unusable', () => {
    const owned = new OwnedSymbols(polygon, {}, 1_000);
    owned.acquire('AAPL');
    owned.goLive(
      'AAPL',
      deferred(undefined, () => null),
      START_OF_STREAM,
      false,
    );
    owned.ingest(trade('2', T0));
    expect(symbolOf(owned).aggregate.snapshot().trades).toBe(1);
  });

  it('marks the restored aggregate dirty when asked while deferred, without restoring for it', () => {
    const owned = new OwnedSymbols(polygon, {}, 1_000);
    owned.acquire('AAPL');
    const counter = { restores: 0 };
    const clean = (): SymbolAggregate => {
      const aggregate = checkpointed();
      aggregate.markClean();
      return aggregate;
    };
    owned.goLive('AAPL', deferred(counter, clean), START_OF_STREAM, false);
    const aapl = symbolOf(owned);
    aapl.markDirty();
    expect(counter.restores).toBe(0);
    expect(aapl.aggregate.dirty).toBe(true);
  });

  it('restores every deferred symbol in slices, skipping one released meanwhile', async () => {
    const owned = new OwnedSymbols(polygon, {}, 1_000);
    const restored: string[] = [];
    for (const symbol of ['AAPL', 'MSFT', 'NVDA']) {
      owned.acquire(symbol);
      const restore = (): SymbolAggregate => {
        restored.push(symbol);
        // Releases NVDA while the loop is under way: it must not be restored after.
        if (symbol === 'AAPL') owned.release('NVDA');
        return new SymbolAggregate(symbol);
      };
      owned.goLive(symbol, deferred(undefined, restore), START_OF_STREAM, false);
    }
    // A zero budget yields before every symbol, as a busy worker's would.
    expect(await owned.restoreDeferred(new TimeSlice(0))).toBe(2);
    expect(restored).toEqual(['AAPL', 'MSFT']);
    expect(symbolOf(owned, 'MSFT').restorePending).toBe(false);
  });
});

describe("OwnedSymbols: the previous owner's last trade arriving after go-live", () => {
  /**
   * The previous owner's side: AAPL applied from the start of the stream up to `ids`, checkpointed
   * as a new owner would claim it (deferred), with its position.
   */
  function previousOwner(ids: readonly string[]): { loaded: DeferredAggregate; from: StreamPosition } {
    const old = liveWith(ids);
    const aapl = symbolOf(old);
    const checkpoint = aapl.aggregate.toCheckpoint();
    return {
      loaded: { restore: () => SymbolAggregate.fromCheckpoint(checkpoint), summary: undefined },
      from: old.position(aapl),
    };
  }

  /** What one owner applying the whole stream would hold. */
  const reference = (ids: readonly string[]): unknown => symbolOf(liveWith(ids)).aggregate.toCheckpoint();

  it('starts over from the checkpoint when that trade comes, so nothing before it is doubled', () => {
    // The old owner applied 1-3 and stopped (a quiet final); this worker's connection runs behind:
    // nothing was buffered at go-live, and 2 and 3 arrive after it, 3 being the old owner's last.
    const { loaded, from } = previousOwner(['1', '2', '3']);
    const owned = new OwnedSymbols(polygon, {}, 1_000);
    owned.acquire('AAPL');
    expect(owned.goLive('AAPL', loaded, from, false)).toBe('exact');
    for (const id of ['2', '3', '4', '5']) owned.ingest(trade(id));
    const aapl = symbolOf(owned);
    expect(aapl.aggregate.toCheckpoint()).toEqual(reference(['1', '2', '3', '4', '5']));
    expect(aapl.aggregate.summary().trades).toBe(5);
    expect(owned.position(aapl).key).toBe('AAPL|4|5');
    expect(owned.lateFinalsCaught).toBe(1);
    expect(owned.handoverSkipped).toBe(2);
    expect(aapl.lateFinal).toBeUndefined();
  });

  it('treats buffered trades replayed at go-live the same way', () => {
    const { loaded, from } = previousOwner(['1', '2', '3']);
    const owned = buffering([trade('2')]);
    expect(owned.goLive('AAPL', loaded, from, false)).toBe('replayed-all');
    for (const id of ['3', '4']) owned.ingest(trade(id));
    expect(symbolOf(owned).aggregate.toCheckpoint()).toEqual(reference(['1', '2', '3', '4']));
    expect(owned.handoverSkipped).toBe(2);
  });

  it('applies everything when that trade came before this worker subscribed and never comes', () => {
    const { loaded, from } = previousOwner(['1', '2', '3']);
    const owned = new OwnedSymbols(polygon, {}, 1_000);
    owned.acquire('AAPL');
    owned.goLive('AAPL', loaded, from, false);
    for (const id of ['4', '5']) owned.ingest(trade(id));
    expect(symbolOf(owned).aggregate.toCheckpoint()).toEqual(reference(['1', '2', '3', '4', '5']));
    expect(owned.lateFinalsCaught).toBe(0);
  });

  it('stops looking once the watch is over', async () => {
    const { loaded, from } = previousOwner(['1', '2', '3']);
    const owned = new OwnedSymbols(polygon, {}, 1_000);
    owned.lateFinalWatchMs = 5;
    owned.acquire('AAPL');
    owned.goLive('AAPL', loaded, from, false);
    owned.ingest(trade('4'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Not the previous owner's any more, as far as this worker can tell: an id seen again, applied.
    owned.ingest(trade('3'));
    const aapl = symbolOf(owned);
    expect(aapl.lateFinal).toBeUndefined();
    expect(aapl.aggregate.summary().trades).toBe(5);
    expect(owned.lateFinalsCaught).toBe(0);
  });

  it('looks for an awaited position the wait gave up on, once the buffer is replayed', () => {
    // An overlapped final: the previous owner passed this worker's first trade (2), so its last (4)
    // is in this stream, only later than the wait.
    const { loaded, from } = previousOwner(['1', '2', '3', '4']);
    const owned = buffering([trade('2')]);
    expect(owned.goLive('AAPL', loaded, from, true)).toBe('awaiting');
    owned.ingest(trade('3'));
    expect(owned.stopAwaiting('AAPL')).toBe(true);
    for (const id of ['4', '5']) owned.ingest(trade(id));
    expect(symbolOf(owned).aggregate.toCheckpoint()).toEqual(reference(['1', '2', '3', '4', '5']));
    expect(owned.lateFinalsCaught).toBe(1);
    expect(owned.handoverSkipped).toBe(3);
  });

  it('does not look where the position was found in the buffer, in time, or has no trade key', () => {
    const placed = previousOwner(['1', '2']);
    const exact = buffering([trade('2'), trade('3')]);
    expect(exact.goLive('AAPL', placed.loaded, placed.from, false)).toBe('exact');
    expect(symbolOf(exact).lateFinal).toBeUndefined();

    const awaited = buffering([trade('1')]);
    expect(awaited.goLive('AAPL', placed.loaded, placed.from, true)).toBe('awaiting');
    awaited.ingest(trade('2'));
    expect(symbolOf(awaited).state).toBe('live');
    expect(symbolOf(awaited).lateFinal).toBeUndefined();

    const byTime = new OwnedSymbols(polygon, {}, 1_000);
    byTime.acquire('AAPL');
    byTime.goLive('AAPL', placed.loaded, { key: '', seq: null, timeMs: T0, atTime: 1 }, false);
    expect(symbolOf(byTime).lateFinal).toBeUndefined();
  });
});
