/**
 * The per-trade path in one process, without sockets, Redis or the rest of the worker: the same
 * pre-serialized Polygon frames as `ingest-ceiling.ts` go through the worker's own pieces (the
 * Polygon session's decoder, the feed client as its sink with the lag sampler, and `OwnedSymbols`
 * with de-duplication and every symbol's aggregate and bars), exactly as `Worker` wires them.
 * Baseline, same process, alternating rounds: `JSON.parse` of each frame and the bare client's
 * minimal aggregate (count, volume, last price per symbol in a Map). The tickring reader first goes
 * through a worker's start (every symbol loading, about 100,000 trades buffered, then live), since
 * that decides where V8 allocates the decoder's trades from then on.
 *
 * Figures are trades per CPU-second of this process (`process.cpuUsage`), best of the rounds (and,
 * in the last column, of all rounds together, with every full collection they paid for), so
 * other load on a shared machine moves them far less than wall-clock rates; the ratio is the path's
 * share of what `JSON.parse` alone allows. Not part of `npm run bench`: it is the quick loop for
 * work on the per-trade path (run it before and after a change).
 *
 *   node --import tsx bench/ingest-path.ts
 * Environment: BENCH_CASES ("1x500,50x500,1x8000,50x8000"), BENCH_ROUNDS (5), BENCH_ROUND_MS (600).
 */
import { polygon } from '../feeds/polygon.js';
import { conditionRulesFor } from '../src/aggregate/index.js';
import { FeedConnection } from '../src/ingest/feed-connection.js';
import { createLogger } from '../src/log.js';
import { START_OF_STREAM } from '../src/ingest/stream-position.js';
import { OwnedSymbols } from '../src/worker/owned-symbols.js';
import { buildFramePool } from './support/frame-pool.js';
import { fixed, int, table } from './support/stats.js';

const CASES = (process.env['BENCH_CASES'] ?? '1x500,50x500,1x8000,50x8000').split(',').map((c) => {
  const [perFrame, symbols] = c.split('x').map(Number);
  return { perFrame: perFrame!, symbols: symbols! };
});
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const ROUND_MS = Number(process.env['BENCH_ROUND_MS'] ?? 600);
/** As the ingest benchmarks: more trades than the de-duplication window, so none repeats in it. */
const POOL_TRADES = 400_000;

export interface Reader {
  /** Reads frames from `start` for about ROUND_MS of CPU; returns [trades read, next frame]. */
  read(frames: readonly string[], start: number): [number, number];
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Trades read and CPU-ms taken by a reader, summed over rounds. */
interface Tally {
  trades: number;
  ms: number;
  /** Trades per CPU-second of the best round. */
  best: number;
}

/** One round: adds its trades and CPU to `tally`. */
function round(reader: Reader, frames: readonly string[], state: { next: number }, tally: Tally): void {
  const started = cpuMs();
  let trades = 0;
  while (cpuMs() - started < ROUND_MS) {
    const [read, next] = reader.read(frames, state.next);
    trades += read;
    state.next = next;
  }
  const ms = cpuMs() - started;
  tally.trades += trades;
  tally.ms += ms;
  tally.best = Math.max(tally.best, (trades * 1000) / ms);
}

export function bareReader(perFrame: number): Reader {
  const aggregates = new Map<string, { count: number; volume: number; last: number }>();
  return {
    read(frames, start) {
      let i = start;
      for (let n = 0; n < 2_000; n++) {
        const events = JSON.parse(frames[i]!) as { sym: string; p: number; s: number }[];
        for (const event of events) {
          let aggregate = aggregates.get(event.sym);
          if (!aggregate) aggregates.set(event.sym, (aggregate = { count: 0, volume: 0, last: 0 }));
          aggregate.count++;
          aggregate.volume += event.s;
          aggregate.last = event.p;
        }
        i = (i + 1) % frames.length;
      }
      return [2_000 * perFrame, i];
    },
  };
}

/** Trades the tickring reader buffers while its symbols load, before the rounds: about a second's worth. */
const LOADING_TRADES = 100_000;

export function tickringReader(
  symbols: readonly string[],
  frames: readonly string[],
  perFrame: number,
): Reader & { owned: OwnedSymbols; loadedFrames: number } {
  const owned = new OwnedSymbols(polygon, { conditionRules: conditionRulesFor('polygon') }, 200_000);
  // As a worker starts: every symbol is acquired loading and buffers its trades until its
  // checkpoint has been read. What the decoder's objects live through then decides where V8
  // allocates them for the rest of the process (allocation-site pretenuring), so the bench goes
  // through it too.
  for (const symbol of symbols) owned.acquire(symbol);
  // As `Worker` wires them: the feed client's connection is the decoder's sink (and samples lag for
  // the metrics), and every trade goes to the owned symbols (the worker first checks its standbys,
  // none here; the client in front of the connection adds one call and, for Polygon, nothing else).
  const client = new FeedConnection(
    { adapter: polygon, url: 'ws://unused', credentials: { key: 'k', secret: '' }, userAgent: 'bench' },
    (trade) => owned.ingest(trade),
    createLogger({ role: 'bench', level: 'silent', pretty: false }),
  );
  const session = polygon.createSession({ key: 'k', secret: '' });
  const loadedFrames = Math.min(frames.length, Math.ceil(LOADING_TRADES / perFrame));
  for (let i = 0; i < loadedFrames; i++) session.decode(frames[i]!, client);
  for (const symbol of symbols) owned.goLive(symbol, null, START_OF_STREAM, false);
  return {
    owned,
    loadedFrames,
    read(frames, start) {
      const before = owned.tradesApplied;
      let i = start;
      for (let n = 0; n < 2_000; n++) {
        session.decode(frames[i]!, client);
        i = (i + 1) % frames.length;
      }
      return [owned.tradesApplied - before, i];
    },
  };
}

export interface PathResult {
  readonly perFrame: number;
  readonly symbols: number;
  /** Best round. */
  readonly bare: number;
  readonly tickring: number;
  /** All rounds together: what full collections cost is in these, where a best round leaves it out. */
  readonly bareAll: number;
  readonly tickringAll: number;
}

export function run(): PathResult[] {
  const results: PathResult[] = [];
  for (const { perFrame, symbols } of CASES) {
    const pool = buildFramePool(symbols, perFrame, POOL_TRADES);
    // As ws hands them over: flat strings decoded from the bytes (the pool's are concatenations).
    const frames = pool.frames.map((frame) => Buffer.from(frame).toString('utf8'));
    const bare = bareReader(perFrame);
    const ours = tickringReader(pool.symbols, frames, perFrame);
    const bareState = { next: 0 };
    // On from where loading stopped: the window still holds the trades buffered then.
    const oursState = { next: ours.loadedFrames % frames.length };
    const bareTally: Tally = { trades: 0, ms: 0, best: 0 };
    const oursTally: Tally = { trades: 0, ms: 0, best: 0 };
    for (let r = 0; r < ROUNDS; r++) {
      round(bare, frames, bareState, bareTally);
      round(ours, frames, oursState, oursTally);
    }
    if (ours.owned.duplicatesDropped > 0) throw new Error('the pool repeated a trade id within the window');
    const result = {
      perFrame,
      symbols,
      bare: bareTally.best,
      tickring: oursTally.best,
      bareAll: (bareTally.trades * 1000) / bareTally.ms,
      tickringAll: (oursTally.trades * 1000) / oursTally.ms,
    };
    results.push(result);
    console.log(
      `${perFrame}x${symbols}: bare ${int(result.bare)} trades/CPU-s, tickring ${int(result.tickring)} ` +
        `(${fixed(result.tickring / result.bare)}); all rounds ${fixed(result.tickringAll / result.bareAll)}`,
    );
  }
  return results;
}

export function formatPath(results: readonly PathResult[]): string {
  return table(
    [
      'trades/frame',
      'symbols',
      'JSON.parse + minimal aggregate, trades/CPU-s',
      'tickring path, trades/CPU-s',
      'ratio',
      'tickring µs/trade',
      'all rounds: ratio',
    ],
    results.map((r) => [
      String(r.perFrame),
      int(r.symbols),
      int(r.bare),
      int(r.tickring),
      fixed(r.tickring / r.bare),
      fixed(1e6 / r.tickring),
      fixed(r.tickringAll / r.bareAll),
    ]),
  );
}

if (process.argv[1]?.endsWith('ingest-path.ts')) {
  console.log(`per-trade path in process: best of ${ROUNDS} rounds of ${ROUND_MS} ms CPU each`);
  console.log(formatPath(run()));
}
