/**
 * What a new owner pays per symbol to load the checkpoint it takes over: `unpackCheckpoint` of the
 * stored doubles, then `parseCheckpoint`'s validation, then `SymbolAggregate.fromCheckpoint`.
 * Baseline, same process, alternating rounds: `JSON.parse` of the same checkpoint as JSON text (the
 * stored form before `packed-checkpoint.ts`). The checkpoint is a real one, with the default
 * bars (1 s, 1 min, 5 min) full. Not part of `npm run bench`: the quick loop for work on
 * `src/aggregate/checkpoint.ts`.
 *
 *   node --import tsx bench/checkpoint-parse.ts
 * Environment: BENCH_ROUNDS (5), BENCH_ITERATIONS (2000).
 */
import { makeTrade } from '../feeds/trade.js';
import { parseCheckpoint } from '../src/aggregate/checkpoint.js';
import { unpackCheckpoint } from '../src/aggregate/packed-checkpoint.js';
import { SymbolAggregate } from '../src/aggregate/symbol-aggregate.js';
import { fixed, int, table } from './support/stats.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const ITERATIONS = Number(process.env['BENCH_ITERATIONS'] ?? 2_000);

const start = Date.UTC(2026, 10, 25, 14);
const aggregate = new SymbolAggregate('AAPL');
for (let i = 0; i < 5_000; i++) {
  aggregate.apply(
    makeTrade({
      symbol: 'AAPL',
      price: 100 + (i % 7) / 10,
      size: 10,
      timeMs: start + i * 1_000,
      id: String(i),
    }),
  );
}
const text = JSON.stringify(aggregate.toCheckpoint());
const packed = Buffer.from(aggregate.checkpointPacked().bytes);

/** Best µs per checkpoint over the rounds of `load`. */
function timed(load: () => unknown, best: number): number {
  const started = performance.now();
  for (let i = 0; i < ITERATIONS; i++) load();
  return Math.min(best, ((performance.now() - started) * 1_000) / ITERATIONS);
}

const best = { parse: Infinity, unpack: Infinity, validate: Infinity, load: Infinity };
for (let round = 0; round < ROUNDS; round++) {
  best.parse = timed(() => JSON.parse(text), best.parse);
  best.unpack = timed(() => unpackCheckpoint(packed), best.unpack);
  best.validate = timed(() => parseCheckpoint(unpackCheckpoint(packed)), best.validate);
  best.load = timed(
    () => SymbolAggregate.fromCheckpoint(parseCheckpoint(unpackCheckpoint(packed))),
    best.load,
  );
}
console.log(
  table(
    [
      'JSON text bytes',
      'packed bytes',
      'JSON.parse µs',
      'unpackCheckpoint µs',
      '+ parseCheckpoint µs',
      '+ fromCheckpoint µs',
    ],
    [
      [
        int(text.length),
        int(packed.length),
        fixed(best.parse),
        fixed(best.unpack),
        fixed(best.validate),
        fixed(best.load),
      ],
    ],
  ),
);
