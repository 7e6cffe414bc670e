/**
 * Ring balance and cost, computed in-process (no Redis, no workers):
 *   - max/mean symbols per worker for 8,000 symbols with 500 virtual nodes per worker, at 4, 8, 16
 *     and 32 workers, next to an ideal uniform hash (md5 of the symbol modulo N) with the same
 *     symbols: what is left over the ideal is the ring's own unevenness, the rest is sampling noise;
 *   - symbols moved when a worker joins, against the ideal 1/(N+1), and a check that none moved
 *     between two workers that both stayed (hashring issue #43);
 *   - time to build a ring and the symbol-to-owner map of one epoch, at 16 and 64 workers.
 *
 *   node --import tsx bench/ring-balance.ts
 * Environment: BENCH_SYMBOLS (default 8000), BENCH_VNODES (500), BENCH_WORKERS ("4,8,16,32"),
 * BENCH_BUILD_WORKERS ("16,64"), BENCH_BUILD_RUNS (7).
 */
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Assignment, buildHashRing } from '../src/cluster/ring.js';
import type { RingRecord } from '../src/cluster/ring-record.js';
import { generateSymbols } from '../src/sim/universe.js';

const SYMBOLS = Number(process.env['BENCH_SYMBOLS'] ?? 8_000);
const VNODES = Number(process.env['BENCH_VNODES'] ?? 500);
const WORKERS = (process.env['BENCH_WORKERS'] ?? '4,8,16,32').split(',').map(Number);
const BUILD_WORKERS = (process.env['BENCH_BUILD_WORKERS'] ?? '16,64').split(',').map(Number);
const BUILD_RUNS = Number(process.env['BENCH_BUILD_RUNS'] ?? 7);

export interface BalanceRow {
  workers: number;
  maxOverMean: number;
  minOverMean: number;
  idealMaxOverMean: number;
  movedOnJoin: number;
  idealMovedOnJoin: number;
  movedBetweenStayers: number;
}

export interface BuildRow {
  workers: number;
  /** Median over the runs (ms): the hashring alone, and the whole per-epoch assignment. */
  ringMs: number;
  assignmentMs: number;
}

function ids(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `worker-${String(i + 1).padStart(2, '0')}`);
}

function record(count: number, epoch = 1): RingRecord {
  return {
    epoch,
    members: ids(count).map((id) => ({ id, weight: 1, address: '' })),
    pins: {},
    vnodes: VNODES,
    changedAt: 0,
    reason: 'bench',
  };
}

function spread(counts: readonly number[]): { max: number; min: number } {
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
  return { max: Math.max(...counts) / mean, min: Math.min(...counts) / mean };
}

function idealMaxOverMean(symbols: readonly string[], workers: number): number {
  const counts = new Array<number>(workers).fill(0);
  for (const symbol of symbols) {
    const bucket = createHash('md5').update(symbol).digest().readUInt32BE(0) % workers;
    counts[bucket] = (counts[bucket] ?? 0) + 1;
  }
  return spread(counts).max;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

export function balance(symbols: readonly string[] = generateSymbols(SYMBOLS)): BalanceRow[] {
  return WORKERS.map((workers) => {
    const assignment = new Assignment(record(workers), symbols);
    const counts = ids(workers).map((id) => assignment.symbolCount(id));
    const { max, min } = spread(counts);
    const joined = new Assignment(record(workers + 1, 2), symbols);
    const newcomer = ids(workers + 1).at(-1) ?? '';
    let moved = 0;
    let movedBetweenStayers = 0;
    for (const symbol of symbols) {
      const before = assignment.ownerOf(symbol);
      const after = joined.ownerOf(symbol);
      if (before === after) continue;
      moved++;
      if (after !== newcomer) movedBetweenStayers++;
    }
    return {
      workers,
      maxOverMean: max,
      minOverMean: min,
      idealMaxOverMean: idealMaxOverMean(symbols, workers),
      movedOnJoin: moved / symbols.length,
      idealMovedOnJoin: 1 / (workers + 1),
      movedBetweenStayers,
    };
  });
}

export function buildTimes(symbols: readonly string[] = generateSymbols(SYMBOLS)): BuildRow[] {
  return BUILD_WORKERS.map((workers) => {
    const ringRuns: number[] = [];
    const assignmentRuns: number[] = [];
    const rec = record(workers);
    buildHashRing(rec); // warm up the JIT
    for (let i = 0; i < BUILD_RUNS; i++) {
      let started = performance.now();
      buildHashRing(rec);
      ringRuns.push(performance.now() - started);
      started = performance.now();
      new Assignment(rec, symbols);
      assignmentRuns.push(performance.now() - started);
    }
    return { workers, ringMs: median(ringRuns), assignmentMs: median(assignmentRuns) };
  });
}

export function formatResults(rows: readonly BalanceRow[], builds: readonly BuildRow[]): string {
  const lines = [
    `Ring balance: ${SYMBOLS} symbols, ${VNODES} virtual nodes per worker (hashring, md5, explicit vnode count)`,
    '',
    '| workers | max/mean | min/mean | ideal hash max/mean | moved on join | ideal 1/(N+1) | moved between stayers |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.workers} | ${r.maxOverMean.toFixed(3)} | ${r.minOverMean.toFixed(3)} | ${r.idealMaxOverMean.toFixed(3)} | ${(100 * r.movedOnJoin).toFixed(1)} % | ${(100 * r.idealMovedOnJoin).toFixed(1)} % | ${r.movedBetweenStayers} |`,
    ),
    '',
    `Ring build (median of ${BUILD_RUNS}): the hashring alone, and the whole per-epoch symbol-to-owner map`,
    '',
    '| workers | ring build | ring + owner map |',
    '| ---: | ---: | ---: |',
    ...builds.map((b) => `| ${b.workers} | ${b.ringMs.toFixed(1)} ms | ${b.assignmentMs.toFixed(1)} ms |`),
  ];
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const symbols = generateSymbols(SYMBOLS);
  console.log(formatResults(balance(symbols), buildTimes(symbols)));
}
