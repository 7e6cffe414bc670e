/**
 * Scenario 2, scale-out. The same feed (pre-serialized Polygon frames, round robin over the
 * symbols, streamed as fast as each reader takes them by a `split` frame server in its own process)
 * split over 1, 2 and 4 tickring worker processes of one ring, each subscribed to its own symbols.
 * Baseline, same run: as many bare `ws` clients (JSON parse + minimal aggregate), each subscribed to
 * an equal shard of the symbols. Figures: total trades/s, per-process CPU (cores, from
 * /proc/<pid>/stat utime+stime), and the whole machine's busy cores, which shows what limits it.
 *
 *   npm run build && node --import tsx bench/scale-out.ts
 * Environment: BENCH_WORKERS ("1,2,4"), BENCH_SYMBOLS (2000), BENCH_PER_FRAME (50),
 * BENCH_WINDOW_MS (5000), BENCH_WARMUP_MS (2000), BENCH_REDIS_URL (default: a private redis-server).
 */
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { benchRedis } from './support/bench-redis.js';
import { CpuMeter, MachineCpu } from './support/proc-stats.js';
import { firstLine, json, readCounter, runTs, sleep, stop, until } from './support/processes.js';
import { fixed, int, table } from './support/stats.js';
import { startWorker, stopWorker, waitReady, type WorkerProcess } from './support/worker-process.js';
import { generateSymbols } from '../src/sim/universe.js';

const WORKERS = (process.env['BENCH_WORKERS'] ?? '1,2,4').split(',').map(Number);
const SYMBOLS = Number(process.env['BENCH_SYMBOLS'] ?? 2_000);
const PER_FRAME = Number(process.env['BENCH_PER_FRAME'] ?? 50);
const WINDOW_MS = Number(process.env['BENCH_WINDOW_MS'] ?? 5_000);
const WARMUP_MS = Number(process.env['BENCH_WARMUP_MS'] ?? 2_000);
/** Per connection; above a worker's 200,000-trade de-duplication window. */
const POOL_TRADES = 250_000;
export const SCALE_OUT_COMMAND = 'npm run build && node --import tsx bench/scale-out.ts';

export interface ScaleRow {
  readonly processes: number;
  readonly bare: {
    readonly total: number;
    readonly cores: number[];
    readonly serverCores: number;
    readonly machineCores: number;
  };
  readonly tickring: {
    readonly total: number;
    readonly perWorker: number[];
    readonly cores: number[];
    readonly serverCores: number;
    readonly redisCores: number;
    readonly machineCores: number;
  };
}

async function splitServer(): Promise<{ url: string; pid: number | undefined; stop: () => Promise<void> }> {
  const server = runTs('./frame-server.ts', [
    String(SYMBOLS),
    String(PER_FRAME),
    String(POOL_TRADES),
    'split',
  ]);
  const port = await firstLine(server);
  return { url: `ws://127.0.0.1:${port}/stocks`, pid: server.pid, stop: () => stop(server) };
}

async function bare(processes: number): Promise<ScaleRow['bare']> {
  const server = await splitServer();
  try {
    const clients = Array.from({ length: processes }, (_, shard) =>
      runTs('./bare-client.ts', [
        server.url,
        String(WARMUP_MS),
        String(WINDOW_MS),
        String(SYMBOLS),
        String(shard),
        String(processes),
      ]),
    );
    // The server's CPU over about the clients' window.
    const lines = clients.map(firstLine);
    await sleep(WARMUP_MS);
    const serverCpu = new CpuMeter([server.pid]);
    const machine = new MachineCpu();
    await sleep(WINDOW_MS);
    const serverCores = serverCpu.cores()[0] ?? NaN;
    const machineCores = machine.busyCores();
    const results = (await Promise.all(lines)).map(
      (l) => JSON.parse(l) as { tradesPerSecond: number; cores: number },
    );
    await Promise.all(clients.map(stop));
    return {
      total: results.reduce((sum, r) => sum + r.tradesPerSecond, 0),
      cores: results.map((r) => r.cores),
      serverCores,
      machineCores,
    };
  } finally {
    await server.stop();
  }
}

async function tickring(processes: number): Promise<ScaleRow['tickring']> {
  const server = await splitServer();
  const redis = await benchRedis('scale');
  const workers: WorkerProcess[] = [];
  try {
    await redis.addUniverse(generateSymbols(SYMBOLS));
    for (let i = 1; i <= processes; i++) {
      workers.push(
        startWorker({ id: `w${i}`, redisUrl: redis.url, prefix: redis.prefix, feedUrl: server.url }),
      );
    }
    const addresses = await Promise.all(workers.map((w) => w.address()));
    await Promise.all(addresses.map((a) => waitReady(a)));
    // Every worker on one epoch with every member in it: the split is final.
    await until('one ring of all workers', async () => {
      const views = await Promise.all(
        addresses.map((a) => json<{ epoch: number; members: unknown[] }>(`${a}/v1/cluster`)),
      );
      const epochs = new Set(views.map((v) => v.epoch));
      return epochs.size === 1 && views.every((v) => v.members.length === processes) ? true : undefined;
    });
    await sleep(WARMUP_MS);
    const pids = workers.map((w) => w.child.pid);
    const before = await Promise.all(addresses.map((a) => readCounter(a, 'tickring_trades_ingested_total')));
    const cpu = new CpuMeter([...pids, server.pid, redis.pid]);
    const machine = new MachineCpu();
    const startedAt = performance.now();
    await sleep(WINDOW_MS);
    const after = await Promise.all(addresses.map((a) => readCounter(a, 'tickring_trades_ingested_total')));
    const seconds = (performance.now() - startedAt) / 1000;
    const cores = cpu.cores();
    const machineCores = machine.busyCores();
    const perWorker = after.map((v, i) => (v - (before[i] ?? 0)) / seconds);
    return {
      total: perWorker.reduce((a, b) => a + b, 0),
      perWorker,
      cores: cores.slice(0, processes),
      serverCores: cores[processes] ?? NaN,
      redisCores: cores[processes + 1] ?? NaN,
      machineCores,
    };
  } finally {
    await Promise.all(workers.map((w) => stopWorker(w, 'SIGKILL')));
    await server.stop();
    await redis.close();
  }
}

export async function run(): Promise<ScaleRow[]> {
  const rows: ScaleRow[] = [];
  for (const processes of WORKERS) {
    const row = { processes, bare: await bare(processes), tickring: await tickring(processes) };
    console.log(
      `${processes} process(es): bare ${int(row.bare.total)} trades/s, tickring ${int(row.tickring.total)} trades/s ` +
        `(${row.tickring.perWorker.map(int).join(' + ')}), worker cores ${row.tickring.cores.map((c) => fixed(c)).join(' + ')}, ` +
        `feed ${fixed(row.tickring.serverCores)}, redis ${fixed(row.tickring.redisCores)}, machine busy ${fixed(row.tickring.machineCores)} of ${availableParallelism()}`,
    );
    rows.push(row);
  }
  return rows;
}

export function formatScaleOut(rows: readonly ScaleRow[]): string {
  const cores = availableParallelism();
  const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
  const one = rows.find((r) => r.processes === 1)?.tickring.total ?? NaN;
  const perCore = (r: ScaleRow): number => r.tickring.total / sum(r.tickring.cores);
  const barePerCore = (r: ScaleRow): number => r.bare.total / sum(r.bare.cores);
  const others = (r: ScaleRow): number =>
    r.tickring.machineCores - sum(r.tickring.cores) - r.tickring.serverCores - r.tickring.redisCores;
  const efficiency = rows.map(perCore).filter(Number.isFinite);
  const usPerTrade = 1e6 / (sum(efficiency) / efficiency.length);
  return [
    `${SYMBOLS} symbols, ${PER_FRAME} trades per frame, split by subscription; window ${WINDOW_MS} ms after ${WARMUP_MS} ms warm-up.`,
    'Baseline: as many bare `ws` clients, each subscribed to an equal shard of the same frames. Cores: CPU time',
    'over wall time (1.00 = one core busy all the time); "per core-s": trades per second of CPU the readers',
    'used, which holds still when other load on the machine takes CPU away.',
    `Command: \`${SCALE_OUT_COMMAND}\`.`,
    '',
    table(
      [
        'processes',
        'bare trades/s',
        'tickring trades/s',
        'vs bare',
        'vs 1 worker',
        'per worker trades/s',
        'bare per core-s',
        'tickring per core-s',
        'vs bare',
      ],
      rows.map((r) => [
        String(r.processes),
        int(r.bare.total),
        int(r.tickring.total),
        fixed(r.tickring.total / r.bare.total),
        fixed(r.tickring.total / one),
        r.tickring.perWorker.map(int).join(' + '),
        int(barePerCore(r)),
        int(perCore(r)),
        fixed(perCore(r) / barePerCore(r)),
      ]),
    ),
    '',
    table(
      [
        'processes',
        'bare client cores',
        'bare feed cores',
        'worker cores',
        'feed cores',
        'redis cores',
        `machine busy (of ${cores})`,
        'other load',
      ],
      rows.map((r) => [
        String(r.processes),
        r.bare.cores.map((c) => fixed(c)).join(' + '),
        fixed(r.bare.serverCores),
        r.tickring.cores.map((c) => fixed(c)).join(' + '),
        fixed(r.tickring.serverCores),
        fixed(r.tickring.redisCores),
        fixed(r.tickring.machineCores),
        fixed(others(r)),
      ]),
    ),
    '',
    `What limits it here: ${cores} cores, shared by the feed process, the workers, Redis, the benchmark and ` +
      '"other load" (whatever else the machine ran meanwhile). When the machine is busy at ' +
      `${cores}.00, adding workers only splits the same CPU: total trades/s is then about (cores left for ` +
      `workers) x (trades per core-second), and a worker needs about ${fixed(usPerTrade, 1)} µs of CPU per trade ` +
      '(mean over the rows). The workers share nothing on the per-trade path (each has its own feed ' +
      'connection, symbols and aggregates; Redis sees only checkpoints, see Redis cost), so on a machine with a ' +
      'core per worker, and the feed elsewhere as a provider is, total throughput should grow about linearly ' +
      'with workers until the network or the provider connection limits it.',
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatScaleOut(await run()));
}
