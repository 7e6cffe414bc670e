/**
 * Scenario 5, Redis cost. One worker owning every symbol, fed at fixed trade rates by a paced feed
 * (round robin over the symbols, so the symbols that trade in a second are min(rate, symbols)),
 * writing to a private `redis-server` (`--save "" --appendonly no`) that nothing else uses. Figure:
 * Redis commands per second from INFO commandstats deltas over the window (commands run inside the
 * checkpoint script count one by one; INFO itself is left out), against the trade rate and the
 * symbols changed per checkpoint. Baseline, same run: the same worker at the other rates; a design
 * writing per trade would need at least one command per trade.
 *
 *   npm run build && node --import tsx bench/redis-cost.ts
 * Environment: BENCH_SYMBOLS (8000), BENCH_RATES ("2000,8000,32000" trades/s: below, at and above one trade per symbol per checkpoint), BENCH_WINDOW_MS
 * (8000), BENCH_WARMUP_MS (3000), BENCH_CHECKPOINT_MS (1000).
 */
import { pathToFileURL } from 'node:url';
import { generateSymbols } from '../src/sim/universe.js';
import { benchRedis } from './support/bench-redis.js';
import { CpuMeter, MachineCpu } from './support/proc-stats.js';
import { firstLine, json, readMetrics, runTs, sleep, stop } from './support/processes.js';
import { fixed, int, table } from './support/stats.js';
import { startWorker, stopWorker, waitReady, warningSummary } from './support/worker-process.js';

const SYMBOLS = Number(process.env['BENCH_SYMBOLS'] ?? 8_000);
const RATES = (process.env['BENCH_RATES'] ?? '2000,8000,32000').split(',').map(Number);
const WINDOW_MS = Number(process.env['BENCH_WINDOW_MS'] ?? 8_000);
const WARMUP_MS = Number(process.env['BENCH_WARMUP_MS'] ?? 3_000);
const CHECKPOINT_MS = Number(process.env['BENCH_CHECKPOINT_MS'] ?? 1_000);
const PER_FRAME = 50;
export const REDIS_COST_COMMAND = 'npm run build && node --import tsx bench/redis-cost.ts';

export interface RedisCostRow {
  readonly rate: number;
  readonly offered: number;
  readonly ingested: number;
  readonly commandsPerSecond: number;
  readonly checkpointsPerSecond: number;
  /** Mean duration of one checkpoint (ms), from the worker's histogram. */
  readonly checkpointMs: number;
  /** Symbols checkpointed per second: the checkpoint script's HSETs (two per symbol written) per second. */
  readonly symbolsWrittenPerSecond: number;
  readonly inputBytesPerSecond: number;
  readonly top: [string, number][];
  readonly workerCores: number;
  readonly redisCores: number;
  readonly machineCores: number;
  /** The longest single command Redis ran in the window (µs): the checkpoint script, in practice. */
  readonly slowestMicros: number;
  readonly slowestCommand: string;
  /** Warnings the worker logged during the warm-up and the window. */
  readonly warnings: string;
}

const METRICS = [
  'tickring_trades_ingested_total',
  'tickring_checkpoint_seconds_count',
  'tickring_checkpoint_seconds_sum',
];

async function measure(rate: number): Promise<RedisCostRow> {
  const feed = runTs('./paced-feed.ts', [String(SYMBOLS), String(rate), String(PER_FRAME)]);
  const redis = await benchRedis('redis-cost', { private: true });
  const port = await firstLine(feed);
  const worker = startWorker({
    id: 'w1',
    redisUrl: redis.url,
    prefix: redis.prefix,
    feedUrl: `ws://127.0.0.1:${port}/stocks`,
    args: ['--checkpoint-ms', String(CHECKPOINT_MS)],
    echoWarnings: false,
  });
  try {
    await redis.addUniverse(generateSymbols(SYMBOLS));
    const address = await worker.address();
    await waitReady(address);
    await sleep(WARMUP_MS);
    const sent = async (): Promise<number> =>
      (await json<{ sent: number }>(`http://127.0.0.1:${port}/stats`)).sent;
    const [m0, c0, b0, s0] = await Promise.all([
      readMetrics(address, METRICS),
      redis.commandStats(),
      redis.inputBytes(),
      sent(),
    ]);
    await redis.slowest();
    const cpu = new CpuMeter([worker.child.pid, redis.pid]);
    const machine = new MachineCpu();
    const startedAt = performance.now();
    await sleep(WINDOW_MS);
    const [m1, c1, b1, s1] = await Promise.all([
      readMetrics(address, METRICS),
      redis.commandStats(),
      redis.inputBytes(),
      sent(),
    ]);
    const seconds = (performance.now() - startedAt) / 1000;
    const [workerCores = NaN, redisCores = NaN] = cpu.cores();
    const machineCores = machine.busyCores();
    const slowest = await redis.slowest();
    const delta = new Map<string, number>();
    for (const [name, calls] of c1) if (name !== 'info') delta.set(name, calls - (c0.get(name) ?? 0));
    const commands = [...delta.values()].reduce((a, b) => a + b, 0);
    const metric = (m: Map<string, number>, name: string): number => m.get(name) ?? NaN;
    const checkpoints =
      metric(m1, 'tickring_checkpoint_seconds_count') - metric(m0, 'tickring_checkpoint_seconds_count');
    const row: RedisCostRow = {
      rate,
      offered: (s1 - s0) / seconds,
      ingested:
        (metric(m1, 'tickring_trades_ingested_total') - metric(m0, 'tickring_trades_ingested_total')) /
        seconds,
      commandsPerSecond: commands / seconds,
      checkpointsPerSecond: checkpoints / seconds,
      checkpointMs:
        ((metric(m1, 'tickring_checkpoint_seconds_sum') - metric(m0, 'tickring_checkpoint_seconds_sum')) *
          1000) /
        checkpoints,
      symbolsWrittenPerSecond: (delta.get('hset') ?? 0) / 2 / seconds,
      inputBytesPerSecond: (b1 - b0) / seconds,
      top: [...delta].sort((a, b) => b[1] - a[1]).slice(0, 6),
      workerCores,
      redisCores,
      machineCores,
      slowestMicros: slowest.micros,
      slowestCommand: slowest.command,
      warnings: warningSummary([worker]),
    };
    console.log(
      `${int(rate)} trades/s offered ${int(row.offered)}, ingested ${int(row.ingested)}: ${int(row.commandsPerSecond)} Redis commands/s, ` +
        `${fixed(row.checkpointsPerSecond)} checkpoints/s, ${int(row.checkpointMs)} ms each, ${int(row.symbolsWrittenPerSecond)} symbols written/s`,
    );
    return row;
  } finally {
    await stopWorker(worker, 'SIGKILL');
    await stop(feed);
    await redis.close();
  }
}

export async function run(): Promise<RedisCostRow[]> {
  const rows: RedisCostRow[] = [];
  for (const rate of RATES) rows.push(await measure(rate));
  return rows;
}

export function formatRedisCost(rows: readonly RedisCostRow[]): string {
  const high = rows.reduce((a, b) => (b.ingested > a.ingested ? b : a), rows[0]!);
  const lowest = rows.reduce((a, b) => (b.ingested < a.ingested ? b : a), rows[0]!);
  const grew = (pick: (r: RedisCostRow) => number): string => `x${fixed(pick(high) / pick(lowest))}`;
  const flat =
    `From ${int(lowest.ingested)} to ${int(high.ingested)} trades/s ingested (${grew((r) => r.ingested)}), Redis ` +
    `commands/s went from ${int(lowest.commandsPerSecond)} to ${int(high.commandsPerSecond)} ` +
    `(${grew((r) => r.commandsPerSecond)}), as the symbols written per second did ` +
    `(${int(lowest.symbolsWrittenPerSecond)} to ${int(high.symbolsWrittenPerSecond)}, ${grew((r) => r.symbolsWrittenPerSecond)}): ` +
    'commands follow the symbols changed per checkpoint and the checkpoints per second, not the trades; a per-trade ' +
    `design would need at least ${int(high.ingested)} commands/s at the highest rate. But the checkpoint period ` +
    `stretches as the worker gets busier (${rows.map((r) => `${int(r.checkpointMs)} ms`).join(', ')} per checkpoint ` +
    `for a ${CHECKPOINT_MS} ms period), which also widens what a crash can lose beyond \`--checkpoint-ms\`. ` +
    '"Symbols traded/s" is min(trades/s, symbols) with round robin; a symbol is written when it traded since ' +
    'the last checkpoint (a bar completing without a trade no longer makes it dirty), and again when a write ' +
    'failed or was cut short.';
  return [
    `One worker, ${SYMBOLS} symbols, paced feed (round robin, ${PER_FRAME} trades per frame), checkpoint every ` +
      `${CHECKPOINT_MS} ms, private redis-server; window ${WINDOW_MS} ms after ${WARMUP_MS} ms warm-up. Commands ` +
      'include those the checkpoint script runs (per symbol: HGET of the fence, HSET of the checkpoint and of the ' +
      'fence) and the completed-bar writes (per bar: ZREMRANGEBYSCORE, ZADD; per series: ZREMRANGEBYRANK).',
    `Command: \`${REDIS_COST_COMMAND}\`.`,
    '',
    table(
      [
        'rate asked',
        'trades/s offered',
        'trades/s ingested',
        'symbols traded/s',
        'symbols written/s',
        'checkpoints/s',
        'checkpoint ms (mean)',
        'Redis commands/s',
        'commands per trade',
        'commands per symbol written',
        'Redis input',
        'slowest Redis command',
        'worker cores',
        'redis cores',
        'machine busy',
      ],
      rows.map((r) => [
        int(r.rate),
        int(r.offered),
        int(r.ingested),
        int(Math.min(r.ingested, SYMBOLS)),
        int(r.symbolsWrittenPerSecond),
        fixed(r.checkpointsPerSecond),
        int(r.checkpointMs),
        int(r.commandsPerSecond),
        fixed(r.commandsPerSecond / r.ingested, 3),
        fixed(r.commandsPerSecond / r.symbolsWrittenPerSecond),
        `${int(r.inputBytesPerSecond / 1024)} KiB/s`,
        `${fixed(r.slowestMicros / 1000, 1)} ms`,
        fixed(r.workerCores),
        fixed(r.redisCores),
        fixed(r.machineCores),
      ]),
    ),
    '',
    'Worker warnings: ' + rows.map((r) => `at ${int(r.rate)}/s: ${r.warnings}`).join('; ') + '.',
    '',
    `Busiest commands at ${int(high.ingested)} trades/s (calls/s): ` +
      high.top.map(([name, calls]) => `${name} ${int(calls / (WINDOW_MS / 1000))}`).join(', ') +
      '.',
    '',
    flat,
    '',
    redisCostVerdict(lowest, high),
  ].join('\n');
}

/**
 * The goal, decided: commands follow the symbols written when the commands per symbol written grow
 * by at most a quarter from the lowest rate to the highest, whatever the trades did (fewer per
 * symbol at the higher rates still follows the symbols, not the trades).
 */
function redisCostVerdict(lowest: RedisCostRow, high: RedisCostRow): string {
  const perSymbol = (r: RedisCostRow): number => r.commandsPerSecond / r.symbolsWrittenPerSecond;
  const drift = perSymbol(high) / perSymbol(lowest);
  const met = drift <= 1.25;
  return (
    'Goal: Redis commands follow the symbols changed per checkpoint, not the trades: commands per symbol ' +
    `written ${fixed(perSymbol(lowest))} → ${fixed(perSymbol(high))} (x${fixed(drift)}) while trades grew ` +
    `x${fixed(high.ingested / lowest.ingested)}; commands per trade ${fixed(lowest.commandsPerSecond / lowest.ingested, 3)} → ` +
    `${fixed(high.commandsPerSecond / high.ingested, 3)}: ${met ? 'met' : 'not met'}.`
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatRedisCost(await run()));
}
