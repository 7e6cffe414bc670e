/**
 * Scenario 1, ingest ceiling vs tickring. The same pre-serialized Polygon frames, streamed by a `ws`
 * server in another process as fast as the reader takes them, are read by:
 *   - the baseline: a bare `ws` client that only JSON-parses and updates a minimal aggregate;
 *   - one tickring worker process (full path: adapter decode, validation, de-duplication, aggregates,
 *     bars, checkpoints to Redis).
 * Figure: tickring's trades/s as a ratio of the baseline's. Goal >= 0.8.
 *
 *   npm run build && node --import tsx bench/ingest-ceiling.ts
 * Environment: BENCH_WINDOW_MS (default 5000), BENCH_WARMUP_MS (2000), BENCH_CASES ("1x500,50x500,1x8000,50x8000"),
 * REDIS_URL (redis://127.0.0.1:6379).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { addSymbols } from '../src/cluster/universe.js';
import { clusterKeys } from '../src/redis/keys.js';
import { registerScripts } from '../src/redis/scripts.js';
import { freePort } from '../src/roles/embedded-redis.js';
import { generateSymbols } from '../src/sim/universe.js';
import { CLI, firstLine, readCounter, runTs, sleep, stop } from './support/processes.js';

const WINDOW_MS = Number(process.env['BENCH_WINDOW_MS'] ?? 5_000);
const WARMUP_MS = Number(process.env['BENCH_WARMUP_MS'] ?? 2_000);
const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const CASES = (process.env['BENCH_CASES'] ?? '1x500,50x500,1x8000,50x8000').split(',').map((c) => {
  const [perFrame, symbols] = c.split('x').map(Number);
  return { perFrame: perFrame!, symbols: symbols! };
});
/** Larger than the worker's 200,000-trade de-duplication window, so cycling never repeats an id it remembers. */
const POOL_TRADES = 400_000;

export interface IngestResult {
  perFrame: number;
  symbols: number;
  baseline: number;
  tickring: number;
  ratio: number;
}

async function frameServer(
  symbols: number,
  perFrame: number,
): Promise<{ url: string; stop: () => Promise<void> }> {
  const server = runTs('./frame-server.ts', [String(symbols), String(perFrame), String(POOL_TRADES)]);
  const port = await firstLine(server);
  return { url: `ws://127.0.0.1:${port}/stocks`, stop: () => stop(server) };
}

async function baseline(symbols: number, perFrame: number): Promise<number> {
  const server = await frameServer(symbols, perFrame);
  try {
    const client = runTs('./bare-client.ts', [server.url, String(WARMUP_MS), String(WINDOW_MS)]);
    const { tradesPerSecond } = JSON.parse(await firstLine(client)) as { tradesPerSecond: number };
    await stop(client);
    return tradesPerSecond;
  } finally {
    await server.stop();
  }
}

async function tickring(symbols: number, perFrame: number): Promise<number> {
  const server = await frameServer(symbols, perFrame);
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  const redis = new Redis(REDIS_URL);
  registerScripts(redis);
  await addSymbols(redis, clusterKeys(prefix, 'bench'), generateSymbols(symbols));
  const port = await freePort();
  const address = `http://127.0.0.1:${port}`;
  const worker = spawn(
    process.execPath,
    [
      CLI,
      'worker',
      '--worker-id',
      'bench',
      '--redis',
      REDIS_URL,
      '--key-prefix',
      prefix,
      '--cluster',
      'bench',
      '--feed-url',
      server.url,
      '--http-port',
      String(port),
      '--log-level',
      'warn',
    ],
    { env: { ...process.env, TICKRING_FEED_KEY: 'bench' }, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  try {
    await waitReady(address);
    await sleep(WARMUP_MS);
    const before = await readCounter(address, 'tickring_trades_ingested_total');
    const startedAt = performance.now();
    await sleep(WINDOW_MS);
    const after = await readCounter(address, 'tickring_trades_ingested_total');
    return Math.round(((after - before) * 1000) / (performance.now() - startedAt));
  } finally {
    await stop(worker);
    await server.stop();
    const keys = await redis.keys(`{${prefix}:*`);
    if (keys.length > 0) await redis.unlink(...keys);
    redis.disconnect();
  }
}

async function waitReady(address: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const ready = await fetch(`${address}/readyz`).catch(() => undefined);
    if (ready?.ok) return;
    await sleep(100);
  }
  throw new Error(`worker at ${address} did not become ready`);
}

export async function run(): Promise<IngestResult[]> {
  const results: IngestResult[] = [];
  for (const { perFrame, symbols } of CASES) {
    const base = await baseline(symbols, perFrame);
    const ours = await tickring(symbols, perFrame);
    const result = {
      perFrame,
      symbols,
      baseline: base,
      tickring: ours,
      ratio: Number((ours / base).toFixed(2)),
    };
    console.log(
      `${perFrame} trade(s)/frame, ${symbols} symbols: baseline ${base.toLocaleString()} trades/s, tickring ${ours.toLocaleString()} trades/s, ratio ${result.ratio}`,
    );
    results.push(result);
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`ingest ceiling: window ${WINDOW_MS} ms after ${WARMUP_MS} ms warm-up; goal ratio >= 0.8`);
  await run();
}
