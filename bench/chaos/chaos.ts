/**
 * The chaos run: its own Redis, the simulator and N worker processes (all the built CLI), a seeded
 * random schedule of joins, graceful leaves, drains, SIGKILLs (each followed by a restart), SIGSTOP /
 * SIGCONT and Redis restarts for a set time, then a settled, paused cluster whose every symbol is
 * compared with the simulator's truth (see accounting.ts). Black-box: it only starts and signals
 * processes, reads the ring record in Redis and asks the workers' HTTP APIs.
 *
 * Times measured per event (Redis and the harness share the host clock):
 *   - hand-over (join, leave, drain, the restart after a kill, the rejoin after a long SIGSTOP): from
 *     the new epoch's `changedAt` to every symbol that moved in it live at its owner at that epoch
 *     or later (`POST /v1/internal/snapshots` with `minEpoch`, polled every 20 ms);
 *   - failover (SIGKILL, and a SIGSTOP the ring reaps): from the signal to every symbol the victim
 *     owned live again at an epoch without it;
 *   - Redis recovery: from Redis answering again (empty) to every symbol live at an epoch on which
 *     every running worker is back.
 */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getFeed } from '../../feeds/index.js';
import type { RingRecord } from '../../src/cluster/ring-record.js';
import { clusterKeys } from '../../src/redis/keys.js';
import { Prng } from '../../src/sim/prng.js';
import { CLI, readCounter, sleep, until } from '../support/processes.js';
import { startSim, type SimProcess } from '../support/sim-process.js';
import { startWorker, warningSummary, type WorkerProcess } from '../support/worker-process.js';
import {
  accountSegment,
  handoverErrorBound,
  mergeAccounts,
  type Account,
  type AttributionClass,
  type Totals,
} from './accounting.js';
import { ChaosRedis } from './chaos-redis.js';
import { ClusterProbe } from './cluster-probe.js';
import { DownSpans } from './down-spans.js';
import type { ChaosOptions, EventKind } from './options.js';
import { describeEvent } from './report.js';

/** Event kinds in the report: the scheduled ones, and what follows a kill or a reaped SIGSTOP. */
export type RecordedKind = EventKind | 'restart' | 'rejoin';

export interface ChaosEvent {
  readonly kind: RecordedKind;
  /** ms after the schedule started. */
  readonly at: number;
  readonly worker: string | undefined;
  /** Epoch of the change measured, when there was one. */
  epoch: number | undefined;
  moved: number;
  /** The symbols a planned change moved (empty for the other kinds). */
  movedSymbols: readonly string[];
  handoverMs: number | undefined;
  failoverMs: number | undefined;
  recoveryMs: number | undefined;
  /** What happened, in words (e.g. "resumed within the lease", "hand-over timed out"). */
  note: string;
}

export interface ChaosReport {
  readonly options: ChaosOptions;
  readonly startedAt: Date;
  readonly events: readonly ChaosEvent[];
  readonly account: Account;
  /** Trades the simulator sent in all, and what the cluster held when Redis was killed (erased). */
  readonly sent: number;
  readonly forgotten: number;
  /** Trades per second the simulator generated while the schedule ran. */
  readonly rateAchieved: number;
  readonly scheduleMs: number;
  readonly totalMs: number;
  /** Workers that ran in all (restarts included) and warnings they logged, by message. */
  readonly workerProcesses: number;
  readonly warnings: string;
  /** Measurements that did not complete in time, by kind of measure. */
  readonly timeouts: { handover: number; failover: number; recovery: number };
  /**
   * What a provider without trade ids is allowed to get wrong in the run's planned hand-overs (see
   * `handoverErrorBound`): the window allowed for the owners to learn of an epoch apart, the
   * provider's subscription pace, and the resulting bound in trades.
   */
  readonly handoverAllowance: { windowMs: number; framesPerSecond: number; bound: number };
  readonly slowConsumerDrops: number;
  /** Why the cluster did not settle at the end (the accounting then covers what answered). */
  readonly settleProblem: string | undefined;
  /** Whether the provider carries trade ids the workers de-duplicate by. */
  readonly tradeIds: boolean;
}

type WorkerState = 'running' | 'stopped' | 'leaving' | 'dead';

interface Managed {
  readonly id: string;
  readonly proc: WorkerProcess;
  state: WorkerState;
}

/** SIGCONT sent: running again, unless it died meanwhile. */
function resumed(worker: Managed): void {
  if (worker.state === 'stopped') worker.state = 'running';
}

/** Fewest ms of schedule between two Redis restarts. */
export const REDIS_RESTART_SPACING_MS = 15_000;

/** How long a single measurement may take before it is recorded as timed out. */
const MEASURE_TIMEOUT_MS = 60_000;

class ChaosRun {
  readonly prefix = 'chaos';
  readonly cluster = 'chaos';
  readonly keys = clusterKeys(this.prefix, this.cluster);
  readonly prng: Prng;
  readonly workers = new Map<string, Managed>();
  readonly everyProcess: WorkerProcess[] = [];
  readonly events: ChaosEvent[] = [];
  readonly tasks = new Set<Promise<void>>();
  readonly touched = new Map<string, Set<AttributionClass>>();
  /** Segments accounted so far (cut at each Redis restart; see accounting.ts). */
  readonly accounts: Account[] = [];
  private segmentSent = new Map<string, Totals>();
  private segmentHeld = new Map<string, Totals>();
  /** Symbols left out of the accounting once unanswered. */
  private readonly excluded = new Set<string>();
  forgotten = 0;
  /** Time the simulator was paused for accounting while the schedule ran. */
  pausedMs = 0;
  volumeDecimals = 4;
  readonly timeouts = { handover: 0, failover: 0, recovery: 0 };
  probe!: ClusterProbe;
  sim!: SimProcess;
  symbols: string[] = [];
  private nextId = 1;
  private scheduleStart = 0;
  stopping = false;
  private readonly dir = mkdtempSync(join(tmpdir(), 'tickring-chaos-'));
  private symbolsFile = '';

  constructor(
    readonly options: ChaosOptions,
    readonly redis: ChaosRedis,
    readonly log: (line: string) => void,
  ) {
    this.prng = new Prng(options.seed);
  }

  async setUp(): Promise<void> {
    await this.redis.start();
    this.sim = await startSim({
      protocol: this.options.feed,
      symbols: this.options.symbols,
      rate: this.options.rate,
      skew: this.options.skew,
      seed: this.options.seed,
      paused: true,
    });
    this.symbols = Object.keys((await this.sim.stats()).symbols).sort();
    this.symbolsFile = join(this.dir, 'symbols.txt');
    writeFileSync(this.symbolsFile, `${this.symbols.join('\n')}\n`);
    this.probe = new ClusterProbe(this.redis.url, this.keys, this.symbols).start();
    for (let i = 0; i < this.options.workers; i++) this.startWorker(this.newId());
    const ids = [...this.workers.keys()];
    // A worker that refuses its options (say --replicas on a build without it) exits 2 at once.
    const exited = Promise.race([...this.workers.values()].map((w) => w.proc.exited.then(() => w)));
    const record = await Promise.race([
      this.probe.nextRing((r) => ids.every((id) => r.members.some((m) => m.id === id)), MEASURE_TIMEOUT_MS),
      exited,
    ]);
    if (!record) throw new Error(`the first ${ids.length} workers did not all join`);
    if (!('epoch' in record))
      throw new Error(
        `${record.id} exited with ${record.proc.child.exitCode} before joining (see its output above)`,
      );
    if ((await this.probe.allLive(this.symbols, record.epoch, MEASURE_TIMEOUT_MS)) === undefined)
      throw new Error('the symbols did not all go live at the start');
    await this.subscribedOnce();
  }

  /**
   * Live at the owner is not yet subscribed at the provider (Finnhub takes 20 symbols a second):
   * waits until the simulator sees every symbol subscribed exactly once (false after a minute).
   */
  async subscribedOnce(): Promise<boolean> {
    return until(
      'every symbol subscribed once',
      async () => {
        const count = new Map<string, number>();
        for (const c of (await this.sim.stats()).connections)
          for (const s of c.subscriptions) count.set(s, (count.get(s) ?? 0) + 1);
        return this.symbols.every((s) => count.get(s) === 1) ? true : undefined;
      },
      MEASURE_TIMEOUT_MS,
      50,
    ).catch(() => false);
  }

  newId(): string {
    return `w${this.nextId++}`;
  }

  startWorker(id: string): Managed {
    const o = this.options;
    const proc = startWorker({
      id,
      redisUrl: this.redis.url,
      prefix: this.prefix,
      cluster: this.cluster,
      feedUrl: this.sim.wsUrl,
      echoWarnings: process.env['CHAOS_DEBUG'] !== undefined,
      echoAll: process.env['CHAOS_DEBUG'] === '2',
      ...(process.env['CHAOS_DEBUG'] === '2' ? { logLevel: 'debug' } : {}),
      args: [
        '--feed',
        o.feed,
        '--feed-secret',
        'chaos',
        '--symbols-file',
        this.symbolsFile,
        '--settle-ms',
        '0',
        '--settle-max-ms',
        '0',
        '--lease-ms',
        String(o.leaseMs),
        '--heartbeat-ms',
        String(o.heartbeatMs),
        '--poll-ms',
        String(o.pollMs),
        '--checkpoint-ms',
        String(o.checkpointMs),
        ...(o.replicas !== undefined ? ['--replicas', String(o.replicas)] : []),
        ...o.workerArgs,
      ],
    });
    const managed: Managed = { id, proc, state: 'running' };
    this.workers.set(id, managed);
    this.everyProcess.push(proc);
    void proc.exited.then(() => {
      if (this.workers.get(id) === managed) managed.state = 'dead';
    });
    return managed;
  }

  running(): Managed[] {
    return [...this.workers.values()]
      .filter((w) => w.state === 'running')
      .sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  alive(): number {
    return [...this.workers.values()].filter((w) => w.state !== 'dead').length;
  }

  elapsed(): number {
    return Date.now() - this.scheduleStart;
  }

  record(kind: RecordedKind, worker: string | undefined): ChaosEvent {
    const event: ChaosEvent = {
      kind,
      at: this.elapsed(),
      worker,
      epoch: undefined,
      moved: 0,
      movedSymbols: [],
      handoverMs: undefined,
      failoverMs: undefined,
      recoveryMs: undefined,
      note: '',
    };
    this.events.push(event);
    return event;
  }

  say(event: ChaosEvent): void {
    this.log(describeEvent(event));
  }

  /** The last lines a worker logged, for a note on a measurement that timed out. */
  lastWords(id: string | undefined): string {
    const logs = id === undefined ? [] : (this.workers.get(id)?.proc.logs ?? []);
    const last = logs.slice(-3).map((l) => l.msg);
    return last.length > 0 ? ` (${id} last logged: ${last.join(' / ')})` : '';
  }

  /** Kills and stops, to tell which failures a symbol's standby shared (see `touchLoneCopies`). */
  private readonly downSpans = new DownSpans();

  /**
   * The victim's symbols whose standby holds a warm shadow just before a failure (with
   * `--replicas 2`; none to ask otherwise).
   */
  async warmCopies(before: RingRecord, owned: readonly string[]): Promise<ReadonlySet<string>> {
    return (this.options.replicas ?? 1) >= 2 ? this.probe.warmStandbys(before, owned) : new Set();
  }

  /**
   * Once a failed worker's symbols are live elsewhere: those that had no warm copy left, which
   * `--replicas 2` does not cover. A symbol's standby (on the ring the failure struck) held no live
   * shadow of it at the failure (it had only just taken the role and was still warming), or was down
   * at any moment since. Attributed apart, so that every other failure is held to losing nothing.
   */
  touchLoneCopies(
    owned: readonly string[],
    before: RingRecord,
    since: number,
    warm: ReadonlySet<string>,
  ): void {
    if ((this.options.replicas ?? 1) < 2) return;
    const ring = this.probe.assignment(before);
    const now = Date.now();
    this.touch(
      owned.filter((symbol) => {
        const standby = ring.standbyOf(symbol);
        return standby === undefined || !warm.has(symbol) || this.downSpans.wasDown(standby, since, now);
      }),
      'every-copy-down',
    );
  }

  noteWarm(event: ChaosEvent, warm: ReadonlySet<string>, owned: readonly string[]): void {
    if ((this.options.replicas ?? 1) < 2) return;
    const words = `${warm.size} of ${owned.length} with a warm standby`;
    event.note = [event.note, words].filter(Boolean).join('; ');
  }

  touch(symbols: Iterable<string>, cls: AttributionClass): void {
    for (const symbol of symbols) {
      const set = this.touched.get(symbol) ?? new Set<AttributionClass>();
      set.add(cls);
      this.touched.set(symbol, set);
    }
  }

  track(task: Promise<void>): void {
    const tracked = task.catch((err: unknown) => this.log(`event task failed: ${String(err)}`));
    this.tasks.add(tracked);
    void tracked.finally(() => this.tasks.delete(tracked));
  }

  async settleTasks(): Promise<void> {
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
  }

  /** Measures a planned change: the epoch `test` picks, what moved since `before`, until it is live. */
  async handover(event: ChaosEvent, before: RingRecord, test: (r: RingRecord) => boolean): Promise<void> {
    const record = await this.probe.nextRing((r) => r.epoch > before.epoch && test(r), MEASURE_TIMEOUT_MS);
    if (!record) {
      event.note = `no new epoch in ${MEASURE_TIMEOUT_MS / 1000} s${this.lastWords(event.worker)}`;
      this.timeouts.handover++;
      return;
    }
    const moved = this.probe.moved(before, record);
    event.epoch = record.epoch;
    event.moved = moved.length;
    event.movedSymbols = moved;
    this.touch(moved, 'planned');
    const liveAt = await this.probe.allLive(moved, record.epoch, MEASURE_TIMEOUT_MS);
    if (liveAt === undefined) {
      event.note = 'hand-over timed out';
      this.timeouts.handover++;
    } else event.handoverMs = liveAt - record.changedAt;
  }

  /** Measures a failover: from `since` until every symbol of `owned` is live at an epoch without `id`. */
  async failover(
    event: ChaosEvent,
    id: string,
    owned: readonly string[],
    since: number,
    before: RingRecord,
  ): Promise<void> {
    const record = await this.probe.nextRing(
      (r) => r.epoch > before.epoch && !r.members.some((m) => m.id === id),
      MEASURE_TIMEOUT_MS,
    );
    if (!record) {
      event.note = 'never reaped';
      this.timeouts.failover++;
      return;
    }
    event.epoch = record.epoch;
    event.moved = owned.length;
    const liveAt = await this.probe.allLive(owned, record.epoch, MEASURE_TIMEOUT_MS);
    if (liveAt === undefined) {
      event.note = 'failover timed out';
      this.timeouts.failover++;
    } else event.failoverMs = liveAt - since;
  }

  async join(kind: 'join' | 'restart', id: string): Promise<void> {
    const before = this.probe.latest;
    const event = this.record(kind, id);
    this.startWorker(id);
    this.downSpans.up(id, Date.now());
    await this.handover(event, before, (r) => r.members.some((m) => m.id === id && m.draining !== true));
    this.say(event);
  }

  async leave(victim: Managed): Promise<void> {
    const before = this.probe.latest;
    const event = this.record('leave', victim.id);
    victim.state = 'leaving';
    victim.proc.child.kill('SIGTERM');
    // Not (yet) a member: no epoch will say it left, and another change must not be taken for it.
    if (before.members.some((m) => m.id === victim.id))
      await this.handover(event, before, (r) => !r.members.some((m) => m.id === victim.id));
    else event.note = 'was not a member';
    await this.exit(victim, event);
    this.say(event);
  }

  async drain(victim: Managed): Promise<void> {
    const before = this.probe.latest;
    const event = this.record('drain', victim.id);
    victim.state = 'leaving';
    const admin = spawn(
      process.execPath,
      [
        CLI,
        'drain',
        victim.id,
        '--redis',
        this.redis.url,
        '--key-prefix',
        this.prefix,
        '--cluster',
        this.cluster,
        '--wait-ms',
        '0',
      ],
      { stdio: 'ignore' },
    );
    const adminExit = new Promise<number | null>((resolve) => admin.once('exit', resolve));
    if (before.members.some((m) => m.id === victim.id))
      await this.handover(event, before, (r) => {
        const member = r.members.find((m) => m.id === victim.id);
        return member === undefined || member.draining === true;
      });
    else event.note = 'was not a member';
    const code = await adminExit;
    if (code !== 0) event.note = `tickring drain exited ${code}`;
    await this.exit(victim, event);
    this.say(event);
  }

  /** Waits for a leaving worker to exit by itself; SIGKILLs it after 30 s. */
  async exit(victim: Managed, event: ChaosEvent): Promise<void> {
    const exited = await Promise.race([victim.proc.exited.then(() => true), sleep(30_000).then(() => false)]);
    if (!exited) {
      event.note = [event.note, 'did not exit within 30 s: killed'].filter(Boolean).join('; ');
      victim.proc.child.kill('SIGKILL');
      await victim.proc.exited;
    }
    victim.state = 'dead';
  }

  async kill(victim: Managed, restartDelayMs: number): Promise<void> {
    const before = this.probe.latest;
    const owned = this.probe.assignment(before).symbolsOf(victim.id);
    const warm = await this.warmCopies(before, owned);
    const event = this.record('kill', victim.id);
    const killedAt = Date.now();
    victim.state = 'dead';
    victim.proc.child.kill('SIGKILL');
    this.downSpans.down(victim.id, killedAt);
    this.touch(owned, 'kill');
    // A worker killed before it owned anything (still joining) has nothing to fail over.
    if (owned.length > 0) {
      await this.failover(event, victim.id, owned, killedAt, before);
      this.touchLoneCopies(owned, before, killedAt, warm);
      this.noteWarm(event, warm, owned);
    } else event.note = 'owned nothing yet';
    this.say(event);
    await sleep(restartDelayMs);
    if (!this.stopping && this.alive() < this.options.maxWorkers && !this.redisDown)
      await this.join('restart', victim.id);
  }

  async stop(victim: Managed, pauseMs: number): Promise<void> {
    const before = this.probe.latest;
    const owned = this.probe.assignment(before).symbolsOf(victim.id);
    const warm = await this.warmCopies(before, owned);
    const event = this.record('stop', victim.id);
    const stoppedAt = Date.now();
    victim.state = 'stopped';
    victim.proc.child.kill('SIGSTOP');
    this.downSpans.down(victim.id, stoppedAt);
    this.touch(owned, 'stop');
    event.moved = owned.length;
    const reaped = this.probe.nextRing(
      (r) => r.epoch > before.epoch && !r.members.some((m) => m.id === victim.id),
      pauseMs,
    );
    const measured = reaped.then(async (record) => {
      if (!record) return undefined;
      await this.failover(event, victim.id, owned, stoppedAt, before);
      this.touchLoneCopies(owned, before, stoppedAt, warm);
      this.noteWarm(event, warm, owned);
      return record;
    });
    await sleep(pauseMs);
    victim.proc.child.kill('SIGCONT');
    resumed(victim);
    const record = await measured;
    if (!record) this.downSpans.up(victim.id, Date.now());
    const pause = `${pauseMs} ms pause (lease ${this.options.leaseMs} ms): ${record ? 'reaped' : 'resumed before being reaped'}`;
    event.note = [pause, event.note].filter(Boolean).join('; ');
    this.say(event);
    if (record) {
      // It finds itself fenced on SIGCONT and rejoins: a planned join, measured as a hand-over.
      const rejoin = this.record('rejoin', victim.id);
      await this.handover(rejoin, this.probe.latest.epoch >= record.epoch ? record : this.probe.latest, (r) =>
        r.members.some((m) => m.id === victim.id),
      );
      this.downSpans.up(victim.id, Date.now());
      this.say(rejoin);
    }
  }

  redisDown = false;
  private lastRedisRestart = -Infinity;

  /**
   * A Redis restart, accounted apart: the cluster is read (simulator paused) just before Redis is
   * killed and again once it has recovered, so what the restart cost is counted on its own.
   */
  async restartRedis(downMs: number): Promise<void> {
    const pausedAt = Date.now();
    await this.quiesce();
    const held = await this.closeSegment();
    for (const totals of held.values()) this.forgotten += totals.trades;
    // Redis held the only copy: every aggregate starts again from zero.
    this.segmentHeld = new Map();
    this.touch(this.symbols, 'redis-restart');
    const event = this.record('redis-restart', undefined);
    this.lastRedisRestart = event.at;
    const before = this.probe.latest;
    this.redisDown = true;
    await this.redis.kill();
    await this.sim.resume();
    this.pausedMs += Date.now() - pausedAt;
    await sleep(downMs);
    await this.redis.start();
    this.redis.restarts++;
    this.redisDown = false;
    const upAt = Date.now();
    event.moved = this.symbols.length;
    const record = await this.probe.nextRing(
      (r) => r.epoch > before.epoch && this.running().every((w) => r.members.some((m) => m.id === w.id)),
      MEASURE_TIMEOUT_MS,
    );
    if (!record) {
      event.note = `down ${downMs} ms; the workers did not all rejoin`;
      this.timeouts.recovery++;
    } else {
      event.epoch = record.epoch;
      const liveAt = await this.probe.allLive(this.symbols, record.epoch, MEASURE_TIMEOUT_MS);
      if (liveAt === undefined) {
        event.note = `down ${downMs} ms; recovery timed out`;
        this.timeouts.recovery++;
      } else {
        event.recoveryMs = liveAt - upAt;
        event.note = `down ${downMs} ms`;
      }
    }
    this.say(event);
    // The restart's segment ends once trading reaches every symbol again, so the re-subscription
    // after the rejoin is counted in it and not in the next one.
    await this.subscribedOnce();
    const pausedAgainAt = Date.now();
    await this.quiesce();
    await this.closeSegment(held);
    await this.sim.resume();
    this.pausedMs += Date.now() - pausedAgainAt;
  }

  /** Accounts the segment since the last cut; the simulator must be paused and the workers drained. */
  async closeSegment(heldAtKill?: ReadonlyMap<string, Totals>): Promise<Map<string, Totals>> {
    const stats = await this.sim.stats();
    const sent = new Map(
      Object.entries(stats.symbols).map(([s, t]) => [s, { trades: t.trades, volume: t.volume }]),
    );
    const held = await this.aggregates();
    const segment = accountSegment({
      symbols: this.symbols.filter((s) => !this.excluded.has(s)),
      sent,
      sentBefore: this.segmentSent,
      held,
      heldBefore: this.segmentHeld,
      touched: this.touched,
      volumeDecimals: this.volumeDecimals,
      ...(heldAtKill ? { heldAtKill } : {}),
    });
    this.accounts.push(segment);
    // CHAOS_DEBUG: after a Redis restart, per symbol what was sent in the outage, held, and held at the kill.
    if (process.env['CHAOS_DEBUG'] && heldAtKill)
      for (const symbol of this.symbols.slice(0, 10))
        this.log(
          `  ${symbol}: sent ${(sent.get(symbol)?.trades ?? 0) - (this.segmentSent.get(symbol)?.trades ?? 0)}, ` +
            `held ${held.get(symbol)?.trades ?? 'n/a'}, held at the kill ${heldAtKill.get(symbol)?.trades ?? 'n/a'}`,
        );
    for (const symbol of segment.unanswered) this.excluded.add(symbol);
    this.segmentSent = sent;
    this.segmentHeld = held;
    this.touched.clear();
    return held;
  }

  /** The kinds the bounds allow now, among those enabled. */
  allowed(): EventKind[] {
    const o = this.options;
    const canRemove = this.running().length - 1 >= o.minWorkers;
    return o.events.filter((kind) => {
      if (kind === 'join') return this.alive() < o.maxWorkers;
      // Each restart pauses trading twice to account for it apart: at most one per spacing.
      if (kind === 'redis-restart')
        return (
          this.running().length > 0 && this.elapsed() - this.lastRedisRestart >= REDIS_RESTART_SPACING_MS
        );
      return canRemove;
    });
  }

  /** Fires one event; redis restarts run alone (every other event settles first, and waits for it). */
  async fire(): Promise<void> {
    const allowed = this.allowed();
    // Every draw is made whatever is allowed, so the same seed draws the same numbers.
    const kindDraw = this.prng.next();
    const victimDraw = this.prng.next();
    const durationDraw = this.prng.next();
    const delayDraw = this.prng.next();
    const kind = allowed[Math.floor(kindDraw * allowed.length)];
    if (kind === undefined) return;
    const lease = this.options.leaseMs;
    // Victims among the running workers the ring lists (a worker still joining has nothing to hand over).
    const members = new Set(this.probe.latest.members.filter((m) => m.draining !== true).map((m) => m.id));
    const candidates = this.running().filter((w) => members.has(w.id));
    const victim = candidates[Math.floor(victimDraw * candidates.length)];
    switch (kind) {
      case 'join':
        this.track(this.join('join', this.newId()));
        return;
      case 'leave':
        if (victim) this.track(this.leave(victim));
        return;
      case 'drain':
        if (victim) this.track(this.drain(victim));
        return;
      case 'kill':
        if (victim) this.track(this.kill(victim, Math.round(delayDraw * 2 * lease)));
        return;
      case 'stop':
        // Half the pauses shorter than the lease, half longer: 0.3 to 2.3 leases.
        if (victim) this.track(this.stop(victim, Math.round((0.3 + 2 * durationDraw) * lease)));
        return;
      case 'redis-restart':
        await this.settleTasks();
        await this.restartRedis(Math.round((0.1 + durationDraw) * lease));
        return;
    }
  }

  async runSchedule(): Promise<number> {
    await this.sim.resume();
    this.scheduleStart = Date.now();
    const o = this.options;
    for (;;) {
      const gap = o.minGapMs + Math.floor(this.prng.next() * (o.maxGapMs - o.minGapMs + 1));
      if (this.elapsed() + gap >= o.durationMs) break;
      await sleep(gap);
      await this.fire();
    }
    await sleep(Math.max(0, o.durationMs - this.elapsed()));
    this.stopping = true;
    return this.elapsed();
  }

  /** Every event done, every stopped worker resumed, enough running, every symbol live at a stable epoch. */
  async settle(): Promise<string | undefined> {
    await this.settleTasks();
    while (this.running().length < this.options.minWorkers) await this.join('join', this.newId());
    let problem = '';
    for (let attempt = 0; attempt < 3; attempt++) {
      const ids = this.running().map((w) => w.id);
      const active = (r: RingRecord): string[] =>
        r.members
          .filter((m) => m.draining !== true)
          .map((m) => m.id)
          .sort();
      const record = await this.probe.nextRing(
        (r) => active(r).join(',') === ids.join(','),
        MEASURE_TIMEOUT_MS,
      );
      if (!record) {
        const ring = active(this.probe.latest);
        const missing = ids.filter((id) => !ring.includes(id));
        problem =
          `the ring (epoch ${this.probe.latest.epoch}: ${ring.join(',')}) never settled on the running workers ${ids.join(',')}` +
          missing.map((id) => this.lastWords(id)).join('');
        continue;
      }
      const liveAt = await this.probe.allLive(this.symbols, record.epoch, MEASURE_TIMEOUT_MS);
      if (liveAt !== undefined && this.probe.latest.epoch === record.epoch) return undefined;
      problem = `not every symbol went live at epoch ${record.epoch}`;
    }
    return problem;
  }

  /** Pauses the simulator and waits until no worker's ingest counter moves for a second. */
  async quiesce(): Promise<void> {
    await this.sim.pause();
    await this.probe.allLive(this.symbols, this.probe.latest.epoch, MEASURE_TIMEOUT_MS);
    const addresses = this.probe.latest.members.map((m) => m.address);
    let last = '';
    let same = 0;
    const deadline = Date.now() + 30_000;
    while (same < 4 && Date.now() < deadline) {
      await sleep(250);
      const counts = await Promise.all(
        addresses.map((a) => readCounter(a, 'tickring_trades_ingested_total').catch(() => NaN)),
      );
      const now = counts.join(',');
      same = now === last ? same + 1 : 0;
      last = now;
    }
  }

  /** Every symbol's count and volume from its owner, asked until all answer (or 20 s). */
  async aggregates(): Promise<Map<string, Totals>> {
    const answers = new Map<string, Totals>();
    const deadline = Date.now() + 20_000;
    let pending = [...this.symbols];
    while (pending.length > 0 && Date.now() < deadline) {
      const got = await this.probe.liveAt(pending, this.probe.latest.epoch);
      for (const [s, a] of got) answers.set(s, a);
      pending = pending.filter((s) => !answers.has(s));
      if (pending.length > 0) await sleep(100);
    }
    return answers;
  }

  async tearDown(): Promise<void> {
    this.stopping = true;
    for (const w of this.workers.values())
      if (w.proc.child.exitCode === null && w.proc.child.signalCode === null) {
        w.proc.child.kill('SIGCONT');
        w.proc.child.kill('SIGKILL');
      }
    await Promise.all([...this.workers.values()].map((w) => w.proc.exited));
    // Either may be missing when the set-up failed part-way.
    (this.probe as ClusterProbe | undefined)?.close();
    await (this.sim as SimProcess | undefined)?.close();
    await this.redis.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function runChaos(
  options: ChaosOptions,
  log: (line: string) => void = () => undefined,
): Promise<ChaosReport> {
  const started = Date.now();
  const startedAt = new Date();
  const feed = getFeed(options.feed);
  if (!feed) throw new Error(`unknown feed ${options.feed}`);
  const run = new ChaosRun(options, new ChaosRedis(), log);
  run.volumeDecimals = feed.server.market?.assetClass === 'crypto' ? 8 : 4;
  try {
    await run.setUp();
    log(
      `${run.running().length} workers own ${run.symbols.length} symbols; events for ${options.durationMs / 1000} s`,
    );
    const generatedBefore = (await run.sim.stats()).totals.generated;
    const scheduleMs = await run.runSchedule();
    const generatedDuring = (await run.sim.stats()).totals.generated - generatedBefore;
    log('schedule over: settling');
    const settleProblem = await run.settle();
    if (settleProblem) log(`did not settle: ${settleProblem}; accounting what answers`);
    await run.quiesce();
    await run.closeSegment();
    const stats = await run.sim.stats();
    const runSeconds = Math.max(1, (Date.now() - started - run.pausedMs) / 1000);
    // Two polls (a lost pub/sub message costs one) and a margin for a loaded 2-core machine.
    const windowMs = 2 * options.pollMs + 500;
    const rates = new Map(Object.entries(stats.symbols).map(([s, t]) => [s, t.trades / runSeconds]));
    return {
      options,
      startedAt,
      events: run.events,
      account: mergeAccounts(run.accounts),
      sent: stats.totals.trades,
      forgotten: run.forgotten,
      rateAchieved: generatedDuring / Math.max((scheduleMs - run.pausedMs) / 1000, 1e-3),
      scheduleMs,
      totalMs: Date.now() - started,
      workerProcesses: run.everyProcess.length,
      warnings: warningSummary(run.everyProcess),
      timeouts: run.timeouts,
      handoverAllowance: {
        windowMs,
        framesPerSecond: feed.limits.framesPerSecond,
        bound: handoverErrorBound(
          run.events.map((e) => ({ moved: e.movedSymbols })),
          rates,
          windowMs,
          feed.limits.framesPerSecond,
        ),
      },
      slowConsumerDrops: stats.slowConsumerDrops,
      tradeIds: feed.hasTradeIds,
      settleProblem,
    };
  } finally {
    await run.tearDown();
  }
}
