/**
 * Scenario 3, rebalance. N symbols, M worker processes, the simulator (its own process) at a steady
 * rate. Each repetition: a worker joins, the same worker leaves gracefully (SIGTERM), then one of
 * the original workers is SIGKILLed and, once its symbols are owned again, restarted (a second join).
 * For every event:
 *   - time until every live worker acts on the new epoch, and until every moved symbol is live at its
 *     new owner, by the workers' own account: each member logs an `epoch changed` line once it has
 *     acted on an epoch, with how long that took, so it began at the line's time less its `ms`, and
 *     a worker that gained symbols was done once every one of them was live;
 *   - the latter also as the bench sees it through the API, polled every BENCH_POLL_MS: `POST
 *     /v1/internal/summaries` with the new epoch as `minEpoch` (a symbol still loading its checkpoint
 *     is `notOwned`), beside `/v1/cluster` for the epochs. The polls find when an event is over and
 *     check the workers' account; they are not the measure, because each poll is late by up to its
 *     period and a round trip on busy cores (5-85 ms later than the account at the median). Their
 *     load did not show: polled every 50 ms instead, the account read the same within its spread;
 *   measured from the new epoch's `changedAt` (Redis time, same host) for planned changes (for a
 *   leave, the drain's epoch, in which the symbols move; the removal after it moves none), and from
 *   the SIGKILL for a crash;
 *   - trades lost or doubled: after the event the simulator is paused, the workers drain, and every
 *     symbol's trade count from `/v1/symbols` is compared with the simulator's own count; the change
 *     since the previous check is this event's.
 * Workers run with `--settle-ms 0 --settle-max-ms 0` so a join is admitted at once rather than after
 * the settle window (1 s by default; the window exists to batch joins at cluster start), and with
 * a shorter lease than the default (BENCH_LEASE_MS) so a crash is reaped sooner.
 * Baseline, same run: the lease (a crash cannot be noticed sooner).
 *
 *   npm run build && node --import tsx bench/rebalance.ts
 * Environment: BENCH_SYMBOLS (8000, the issue's figure), BENCH_WORKERS (8, the issue's), BENCH_REPEATS
 * (20, the issue's; about 3.5 minutes on 2 cores), BENCH_RATE (2000 trades/s), BENCH_SKEW (1),
 * BENCH_POLL_MS (10: how often the bench polls the API while an event lasts),
 * BENCH_LEASE_MS (2000), BENCH_HEARTBEAT_MS (500), BENCH_CHECKPOINT_MS (1000), BENCH_STEADY_MS
 * (1000: steady trading before each event), BENCH_REDIS_URL (default: a private redis-server),
 * BENCH_DEBUG (set: print each worker's own log of each epoch: when it logged it after the change,
 * and how long its rebalance took, and the CPU each process used from when the bench saw the epoch
 * until the polls found every moved symbol live; `2`: also every line each worker logged within 3 s
 * of the change), BENCH_LOG_LEVEL (the workers' `--log-level`, `info`; `debug` adds each hand-over's stages
 * to what BENCH_DEBUG=2 prints), BENCH_PROFILE_DIR (profile each worker with `--cpu-prof` into
 * <dir>/<worker id>; a SIGKILLed worker writes none).
 */
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { readRingRecord } from '../src/cluster/membership.js';
import type { RingRecord } from '../src/cluster/ring-record.js';
import { Assignment } from '../src/cluster/ring.js';
import { generateSymbols } from '../src/sim/universe.js';
import { benchRedis, type BenchRedis } from './support/bench-redis.js';
import { CpuMeter, CpuTracker, MachineCpu, threadCpuMs } from './support/proc-stats.js';
import { json, readCounter, sleep, until } from './support/processes.js';
import { startSim, type SimProcess } from './support/sim-process.js';
import { fixed, int, percentile, table, verdict } from './support/stats.js';
import { startWorker, stopWorker, type LogLine, type WorkerProcess } from './support/worker-process.js';

const PROFILE_DIR = process.env['BENCH_PROFILE_DIR'];
const DEBUG = process.env['BENCH_DEBUG'];
const POLL_MS = Number(process.env['BENCH_POLL_MS'] ?? 10);
/** The line a worker logs once it has acted on an epoch (`Worker.rebalance`). */
const REBALANCED = 'epoch changed: symbols rebalanced';

export interface RebalanceOptions {
  readonly symbols: number;
  readonly workers: number;
  readonly repeats: number;
  readonly rate: number;
  readonly skew: number;
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  readonly checkpointMs: number;
  readonly steadyMs: number;
}

export function rebalanceOptions(defaults: Partial<RebalanceOptions> = {}): RebalanceOptions {
  const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
  return {
    symbols: env('BENCH_SYMBOLS', defaults.symbols ?? 8_000),
    workers: env('BENCH_WORKERS', defaults.workers ?? 8),
    repeats: env('BENCH_REPEATS', defaults.repeats ?? 20),
    rate: env('BENCH_RATE', defaults.rate ?? 2_000),
    skew: env('BENCH_SKEW', defaults.skew ?? 1),
    leaseMs: env('BENCH_LEASE_MS', defaults.leaseMs ?? 2_000),
    heartbeatMs: env('BENCH_HEARTBEAT_MS', defaults.heartbeatMs ?? 500),
    checkpointMs: env('BENCH_CHECKPOINT_MS', defaults.checkpointMs ?? 1_000),
    steadyMs: env('BENCH_STEADY_MS', defaults.steadyMs ?? 1_000),
  };
}

export type EventKind = 'join' | 'leave' | 'crash';

export interface EventSample {
  readonly kind: EventKind;
  readonly epoch: number;
  readonly moved: number;
  /** Trigger (SIGTERM, SIGKILL) to the new epoch in Redis; NaN for a join. */
  readonly triggerToEpochMs: number;
  /** Reference (planned: the epoch's changedAt; crash: the kill) to every live worker on the epoch. */
  readonly actedMs: number;
  /** Reference to every moved symbol live at its new owner. */
  readonly liveMs: number;
  /** The same, as the API showed it to the bench's polls. */
  readonly liveMsPolled: number;
  /** Whether the two above come from the workers' own lines (else from the polls: a line was missing). */
  readonly ownAccount: boolean;
  /**
   * CPU each process used from when the bench saw the epoch until the polls found every symbol live
   * (ms); read for BENCH_DEBUG only, empty otherwise.
   */
  readonly cpuMs: Readonly<Record<string, number>>;
  /** The new epoch's `changedAt` (Redis time, ms). */
  readonly changedAt: number;
  /**
   * Cores the whole machine kept busy from when the bench saw the new epoch until every moved symbol
   * was live: how much the event's work, and everything else, left idle meanwhile.
   */
  readonly busyCores: number;
  readonly lost: number;
  /** Of `lost`, in symbols that moved in this event. */
  readonly lostInMoved: number;
  readonly doubled: number;
  /** Symbols no owner answered for at the check. */
  readonly unanswered: number;
  /** Symbols subscribed by no connection, or by more than one, at the check. */
  readonly ownershipErrors: number;
  /** Trades per second of the symbols that moved, over the run so far (to express `lost` in time). */
  readonly movedRate: number;
}

/** What `Bench.check` finds after an event: its share of the trades lost and doubled. */
type EventCheck = Pick<
  EventSample,
  'lost' | 'lostInMoved' | 'doubled' | 'unanswered' | 'ownershipErrors' | 'movedRate'
>;

export interface RebalanceResult {
  readonly options: RebalanceOptions;
  readonly samples: EventSample[];
  /** Trades per second the simulator generated while running. */
  readonly rateAchieved: number;
  readonly slowConsumerDrops: number;
  readonly simCores: number;
  readonly workerCores: number;
  readonly machineCores: number;
}

interface ListPage {
  symbols: { symbol: string; trades: number | null }[];
  nextCursor: string | null;
}

class Bench {
  readonly procs = new Map<string, WorkerProcess>();
  /** Workers that left or were killed, for BENCH_DEBUG's account of the epoch they left in. */
  readonly departed: WorkerProcess[] = [];
  private readonly symbols: string[];
  private previous = new Map<string, number>();
  /** `performance.now()` of the last resume; undefined while paused. */
  private runningSince: number | undefined;
  private runningMs = 0;
  private generated = 0;
  /** Called after each worker start (to track its CPU). */
  onStart: () => void = () => undefined;

  constructor(
    readonly options: RebalanceOptions,
    readonly redis: BenchRedis,
    readonly sim: SimProcess,
  ) {
    this.symbols = generateSymbols(options.symbols);
  }

  start(id: string): WorkerProcess {
    const o = this.options;
    const proc = startWorker({
      id,
      redisUrl: this.redis.url,
      prefix: this.redis.prefix,
      feedUrl: this.sim.wsUrl,
      logLevel: process.env['BENCH_LOG_LEVEL'] ?? 'info',
      nodeArgs: PROFILE_DIR === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}/${id}`],
      args: [
        '--settle-ms',
        '0',
        '--settle-max-ms',
        '0',
        '--lease-ms',
        String(o.leaseMs),
        '--heartbeat-ms',
        String(o.heartbeatMs),
        '--checkpoint-ms',
        String(o.checkpointMs),
      ],
    });
    this.procs.set(id, proc);
    // On the next tick: the process has a pid by then, and its start-up counts.
    setImmediate(this.onStart);
    return proc;
  }

  ring(): Promise<RingRecord> {
    return readRingRecord(this.redis.redis, this.redis.keys);
  }

  /** Polls the ring record every 5 ms until `test` holds. */
  nextRing(test: (record: RingRecord) => boolean): Promise<RingRecord> {
    return until(
      'the new epoch',
      async () => {
        const record = await this.ring();
        return test(record) ? record : undefined;
      },
      60_000,
      5,
    );
  }

  /** When every member of `record` acts on its epoch (or later), by `/v1/cluster`. */
  async acted(record: RingRecord): Promise<number> {
    return until(
      'every worker to act on the epoch',
      async () => {
        const views = await Promise.all(
          record.members.map((m) =>
            json<{ epoch: number }>(`${m.address}/v1/cluster`).catch(() => ({
              // A leaver gone already acted on its drain epoch: it exits only once it handed over
              // (or gave up at its bound). Counted as absent, a leaver that exits before the first
              // look here holds the run until its 60 s limit (the likely cause of one full run's
              // failure, at its fifth leave).
              epoch: m.draining === true ? record.epoch : 0,
            })),
          ),
        );
        return views.every((v) => v.epoch >= record.epoch) ? Date.now() : undefined;
      },
      60_000,
      POLL_MS,
    );
  }

  /** When every symbol in `moved` is live at its owner in `record` at that epoch or later. */
  async live(record: RingRecord, moved: readonly string[]): Promise<number> {
    const assignment = new Assignment(record, this.symbols);
    // Keyed by owner and batch: the internal route takes at most 1,000 symbols a call.
    const pending = new Map<string, { address: string; symbols: string[] }>();
    for (const symbol of moved) {
      const owner = assignment.ownerOf(symbol) ?? '';
      const address = record.members.find((m) => m.id === owner)?.address ?? '';
      let batch = 0;
      while ((pending.get(`${owner}#${batch}`)?.symbols.length ?? 0) >= 1_000) batch++;
      const entry = pending.get(`${owner}#${batch}`) ?? { address, symbols: [] };
      entry.symbols.push(symbol);
      pending.set(`${owner}#${batch}`, entry);
    }
    return until(
      'every moved symbol to be live',
      async () => {
        await Promise.all(
          [...pending].map(async ([key, { address, symbols }]) => {
            // The summaries route: the same `notOwned` as the snapshots route (live there at the
            // epoch or later), with two numbers per live symbol instead of its whole snapshot. The
            // snapshots were a sixth of a joiner's CPU while it went live (a profile at 2 workers).
            const reply = await json<{ notOwned: string[] }>(`${address}/v1/internal/summaries`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ symbols, minEpoch: record.epoch }),
            }).catch(() => ({ notOwned: symbols }));
            if (reply.notOwned.length === 0) pending.delete(key);
            else pending.set(key, { address, symbols: reply.notOwned });
          }),
        );
        return pending.size === 0 ? Date.now() : undefined;
      },
      60_000,
      POLL_MS,
    );
  }

  moved(before: RingRecord, after: RingRecord): string[] {
    const a = new Assignment(before, this.symbols);
    const b = new Assignment(after, this.symbols);
    return this.symbols.filter((s) => a.ownerOf(s) !== b.ownerOf(s));
  }

  async resume(): Promise<void> {
    await this.sim.resume();
    this.runningSince = performance.now();
  }

  /**
   * Pauses the simulator, waits for the workers to drain, and compares every symbol's count with
   * the simulator's; resumes. Returns the change since the previous check.
   */
  async check(record: RingRecord, moved: readonly string[]): Promise<EventCheck> {
    await this.sim.pause();
    if (this.runningSince !== undefined) this.runningMs += performance.now() - this.runningSince;
    this.runningSince = undefined;
    const addresses = record.members.map((m) => m.address);
    let last = '';
    await until(
      'the workers to drain',
      async () => {
        const counts = await Promise.all(
          addresses.map((a) => readCounter(a, 'tickring_trades_ingested_total')),
        );
        const now = counts.join(',');
        const same = now === last;
        last = now;
        return same ? true : undefined;
      },
      30_000,
      250,
    );
    const stats = await this.sim.stats();
    this.generated = stats.totals.generated;
    const seen = new Map<string, number | null>();
    let cursor: string | null = null;
    do {
      const page: ListPage = await json<ListPage>(
        `${addresses[0] ?? ''}/v1/symbols?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      for (const s of page.symbols) seen.set(s.symbol, s.trades);
      cursor = page.nextCursor;
    } while (cursor !== null);
    const subscribers = new Map<string, number>();
    for (const c of stats.connections)
      for (const s of c.subscriptions) subscribers.set(s, (subscribers.get(s) ?? 0) + 1);
    let lost = 0;
    let doubled = 0;
    let unanswered = 0;
    let ownershipErrors = 0;
    let movedTrades = 0;
    let lostInMoved = 0;
    let lostShown = 0;
    let owners: Assignment | undefined;
    const movedSet = new Set(moved);
    const current = new Map<string, number>();
    for (const symbol of this.symbols) {
      const truth = stats.symbols[symbol]?.trades ?? 0;
      if (movedSet.has(symbol)) movedTrades += truth;
      if (subscribers.get(symbol) !== 1) ownershipErrors++;
      const count = seen.get(symbol);
      if (count === null || count === undefined) {
        unanswered++;
        continue;
      }
      const gap = truth - count;
      current.set(symbol, gap);
      const delta = gap - (this.previous.get(symbol) ?? 0);
      if (delta > 0) lost += delta;
      else doubled -= delta;
      // The symbols behind a count, for tracing them in the workers' logs: every doubled one, and
      // the first lost ones (a crash loses in nearly every moved symbol).
      if (DEBUG && (delta < 0 || (delta > 0 && lostShown++ < 10)))
        console.error(
          `  ${delta < 0 ? 'doubled' : 'lost'} ${Math.abs(delta)} in ${symbol}${movedSet.has(symbol) ? ' (moved)' : ''}: ` +
            `simulator ${truth}, workers ${count}, gap before ${this.previous.get(symbol) ?? 0}, ` +
            `owner now ${(owners ??= new Assignment(record, this.symbols)).ownerOf(symbol) ?? '-'}`,
        );
      if (delta > 0 && movedSet.has(symbol)) lostInMoved += delta;
    }
    this.previous = current;
    await this.resume();
    return {
      lost,
      lostInMoved,
      doubled,
      unanswered,
      ownershipErrors,
      movedRate: movedTrades / Math.max(this.runningMs / 1000, 1e-3),
    };
  }

  rateAchieved(): number {
    return this.generated / Math.max(this.runningMs / 1000, 1e-3);
  }
}

/**
 * When every member acts on `record` and every symbol of `moved` is live there, as the polls saw it,
 * and how busy the machine, and each process, was from now until the latter.
 */
async function settled(
  bench: Bench,
  record: RingRecord,
  moved: readonly string[],
): Promise<{ actedAt: number; liveAt: number; busyCores: number; cpuMs: Record<string, number> }> {
  const machine = new MachineCpu();
  // Read only for BENCH_DEBUG: a few hundred /proc reads by the bench in the window it measures.
  const processes: [string, number | undefined][] = DEBUG
    ? [
        // The last to depart is a leaver still handing over (a worker killed meanwhile reads as NaN).
        ...[...bench.procs.values(), ...bench.departed.slice(-1).filter((p) => !bench.procs.has(p.id))].map(
          (p): [string, number | undefined] => [p.id, p.child.pid],
        ),
        ['simulator', bench.sim.child.pid],
        ['redis', bench.redis.pid],
        ['bench', process.pid],
      ]
    : [];
  const cpuBefore = processes.map(([, pid]) => threadCpuMs(pid));
  let busyCores = NaN;
  const cpuMs: Record<string, number> = {};
  const [actedAt, liveAt] = await Promise.all([
    bench.acted(record),
    bench.live(record, moved).then((at) => {
      busyCores = machine.busyCores();
      processes.forEach(([id, pid], i) => {
        // A leaver exiting meanwhile has lost threads, or is gone: not counted.
        const used = threadCpuMs(pid) - (cpuBefore[i] ?? NaN);
        cpuMs[id] = used >= 0 ? used : NaN;
      });
      return at;
    }),
  ]);
  return { actedAt, liveAt, busyCores, cpuMs };
}

/**
 * The workers' own account of `record`'s epoch, from the line each member logs once it has acted on
 * it: when the last of them began (its line's time less the `ms` it took), and when the last that
 * gained symbols was done (each of its gained symbols live by then). Undefined when a line does not
 * come (a log level above info): the polls' times stand then.
 */
async function ownAccount(
  bench: Bench,
  record: RingRecord,
): Promise<{ actedAt: number; liveAt: number } | undefined> {
  const procs = [...bench.procs.values(), ...bench.departed];
  const lineOf = (id: string): LogLine | undefined =>
    procs
      .filter((p) => p.id === id)
      .flatMap((p) => p.logs)
      .find((l) => l.msg === REBALANCED && l['epoch'] === record.epoch);
  let lines: LogLine[];
  try {
    lines = await until(
      "every member's line for the epoch",
      () => {
        const found = record.members.map((m) => lineOf(m.id));
        return found.every((l) => l !== undefined) ? found : undefined;
      },
      2_000,
    );
  } catch {
    return undefined;
  }
  const done = lines.filter((l) => Number(l['gained']) > 0).map((l) => l.time);
  if (done.length === 0) return undefined;
  return { actedAt: Math.max(...lines.map((l) => l.time - Number(l['ms']))), liveAt: Math.max(...done) };
}

async function planned(
  bench: Bench,
  kind: 'join' | 'leave',
  before: RingRecord,
  trigger: () => void,
  test: (record: RingRecord) => boolean,
  beforeCheck: () => Promise<void> = () => Promise.resolve(),
): Promise<EventSample> {
  const triggeredAt = Date.now();
  trigger();
  const record = await bench.nextRing((r) => r.epoch > before.epoch && test(r));
  const moved = bench.moved(before, record);
  const polled = await settled(bench, record, moved);
  const own = await ownAccount(bench, record);
  await beforeCheck();
  // The members to ask are those of now: after a leave, the record without the leaver.
  const check = await bench.check(await bench.ring(), moved);
  return {
    kind,
    epoch: record.epoch,
    moved: moved.length,
    triggerToEpochMs: kind === 'join' ? NaN : record.changedAt - triggeredAt,
    actedMs: (own?.actedAt ?? polled.actedAt) - record.changedAt,
    liveMs: (own?.liveAt ?? polled.liveAt) - record.changedAt,
    liveMsPolled: polled.liveAt - record.changedAt,
    ownAccount: own !== undefined,
    changedAt: record.changedAt,
    busyCores: polled.busyCores,
    cpuMs: polled.cpuMs,
    ...check,
  };
}

async function crash(bench: Bench, victim: WorkerProcess): Promise<EventSample> {
  const before = await bench.ring();
  const killedAt = Date.now();
  await stopWorker(victim, 'SIGKILL');
  bench.procs.delete(victim.id);
  bench.departed.push(victim);
  const record = await bench.nextRing(
    (r) => r.epoch > before.epoch && !r.members.some((m) => m.id === victim.id),
  );
  const moved = bench.moved(before, record);
  const polled = await settled(bench, record, moved);
  const own = await ownAccount(bench, record);
  const check = await bench.check(record, moved);
  return {
    kind: 'crash',
    epoch: record.epoch,
    moved: moved.length,
    triggerToEpochMs: record.changedAt - killedAt,
    actedMs: (own?.actedAt ?? polled.actedAt) - killedAt,
    liveMs: (own?.liveAt ?? polled.liveAt) - killedAt,
    liveMsPolled: polled.liveAt - killedAt,
    ownAccount: own !== undefined,
    changedAt: record.changedAt,
    busyCores: polled.busyCores,
    cpuMs: polled.cpuMs,
    ...check,
  };
}

/**
 * BENCH_DEBUG: each worker's own account of an epoch (log time after the change, and its `ms`), the
 * workers that left or died in it included.
 */
const LOG_ENVELOPE = new Set(['level', 'time', 'role', 'pid', 'workerId']);

function debugEpoch(bench: Bench, sample: EventSample): void {
  const { epoch, changedAt } = sample;
  for (const proc of [...bench.procs.values(), ...bench.departed]) {
    const line = proc.logs.find((l) => l.msg === 'epoch changed: symbols rebalanced' && l['epoch'] === epoch);
    if (DEBUG === '2')
      for (const l of proc.logs) {
        if (l.time < changedAt - 1_000 || l.time > changedAt + 2_000) continue;
        const shown = Object.entries(l).filter(([key]) => !LOG_ENVELOPE.has(key));
        console.log(
          `    ${proc.id} ${l.time - changedAt} ms: ${JSON.stringify(Object.fromEntries(shown)).slice(0, 300)}`,
        );
      }
    if (line)
      console.log(
        `  ${proc.id}: logged ${line.time - changedAt} ms after the change; gained ${String(line['gained'])}, lost ${String(line['lost'])}, took ${String(line['ms'])} ms`,
      );
  }
  const cpu = Object.entries(sample.cpuMs).map(([id, ms]) => `${id} ${fixed(ms, 0)}`);
  console.log(`  CPU ms from the epoch until the polls saw every symbol live: ${cpu.join(', ')}`);
}

export async function runRebalance(options: RebalanceOptions, log = true): Promise<RebalanceResult> {
  const redis = await benchRedis('rebalance');
  const sim = await startSim({
    symbols: options.symbols,
    rate: options.rate,
    skew: options.skew,
    paused: true,
  });
  const bench = new Bench(options, redis, sim);
  const samples: EventSample[] = [];
  const say = (sample: EventSample): void => {
    samples.push(sample);
    if (DEBUG) debugEpoch(bench, sample);
    if (log)
      console.log(
        `${sample.kind} (epoch ${sample.epoch}, ${sample.moved} moved): acted ${Math.round(sample.actedMs)} ms, live ${Math.round(sample.liveMs)} ms${sample.ownAccount ? '' : " (polled: a worker's line was missing)"}, polled ${Math.round(sample.liveMsPolled)} ms (machine ${fixed(sample.busyCores)} cores busy); lost ${sample.lost} (${sample.lostInMoved} in moved symbols), doubled ${sample.doubled}`,
      );
  };
  try {
    const symbols = generateSymbols(options.symbols);
    await redis.addUniverse(symbols);
    for (let i = 1; i <= options.workers; i++) bench.start(`w${i}`);
    const first = await bench.nextRing((r) => r.members.length === options.workers);
    await Promise.all([bench.acted(first), bench.live(first, symbols)]);
    await bench.check(first, []); // all zero: the simulator has not started yet
    await sleep(options.steadyMs);
    const simCpu = new CpuMeter([sim.child.pid]);
    const workerCpu = new CpuTracker();
    const track = (): void => {
      for (const proc of bench.procs.values()) workerCpu.track(proc.child.pid);
    };
    track();
    bench.onStart = track;
    const machine = new MachineCpu();
    for (let round = 0; round < options.repeats; round++) {
      const extra = `x${round + 1}`;
      let before = await bench.ring();
      say(
        await planned(
          bench,
          'join',
          before,
          () => bench.start(extra),
          (r) => r.members.some((m) => m.id === extra),
        ),
      );
      await sleep(options.steadyMs);

      before = await bench.ring();
      const leaving = bench.procs.get(extra)!;
      say(
        await planned(
          bench,
          'leave',
          before,
          () => leaving.child.kill('SIGTERM'),
          // Timed from the drain, the epoch in which its symbols move (the removal after it moves
          // none): the first record that lists the worker draining or no longer lists it.
          (r) => r.members.every((m) => m.id !== extra || m.draining === true),
          // The exactness check reads every worker's counters: the leaver's exit comes first.
          async () => {
            await leaving.exited;
            bench.procs.delete(extra);
            bench.departed.push(leaving);
          },
        ),
      );
      await sleep(options.steadyMs);

      const victimId = `w${(round % options.workers) + 1}`;
      say(await crash(bench, bench.procs.get(victimId)!));
      await sleep(options.steadyMs);

      before = await bench.ring();
      say(
        await planned(
          bench,
          'join',
          before,
          () => bench.start(victimId),
          (r) => r.members.some((m) => m.id === victimId),
        ),
      );
      await sleep(options.steadyMs);
    }
    const workerCores = workerCpu.stop();
    const simCores = simCpu.cores()[0] ?? NaN;
    const machineCores = machine.busyCores();
    const stats = await sim.stats();
    return {
      options,
      samples,
      rateAchieved: bench.rateAchieved(),
      slowConsumerDrops: stats.slowConsumerDrops,
      simCores,
      workerCores,
      machineCores,
    };
  } finally {
    await Promise.all(
      [...bench.procs.values()].map((p) => stopWorker(p, PROFILE_DIR === undefined ? 'SIGKILL' : 'SIGTERM')),
    );
    await sim.close();
    await redis.close();
  }
}

function spread(values: readonly number[]): string {
  if (values.length === 0) return 'n/a';
  return `${Math.round(percentile(values, 50))} / ${Math.round(percentile(values, 99))} / ${Math.round(Math.max(...values))}`;
}

export const REBALANCE_COMMAND = 'npm run build && node --import tsx bench/rebalance.ts';

/**
 * What the section's goal line judges: the rebalance scenario's times, or (the hand-over at speed)
 * whether planned moves lost or doubled anything, its times then shown against the rebalance goals.
 */
export type RebalanceGoal = 'times' | 'exactness';

export function formatRebalance(
  result: RebalanceResult,
  command = REBALANCE_COMMAND,
  goal: RebalanceGoal = 'times',
): string {
  const o = result.options;
  const of = (kind: EventKind): EventSample[] => result.samples.filter((s) => s.kind === kind);
  const plannedLive = [...of('join'), ...of('leave')].map((s) => s.liveMs);
  const plannedActed = [...of('join'), ...of('leave')].map((s) => s.actedMs);
  const crashLive = of('crash').map((s) => s.liveMs);
  const rows = (['join', 'leave', 'crash'] as const).map((kind) => {
    const s = of(kind);
    return [
      kind === 'crash' ? 'crash (SIGKILL), from the kill' : `${kind}, from the new epoch`,
      String(s.length),
      fixed(s.reduce((a, b) => a + b.moved, 0) / Math.max(s.length, 1), 0),
      kind === 'join' ? '-' : spread(s.map((x) => x.triggerToEpochMs)),
      spread(s.map((x) => x.actedMs)),
      spread(s.map((x) => x.liveMs)),
      spread(s.map((x) => x.liveMsPolled)),
      fixed(s.reduce((a, b) => a + b.busyCores, 0) / Math.max(s.length, 1)),
    ];
  });
  const exact = (['join', 'leave', 'crash'] as const).map((kind) => {
    const s = of(kind);
    const sum = (pick: (x: EventSample) => number): number => s.reduce((a, b) => a + pick(b), 0);
    const lostMs = s.map((x) => (x.movedRate > 0 ? (x.lost / x.movedRate) * 1000 : 0));
    return [
      kind,
      int(sum((x) => x.lost)),
      int(sum((x) => x.doubled)),
      int(sum((x) => x.unanswered)),
      int(sum((x) => x.ownershipErrors)),
      kind === 'crash' ? `${spread(lostMs)} ms of the moved symbols' trades` : '-',
    ];
  });
  const plannedP99 = percentile(plannedLive, 99);
  const crashP99 = percentile(crashLive, 99);
  const plannedBad = [...of('join'), ...of('leave')].reduce((a, b) => a + b.lost + b.doubled, 0);
  const doubled = result.samples.reduce((a, b) => a + b.doubled, 0);
  const ownMissing = result.samples.filter((x) => !x.ownAccount).length;
  return [
    `${o.symbols} symbols, ${o.workers} workers, simulator at ${int(o.rate)} trades/s (Zipf skew ${o.skew}; achieved ` +
      `${int(result.rateAchieved)} trades/s while running), ${o.repeats} repetitions of: join, graceful leave (timed from ` +
      `its drain epoch, in which its symbols move), SIGKILL, restart (a second join). Workers: \`--settle-ms 0 --settle-max-ms 0\` (joins admitted at once, not after the ` +
      `default 1 s settle window), \`--lease-ms ${o.leaseMs} --heartbeat-ms ${o.heartbeatMs} --checkpoint-ms ${o.checkpointMs}\`. ` +
      "Times by the workers' own account (each member's `epoch changed` line: when it began acting, and " +
      'when a worker that gained symbols had every one of them live), checked against what the API showed ' +
      `polls every ${POLL_MS} ms (5 ms for the ring record)` +
      (ownMissing > 0 ? `; ${ownMissing} events lacked a line and count as polled.` : '.'),
    `Command: \`${command}\`.`,
    '',
    'Times in ms as p50 / p99 / max:',
    '',
    table(
      [
        'event',
        'n',
        'symbols moved (mean)',
        'trigger → new epoch',
        'every worker on the epoch',
        'every moved symbol live',
        `the same, as polled every ${POLL_MS} ms`,
        `machine busy, new epoch → live (mean, of ${availableParallelism()} cores)`,
      ],
      rows,
    ),
    '',
    `${goal === 'times' ? 'Goals' : "Times against the rebalance scenario's goals"}: planned (join, leave) every moved symbol live, p99 < 250 ms: ${fixed(plannedP99, 0)} ms, ${verdict(plannedP99, 250, 'atMost', ' ms')} ` +
      `(every worker on the epoch: p99 ${fixed(percentile(plannedActed, 99), 0)} ms). Crash, owned again < lease + 250 ms = ` +
      `${o.leaseMs + 250} ms: p99 ${fixed(crashP99, 0)} ms, ${verdict(crashP99, o.leaseMs + 250, 'atMost', ' ms')}. ` +
      `Baseline for the crash: the lease itself (${o.leaseMs} ms), since a silent worker cannot be told from a slow one sooner.`,
    '',
    'Exactness (each check pauses the simulator, lets the workers drain and compares every symbol with the simulator):',
    '',
    table(
      ['event', 'trades lost', 'trades doubled', 'symbols unanswered', 'ownership errors', 'lost, as time'],
      exact,
    ),
    '',
    (goal === 'exactness'
      ? `Goal: planned (join, leave) hand-overs lose and double nothing at this rate: ${plannedBad === 0 ? '0 lost, 0 doubled, met' : `${plannedBad} trades lost or doubled, not met`}. `
      : `Planned hand-overs: ${plannedBad === 0 ? 'exact (0 lost, 0 doubled)' : `NOT exact: ${plannedBad} trades lost or doubled`}. `) +
      `Doubled over all events: ${doubled}. A crash loses by design what the killed worker applied since its last ` +
      `checkpoint (up to ${o.checkpointMs} ms) plus what the feed sent nobody until the new owner subscribed ` +
      '(the lease): there is no standby and the provider does not replay. ' +
      `Simulator slow-consumer drops: ${result.slowConsumerDrops}. CPU over the repetitions: simulator ${fixed(result.simCores)} cores, ` +
      `workers ${fixed(result.workerCores)}, whole machine ${fixed(result.machineCores)} of ${availableParallelism()}.`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatRebalance(await runRebalance(rebalanceOptions())));
}
