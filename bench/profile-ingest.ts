/**
 * Profiles one worker under the ingest-ceiling load (frames as fast as it reads them) with
 * `node --cpu-prof`, then prints the hot spots: functions by self time, functions of tickring and
 * its dependencies by total time, and files by self time. The profile file stays on disk for Chrome
 * DevTools (Performance > Load profile) or speedscope. Not part of `npm run bench`.
 *
 *   npm run build && node --import tsx bench/profile-ingest.ts
 * Environment: BENCH_CASE ("50x8000": trades per frame x symbols), BENCH_PROFILE_MS (15000),
 * BENCH_PROFILE_DIR (default: a new temporary directory), BENCH_REDIS_URL (default: a private
 * redis-server).
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSymbols } from '../src/sim/universe.js';
import { benchRedis } from './support/bench-redis.js';
import { inclusiveTop, summarizeProfile } from './support/cpu-profile.js';
import { firstLine, readCounter, runTs, sleep, stop } from './support/processes.js';
import { fixed, int, table } from './support/stats.js';
import { startWorker, stopWorker, waitReady, warningSummary } from './support/worker-process.js';

const [perFrame = 50, symbols = 8_000] = (process.env['BENCH_CASE'] ?? '50x8000').split('x').map(Number);
const PROFILE_MS = Number(process.env['BENCH_PROFILE_MS'] ?? 15_000);
const dir = process.env['BENCH_PROFILE_DIR'] ?? mkdtempSync(join(tmpdir(), 'tickring-profile-'));

const server = runTs('./frame-server.ts', [String(symbols), String(perFrame), '400000']);
const redis = await benchRedis('profile');
const port = await firstLine(server);
await redis.addUniverse(generateSymbols(symbols));
const worker = startWorker({
  id: 'profiled',
  redisUrl: redis.url,
  prefix: redis.prefix,
  feedUrl: `ws://127.0.0.1:${port}/stocks`,
  nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir],
  echoWarnings: false,
});
let rate: number;
try {
  const address = await worker.address();
  await waitReady(address);
  const before = await readCounter(address, 'tickring_trades_ingested_total');
  await sleep(PROFILE_MS);
  rate = ((await readCounter(address, 'tickring_trades_ingested_total')) - before) / (PROFILE_MS / 1000);
} finally {
  // SIGTERM: a graceful exit, so node writes the profile.
  await stopWorker(worker, 'SIGTERM');
  await stop(server);
  await redis.close();
}

const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error(`no .cpuprofile in ${dir}`);
const path = join(dir, file);
const summary = summarizeProfile(path, 25);
const ours = (where: string): boolean => where.startsWith('dist/') || where.startsWith('node_modules/');
console.log(
  `Profile of one worker, ${perFrame} trade(s)/frame, ${symbols} symbols, ${PROFILE_MS} ms under load ` +
    `(${int(rate)} trades/s ingested meanwhile; the profile also covers start-up): ${path}`,
);
console.log(`Worker warnings: ${warningSummary([worker])}\n`);
console.log('Functions by self time:\n');
console.log(
  table(
    ['function', 'where', 'self %', 'total %'],
    summary.functions.map((f) => [f.name, f.where, fixed(f.selfPct, 1), fixed(f.totalPct, 1)]),
  ),
);
console.log('\nFunctions of tickring and its dependencies by total (inclusive) time:\n');
console.log(
  table(
    ['function', 'where', 'total %', 'self %'],
    inclusiveTop(path, ours, 25).map((f) => [f.name, f.where, fixed(f.totalPct, 1), fixed(f.selfPct, 1)]),
  ),
);
console.log('\nFiles by self time:\n');
console.log(
  table(
    ['file', 'self %'],
    summary.files.map((f) => [f.where, fixed(f.selfPct, 1)]),
  ),
);
