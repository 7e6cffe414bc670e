/**
 * The query path in one process, against a bare handler in the same process: two API servers built
 * by `buildApp` over the in-process fake cluster of the HTTP tests (no Redis, no feed, no worker
 * loops), autocannon in its own process against: a bare node:http handler returning the same bytes,
 * a symbol the first server owns, and one it forwards to the second. Figures are requests per
 * CPU-second of this process (both servers and the bare handler live here, and nothing else runs),
 * best of alternating rounds: what the HTTP layer itself costs per request, which the worker's other
 * work and other load on the machine change little. Not part of `npm run bench`; the quick loop for
 * work on `src/http` (`query-api.ts` measures real workers).
 *
 *   node --import tsx bench/query-path.ts
 * Environment: BENCH_ROUNDS (3), BENCH_DURATION_S (3), BENCH_CONNECTIONS (10).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeState, startNode } from '../test/integration/http-fake-view.js';
import { load } from './support/load.js';
import { fixed, int, table } from './support/stats.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const DURATION_S = Number(process.env['BENCH_DURATION_S'] ?? 3);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 10);

function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

async function perCpu(url: string): Promise<{ rps: number; perCpu: number; p99: number }> {
  const before = cpuSeconds();
  const result = await load(url, CONNECTIONS, DURATION_S);
  return {
    rps: result.requestsPerSecond,
    perCpu: (result.requestsPerSecond * DURATION_S) / (cpuSeconds() - before),
    p99: result.p99Ms,
  };
}

const state = new FakeState();
for (const symbol of ['AAPL', 'MSFT']) state.symbols.add(symbol);
const w1 = await startNode(state, 'w1');
const w2 = await startNode(state, 'w2');
state.pins['AAPL'] = 'w1';
state.pins['MSFT'] = 'w2';
state.bump();
const now = Date.now();
w1.view.trade('AAPL', now - 90_000, 50);
w1.view.trade('AAPL', now, 50);
w2.view.trade('MSFT', now - 90_000, 50);
w2.view.trade('MSFT', now, 50);

const rows: string[][] = [];
for (const [name, url] of [
  ['owned (AAPL on w1)', `${w1.url}/v1/symbols/AAPL`],
  ['forwarded (MSFT, w1 to w2)', `${w1.url}/v1/symbols/MSFT`],
] as const) {
  const sample = await fetch(url);
  const body = Buffer.from(await sample.arrayBuffer());
  if (!sample.ok) throw new Error(`${url}: ${sample.status} ${body.toString()}`);
  const bare = createServer((_req, res) => {
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': body.length,
      'cache-control': 'no-store',
    });
    res.end(body);
  });
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/`;
  await load(bareUrl, CONNECTIONS, 1);
  await load(url, CONNECTIONS, 1);
  let bestBare = { rps: 0, perCpu: 0, p99: 0 };
  let bestOurs = { rps: 0, perCpu: 0, p99: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    const b = await perCpu(bareUrl);
    const o = await perCpu(url);
    if (b.perCpu > bestBare.perCpu) bestBare = b;
    if (o.perCpu > bestOurs.perCpu) bestOurs = o;
  }
  bare.closeAllConnections();
  bare.close();
  rows.push([
    name,
    int(body.length),
    int(bestBare.perCpu),
    int(bestOurs.perCpu),
    fixed(bestOurs.perCpu / bestBare.perCpu),
    fixed(1e6 / bestOurs.perCpu - 1e6 / bestBare.perCpu),
    `${int(bestBare.rps)} / ${int(bestOurs.rps)}`,
    `${bestBare.p99} / ${bestOurs.p99}`,
  ]);
  console.log(rows.at(-1)?.join('  '));
}
console.log(
  table(
    [
      'route',
      'bytes',
      'bare req/CPU-s',
      'tickring req/CPU-s',
      'ratio',
      'extra µs CPU/request',
      'req/s bare / tickring',
      'p99 ms bare / tickring',
    ],
    rows,
  ),
);
await w1.close();
await w2.close();
