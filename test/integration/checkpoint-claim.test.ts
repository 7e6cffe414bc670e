/**
 * Claiming gained symbols against a real Redis (`claim-4.lua` through `CheckpointStore.claim`): a claim
 * fences a symbol and returns its last checkpoint, and a symbol fenced at a newer epoch already is
 * told apart from one without a checkpoint, so a worker behind the ring never goes live from
 * nothing (see `Worker.takeOver`).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTrade } from '../../feeds/trade.js';
import { parseCheckpoint } from '../../src/aggregate/checkpoint.js';
import { PackedCheckpoint, parseStoredCheckpoint } from '../../src/aggregate/packed-checkpoint.js';
import { SymbolAggregate } from '../../src/aggregate/symbol-aggregate.js';
import {
  CheckpointStore,
  parseCheckpointRecord,
  type CheckpointRecord,
} from '../../src/cluster/checkpoints.js';
import { START_OF_STREAM } from '../../src/ingest/stream-position.js';
import { testCluster, type TestCluster } from '../support/redis.js';

function record(owner: string, epoch: number, trades: number): CheckpointRecord {
  return {
    v: 1,
    owner,
    epoch,
    writtenAt: Date.now(),
    watermark: '',
    final: true,
    position: START_OF_STREAM,
    overlapped: true,
    aggregate: { trades },
  };
}

describe('claiming symbols at an epoch', () => {
  let env: TestCluster;

  beforeEach(async () => {
    env = await testCluster('claim');
    // Both workers hold live leases (the scripts refuse a caller without one).
    const until = Date.now() + 60_000;
    await env.redis.zadd(env.keys.leases, until, 'old', until, 'new');
  });

  afterEach(async () => {
    await env.cleanup();
  });

  it('returns the last checkpoint, none, or the symbols a newer epoch fenced already', async () => {
    const old = new CheckpointStore(env.redis, env.keys, 'old');
    const taker = new CheckpointStore(env.redis, env.keys, 'new');
    // The old owner hands AAPL over with a final checkpoint at epoch 7.
    expect(await old.write(7, new Map([['AAPL', record('old', 7, 42)]]), true)).toEqual([]);

    // Claimed at epoch 5: AAPL is fenced at 7, so the claim leaves it alone and says so; MSFT has
    // no checkpoint at all.
    const behind = await taker.claim(5, ['AAPL', 'MSFT'], () => undefined);
    expect(behind.newer).toEqual(['AAPL']);
    expect([...behind.records]).toEqual([['MSFT', null]]);
    expect(await taker.fences(['AAPL', 'MSFT'])).toEqual([7, 5]);
    // Each claimed symbol names its claimer, until another claims it; a refused claim names nobody.
    expect(await taker.holders(['AAPL', 'MSFT'])).toEqual([null, 'new']);

    // At epoch 7 or later the final checkpoint is read, and the symbol fenced at the claim's epoch.
    const current = await taker.claim(8, ['AAPL'], () => undefined);
    expect(current.newer).toEqual([]);
    expect(current.records.get('AAPL')).toMatchObject({ owner: 'old', epoch: 7, aggregate: { trades: 42 } });
    expect(await taker.fences(['AAPL'])).toEqual([8]);
    expect(await taker.holders(['AAPL'])).toEqual(['new']);
  });

  it('waits for a final checkpoint written at any epoch since the one given per symbol', async () => {
    const old = new CheckpointStore(env.redis, env.keys, 'old');
    await old.write(7, new Map([['AAPL', record('old', 7, 1)]]), true);
    // A take-over begun at 6 and resumed at 9 is satisfied by the final at 7; one begun at 9 is not.
    expect(await old.unfenced(9, ['AAPL'], () => 6)).toEqual([]);
    expect(await old.unfenced(9, ['AAPL'])).toEqual(['AAPL']);
  });

  it('writes many symbols in batches sent back to back, and lists the refusals of every batch', async () => {
    const symbols = Array.from({ length: 450 }, (_, i) => `S${String(i).padStart(3, '0')}`);
    const taker = new CheckpointStore(env.redis, env.keys, 'new');
    // Fenced at a newer epoch already: one symbol in the first batch of 200, one in the last.
    await taker.claim(9, ['S005', 'S440'], () => undefined);
    const old = new CheckpointStore(env.redis, env.keys, 'old');
    const writes = old.writes;
    const refused = await old.write(8, new Map(symbols.map((s, i) => [s, record('old', 8, i)])));
    expect(refused).toEqual(['S005', 'S440']);
    expect(old.writes - writes).toBe(3);
    const read = await old.readMany(['S000', 'S005', 'S449']);
    expect(read.map((r) => (r?.aggregate as { trades: number } | undefined)?.trades)).toEqual([
      0,
      undefined,
      449,
    ]);
  });

  it("writes a packed aggregate after the record's JSON, and loads it back as it was", async () => {
    const aggregate = new SymbolAggregate('AAPL');
    const start = Date.UTC(2026, 0, 5, 15);
    for (let i = 0; i < 400; i++) {
      aggregate.apply(
        makeTrade({
          symbol: 'AAPL',
          price: 100 + (i % 13) / 100,
          size: 1 + (i % 7),
          timeMs: start + i * 997,
        }),
      );
    }
    const base = record('old', 7, 0);
    const packed: CheckpointRecord = { ...base, aggregate: aggregate.checkpointPacked() };
    // A plain JSON.stringify of the record still gives the aggregate's objects.
    expect(JSON.stringify(packed)).toBe(JSON.stringify({ ...base, aggregate: aggregate.toCheckpoint() }));
    const old = new CheckpointStore(env.redis, env.keys, 'old');
    expect(await old.write(7, new Map([['AAPL', packed]]), true)).toEqual([]);
    const bytes = await env.redis.hgetBuffer(env.keys.checkpoints, 'AAPL');
    if (bytes === null) throw new Error('AAPL was not written');
    const head = JSON.stringify({ ...base, aggregate: undefined });
    expect(bytes.toString('utf8', 0, bytes.indexOf(0))).toBe(head);
    const [read] = await old.readMany(['AAPL']);
    expect(read).toMatchObject({ owner: 'old', epoch: 7, final: true });
    expect(parseCheckpoint(read?.aggregate)).toEqual(aggregate.toCheckpoint());
    const claimed = (
      await new CheckpointStore(env.redis, env.keys, 'new').claim(8, ['AAPL'], () => undefined)
    ).records.get('AAPL');
    // A claim leaves the aggregate packed, for the new owner to restore when first needed.
    expect(claimed?.aggregate).toBeInstanceOf(PackedCheckpoint);
    const restored = SymbolAggregate.fromCheckpoint(parseStoredCheckpoint(claimed?.aggregate));
    expect(restored.toCheckpoint()).toEqual(aggregate.toCheckpoint());
    // Kept packed, the bytes are the record's own: the reply they came in may be overwritten.
    const reply = Buffer.from(bytes);
    const kept = parseCheckpointRecord(reply, 'AAPL', { unpack: false });
    reply.fill(0);
    expect(parseStoredCheckpoint(kept.aggregate)).toEqual(aggregate.toCheckpoint());
  });

  it('packs aggregates straight into batches of one argument, and every record reads back exactly', async () => {
    const writer = new CheckpointStore(env.redis, env.keys, 'old');
    const start = Date.UTC(2026, 0, 5, 15);
    // 450 symbols: three script calls. The first outgrows the room it started with (a record with
    // 7 min of bars is about 3 KB), the last is short. Names of varied length, and one trade id not
    // ASCII (the packed strings are UTF-8).
    const symbols = Array.from({ length: 450 }, (_, i) => `S${'Y'.repeat(i % 9)}${i}`);
    const aggregates = symbols.map((symbol, n) => {
      const aggregate = new SymbolAggregate(symbol);
      for (let i = 0; i < 60; i++) {
        const id = n === 7 ? `é-${i}` : `${n}-${i}`;
        aggregate.apply(
          makeTrade({ symbol, price: 10 + n + i / 100, size: 1 + i, timeMs: start + i * 7_000, id }),
        );
      }
      return aggregate;
    });
    // Fenced at epoch 9 by a newer owner: refused, and left as it was.
    await env.redis.hset(env.keys.checkpointEpochs, symbols[300] as string, 9);
    const head = (symbol: string) => ({ ...record('old', 8, 0), watermark: `${symbol}|k`, final: false });
    const batches = writer.writer(8);
    symbols.forEach((symbol, i) => {
      const aggregate = aggregates[i] as SymbolAggregate;
      // Every third as a whole record, as finals are written: both ways share the batches.
      if (i % 3 === 0) batches.add(symbol, { ...head(symbol), aggregate: aggregate.checkpointPacked() });
      else batches.addPacking(symbol, head(symbol), aggregate);
    });
    expect(await batches.done()).toEqual([symbols[300]]);
    expect(writer.writes).toBe(3);
    const read = await writer.readMany(symbols);
    symbols.forEach((symbol, i) => {
      if (i === 300) {
        expect(read[i]).toBeNull();
        return;
      }
      expect(read[i], symbol).toMatchObject({ owner: 'old', epoch: 8, watermark: `${symbol}|k` });
      expect(parseCheckpoint(read[i]?.aggregate), symbol).toEqual(aggregates[i]?.toCheckpoint());
    });
  });

  it('refuses a batch whose records are cut short, and writes none of it', async () => {
    const framed = (symbol: string, record: string): Buffer => {
      const lengths = Buffer.alloc(8);
      lengths.writeUInt32LE(symbol.length, 0);
      lengths.writeUInt32LE(record.length, 4);
      return Buffer.concat([lengths, Buffer.from(symbol + record)]);
    };
    const whole = framed('MSFT', '{}');
    const write = (records: Buffer): Promise<unknown> =>
      env.redis.tickringCheckpoint(
        env.keys.leases,
        env.keys.checkpointEpochs,
        env.keys.checkpoints,
        'old',
        3,
        '0',
        records,
      );
    // A whole record first, then one whose length runs past the end, or whose lengths are cut.
    for (const cut of [framed('AAPL', '{"v":1}').subarray(0, 14), whole.subarray(0, 5)]) {
      await expect(write(Buffer.concat([whole, cut]))).rejects.toThrow(/cut short/);
    }
    expect(await env.redis.hlen(env.keys.checkpoints)).toBe(0);
    expect(await env.redis.hlen(env.keys.checkpointEpochs)).toBe(0);
    expect(await write(whole)).toEqual([1]);
  });
});
