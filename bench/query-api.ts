/**
 * Scenario 4, query API. Two worker processes of one ring, fed by the simulator; autocannon (its own
 * process) against worker w1:
 *   - `GET /v1/symbols/{symbol}` for a symbol w1 owns (answered from memory);
 *   - the same route for a symbol w2 owns (w1 forwards it to w2);
 *   - `GET /v1/symbols` (first page of 100: w1's own from memory, w2's in one internal call).
 * Baseline, same run: a bare node:http handler in a child process returning the same bytes the
 * route returned, with the same headers. Goals: owned >= 0.7x the bare handler's req/s; forwarded
 * p99 <= 2x owned p99.
 *
 *   npm run build && node --import tsx bench/query-api.ts
 * Each target is loaded in alternating rounds (bare, tickring, bare, tickring, ...) and the best round
 * of each is kept: other load on this shared machine only ever makes a round slower.
 * Environment: BENCH_SYMBOLS (2000), BENCH_RATE (1000 trades/s), BENCH_CONNECTIONS (10),
 * BENCH_DURATION_S (3 per round), BENCH_ROUNDS (2), BENCH_REDIS_URL (default: a private redis-server).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readRingRecord } from '../src/cluster/membership.js';
import { Assignment } from '../src/cluster/ring.js';
import { generateSymbols } from '../src/sim/universe.js';
import { benchRedis } from './support/bench-redis.js';
import { autocannonCommand, load, type LoadResult } from './support/load.js';
import { MachineCpu } from './support/proc-stats.js';
import { firstLine, runTs, stop, until } from './support/processes.js';
import { startSim } from './support/sim-process.js';
import { fixed, int, table, verdict } from './support/stats.js';
import { startWorker, stopWorker, waitReady, type WorkerProcess } from './support/worker-process.js';

const SYMBOLS = Number(process.env['BENCH_SYMBOLS'] ?? 2_000);
const RATE = Number(process.env['BENCH_RATE'] ?? 1_000);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 10);
const DURATION_S = Number(process.env['BENCH_DURATION_S'] ?? 3);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);
export const QUERY_API_COMMAND = 'npm run build && node --import tsx bench/query-api.ts';

export interface QueryRow {
  readonly target: string;
  readonly path: string;
  readonly bodyBytes: number;
  readonly bare: LoadResult;
  readonly tickring: LoadResult;
  readonly machineCores: number;
}

async function measure(target: string, url: string, dir: string): Promise<QueryRow> {
  const sample = await fetch(url);
  if (!sample.ok) throw new Error(`${url}: ${sample.status} ${await sample.text()}`);
  const body = Buffer.from(await sample.arrayBuffer());
  const file = join(dir, `${target.replace(/\W+/g, '-')}.json`);
  writeFileSync(file, body);
  const bareServer = runTs('./bare-http.ts', [file]);
  try {
    const bareUrl = `http://127.0.0.1:${await firstLine(bareServer)}/`;
    await load(bareUrl, CONNECTIONS, 1); // warm-up, not counted
    await load(url, CONNECTIONS, 1);
    // Alternating rounds, best of each: other load on the machine only ever makes a round slower.
    const bares: LoadResult[] = [];
    const ours: LoadResult[] = [];
    const machine = new MachineCpu();
    for (let round = 0; round < ROUNDS; round++) {
      bares.push(await load(bareUrl, CONNECTIONS, DURATION_S));
      ours.push(await load(url, CONNECTIONS, DURATION_S));
    }
    const best = (results: LoadResult[]): LoadResult =>
      results.reduce((a, b) => (b.requestsPerSecond > a.requestsPerSecond ? b : a));
    const bare = best(bares);
    const tickring = best(ours);
    const row = {
      target,
      path: new URL(url).pathname,
      bodyBytes: body.length,
      bare,
      tickring,
      machineCores: machine.busyCores(),
    };
    console.log(
      `${target}: tickring ${int(tickring.requestsPerSecond)} req/s p99 ${tickring.p99Ms} ms; bare ${int(bare.requestsPerSecond)} req/s p99 ${bare.p99Ms} ms (${body.length} bytes)`,
    );
    return row;
  } finally {
    await stop(bareServer);
  }
}

export async function run(): Promise<QueryRow[]> {
  const redis = await benchRedis('query');
  const sim = await startSim({ symbols: SYMBOLS, rate: RATE });
  const workers: WorkerProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'tickring-bench-'));
  try {
    const symbols = generateSymbols(SYMBOLS);
    await redis.addUniverse(symbols);
    for (const id of ['w1', 'w2'])
      workers.push(startWorker({ id, redisUrl: redis.url, prefix: redis.prefix, feedUrl: sim.wsUrl }));
    const [a1 = '', a2 = ''] = await Promise.all(workers.map((w) => w.address()));
    await Promise.all([waitReady(a1), waitReady(a2)]);
    const record = await until('a ring of both workers', async () => {
      const r = await readRingRecord(redis.redis, redis.keys);
      return r.members.length === 2 ? r : undefined;
    });
    const assignment = new Assignment(record, symbols);
    // The busiest symbol each owns (the simulator's Zipf rank follows the universe's order).
    const owned = symbols.find((s) => assignment.ownerOf(s) === 'w1') ?? '';
    const forwarded = symbols.find((s) => assignment.ownerOf(s) === 'w2') ?? '';
    for (const [address, symbol] of [
      [a1, owned],
      [a2, forwarded],
    ] as const) {
      await until(`${symbol} live`, async () =>
        (await fetch(`${address}/v1/symbols/${symbol}`)).ok ? true : undefined,
      );
    }
    return [
      await measure(`owned symbol (${owned})`, `${a1}/v1/symbols/${owned}`, dir),
      await measure(`forwarded symbol (${forwarded}, owned by w2)`, `${a1}/v1/symbols/${forwarded}`, dir),
      await measure('symbol list (first 100)', `${a1}/v1/symbols`, dir),
    ];
  } finally {
    await Promise.all(workers.map((w) => stopWorker(w, 'SIGKILL')));
    await sim.close();
    await redis.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatQueryApi(rows: readonly QueryRow[]): string {
  const [owned, forwarded] = rows;
  const ratio = owned ? owned.tickring.requestsPerSecond / owned.bare.requestsPerSecond : NaN;
  const p99 = owned && forwarded ? forwarded.tickring.p99Ms / owned.tickring.p99Ms : NaN;
  return [
    `Two workers, ${SYMBOLS} symbols, simulator at ${int(RATE)} trades/s; autocannon (own process) with ${CONNECTIONS} ` +
      `connections, best of ${ROUNDS} alternating rounds of ${DURATION_S} s after a 1 s warm-up, against worker w1. ` +
      'Baseline: a bare node:http handler (own process) returning the same bytes. The load generator, the ' +
      `server and everything else share ${availableParallelism()} cores ("machine busy": cores in use over the rounds).`,
    `Command: \`${QUERY_API_COMMAND}\` (by hand: \`${autocannonCommand('http://127.0.0.1:PORT/v1/symbols/AAPL', CONNECTIONS, DURATION_S)}\`).`,
    '',
    table(
      [
        'route',
        'body bytes',
        'bare req/s',
        'bare p99 ms',
        'tickring req/s',
        'p50 ms',
        'p99 ms',
        'vs bare',
        'failures',
        'machine busy',
      ],
      rows.map((r) => [
        `${r.target}: \`${r.path}\``,
        int(r.bodyBytes),
        int(r.bare.requestsPerSecond),
        String(r.bare.p99Ms),
        int(r.tickring.requestsPerSecond),
        String(r.tickring.p50Ms),
        String(r.tickring.p99Ms),
        fixed(r.tickring.requestsPerSecond / r.bare.requestsPerSecond),
        int(r.tickring.failures + r.bare.failures),
        fixed(r.machineCores),
      ]),
    ),
    '',
    `Goals: owned >= 0.7x bare req/s: ${fixed(ratio)}x, ${verdict(ratio, 0.7, 'atLeast')}. ` +
      `Forwarded p99 <= 2x owned p99: ${fixed(p99)}x, ${verdict(p99, 2, 'atMost')}.`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatQueryApi(await run()));
}
