/**
 * Hot symbols, computed in-process (no Redis, no workers): with Zipf-skewed trade rates, max/mean
 * trade load per worker under the plain ring against the planned hot-symbol pins (`planHotPins`), next
 * to the best possible, max(target, hottest share × workers); the pins and symbols moved it costs; the
 * plan's time; and, for hysteresis, what a re-plan under ±5 % rate noise moves (should be 0).
 *
 *   node --import tsx bench/hot-symbols.ts
 * Environment: BENCH_SYMBOLS (default 8000), BENCH_ZIPF_S (1), BENCH_WORKERS ("4,8,16,32"),
 * BENCH_VNODES (500), BENCH_TARGET (1.25), BENCH_TOLERANCES ("0.01,0.05,0.1": one row per tolerance).
 */
import { pathToFileURL } from 'node:url';
import { planHotPins } from '../src/cluster/hot-pins.js';
import { Assignment } from '../src/cluster/ring.js';
import type { RingMember, RingRecord } from '../src/cluster/ring-record.js';
import { Prng } from '../src/sim/prng.js';
import { generateSymbols } from '../src/sim/universe.js';
import { ZipfTable } from '../src/sim/zipf.js';

const SYMBOLS = Number(process.env['BENCH_SYMBOLS'] ?? 8_000);
const ZIPF_S = Number(process.env['BENCH_ZIPF_S'] ?? 1);
const WORKERS = (process.env['BENCH_WORKERS'] ?? '4,8,16,32').split(',').map(Number);
const VNODES = Number(process.env['BENCH_VNODES'] ?? 500);
const TARGET = Number(process.env['BENCH_TARGET'] ?? 1.25);
const TOLERANCES = (process.env['BENCH_TOLERANCES'] ?? '0.01,0.05,0.1').split(',').map(Number);

export interface HotRow {
  workers: number;
  tolerance: number;
  ring: number;
  planned: number;
  best: number;
  pins: number;
  dedicated: number;
  moved: number;
  movedRateShare: number;
  planMs: number;
  /** Symbols a re-plan moves when every rate is off by up to ±5 %. */
  movedUnderNoise: number;
}

function members(count: number): RingMember[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `worker-${String(i + 1).padStart(2, '0')}`,
    weight: 1,
    address: '',
  }));
}

function record(list: readonly RingMember[]): RingRecord {
  return { epoch: 1, members: list, pins: {}, vnodes: VNODES, changedAt: 0, reason: 'bench' };
}

export function zipfRates(symbols: readonly string[], exponent: number): Map<string, number> {
  const zipf = new ZipfTable(symbols.length, exponent);
  return new Map(symbols.map((symbol, k) => [symbol, zipf.probability(k) * 10_000]));
}

export function hotSymbols(symbols: readonly string[] = generateSymbols(SYMBOLS)): HotRow[] {
  const rates = zipfRates(symbols, ZIPF_S);
  const prng = new Prng(1);
  const noisy = new Map([...rates].map(([s, r]) => [s, r * (1 + 0.05 * (2 * prng.next() - 1))]));
  const rows: HotRow[] = [];
  for (const workers of WORKERS) {
    const list = members(workers);
    const ring = new Assignment(record(list), symbols);
    for (const tolerance of TOLERANCES) {
      const started = performance.now();
      const plan = planHotPins(rates, list, ring, { target: TARGET, tolerance });
      const planMs = performance.now() - started;
      const again = planHotPins(noisy, list, ring, { target: TARGET, tolerance, currentPins: plan.pins });
      rows.push({
        workers,
        tolerance,
        ring: plan.ringMaxOverMean,
        planned: plan.predictedMaxOverMean,
        best: plan.bestPossible,
        pins: Object.keys(plan.pins).length,
        dedicated: plan.dedicated.length,
        moved: plan.movedSymbols,
        movedRateShare: plan.movedRateShare,
        planMs,
        movedUnderNoise: again.movedSymbols,
      });
    }
  }
  return rows;
}

export function formatResults(rows: readonly HotRow[]): string {
  return [
    `Hot symbols: ${SYMBOLS} symbols, Zipf s=${ZIPF_S} trade rates, ${VNODES} virtual nodes per worker, target ${TARGET}`,
    'max/mean = the busiest worker’s trade load over the mean; best = max(target, hottest share × workers).',
    '',
    '| workers | tolerance | plain ring | pinned | best possible | pins | dedicated workers | symbols moved | trade rate moved | plan time | moved on re-plan, ±5 % noise |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.workers} | ${r.tolerance} | ${r.ring.toFixed(3)} | ${r.planned.toFixed(3)} | ${r.best.toFixed(3)} | ${r.pins} | ${r.dedicated} | ${r.moved} | ${(100 * r.movedRateShare).toFixed(1)} % | ${r.planMs.toFixed(0)} ms | ${r.movedUnderNoise} |`,
    ),
    '',
    'Command: node --import tsx bench/hot-symbols.ts',
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatResults(hotSymbols()));
}
