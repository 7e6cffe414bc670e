/**
 * Fixed work on the per-trade path: the same reader as `ingest-path.ts` (a worker's start with every
 * symbol loading, then live) reads a set number of trades once warm, and prints what that took. For
 * comparing two builds where a CPU-time rate moves with the machine's other load: run it under
 * `valgrind --tool=callgrind` (instructions and simulated cache misses do not depend on the load),
 * once with BENCH_TRADES=0 and once with the trades to count, and subtract the two, so start-up,
 * the frame pool and the warm-up drop out.
 *
 *   node --import tsx bench/ingest-fixed.ts
 * Under callgrind: bundled with esbuild first, see "Profiling" in bench/README.md for the commands.
 * Environment: BENCH_CASE ("50x8000"), BENCH_READER ("tickring" or "bare"), BENCH_WARM_TRADES (400000),
 * BENCH_TRADES (1000000). Trades are rounded up to whole reads of 2,000 frames.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { buildFramePool } from './support/frame-pool.js';
import { bareReader, tickringReader, type Reader } from './ingest-path.js';

const [perFrame, symbolCount] = (process.env['BENCH_CASE'] ?? '50x8000').split('x').map(Number) as [
  number,
  number,
];
const READER = process.env['BENCH_READER'] ?? 'tickring';
const WARM_TRADES = Number(process.env['BENCH_WARM_TRADES'] ?? 400_000);
const TRADES = Number(process.env['BENCH_TRADES'] ?? 1_000_000);
/** As `ingest-path.ts`: more trades than the de-duplication window, so none repeats in it. */
const POOL_TRADES = 400_000;

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Reads whole rounds of 2,000 frames until at least `trades` were read; returns the trades read. */
function readAtLeast(
  reader: Reader,
  frames: readonly string[],
  state: { next: number },
  trades: number,
): number {
  let read = 0;
  while (read < trades) {
    const [n, next] = reader.read(frames, state.next);
    read += n;
    state.next = next;
  }
  return read;
}

const pool = buildFramePool(symbolCount, perFrame, POOL_TRADES);
// As ws hands them over: flat strings decoded from the bytes (the pool's are concatenations).
const frames = pool.frames.map((frame) => Buffer.from(frame).toString('utf8'));
let reader: Reader;
const state = { next: 0 };
if (READER === 'bare') reader = bareReader(perFrame);
else {
  const ours = tickringReader(pool.symbols, frames, perFrame);
  reader = ours;
  state.next = ours.loadedFrames % frames.length;
}
readAtLeast(reader, frames, state, WARM_TRADES);

let collections = 0;
let collectionMs = 0;
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    collections++;
    collectionMs += entry.duration;
  }
});
observer.observe({ entryTypes: ['gc'] });
const started = cpuMs();
const read = TRADES > 0 ? readAtLeast(reader, frames, state, TRADES) : 0;
const ms = cpuMs() - started;
// The observer reports its entries on a later turn of the event loop.
setTimeout(() => {
  observer.disconnect();
  const perTrade = read > 0 ? ((ms * 1e6) / read).toFixed(0) : '-';
  console.log(
    `${READER} ${perFrame}x${symbolCount}: ${read} trades in ${ms.toFixed(0)} CPU-ms, ${perTrade} ns/trade, ` +
      `${collections} collections (${collectionMs.toFixed(0)} ms)`,
  );
}, 100);
