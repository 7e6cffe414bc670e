/**
 * What standby replicas cost: the same feed and symbols over three workers, once with
 * `--replicas 1` and once with `--replicas 2`, in the same run. Figures: the workers' CPU per trade
 * sent and their RSS, each as a ratio of the one-replica run (the baseline), and the symbols each
 * worker follows as a standby.
 *
 *   npm run build && node --import tsx bench/standby-cost.ts
 * Environment: BENCH_SYMBOLS (2000), BENCH_RATE (5000 trades/s), BENCH_WINDOW_MS (15000).
 */
import { pathToFileURL } from 'node:url';
import { generateSymbols } from '../src/sim/universe.js';
import { benchRedis } from './support/bench-redis.js';
import { CpuMeter, rssBytes } from './support/proc-stats.js';
import { readCounter, sleep, stop, until } from './support/processes.js';
import { startSim } from './support/sim-process.js';
import { fixed, int, mib, table } from './support/stats.js';
import { startWorker } from './support/worker-process.js';

export const STANDBY_COST_COMMAND = 'npm run build && node --import tsx bench/standby-cost.ts';

interface Run {
  readonly replicas: number;
  readonly tradesPerSecond: number;
  readonly workerCores: number;
  readonly rssBytes: number;
  readonly followed: number;
}

const SYMBOLS = Number(process.env['BENCH_SYMBOLS'] ?? 2_000);
const RATE = Number(process.env['BENCH_RATE'] ?? 5_000);
const WINDOW_MS = Number(process.env['BENCH_WINDOW_MS'] ?? 15_000);

async function measure(replicas: number): Promise<Run> {
  const redis = await benchRedis(`standby-${replicas}`);
  const symbols = generateSymbols(SYMBOLS);
  await redis.addUniverse(symbols);
  const sim = await startSim({ symbols: SYMBOLS, rate: RATE, paused: true });
  const workers = ['w1', 'w2', 'w3'].map((id) =>
    startWorker({
      id,
      redisUrl: redis.url,
      prefix: redis.prefix,
      feedUrl: sim.wsUrl,
      args: ['--settle-ms', '0', '--replicas', String(replicas)],
    }),
  );
  try {
    const addresses = await Promise.all(workers.map((w) => w.address()));
    await until('every symbol owned', async () => {
      const owned = await Promise.all(addresses.map((a) => readCounter(a, 'tickring_symbols_owned')));
      return owned.reduce((x, y) => x + y, 0) === SYMBOLS ? true : undefined;
    });
    await sim.resume();
    await sleep(3_000);
    const sentBefore = (await sim.stats()).totals.trades;
    const meter = new CpuMeter(workers.map((w) => w.child.pid));
    await sleep(WINDOW_MS);
    const cores = meter.cores().reduce((a, b) => a + b, 0);
    const sent = (await sim.stats()).totals.trades - sentBefore;
    const rss = workers.reduce((sum, w) => sum + rssBytes(w.child.pid), 0);
    const followed = (
      await Promise.all(addresses.map((a) => readCounter(a, 'tickring_standby_symbols')))
    ).reduce((x, y) => x + y, 0);
    return {
      replicas,
      tradesPerSecond: sent / (WINDOW_MS / 1000),
      workerCores: cores,
      rssBytes: rss,
      followed,
    };
  } finally {
    await Promise.all(workers.map((w) => stop(w.child)));
    await sim.close();
    await redis.close();
  }
}

export async function run(): Promise<Run[]> {
  return [await measure(1), await measure(2)];
}

export function formatStandbyCost(runs: readonly Run[]): string {
  const [base] = runs;
  const rows = runs.map((r) => {
    const cpuPerTrade = (r.workerCores * 1e6) / r.tradesPerSecond;
    const baseCpu = base ? (base.workerCores * 1e6) / base.tradesPerSecond : NaN;
    return [
      String(r.replicas),
      int(r.tradesPerSecond),
      fixed(r.workerCores),
      fixed(cpuPerTrade, 1),
      fixed(cpuPerTrade / baseCpu),
      mib(r.rssBytes),
      fixed(r.rssBytes / (base?.rssBytes ?? NaN)),
      int(r.followed),
    ];
  });
  return [
    `${SYMBOLS.toLocaleString('en-US')} symbols, 3 workers, simulator at ${RATE.toLocaleString('en-US')} trades/s; window ${WINDOW_MS} ms. Baseline: the same run with one replica.`,
    `Command: \`${STANDBY_COST_COMMAND}\`.`,
    '',
    table(
      [
        'replicas',
        'trades/s sent',
        'worker cores (sum)',
        'µs of worker CPU per trade sent',
        'vs 1 replica',
        'worker RSS (sum)',
        'vs 1 replica',
        'symbols followed as standby',
      ],
      rows,
    ),
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatStandbyCost(await run()));
}
