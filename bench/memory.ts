/**
 * Scenario 6, memory. One worker owning every symbol, fed by a paced feed whose trade times start an
 * hour back and run fast until they catch up with the clock (each symbol trading every 2 s of wall
 * time meanwhile), so every symbol's bars of every interval (1 s, 1 min, 5 min; 10 completed kept
 * per interval, the default) fill within the run; then live trades at BENCH_RATE.
 * RSS (/proc/<pid>/status VmRSS), the V8 heap in use and the memory outside it (Buffers; the
 * worker's `nodejs_heap_size_used_bytes` and `nodejs_external_memory_bytes`) are sampled every
 * second. The heap saw-tooths with each checkpoint's garbage, so retained memory is read as the
 * floor: the lowest sample of a stretch, just after a collection.
 * Figures: heap floor and RSS per 1,000 symbols with bars kept (the slope between symbol counts),
 * against the same-run baseline of the same worker at ready (aggregates empty); growth over the live
 * part of the largest run (the floor of each third).
 *
 *   npm run build && node --import tsx bench/memory.ts
 * Environment: BENCH_SYMBOLS ("1000,8000"), BENCH_RATE (2000 live trades/s), BENCH_FILL_MS (30000:
 * the hour of trade time is replayed in this long), BENCH_STEADY_MS (40000, at the largest count;
 * 10000 at the others; 600000 for a long run), BENCH_REDIS_URL (default: a private redis-server).
 */
import { pathToFileURL } from 'node:url';
import { generateSymbols } from '../src/sim/universe.js';
import { benchRedis } from './support/bench-redis.js';
import { rssBytes } from './support/proc-stats.js';
import { firstLine, json, readMetrics, runTs, sleep, stop } from './support/processes.js';
import { fixed, int, mib, table } from './support/stats.js';
import { startWorker, stopWorker, waitReady, warningSummary } from './support/worker-process.js';

const COUNTS = (process.env['BENCH_SYMBOLS'] ?? '1000,8000').split(',').map(Number);
const RATE = Number(process.env['BENCH_RATE'] ?? 2_000);
const FILL_MS = Number(process.env['BENCH_FILL_MS'] ?? 30_000);
const STEADY_MS = Number(process.env['BENCH_STEADY_MS'] ?? 40_000);
const BACKFILL_MS = 3_600_000;
const HEAP = 'nodejs_heap_size_used_bytes';
const EXTERNAL = 'nodejs_external_memory_bytes';
export const MEMORY_COMMAND = 'npm run build && node --import tsx bench/memory.ts';

export interface Sample {
  readonly atMs: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
}

export interface MemoryRun {
  readonly symbols: number;
  readonly ready: Sample;
  /** The live part, after the replay. */
  readonly steady: Sample[];
  /** Bars kept for the busiest symbol, per interval (completed and open), at the end. */
  readonly barsKept: Record<string, number>;
  readonly ingested: number;
  readonly warnings: string;
}

const floor = (samples: readonly Sample[], pick: (s: Sample) => number): number =>
  Math.min(...samples.map(pick));
const last = (samples: readonly Sample[], pick: (s: Sample) => number): number => {
  const value = samples.at(-1);
  return value ? pick(value) : NaN;
};

async function measure(symbols: number, steadyMs: number): Promise<MemoryRun> {
  const speed = BACKFILL_MS / FILL_MS + 1;
  const fillRate = Math.ceil(symbols / 2);
  const feed = runTs('./paced-feed.ts', [
    String(symbols),
    String(fillRate),
    '50',
    String(BACKFILL_MS),
    String(speed),
    String(RATE),
  ]);
  const redis = await benchRedis('memory');
  const port = await firstLine(feed);
  await redis.addUniverse(generateSymbols(symbols));
  const worker = startWorker({
    id: 'w1',
    redisUrl: redis.url,
    prefix: redis.prefix,
    feedUrl: `ws://127.0.0.1:${port}/stocks`,
    echoWarnings: false,
  });
  try {
    const address = await worker.address();
    const sample = async (startedAt: number): Promise<Sample> => {
      const metrics = await readMetrics(address, [HEAP, EXTERNAL]);
      return {
        atMs: performance.now() - startedAt,
        rss: rssBytes(worker.child.pid),
        heapUsed: metrics.get(HEAP) ?? NaN,
        external: metrics.get(EXTERNAL) ?? NaN,
      };
    };
    await waitReady(address);
    const ready = await sample(performance.now());
    await sleep(FILL_MS + 5_000); // the replay, and time to catch up after it
    const steady: Sample[] = [];
    const startedAt = performance.now();
    while (performance.now() - startedAt < steadyMs) {
      steady.push(await sample(startedAt));
      await sleep(1_000);
    }
    const busiest = generateSymbols(1)[0] ?? '';
    const barsKept: Record<string, number> = {};
    for (const interval of ['1s', '1m', '5m']) {
      const answer = await json<{ bars: unknown[] }>(
        `${address}/v1/symbols/${busiest}/bars?interval=${interval}&limit=11`,
      );
      barsKept[interval] = answer.bars.length;
    }
    const ingested =
      (await readMetrics(address, ['tickring_trades_ingested_total'])).get(
        'tickring_trades_ingested_total',
      ) ?? NaN;
    const run: MemoryRun = {
      symbols,
      ready,
      steady,
      barsKept,
      ingested,
      warnings: warningSummary([worker]),
    };
    console.log(
      `${symbols} symbols: at ready RSS ${mib(ready.rss)}, heap ${mib(ready.heapUsed)}; with bars kept RSS ` +
        `${mib(last(steady, (s) => s.rss))}, heap floor ${mib(floor(steady, (s) => s.heapUsed))}; ` +
        `bars of ${busiest}: ${JSON.stringify(barsKept)}`,
    );
    return run;
  } finally {
    await stopWorker(worker, 'SIGKILL');
    await stop(feed);
    await redis.close();
  }
}

export async function run(): Promise<MemoryRun[]> {
  const runs: MemoryRun[] = [];
  const largest = Math.max(...COUNTS);
  for (const count of COUNTS) runs.push(await measure(count, count === largest ? STEADY_MS : 10_000));
  return runs;
}

export function formatMemory(runs: readonly MemoryRun[]): string {
  const sorted = [...runs].sort((a, b) => a.symbols - b.symbols);
  const lo = sorted[0]!;
  const hi = sorted.at(-1)!;
  const per1000 = (pick: (r: MemoryRun) => number): number =>
    ((pick(hi) - pick(lo)) / (hi.symbols - lo.symbols)) * 1000;
  const heapFloor = (r: MemoryRun): number => floor(r.steady, (s) => s.heapUsed);
  const rssEnd = (r: MemoryRun): number => last(r.steady, (s) => s.rss);
  const third = Math.max(1, Math.floor(hi.steady.length / 3));
  const thirds = [0, 1, 2].map((i) => hi.steady.slice(i * third, i === 2 ? undefined : (i + 1) * third));
  const series = (pick: (s: Sample) => number): string => thirds.map((t) => mib(floor(t, pick))).join(' → ');
  const heapPeak = Math.max(...hi.steady.map((s) => s.heapUsed));
  const seconds = (hi.steady.at(-1)?.atMs ?? 0) / 1000;
  return [
    `One worker, paced feed (round robin) replaying the last hour of trade time in ${FILL_MS / 1000} s (each ` +
      'symbol trading every 2 s meanwhile), so the 1 s, 1 min and 5 min bars of every symbol fill (10 completed ' +
      `kept per interval, the default), then live at ${int(RATE)} trades/s. RSS from /proc, heap and external ` +
      "(Buffers) from the worker's own metrics, sampled every second once the replay is over. The heap " +
      'saw-tooths with the garbage of every checkpoint, so what it retains is its floor (lowest sample).',
    `Command: \`${MEMORY_COMMAND}\`.`,
    '',
    table(
      [
        'symbols',
        'at ready: RSS / heap',
        'bars kept: RSS (last) / heap floor',
        'heap peak',
        'bars kept (busiest symbol, incl. open)',
        'trades ingested',
        'worker warnings',
      ],
      sorted.map((r) => [
        int(r.symbols),
        `${mib(r.ready.rss)} / ${mib(r.ready.heapUsed)}`,
        `${mib(rssEnd(r))} / ${mib(heapFloor(r))}`,
        mib(Math.max(...r.steady.map((s) => s.heapUsed))),
        Object.entries(r.barsKept)
          .map(([i, n]) => `${i}: ${n}`)
          .join(', '),
        int(r.ingested),
        r.warnings,
      ]),
    ),
    '',
    `Per 1,000 symbols with bars kept (slope from ${int(lo.symbols)} to ${int(hi.symbols)} symbols): heap floor ` +
      `${mib(per1000(heapFloor))}, RSS ${mib(per1000(rssEnd))}. Baseline, same run, same worker at ready with ` +
      `empty aggregates: heap ${mib(per1000((r) => r.ready.heapUsed))} and RSS ${mib(per1000((r) => r.ready.rss))} ` +
      'per 1,000 symbols. RSS holds what the heap peaks reached (V8 and the allocator keep freed pages), so it ' +
      `follows the saw-tooth's top: at ${int(hi.symbols)} symbols the heap climbs from ${mib(heapFloor(hi))} to ` +
      `${mib(heapPeak)} between collections while trading only ${int(RATE)} trades/s.`,
    '',
    `Growth over ${fixed(seconds, 0)} s of live trading at ${int(hi.symbols)} symbols (${hi.steady.length} samples), ` +
      `floor of each third: heap ${series((s) => s.heapUsed)}, external ${series((s) => s.external)}, RSS ` +
      `${series((s) => s.rss)}. RSS samples (MiB): ` +
      hi.steady.map((s) => (s.rss / 2 ** 20).toFixed(0)).join(' ') +
      '; heap (MiB): ' +
      hi.steady.map((s) => (s.heapUsed / 2 ** 20).toFixed(0)).join(' ') +
      '.',
    '',
    growthVerdict(thirds),
  ].join('\n');
}

/** Growth allowed between the first and the last third's heap floor before it counts as growing. */
const GROWTH_TOLERANCE = 0.1;

/** The goal, decided on the retained heap (its floor), which garbage between collections does not move. */
function growthVerdict(thirds: readonly (readonly Sample[])[]): string {
  const first = floor(thirds[0] ?? [], (s) => s.heapUsed);
  const lastFloor = floor(thirds.at(-1) ?? [], (s) => s.heapUsed);
  const grew = lastFloor / first - 1;
  const met = grew <= GROWTH_TOLERANCE;
  return (
    `Goal: no growth over time: the heap floor of the last third is ${fixed(grew * 100, 1)} % from the first's ` +
    `(${mib(first)} → ${mib(lastFloor)}; allowed ${GROWTH_TOLERANCE * 100} %): ${met ? 'met' : 'not met'}.`
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatMemory(await run()));
}
