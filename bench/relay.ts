/**
 * Relay: what the extra hop costs. Two parts, each against a baseline measured in the same run.
 *
 * 1. Added latency. The simulator (a process, Polygon protocol) streams at a fixed rate; this process
 *    holds two real feed clients subscribed to every symbol: one straight to the simulator (the
 *    worker's Polygon client), one through a `tickring relay` process (the worker's relay client).
 *    Each trade's arrival is stamped on both (same process, same clock); the added latency is relay
 *    arrival minus direct arrival, trade by trade. Reported: p50, p99, max.
 * 2. Throughput ceiling. Pre-serialized Polygon frames streamed as fast as the reader takes them (the
 *    ingest benchmark's frame server). Baseline: a bare `ws` reader straight on the frame server. Relay:
 *    the relay process upstream of the frame server, a bare relay-protocol reader downstream. The
 *    relay's CPU and trades per core-second are beside it: on 2 shared cores three processes compete.
 *
 *   npm run build && node --import tsx bench/relay.ts
 * Environment: BENCH_RELAY_RATES (trades/s for part 1, default "2000,20000"), BENCH_RELAY_LATENCY_MS
 * (window per rate, default 8000), BENCH_WINDOW_MS (5000), BENCH_WARMUP_MS (2000), BENCH_RELAY_CASES
 * (part 2, trades per frame x symbols, default "1x500,50x500"), BENCH_REDIS_URL (see bench-redis.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { polygon } from '../feeds/polygon.js';
import { relayAdapter } from '../feeds/relay.js';
import { FeedClient } from '../src/ingest/feed-client.js';
import { generateSymbols } from '../src/sim/universe.js';
import { benchRedis, type BenchRedis } from './support/bench-redis.js';
import { CpuMeter, MachineCpu } from './support/proc-stats.js';
import { CLI, firstLine, readCounter, runTs, sleep, stop, until } from './support/processes.js';
import { startSim } from './support/sim-process.js';
import { fixed, int, percentile, table } from './support/stats.js';

const RATES = (process.env['BENCH_RELAY_RATES'] ?? '2000,20000').split(',').map(Number);
const LATENCY_MS = Number(process.env['BENCH_RELAY_LATENCY_MS'] ?? 8_000);
const WINDOW_MS = Number(process.env['BENCH_WINDOW_MS'] ?? 5_000);
const WARMUP_MS = Number(process.env['BENCH_WARMUP_MS'] ?? 2_000);
const CASES = (process.env['BENCH_RELAY_CASES'] ?? '1x500,50x500').split(',').map((c) => {
  const [perFrame, symbols] = c.split('x').map(Number);
  return { perFrame: perFrame ?? 1, symbols: symbols ?? 500 };
});
const LATENCY_SYMBOLS = 200;
const POOL_TRADES = 400_000;
export const RELAY_COMMAND = 'npm run build && node --import tsx bench/relay.ts';

export interface LatencyResult {
  readonly rate: number;
  readonly samples: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Trades seen on one side only (0 when the relay lost nothing). */
  readonly unmatched: number;
  readonly relayCores: number;
}

export interface CeilingResult {
  readonly perFrame: number;
  readonly symbols: number;
  readonly baseline: number;
  readonly relay: number;
  readonly ratio: number;
  readonly relayCores: number;
  readonly readerCores: number;
  readonly machineCores: number;
  /** Readers the relay disconnected for falling behind (the ceiling is then the reader's, not the relay's). */
  readonly slowDrops: number;
}

interface RelayProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly http: string;
}

async function startRelay(redis: BenchRedis, upstreamUrl: string): Promise<RelayProcess> {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'relay',
      '--relay-id',
      'bench',
      '--redis',
      redis.url,
      '--key-prefix',
      redis.prefix,
      '--cluster',
      redis.cluster,
      '--feed',
      'polygon',
      '--feed-url',
      upstreamUrl,
      '--http-port',
      '0',
      '--log-level',
      'info',
    ],
    {
      env: { ...process.env, TICKRING_FEED_KEY: 'bench-key' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    if (output.length < 20_000) output += chunk.toString('utf8');
  });
  const http = await until(
    'the relay to listen',
    () => /"http":"(http:\/\/[^"]+)"/.exec(output)?.[1],
    30_000,
    20,
  );
  const url = /"workers":"(ws:\/\/[^"]+)"/.exec(output)?.[1] ?? '';
  await until(
    'the relay to be active',
    async () => ((await fetch(`${http}/readyz`)).status === 200 ? true : undefined),
    30_000,
    50,
  );
  return { child, url, http };
}

function client(
  adapter: typeof polygon,
  url: string,
  onTrade: (symbol: string, id: string) => void,
): FeedClient {
  const feed = new FeedClient(
    { adapter, url, credentials: { key: 'bench-key', secret: '' }, userAgent: 'tickring-bench' },
    (trade) => onTrade(trade.symbol, trade.id),
    pino({ level: 'silent' }),
  );
  feed.setSymbols(generateSymbols(LATENCY_SYMBOLS));
  feed.start();
  return feed;
}

async function latency(redis: BenchRedis, rate: number): Promise<LatencyResult> {
  const sim = await startSim({ symbols: LATENCY_SYMBOLS, rate, skew: 0 });
  const relay = await startRelay(redis, sim.wsUrl);
  // Arrivals not yet matched, by side: the relay's copy may be read first (the simulator writes to
  // the relay's socket first, and this process polls both sockets together), then the added latency
  // is negative.
  const direct = new Map<string, number>();
  const relayed = new Map<string, number>();
  const deltas: number[] = [];
  let measuring = false;
  const arrive = (mine: Map<string, number>, other: Map<string, number>, sign: 1 | -1, key: string): void => {
    const now = performance.now();
    const at = other.get(key);
    if (at !== undefined) {
      other.delete(key);
      deltas.push(sign * (now - at));
    } else if (measuring) {
      mine.set(key, now);
    }
  };
  const directClient = client(polygon, sim.wsUrl, (symbol, id) =>
    arrive(direct, relayed, -1, `${symbol}|${id}`),
  );
  const relayClient = client(relayAdapter(polygon), relay.url, (symbol, id) =>
    arrive(relayed, direct, 1, `${symbol}|${id}`),
  );
  try {
    // Both connections subscribed and trades flowing through the relay before the warm-up starts.
    await until(
      'the relay to carry every symbol to its one client',
      async () => {
        const state = (await (await fetch(`${relay.http}/readyz`)).json()) as {
          upstreamSymbols: number;
          workers: number;
          tradesOut: number;
        };
        return state.upstreamSymbols === LATENCY_SYMBOLS && state.workers === 1 && state.tradesOut > 0
          ? true
          : undefined;
      },
      30_000,
      50,
    );
    await sleep(WARMUP_MS);
    const cpu = new CpuMeter([relay.child.pid]);
    measuring = true;
    await sleep(LATENCY_MS);
    measuring = false;
    const [relayCores = NaN] = cpu.cores();
    // Let the last trades through the relay arrive before counting what never did.
    await sleep(500);
    return {
      rate,
      samples: deltas.length,
      p50: percentile(deltas, 50),
      p99: percentile(deltas, 99),
      max: deltas.reduce((a, b) => Math.max(a, b), -Infinity),
      unmatched: direct.size + relayed.size,
      relayCores,
    };
  } finally {
    directClient.close();
    relayClient.close();
    await stop(relay.child);
    await sim.close();
    // The lease must lapse before the next relay of the same key can take over at once.
    await redis.redis.del(redis.keys.relay, ...(await redis.redis.keys(`{${redis.prefix}:*`)));
  }
}

async function frameServer(
  symbols: number,
  perFrame: number,
): Promise<{ url: string; pid: number | undefined; child: ChildProcess }> {
  const server = runTs('./frame-server.ts', [String(symbols), String(perFrame), String(POOL_TRADES)]);
  const port = await firstLine(server);
  return { url: `ws://127.0.0.1:${port}/stocks`, pid: server.pid, child: server };
}

async function reader(
  file: string,
  args: readonly string[],
): Promise<{ tradesPerSecond: number; cores: number }> {
  const child = runTs(file, args);
  try {
    return JSON.parse(await firstLine(child)) as { tradesPerSecond: number; cores: number };
  } finally {
    await stop(child);
  }
}

async function ceiling(redis: BenchRedis, symbols: number, perFrame: number): Promise<CeilingResult> {
  let server = await frameServer(symbols, perFrame);
  let bare: { tradesPerSecond: number; cores: number };
  try {
    bare = await reader('./bare-client.ts', [server.url, String(WARMUP_MS), String(WINDOW_MS)]);
  } finally {
    await stop(server.child);
  }
  server = await frameServer(symbols, perFrame);
  const relay = await startRelay(redis, server.url);
  try {
    const line = reader('./bare-relay-client.ts', [
      relay.url,
      String(WARMUP_MS),
      String(WINDOW_MS),
      String(symbols),
    ]);
    await sleep(WARMUP_MS);
    const cpu = new CpuMeter([relay.child.pid]);
    const machine = new MachineCpu();
    const through = await line;
    const [relayCores = NaN] = cpu.cores();
    const slowDrops = await readCounter(relay.http, 'tickring_relay_slow_consumer_drops_total');
    return {
      slowDrops,
      perFrame,
      symbols,
      baseline: bare.tradesPerSecond,
      relay: through.tradesPerSecond,
      ratio: through.tradesPerSecond / bare.tradesPerSecond,
      relayCores,
      readerCores: through.cores,
      machineCores: machine.busyCores(),
    };
  } finally {
    await stop(relay.child);
    await stop(server.child);
    await redis.redis.del(redis.keys.relay, ...(await redis.redis.keys(`{${redis.prefix}:*`)));
  }
}

export async function run(): Promise<{ latency: LatencyResult[]; ceiling: CeilingResult[] }> {
  const redis = await benchRedis('relay');
  try {
    const latencies: LatencyResult[] = [];
    for (const rate of RATES) latencies.push(await latency(redis, rate));
    const ceilings: CeilingResult[] = [];
    for (const { perFrame, symbols } of CASES) ceilings.push(await ceiling(redis, symbols, perFrame));
    return { latency: latencies, ceiling: ceilings };
  } finally {
    await redis.close();
  }
}

export function formatRelay(result: { latency: LatencyResult[]; ceiling: CeilingResult[] }): string {
  const ms = (value: number): string => `${fixed(value, 2)} ms`;
  return [
    `Added latency: the simulator (Polygon, ${LATENCY_SYMBOLS} symbols, uniform) at a fixed rate; one feed client straight to it,`,
    'one through a `tickring relay` process, both in one process. Per trade: arrival through the relay minus arrival',
    'direct (same clock; negative when the relayed copy was read first).',
    `Window ${LATENCY_MS} ms after ${WARMUP_MS} ms warm-up. "Relay cores": CPU the relay used.`,
    '',
    table(
      [
        'trades/s',
        'trades matched',
        'added p50',
        'added p99',
        'added max',
        'seen on one side only',
        'relay cores',
      ],
      result.latency.map((r) => [
        int(r.rate),
        int(r.samples),
        ms(r.p50),
        ms(r.p99),
        ms(r.max),
        int(r.unmatched),
        fixed(r.relayCores),
      ]),
    ),
    '',
    "Throughput ceiling: the ingest benchmark's pre-serialized Polygon frames, as fast as the reader takes them.",
    'Baseline: a bare `ws` reader straight on the frame server. Relay: frame server -> relay process -> a bare',
    `relay-protocol reader subscribed to every symbol. Window ${WINDOW_MS} ms after ${WARMUP_MS} ms warm-up. Three`,
    'processes share 2 cores in the relay run, two in the baseline\'s: "per core-s" is the relay\'s trades per',
    'second of its own CPU.',
    '',
    table(
      [
        'trades/frame',
        'symbols',
        'baseline trades/s',
        'through relay trades/s',
        'ratio',
        'relay cores',
        'relay per core-s',
        'reader cores',
        'machine busy',
        'readers dropped as slow',
      ],
      result.ceiling.map((r) => [
        String(r.perFrame),
        int(r.symbols),
        int(r.baseline),
        int(r.relay),
        fixed(r.ratio),
        fixed(r.relayCores),
        int(r.relay / r.relayCores),
        fixed(r.readerCores),
        fixed(r.machineCores),
        int(r.slowDrops),
      ]),
    ),
    '',
    `Command: \`${RELAY_COMMAND}\`.`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatRelay(await run()));
}
