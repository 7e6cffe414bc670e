/**
 * What a periodic checkpoint costs the worker per symbol, in process, without Redis: for every symbol
 * that traded, what `Worker.writeCheckpoints` does before the bytes go to ioredis (complete and take
 * the bars, encode them for the bar store, build the record and serialize it as
 * `CheckpointStore.write` does), two ways in alternating rounds (see `Mode`). The aggregates are
 * filled as `bench/memory.ts` fills them: an hour of trade time, so every 1 s, 1 min and 5 min series
 * keeps its 10 completed bars; then each round is one second: one trade per symbol, then one
 * checkpoint of them all. Figures: CPU µs per symbol (best and median round) and bytes allocated per
 * symbol (V8's sampling heap profiler, collected objects included). Not part of `npm run bench`: the
 * quick loop for work on checkpoint serialization. It does not hold the records through a write, as
 * the worker does for hundreds of milliseconds, so the collector's cost of that (what holding the text
 * off the heap saves) shows only in `bench/memory.ts` and `bench/redis-cost.ts`.
 *
 *   node --import tsx bench/checkpoint-cost.ts
 * Environment: BENCH_SYMBOLS (8000), BENCH_ROUNDS (10), BENCH_MODES ("objects,packed,batched"; one of
 * them, to profile it alone).
 */
import { Session } from 'node:inspector/promises';
import { makeTrade, type Trade } from '../feeds/trade.js';
import { encodeBar } from '../src/cluster/bar-store.js';
import { CheckpointWriter, type CheckpointRecord, type RecordHead } from '../src/cluster/checkpoints.js';
import { SymbolAggregate } from '../src/aggregate/symbol-aggregate.js';
import { generateSymbols } from '../src/sim/universe.js';
import { fixed, int, table } from './support/stats.js';

const SYMBOLS = Number(process.env['BENCH_SYMBOLS'] ?? 8_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 10);
const FILL_MS = 3_600_000;
/** Trade time between a symbol's trades while filling: enough to fill the 1 s series too. */
const FILL_STEP_MS = 5_000;
const GRACE_MS = 1_000;

const symbols = generateSymbols(SYMBOLS);
let seq = 0;

/** A trade as `frame-pool.ts` prices it: cents, varying, so sums are not round numbers. */
function trade(symbol: string, timeMs: number): Trade {
  seq++;
  return makeTrade({
    symbol,
    price: Number((100 + (seq % 997) / 100).toFixed(2)),
    size: 100 + (seq % 9) * 100,
    timeMs,
    id: String(seq),
    exchange: '4',
  });
}

let now = Date.now() - 60_000;
const aggregates = symbols.map((symbol) => new SymbolAggregate(symbol));
for (let t = now - FILL_MS; t < now; t += FILL_STEP_MS) {
  for (const aggregate of aggregates) aggregate.apply(trade(aggregate.symbol, t));
}
for (const aggregate of aggregates) {
  aggregate.advanceTo(now - GRACE_MS);
  aggregate.takeCompletedBars();
  aggregate.markClean();
}

/**
 * How a record's aggregate is serialized: `objects`, `toCheckpoint()` and `JSON.stringify` of the
 * whole record (JSON text, as the worker wrote it before `checkpointPacked`); `packed`, records
 * holding `checkpointPacked()`, added to the batches whole by `CheckpointWriter.add` (as the worker
 * writes a hand-over's finals, and wrote every checkpoint before `addPacking`); `batched`, packed
 * straight into the batches by `CheckpointWriter.addPacking`, as the worker writes it now. Rounds
 * alternate between them.
 */
type Mode = 'objects' | 'packed' | 'batched';
const MODES = (process.env['BENCH_MODES'] ?? 'objects,packed,batched').split(',') as Mode[];

function recordHead(aggregate: SymbolAggregate): RecordHead {
  return {
    v: 1,
    owner: 'w1',
    epoch: 3,
    writtenAt: Date.now(),
    watermark: `${aggregate.symbol}|x`,
    final: false,
    position: { key: `${aggregate.symbol}|x`, seq: null, timeMs: now, atTime: 1 },
    overlapped: false,
  };
}

/** One checkpoint of every aggregate, as the worker writes it; returns the bytes it made (bars included). */
function checkpointAll(mode: Mode): number {
  let bytes = 0;
  // Batches are counted where the store would send them to Redis.
  const writer = new CheckpointWriter(
    (batch) => {
      bytes += batch.length;
      return Promise.resolve([]);
    },
    { recordBytes: 2_048 },
  );
  for (const aggregate of aggregates) {
    aggregate.advanceTo(now - GRACE_MS);
    for (const bar of aggregate.takeCompletedBars()) bytes += encodeBar(bar).length;
    if (!aggregate.dirty) continue;
    if (mode === 'batched') {
      writer.addPacking(aggregate.symbol, recordHead(aggregate), aggregate);
    } else if (mode === 'packed') {
      writer.add(aggregate.symbol, { ...recordHead(aggregate), aggregate: aggregate.checkpointPacked() });
    } else {
      const record: CheckpointRecord = { ...recordHead(aggregate), aggregate: aggregate.toCheckpoint() };
      bytes += JSON.stringify(record).length;
    }
    aggregate.markClean();
  }
  void writer.done();
  return bytes;
}

function tradeAll(): void {
  now += 1_000;
  for (const aggregate of aggregates) aggregate.apply(trade(aggregate.symbol, now - 300));
}

const cpuMicros = (): number => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

const perRound = new Map<Mode, number[]>(MODES.map((mode) => [mode, []]));
/** Bytes of records and bars one checkpoint of every symbol made, by mode (the last round's). */
const bytesPerCheckpoint = new Map<Mode, number>();
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of MODES) {
    tradeAll();
    const started = cpuMicros();
    bytesPerCheckpoint.set(mode, checkpointAll(mode));
    perRound.get(mode)?.push((cpuMicros() - started) / SYMBOLS);
  }
}

// Both ways must hold the same checkpoint (the unit tests check this thoroughly; this is a tripwire).
const probe = aggregates[0];
if (probe && JSON.stringify(probe.toCheckpoint()) !== JSON.stringify(probe.checkpointPacked())) {
  throw new Error('checkpointPacked() differs from toCheckpoint()');
}

/** Bytes allocated by one checkpoint of every symbol, from the sampling heap profiler. */
async function allocatedPerSymbol(mode: Mode): Promise<number> {
  const session = new Session();
  session.connect();
  tradeAll();
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 512,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  } as never);
  checkpointAll(mode);
  const { profile } = await session.post('HeapProfiler.stopSampling');
  session.disconnect();
  // The tree's sizes are V8's estimates of all bytes allocated (samples scaled by the interval).
  let total = 0;
  const visit = (node: { selfSize: number; children: (typeof node)[] }): void => {
    total += node.selfSize;
    for (const child of node.children) visit(child);
  };
  visit(profile.head);
  return total / SYMBOLS;
}

const rows: string[][] = [];
for (const mode of MODES) {
  const allocated = await allocatedPerSymbol(mode);
  const rounds = (perRound.get(mode) ?? []).sort((a, b) => a - b);
  rows.push([
    mode,
    int(SYMBOLS),
    int((bytesPerCheckpoint.get(mode) ?? NaN) / SYMBOLS),
    fixed(rounds[0] ?? NaN),
    fixed(rounds[Math.floor(rounds.length / 2)] ?? NaN),
    `${int(allocated)} B`,
  ]);
}
console.log(
  table(
    [
      'serialization',
      'symbols',
      'bytes per symbol',
      'best µs/symbol',
      'median µs/symbol',
      'allocated per symbol',
    ],
    rows,
  ),
);
