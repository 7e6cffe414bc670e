/**
 * The CPU one worker spends acting on a new epoch, in one process (no Redis, no sockets): from the
 * ring record's JSON to the feed's new symbol set. Two ring records that differ by one join
 * (`BENCH_WORKERS` members, then one more) alternate, so each round is a join and the next one the
 * leave back; a worker that stays (it loses symbols to the joiner, then gains them back) does what
 * `Membership.refresh` and `Worker.rebalance` do, with the worker's own pieces wired as `Worker`
 * wires them (`Assignment`, `OwnedSymbols`, `Standbys`, `FeedClient`, never started):
 *
 *   parse the record, build the `Assignment`; compute mine / lost / gained, the moves' subscribe
 *   pacing, the standbys followed, promoted and stood in for; acquire, begin leaving, retire;
 *   `setSymbols`; then, once the hand-over would have ended (not timed: its waits are elsewhere),
 *   the lost symbols released and the second `setSymbols`.
 *
 * The hand-over's own polling and Redis round trips are not measured. Figures are CPU ms per epoch
 * (`process.cpuUsage`, median and best of the rounds), and the ratio against a baseline measured in
 * the same run: one bare loop that md5-hashes every symbol once and finds it on a sorted array of
 * the ring's points (what a from-scratch assignment cannot avoid). Not part of `npm run bench`.
 *
 *   node --import tsx bench/epoch-cost.ts
 *   node --cpu-prof --cpu-prof-dir /tmp/epoch-prof --import tsx bench/epoch-cost.ts
 * Environment: BENCH_SYMBOLS (8000), BENCH_WORKERS (8, before the join), BENCH_REPLICAS ("1,2"),
 * BENCH_ROUNDS (40), BENCH_VNODES (500), BENCH_WARMUP (4 epochs; `BENCH_WARMUP=0 BENCH_ROUNDS=1
 * BENCH_REPLICAS=2` times the first epochs of a fresh process).
 */
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { polygon } from '../feeds/polygon.js';
import type { CheckpointStore } from '../src/cluster/checkpoints.js';
import { Assignment } from '../src/cluster/ring.js';
import { parseRingRecord } from '../src/cluster/ring-record.js';
import { FeedClient } from '../src/ingest/feed-client.js';
import { RateLimitedLog } from '../src/ingest/rate-limited-log.js';
import { Prng } from '../src/sim/prng.js';
import { generateSymbols } from '../src/sim/universe.js';
import { beginMoves } from '../src/worker/epoch-moves.js';
import { OwnedSymbols } from '../src/worker/owned-symbols.js';
import { Standbys } from '../src/worker/standbys.js';
import { fixed, median, table } from './support/stats.js';

export const EPOCH_COST_COMMAND = 'node --import tsx bench/epoch-cost.ts';

const SYMBOLS = Number(process.env['BENCH_SYMBOLS'] ?? 8_000);
const WORKERS = Number(process.env['BENCH_WORKERS'] ?? 8);
const REPLICAS = (process.env['BENCH_REPLICAS'] ?? '1,2').split(',').map(Number);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 40);
const VNODES = Number(process.env['BENCH_VNODES'] ?? 500);
/** Epochs acted on before measuring. 0 with one round: a worker's first join, before the JIT warms. */
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 4);
/** The worker measured: one that stays through the join (w1 sorts first, as in `rebalance.ts`). */
const ME = 'w1';

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** The ring record's JSON as the membership scripts write it. */
function recordJson(workers: number, epoch: number): string {
  const members = Array.from({ length: workers }, (_, i) => ({
    id: `w${i + 1}`,
    weight: 1,
    address: `http://127.0.0.1:${8080 + i}`,
  }));
  return JSON.stringify({ epoch, members, pins: {}, vnodes: VNODES, changedAt: epoch, reason: 'bench' });
}

/** One worker's pieces, as `Worker` wires them, holding what it owns and follows at `current`. */
class EpochWorker {
  readonly owned = new OwnedSymbols(polygon, {}, 10_000);
  readonly standbys: Standbys;
  readonly feed: FeedClient;
  current: Assignment | undefined;

  constructor(replicas: number, log: pino.Logger) {
    this.feed = new FeedClient(
      {
        adapter: polygon,
        url: 'ws://127.0.0.1:9/unused',
        credentials: { key: 'bench', secret: '' },
        userAgent: 'bench',
      },
      () => undefined,
      log,
    );
    const unused = (): never => {
      throw new Error('epoch-cost: no Redis in this bench');
    };
    this.standbys = new Standbys(
      {
        id: ME,
        shadows: new OwnedSymbols(polygon, {}, 10_000),
        owned: this.owned,
        checkpoints: { readMany: unused, fences: unused } as unknown as CheckpointStore,
        feed: this.feed,
        membership: { assignment: undefined, leaseValid: true, silentMembers: unused },
        loadAggregate: () => null,
        log,
        handoverLog: new RateLimitedLog(log, 10_000),
      },
      { replicas, leaseMs: 5_000, handoverTimeoutMs: 2_000 },
    );
  }

  /** What `Membership.refresh` and `Worker.rebalance` compute for a new record (see the header). */
  actOn(json: string, universe: readonly string[]): number {
    const previous = this.current;
    const assignment = new Assignment(parseRingRecord(json), universe);
    this.current = assignment;
    const mine = new Set(assignment.symbolsOf(ME));
    const lost = this.owned.names().filter((symbol) => !mine.has(symbol));
    const gained = [...mine].filter((symbol) => !this.owned.has(symbol));
    const moved = previous ? assignment.movedSince(previous) : gained.length + lost.length;
    const followed = this.standbys.followedAt(assignment);
    this.standbys.promote(assignment, gained, previous);
    const standIns = this.standbys.standInsAt(assignment, previous);
    beginMoves(this.owned, this.standbys, { gained, lost, standIns: standIns.keys() });
    this.standbys.retire(assignment, previous, followed);
    for (const symbol of followed) if (!this.owned.has(symbol)) this.standbys.acquire(symbol);
    const leaving = [...new Set([...lost, ...standIns.keys()])];
    this.feed.setSymbols([...mine, ...leaving, ...this.standbys.names()]);
    // After the hand-over (`writeFinals`, `takeOver`): lost symbols go, followed ones stay as live
    // shadows, gained ones go live. Then the second `setSymbols` of `rebalance`.
    this.settle(leaving, gained, followed);
    for (const symbol of followed) if (!this.owned.has(symbol)) this.standbys.acquire(symbol);
    this.feed.setSymbols([...this.owned.names(), ...this.standbys.names()]);
    return moved;
  }

  private settle(leaving: readonly string[], gained: readonly string[], followed: ReadonlySet<string>): void {
    for (const symbol of leaving) {
      const owned = this.owned.release(symbol);
      if (owned && followed.has(symbol)) this.standbys.adoptLive(symbol, owned);
    }
    for (const symbol of gained) {
      const owned = this.owned.get(symbol);
      if (owned) owned.state = 'live';
    }
  }
}

/**
 * The baseline: every symbol md5-hashed once and found on a sorted array of the joined ring's
 * points, the least a from-scratch assignment of the universe does.
 */
function baseline(universe: readonly string[], points: Uint32Array): number {
  let sum = 0;
  for (const symbol of universe) {
    const digest = createHash('md5').update(symbol).digest();
    const hash = digest.readUInt32LE(0);
    let low = 0;
    let high = points.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((points[mid] ?? 0) < hash) low = mid + 1;
      else high = mid;
    }
    sum += low;
  }
  return sum;
}

function ringPoints(workers: number): Uint32Array {
  const points: number[] = [];
  for (let w = 1; w <= workers; w++) {
    for (let i = 0; i < VNODES; i++) {
      const digest = createHash('md5').update(`w${w}-${i}`).digest();
      for (let j = 0; j < 4; j++) points.push(digest.readUInt32LE(j * 4));
    }
  }
  return Uint32Array.from(points).sort();
}

export interface EpochCostRow {
  readonly replicas: number;
  /** CPU ms per epoch: median and best of the rounds, joins and leaves apart. */
  readonly joinMs: { median: number; best: number };
  readonly leaveMs: { median: number; best: number };
  readonly baselineMs: { median: number; best: number };
  readonly moved: number;
  readonly owned: number;
  readonly followed: number;
}

function summary(values: readonly number[]): { median: number; best: number } {
  return { median: median(values), best: Math.min(...values) };
}

export function measureEpochCost(replicas: number, universe: readonly string[]): EpochCostRow {
  const log = pino({ level: 'silent' });
  const worker = new EpochWorker(replicas, log);
  const before = recordJson(WORKERS, 1);
  const after = recordJson(WORKERS + 1, 2);
  const points = ringPoints(WORKERS + 1);
  // Warm-up: the first epochs hash every key once (the ring remembers digests, as a worker's does
  // after its first epochs) and let the JIT settle.
  worker.actOn(before, [...universe]);
  for (let i = 0; i < WARMUP; i++) worker.actOn(i % 2 === 0 ? after : before, [...universe]);
  baseline(universe, points);
  const joins: number[] = [];
  const leaves: number[] = [];
  const bases: number[] = [];
  let moved = 0;
  let sink = 0;
  // Each epoch reads the universe afresh, as SMEMBERS does: equal strings, not the same ones.
  const reply = universe.join('\n');
  const read = (): string[] => reply.split('\n');
  for (let round = 0; round < ROUNDS; round++) {
    // Alternating with the measured work, so other load on the machine hits both alike.
    let started = cpuMs();
    sink += baseline(universe, points);
    bases.push(cpuMs() - started);
    let symbols = read();
    started = cpuMs();
    moved = worker.actOn(after, symbols);
    joins.push(cpuMs() - started);
    symbols = read();
    started = cpuMs();
    worker.actOn(before, symbols);
    leaves.push(cpuMs() - started);
  }
  if (sink < 0) throw new Error('unreachable');
  return {
    replicas,
    joinMs: summary(joins),
    leaveMs: summary(leaves),
    baselineMs: summary(bases),
    moved,
    owned: worker.owned.size,
    followed: worker.standbys.size,
  };
}

export function epochCostSection(rows: readonly EpochCostRow[]): string {
  const lines = rows.map((row) => [
    String(row.replicas),
    String(row.owned),
    String(row.followed),
    String(row.moved),
    `${fixed(row.joinMs.median, 1)} / ${fixed(row.joinMs.best, 1)}`,
    `${fixed(row.leaveMs.median, 1)} / ${fixed(row.leaveMs.best, 1)}`,
    `${fixed(row.baselineMs.median, 1)} / ${fixed(row.baselineMs.best, 1)}`,
    `${fixed(row.joinMs.median / row.baselineMs.median, 2)} / ${fixed(row.joinMs.best / row.baselineMs.best, 2)}`,
    `${fixed(row.leaveMs.median / row.baselineMs.median, 2)} / ${fixed(row.leaveMs.best / row.baselineMs.best, 2)}`,
  ]);
  return [
    `Epoch cost, one worker (${ME}) of ${WORKERS} + 1 joining, ${SYMBOLS} symbols, ${VNODES} vnodes, ${ROUNDS} rounds.`,
    `CPU ms per epoch and ratios to the baseline, median / best. Command: \`${EPOCH_COST_COMMAND}\`.`,
    '',
    table(
      [
        'replicas',
        'owned',
        'followed',
        'symbols moved',
        'join',
        'leave',
        'baseline',
        'join / baseline',
        'leave / baseline',
      ],
      lines,
    ),
  ].join('\n');
}

async function main(): Promise<void> {
  // In SMEMBERS's order, which is no order: sorted input would flatter every sort of the symbols.
  const random = new Prng(7);
  const universe = generateSymbols(SYMBOLS)
    .map((symbol) => ({ symbol, key: random.next() }))
    .sort((a, b) => a.key - b.key)
    .map(({ symbol }) => symbol);
  const rows = REPLICAS.map((replicas) => measureEpochCost(replicas, universe));
  console.log(epochCostSection(rows));
  await Promise.resolve();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
