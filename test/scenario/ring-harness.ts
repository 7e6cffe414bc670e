/**
 * Shared parts of the ring scenarios (`ring-*.test.ts`): worker processes with chosen options, the
 * convergence check, and the overlap monitor that samples the simulator's view of who subscribes to
 * what.
 *
 * The overlap criterion. The simulator sees every worker's feed connection and its subscriptions;
 * the monitor samples them every `sampleMs`. A symbol subscribed by two connections at once is an
 * overlap. Make-before-break allows one briefly: when a symbol moves at epoch e+1, its new owner
 * subscribes (and only buffers) as soon as it acts on e+1, and its old owner unsubscribes as soon as
 * it acts on e+1; the overlap lasts as long as the two learn of e+1 apart, which is a pub/sub hop,
 * or one poll interval when the message was lost. So an overlap must end within
 * `HANDOVER_WINDOW_MS` (two poll intervals plus a scheduling margin for a loaded 2-core machine).
 * A worker stopped with SIGSTOP cannot apply anything, and its connection still shows what it was
 * subscribed to at its old epoch: its connection is left out while it is stopped, and counted again
 * from SIGCONT, so it must drop its stale subscriptions within the window once resumed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { readRingRecord } from '../../src/cluster/membership.js';
import { Assignment } from '../../src/cluster/ring.js';
import type { RingRecord } from '../../src/cluster/ring-record.js';
import type { RedisClient } from '../../src/redis/client.js';
import type { ClusterKeys } from '../../src/redis/keys.js';
import { registerScripts } from '../../src/redis/scripts.js';
import { freePort } from '../../src/roles/embedded-redis.js';
import type { RunningSimulator } from '../../src/sim/simulator.js';
import { eventually, startWorker, type WorkerProcess } from '../support/workers.js';

export const POLL_MS = 250;
export const LEASE_MS = 1_500;
/** How long a symbol may be subscribed by two workers (see the header). */
export const HANDOVER_WINDOW_MS = 2 * POLL_MS + 300;
/** Joins settle quickly in scenarios: the others arrive within this of each other. */
export const FAST_SETTLE = ['--settle-ms', '200', '--settle-max-ms', '1000'];

export interface LogLine {
  readonly time: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** The worker's JSON log lines (non-JSON lines are skipped). */
export function logLines(worker: WorkerProcess): LogLine[] {
  const lines: LogLine[] = [];
  for (const text of worker.output) {
    if (!text.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(text) as LogLine);
    } catch {
      // a partial line: ignore
    }
  }
  return lines;
}

/** Epochs the worker acted on (one `epoch changed` line each), in order. */
export function epochsActedOn(worker: WorkerProcess): { epoch: number; time: number; moved: number }[] {
  return logLines(worker)
    .filter((line) => line.msg === 'epoch changed: symbols rebalanced')
    .map((line) => ({
      epoch: Number(line['epoch']),
      time: line.time,
      moved: Number(line['gained']) + Number(line['lost']),
    }));
}

export function userAgentId(userAgent: string): string | undefined {
  return /worker\/(\S+)$/.exec(userAgent)?.[1];
}

interface OverlapEpisode {
  readonly symbol: string;
  readonly ids: string;
  readonly ms: number;
}

/** Samples the simulator's subscriptions (see the header for the criterion). */
export class OverlapMonitor {
  /** Worker ids currently stopped (SIGSTOP): their connections are left out. */
  readonly stopped = new Set<string>();
  private readonly open = new Map<string, { since: number; ids: string }>();
  private readonly episodes: OverlapEpisode[] = [];
  private timer: NodeJS.Timeout | undefined;
  samples = 0;

  constructor(
    private readonly sim: RunningSimulator,
    private readonly sampleMs = 20,
  ) {}

  start(): this {
    this.timer = setInterval(() => this.sample(), this.sampleMs);
    return this;
  }

  private sample(): void {
    this.samples++;
    const now = performance.now();
    const holders = new Map<string, string[]>();
    for (const connection of this.sim.stats().connections) {
      const id = userAgentId(connection.userAgent) ?? `conn-${connection.id}`;
      if (this.stopped.has(id)) continue;
      for (const symbol of connection.subscriptions)
        holders.set(symbol, [...(holders.get(symbol) ?? []), id]);
    }
    for (const [symbol, ids] of holders) {
      if (ids.length > 1 && !this.open.has(symbol)) this.open.set(symbol, { since: now, ids: ids.join('+') });
    }
    for (const [symbol, episode] of this.open) {
      if ((holders.get(symbol)?.length ?? 0) > 1) continue;
      this.open.delete(symbol);
      this.episodes.push({ symbol, ids: episode.ids, ms: now - episode.since });
    }
  }

  /** Overlaps so far, the open ones counted up to now. */
  report(): { episodes: number; maxMs: number; worst: OverlapEpisode | undefined } {
    const now = performance.now();
    const all = [
      ...this.episodes,
      ...[...this.open].map(([symbol, e]) => ({ symbol, ids: e.ids, ms: now - e.since })),
    ];
    const worst = all.reduce<OverlapEpisode | undefined>((w, e) => (!w || e.ms > w.ms ? e : w), undefined);
    return { episodes: all.length, maxMs: worst?.ms ?? 0, worst };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Symbol → ids of the connections subscribed to it (leaving out the `exclude`d workers). */
export function subscribers(
  sim: RunningSimulator,
  exclude: ReadonlySet<string> = new Set(),
): Map<string, string[]> {
  const holders = new Map<string, string[]>();
  for (const connection of sim.stats().connections) {
    const id = userAgentId(connection.userAgent) ?? `conn-${connection.id}`;
    if (exclude.has(id)) continue;
    for (const symbol of connection.subscriptions) holders.set(symbol, [...(holders.get(symbol) ?? []), id]);
  }
  return holders;
}

export interface ConvergeTarget {
  readonly redis: RedisClient;
  readonly keys: ClusterKeys;
  readonly sim: RunningSimulator;
  readonly symbols: () => Promise<string[]>;
  readonly workers: () => readonly WorkerProcess[];
}

/**
 * Waits until the ring's active members are `ids`, every one of them acted on the ring's epoch, and
 * the simulator sees each subscribed to exactly its own symbols: every symbol has exactly one owner.
 */
export async function converged(
  target: ConvergeTarget,
  ids: readonly string[],
  options: { timeoutMs?: number; exclude?: ReadonlySet<string> } = {},
): Promise<Assignment> {
  const exclude = options.exclude ?? new Set<string>();
  return eventually(
    `${ids.join(',')} to converge`,
    async () => {
      const record: RingRecord = await readRingRecord(target.redis, target.keys);
      const active = record.members.filter((m) => m.draining !== true).map((m) => m.id);
      if (active.join(',') !== [...ids].sort().join(','))
        throw new Error(`active members are ${active.join(',')}`);
      const symbols = await target.symbols();
      const assignment = new Assignment(record, symbols);
      for (const id of ids) {
        const worker = [...target.workers()].reverse().find((w) => w.id === id);
        const acted = worker ? epochsActedOn(worker).at(-1)?.epoch : undefined;
        if (acted !== record.epoch) throw new Error(`${id} acts on ${acted}, ring is at ${record.epoch}`);
      }
      const holders = subscribers(target.sim, exclude);
      for (const symbol of symbols) {
        const owner = assignment.ownerOf(symbol);
        const held = holders.get(symbol) ?? [];
        if (held.length !== 1 || held[0] !== owner)
          throw new Error(`${symbol} is owned by ${owner} but subscribed by [${held.join(',')}]`);
      }
      for (const [symbol, held] of holders) {
        if (!assignment.ownerOf(symbol))
          throw new Error(`${symbol} is not in the universe but held by ${held.join(',')}`);
      }
      return assignment;
    },
    options.timeoutMs ?? 20_000,
    50,
  );
}

export function launcher(
  base: { prefix: string; cluster: string; feedUrl: string },
  workers: WorkerProcess[],
  common: readonly string[] = [],
): (id: string, extra?: readonly string[]) => WorkerProcess {
  return (id, extra = []) => {
    const worker = startWorker(id, { ...base, extraArgs: [...common, ...extra] });
    workers.push(worker);
    return worker;
  };
}

/** A redis-server of the test's own on a free port, keeping nothing on disk; restartable empty. */
export class OwnRedis {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'tickring-ring-test-'));
  port = 0;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore', cwd: this.dir },
    );
    this.child = child;
    const probe = new Redis(this.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => undefined);
    await eventually(
      `redis-server on ${this.port}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited ${child.exitCode}`);
        try {
          await probe.connect();
          await probe.ping();
          return true;
        } catch (err) {
          probe.disconnect();
          throw err;
        }
      },
      10_000,
      50,
    );
    probe.disconnect();
  }

  /** Kills the server at once (SIGKILL): everything it held is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  client(): Redis {
    const redis = new Redis(this.url, { maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    registerScripts(redis);
    return redis;
  }

  async close(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The Redis client id of a connection, found by its name in `CLIENT LIST`. */
export async function clientIdByName(redis: RedisClient, name: string): Promise<string | undefined> {
  const list = (await redis.client('LIST')) as string;
  for (const line of list.split('\n')) {
    if (line.includes(` name=${name} `)) return /(?:^|\s)id=(\d+)/.exec(line)?.[1];
  }
  return undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Prints a figure line the report collects (`RING-FIGURE name value`). */
export function figure(name: string, value: string | number): void {
  console.log(`RING-FIGURE ${name} ${value}`);
}
