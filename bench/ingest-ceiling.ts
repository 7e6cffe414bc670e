/**
 * Scenario 1, ingest ceiling vs tickring. The same pre-serialized Polygon frames, streamed by a `ws`
 * server in another process as fast as the reader takes them, are read by:
 *   - the baseline: a bare `ws` client that only JSON-parses and updates a minimal aggregate;
 *   - one tickring worker process (full path: adapter decode, validation, de-duplication, aggregates,
 *     bars, checkpoints to Redis).
 * Figure: tickring's trades/s as a ratio of the baseline's. Goal >= 0.8. Beside it, the CPU each
 * reader used (from its own `process.cpuUsage` for the baseline, /proc/<pid>/stat for the worker)
 * and trades per core-second: on a shared machine other load takes CPU from either reader, and the
 * per-core figure shows the cost per trade whatever was left to it.
 *
 *   npm run build && node --import tsx bench/ingest-ceiling.ts
 * Each case runs as BENCH_REPEATS pairs (baseline, then tickring), each reader a new process: the
 * worker's rate has spread by half from one process to the next with the same build and the same
 * feed, more than most changes move it, so a single pair could say anything. The table shows the pair
 * of median ratio, with every pair's ratio beside it; the goal is judged on the median.
 *
 * Environment: BENCH_WINDOW_MS (default 5000), BENCH_WARMUP_MS (2000), BENCH_REPEATS (3),
 * BENCH_CASES ("1x500,50x500,1x8000,50x8000"), REDIS_URL (redis://127.0.0.1:6379; keys under a unique prefix, removed at the end).
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { addSymbols } from '../src/cluster/universe.js';
import { clusterKeys } from '../src/redis/keys.js';
import { registerScripts } from '../src/redis/scripts.js';
import { generateSymbols } from '../src/sim/universe.js';
import { CpuMeter, MachineCpu } from './support/proc-stats.js';
import { firstLine, readCounter, runTs, sleep, stop } from './support/processes.js';
import { fixed, int, table, verdict } from './support/stats.js';
import { startWorker, stopWorker, waitReady, warningSummary } from './support/worker-process.js';

const WINDOW_MS = Number(process.env['BENCH_WINDOW_MS'] ?? 5_000);
const WARMUP_MS = Number(process.env['BENCH_WARMUP_MS'] ?? 2_000);
const REPEATS = Number(process.env['BENCH_REPEATS'] ?? 3);
const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const CASES = (process.env['BENCH_CASES'] ?? '1x500,50x500,1x8000,50x8000').split(',').map((c) => {
  const [perFrame, symbols] = c.split('x').map(Number);
  return { perFrame: perFrame!, symbols: symbols! };
});
/** Larger than the worker's 200,000-trade de-duplication window, so cycling never repeats an id it remembers. */
const POOL_TRADES = 400_000;
export const INGEST_COMMAND = 'npm run build && node --import tsx bench/ingest-ceiling.ts';

export interface ReaderFigures {
  readonly tradesPerSecond: number;
  /** CPU the reader used over the window (1.0 = one core). */
  readonly cores: number;
  /** The frame server's CPU over the window. */
  readonly serverCores: number;
  /** The whole machine's busy cores over the window, whoever used them. */
  readonly machineCores: number;
}

export interface IngestResult {
  perFrame: number;
  symbols: number;
  baseline: number;
  tickring: number;
  ratio: number;
  readonly bare: ReaderFigures;
  readonly worker: ReaderFigures;
  /** Warnings the worker logged. */
  readonly warnings: string;
  /** The ratio of every pair run, in run order; the figures above are the median pair's. */
  readonly ratios: readonly number[];
}

async function frameServer(
  symbols: number,
  perFrame: number,
): Promise<{ url: string; pid: number | undefined; stop: () => Promise<void> }> {
  const server = runTs('./frame-server.ts', [String(symbols), String(perFrame), String(POOL_TRADES)]);
  const port = await firstLine(server);
  return { url: `ws://127.0.0.1:${port}/stocks`, pid: server.pid, stop: () => stop(server) };
}

async function baseline(symbols: number, perFrame: number): Promise<ReaderFigures> {
  const server = await frameServer(symbols, perFrame);
  try {
    const client = runTs('./bare-client.ts', [server.url, String(WARMUP_MS), String(WINDOW_MS)]);
    const line = firstLine(client);
    await sleep(WARMUP_MS);
    const serverCpu = new CpuMeter([server.pid]);
    const machine = new MachineCpu();
    const { tradesPerSecond, cores } = JSON.parse(await line) as { tradesPerSecond: number; cores: number };
    const figures = {
      tradesPerSecond,
      cores,
      serverCores: serverCpu.cores()[0] ?? NaN,
      machineCores: machine.busyCores(),
    };
    await stop(client);
    return figures;
  } finally {
    await server.stop();
  }
}

async function tickring(symbols: number, perFrame: number): Promise<ReaderFigures & { warnings: string }> {
  const server = await frameServer(symbols, perFrame);
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  const redis = new Redis(REDIS_URL);
  registerScripts(redis);
  await addSymbols(redis, clusterKeys(prefix, 'bench'), generateSymbols(symbols));
  const worker = startWorker({
    id: 'bench',
    redisUrl: REDIS_URL,
    prefix,
    feedUrl: server.url,
    echoWarnings: false,
  });
  try {
    const address = await worker.address();
    await waitReady(address);
    await sleep(WARMUP_MS);
    const before = await readCounter(address, 'tickring_trades_ingested_total');
    const cpu = new CpuMeter([worker.child.pid, server.pid]);
    const machine = new MachineCpu();
    const startedAt = performance.now();
    await sleep(WINDOW_MS);
    const after = await readCounter(address, 'tickring_trades_ingested_total');
    const [cores = NaN, serverCores = NaN] = cpu.cores();
    return {
      tradesPerSecond: Math.round(((after - before) * 1000) / (performance.now() - startedAt)),
      cores,
      serverCores,
      machineCores: machine.busyCores(),
      warnings: warningSummary([worker]),
    };
  } finally {
    await stopWorker(worker, 'SIGKILL');
    await server.stop();
    const keys = await redis.keys(`{${prefix}:*`);
    if (keys.length > 0) await redis.unlink(...keys);
    redis.disconnect();
  }
}

export async function run(): Promise<IngestResult[]> {
  const results: IngestResult[] = [];
  for (const { perFrame, symbols } of CASES) {
    const pairs: Omit<IngestResult, 'ratios'>[] = [];
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      const bare = await baseline(symbols, perFrame);
      const { warnings, ...worker } = await tickring(symbols, perFrame);
      const pair = {
        perFrame,
        symbols,
        baseline: bare.tradesPerSecond,
        tickring: worker.tradesPerSecond,
        ratio: Number((worker.tradesPerSecond / bare.tradesPerSecond).toFixed(2)),
        bare,
        worker,
        warnings,
      };
      console.log(
        `${perFrame} trade(s)/frame, ${symbols} symbols, pair ${repeat + 1}/${REPEATS}: baseline ${int(bare.tradesPerSecond)} trades/s (${fixed(bare.cores)} cores), ` +
          `tickring ${int(worker.tradesPerSecond)} trades/s (${fixed(worker.cores)} cores), ratio ${pair.ratio}; ` +
          `per core-second ${int(bare.tradesPerSecond / bare.cores)} vs ${int(worker.tradesPerSecond / worker.cores)}`,
      );
      pairs.push(pair);
    }
    const median = [...pairs].sort((a, b) => a.ratio - b.ratio)[Math.floor((pairs.length - 1) / 2)];
    if (median === undefined) throw new Error('BENCH_REPEATS must be at least 1');
    results.push({ ...median, ratios: pairs.map((p) => p.ratio) });
  }
  return results;
}

export function formatIngest(results: readonly IngestResult[]): string {
  const perCore = (f: ReaderFigures): number => f.tradesPerSecond / f.cores;
  const worst = Math.min(...results.map((r) => r.ratio));
  return [
    'Same pre-serialized Polygon frames from a `ws` server in another process, as fast as the reader takes them.',
    'Baseline: a bare `ws` client that only parses JSON and updates a minimal aggregate. tickring: one worker process,',
    `full path, checkpoints to Redis. Window ${WINDOW_MS} ms after ${WARMUP_MS} ms warm-up. "Cores": CPU the reader used`,
    'over the window; "per core-s": trades per second of that CPU, which other load on the machine does not change.',
    `Each case ran as ${REPEATS} pairs of new processes (baseline, then tickring); the row is the pair of median ratio,`,
    '"all ratios" every pair\'s in run order (the worker\'s rate spreads from one process to the next).',
    `Goal: ratio >= 0.8. Command: \`${INGEST_COMMAND}\`.`,
    '',
    table(
      [
        'trades/frame',
        'symbols',
        'baseline trades/s',
        'tickring trades/s',
        'ratio',
        'all ratios',
        'baseline cores',
        'tickring cores',
        'baseline per core-s',
        'tickring per core-s',
        'per-core ratio',
        'feed cores (bare / tickring run)',
        'machine busy (bare / tickring run)',
        'worker warnings',
      ],
      results.map((r) => [
        String(r.perFrame),
        int(r.symbols),
        int(r.baseline),
        int(r.tickring),
        fixed(r.ratio),
        r.ratios.map((ratio) => fixed(ratio)).join(', '),
        fixed(r.bare.cores),
        fixed(r.worker.cores),
        int(perCore(r.bare)),
        int(perCore(r.worker)),
        fixed(perCore(r.worker) / perCore(r.bare)),
        `${fixed(r.bare.serverCores)} / ${fixed(r.worker.serverCores)}`,
        `${fixed(r.bare.machineCores)} / ${fixed(r.worker.machineCores)}`,
        r.warnings,
      ]),
    ),
    '',
    `Goal ratio >= 0.8: lowest median ratio ${fixed(worst)}, ${verdict(worst, 0.8, 'atLeast')}.`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(`ingest ceiling: window ${WINDOW_MS} ms after ${WARMUP_MS} ms warm-up; goal ratio >= 0.8`);
  console.log(formatIngest(await run()));
}
