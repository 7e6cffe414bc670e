/**
 * Membership timings with the default lease (5 s), heartbeat (1 s), poll (1 s) and settle window
 * (1 s quiet, 5 s at most), on real worker processes, the shared Redis and an in-process simulator:
 *   - join: from a worker's join call to its admission (the settle window), and from the new epoch
 *     (the ring record's `changedAt`, Redis time) to every worker having acted on it (its `epoch
 *     changed` log line, same host clock);
 *   - graceful leave (SIGTERM): from the new epoch to every worker having acted on it;
 *   - crash (SIGKILL): from the kill to the reaping epoch, and to every symbol of the dead worker
 *     being subscribed by another worker again (sampled from the simulator every 10 ms).
 *
 *   npm run build && node --import tsx bench/ring-failover.ts
 * Environment: BENCH_WORKERS (default 4), BENCH_SYMBOLS (2000), BENCH_REPEATS (3),
 * REDIS_URL (redis://127.0.0.1:6379), BENCH_DEBUG (set: print each worker's `epoch changed` line per
 * epoch, with its delay after the change; `ms` in it is the rebalance itself).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { polygon } from '../feeds/polygon.js';
import { readRingRecord } from '../src/cluster/membership.js';
import type { RingRecord } from '../src/cluster/ring-record.js';
import { addSymbols } from '../src/cluster/universe.js';
import { clusterKeys, type ClusterKeys } from '../src/redis/keys.js';
import { registerScripts } from '../src/redis/scripts.js';
import { startSimulator, type RunningSimulator } from '../src/sim/simulator.js';
import { generateSymbols } from '../src/sim/universe.js';
import { CLI, sleep } from './support/processes.js';

const WORKERS = Number(process.env['BENCH_WORKERS'] ?? 4);
const SYMBOL_COUNT = Number(process.env['BENCH_SYMBOLS'] ?? 2_000);
const REPEATS = Number(process.env['BENCH_REPEATS'] ?? 3);
const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

interface Proc {
  readonly id: string;
  readonly child: ChildProcess;
  readonly lines: { time: number; msg: string; epoch?: number }[];
  readonly exited: Promise<void>;
}

export interface FailoverResult {
  readonly workers: number;
  readonly symbols: number;
  coldStartMs: number;
  readonly joinAdmissionMs: number[];
  readonly joinPropagationMs: number[];
  readonly leavePropagationMs: number[];
  readonly killToReapMs: number[];
  readonly killToOwnedMs: number[];
}

function startProc(id: string, prefix: string, feedUrl: string): Proc {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'worker',
      '--worker-id',
      id,
      '--redis',
      REDIS_URL,
      '--key-prefix',
      prefix,
      '--cluster',
      'bench',
      '--feed-url',
      feedUrl,
      '--http-port',
      '0',
    ],
    {
      env: { ...process.env, TICKRING_FEED_KEY: 'bench', TICKRING_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines: Proc['lines'] = [];
  let buffer = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let end;
    while ((end = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      try {
        lines.push(JSON.parse(text) as Proc['lines'][number]);
      } catch {
        // not a log line
      }
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { id, child, lines, exited };
}

function actedAt(proc: Proc, epoch: number): number | undefined {
  return proc.lines.find((l) => l.msg === 'epoch changed: symbols rebalanced' && l.epoch === epoch)?.time;
}

async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  ms = 60_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Waits for a record matching `test`, then for every listed proc to act on it; returns both times. */
async function propagation(
  redis: Redis,
  keys: ClusterKeys,
  procs: readonly Proc[],
  test: (record: RingRecord) => boolean,
): Promise<{ record: RingRecord; lastActedAt: number }> {
  const record = await until('the new epoch', async () => {
    const r = await readRingRecord(redis, keys);
    return test(r) ? r : undefined;
  });
  const times = await until('every worker to act', () => {
    const all = procs.flatMap((p) => actedAt(p, record.epoch) ?? []);
    return all.length === procs.length ? all : undefined;
  });
  if (process.env['BENCH_DEBUG'])
    for (const p of procs) {
      const line = p.lines.find(
        (l) => l.msg === 'epoch changed: symbols rebalanced' && l.epoch === record.epoch,
      );
      console.log(p.id, record.reason, JSON.stringify(line), (line?.time ?? 0) - record.changedAt);
    }
  return { record, lastActedAt: Math.max(...times) };
}

export async function run(): Promise<FailoverResult> {
  const prefix = `bench-failover-${randomBytes(3).toString('hex')}`;
  const keys = clusterKeys(prefix, 'bench');
  const redis = new Redis(REDIS_URL);
  registerScripts(redis);
  const symbols = generateSymbols(SYMBOL_COUNT);
  const sim: RunningSimulator = await startSimulator({ protocol: polygon, symbols, rate: 500, seed: 1 });
  await addSymbols(redis, keys, symbols);
  const procs: Proc[] = [];
  const result: FailoverResult = {
    workers: WORKERS,
    symbols: SYMBOL_COUNT,
    coldStartMs: 0,
    joinAdmissionMs: [],
    joinPropagationMs: [],
    leavePropagationMs: [],
    killToReapMs: [],
    killToOwnedMs: [],
  };
  try {
    const started = Date.now();
    for (let i = 1; i <= WORKERS; i++) procs.push(startProc(`w${i}`, prefix, sim.wsUrl));
    const first = await propagation(redis, keys, procs, (r) => r.members.length === WORKERS);
    result.coldStartMs = first.lastActedAt - started;

    for (let round = 0; round < REPEATS; round++) {
      const extraId = `x${round}`;
      // Join.
      const joiner = startProc(extraId, prefix, sim.wsUrl);
      procs.push(joiner);
      const joined = await propagation(redis, keys, procs, (r) => r.members.some((m) => m.id === extraId));
      const joinCall = joiner.lines.find((l) => l.msg.startsWith('joined the ring'))?.time ?? NaN;
      result.joinAdmissionMs.push(joined.record.changedAt - joinCall);
      result.joinPropagationMs.push(joined.lastActedAt - joined.record.changedAt);
      await sleep(1_500);

      // Graceful leave.
      joiner.child.kill('SIGTERM');
      await joiner.exited;
      procs.splice(procs.indexOf(joiner), 1);
      const left = await propagation(redis, keys, procs, (r) => !r.members.some((m) => m.id === extraId));
      result.leavePropagationMs.push(left.lastActedAt - left.record.changedAt);
      await sleep(1_500);

      // Crash: a worker of the ring is killed, then started again for the next round.
      const victim = procs[round % procs.length]!;
      const before = await readRingRecord(redis, keys);
      const killedAt = Date.now();
      victim.child.kill('SIGKILL');
      await victim.exited;
      procs.splice(procs.indexOf(victim), 1);
      const reaped = await propagation(
        redis,
        keys,
        procs,
        (r) => r.epoch > before.epoch && !r.members.some((m) => m.id === victim.id),
      );
      result.killToReapMs.push(reaped.record.changedAt - killedAt);
      await until('every symbol subscribed again', () => {
        const held = new Set(sim.stats().connections.flatMap((c) => c.subscriptions));
        return symbols.every((s) => held.has(s)) ? true : undefined;
      });
      result.killToOwnedMs.push(Date.now() - killedAt);
      const back = startProc(victim.id, prefix, sim.wsUrl);
      procs.push(back);
      await propagation(redis, keys, procs, (r) => r.members.some((m) => m.id === victim.id));
      await sleep(1_500);
    }
  } finally {
    for (const proc of procs) proc.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await sim.close();
    const stale = await redis.keys(`{${prefix}:*`);
    if (stale.length > 0) await redis.del(...stale);
    redis.disconnect();
  }
  return result;
}

function stats(values: readonly number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? NaN;
  return `median ${Math.round(median)} ms, max ${Math.round(sorted.at(-1) ?? NaN)} ms (n=${sorted.length})`;
}

export function formatFailover(r: FailoverResult): string {
  return [
    `Membership timings, defaults (lease 5 s, heartbeat 1 s, poll 1 s, settle 1 s / 5 s), ${r.workers} workers, ${r.symbols} symbols`,
    '',
    '| event | measured from → to | time |',
    '| --- | --- | ---: |',
    `| cold start | spawn → every worker acting on one epoch | ${Math.round(r.coldStartMs)} ms |`,
    `| join | join call → admitted (settle window) | ${stats(r.joinAdmissionMs)} |`,
    `| join | new epoch → every worker acted | ${stats(r.joinPropagationMs)} |`,
    `| graceful leave | new epoch → every worker acted | ${stats(r.leavePropagationMs)} |`,
    `| crash (SIGKILL) | kill → reaping epoch | ${stats(r.killToReapMs)} |`,
    `| crash (SIGKILL) | kill → every symbol owned and subscribed again | ${stats(r.killToOwnedMs)} |`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatFailover(await run()));
}
