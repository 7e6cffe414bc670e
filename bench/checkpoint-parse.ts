/**
 * What a new owner pays per symbol to load the checkpoint it takes over: `JSON.parse` of the stored
 * text, then `parseCheckpoint`'s validation, then `SymbolAggregate.fromCheckpoint`. Baseline, same
 * process, alternating rounds: `JSON.parse` alone. The checkpoint is a real one, with the default
 * bars (1 s, 1 min, 5 min) full. Not part of `npm run bench`: the quick loop for work on
 * `src/aggregate/checkpoint.ts`.
 *
 *   node --import tsx bench/checkpoint-parse.ts
 * Environment: BENCH_ROUNDS (5), BENCH_ITERATIONS (2000).
 */
import { makeTrade } from '../feeds/trade.js';
import { parseCheckpoint } from '../src/aggregate/checkpoint.js';
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

/** Best µs per checkpoint over the rounds. */
const best = { parse: Infinity, validate: Infinity, load: Infinity };
for (let round = 0; round < ROUNDS; round++) {
  let started = performance.now();
  for (let i = 0; i < ITERATIONS; i++) JSON.parse(text);
  best.parse = Math.min(best.parse, ((performance.now() - started) * 1_000) / ITERATIONS);
  started = performance.now();
  for (let i = 0; i < ITERATIONS; i++) parseCheckpoint(JSON.parse(text));
  best.validate = Math.min(best.validate, ((performance.now() - started) * 1_000) / ITERATIONS);
  started = performance.now();
  for (let i = 0; i < ITERATIONS; i++) SymbolAggregate.fromCheckpoint(parseCheckpoint(JSON.parse(text)));
  best.load = Math.min(best.load, ((performance.now() - started) * 1_000) / ITERATIONS);
}
console.log(
  table(
    [
      'checkpoint bytes',
      'JSON.parse µs',
      '+ parseCheckpoint µs',
      '+ fromCheckpoint µs',
      'validation alone µs',
    ],
    [
      [
        int(text.length),
        fixed(best.parse),
        fixed(best.validate),
        fixed(best.load),
        fixed(best.validate - best.parse),
      ],
    ],
  ),
);
