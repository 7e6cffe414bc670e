/**
 * The operator commands, run as the real `tickring` CLI against a ring of worker processes:
 * `symbols add|rm|ls`, `pin`/`unpin`, `status` (lease age, symbols owned, trades/s) and `drain`
 * (planned hand-overs, then the worker leaves and exits). Every change must reach the workers like
 * a membership change: the simulator sees each symbol subscribed by exactly its owner.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { polygon } from '../../feeds/polygon.js';
import { parseCheckpointRecord } from '../../src/cluster/checkpoints.js';
import { addSymbols, listSymbols } from '../../src/cluster/universe.js';
import { freePort } from '../../src/roles/embedded-redis.js';
import type { ClusterStatus } from '../../src/roles/status.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { REDIS_URL, testCluster, type TestCluster } from '../support/redis.js';
import { CLI, stopAll, type WorkerProcess } from '../support/workers.js';
import {
  converged,
  FAST_SETTLE,
  figure,
  HANDOVER_WINDOW_MS,
  launcher,
  logLines,
  OverlapMonitor,
  type ConvergeTarget,
} from './ring-harness.js';

const SYMBOLS = generateSymbols(50);
const IDS = ['w1', 'w2', 'w3'];

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

describe('operator commands against a running ring', () => {
  let env: TestCluster;
  let sim: RunningSimulator;
  let target: ConvergeTarget;
  const workers: WorkerProcess[] = [];

  /** Runs the CLI without blocking this process (the simulator lives here). */
  function cli(args: readonly string[], redisUrl = REDIS_URL): Promise<CliResult> {
    const full = [CLI, ...args, '--redis', redisUrl, '--key-prefix', env.prefix, '--cluster', env.cluster];
    return new Promise((resolve) => {
      execFile(process.execPath, full, { timeout: 30_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      });
    });
  }

  beforeAll(async () => {
    env = await testCluster('ring-admin');
    sim = await startSimulator({ protocol: polygon, symbols: SYMBOLS, rate: 400, seed: 5 });
    await addSymbols(env.redis, env.keys, SYMBOLS.slice(0, 40));
    const launch = launcher(
      { prefix: env.prefix, cluster: env.cluster, feedUrl: sim.wsUrl },
      workers,
      FAST_SETTLE,
    );
    target = {
      redis: env.redis,
      keys: env.keys,
      sim,
      symbols: () => listSymbols(env.redis, env.keys),
      workers: () => workers,
    };
    for (const id of IDS) launch(id);
    await converged(target, IDS);
  });

  afterAll(async () => {
    await stopAll(workers);
    await sim.close();
    await env.cleanup();
  });

  it('adds, lists and removes symbols; the workers follow', async () => {
    const added = await cli(['symbols', 'add', ...SYMBOLS.slice(40, 45), SYMBOLS.slice(45).join(',')]);
    expect(added.stderr).toBe('');
    expect(added.stdout).toMatch(/^added 10 of 10 symbols; epoch \d+/);
    let assignment = await converged(target, IDS);
    expect(assignment.size).toBe(50);
    const ls = await cli(['symbols', 'ls', '--json']);
    const listed = JSON.parse(ls.stdout) as { epoch: number; symbols: { symbol: string; owner: string }[] };
    expect(listed.symbols).toHaveLength(50);
    for (const row of listed.symbols) expect(row.owner).toBe(assignment.ownerOf(row.symbol));
    const removed = await cli(['symbols', 'rm', SYMBOLS[49]!]);
    expect(removed.stdout).toMatch(/^removed 1 of 1 symbols/);
    assignment = await converged(target, IDS);
    expect(assignment.size).toBe(49);
    const bad = await cli(['symbols', 'add', 'ok', 'AAPL']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('invalid symbol "ok"');
  });

  it('pins a symbol to a chosen worker and unpins it, refusing unknown ones clearly', async () => {
    const before = await converged(target, IDS);
    const symbol = SYMBOLS[0]!;
    const other = IDS.find((id) => id !== before.ownerOf(symbol))!;
    const pinned = await cli(['pin', symbol, other]);
    expect(pinned.stdout).toMatch(new RegExp(`^pinned ${symbol} to ${other}; epoch \\d+`));
    let after = await converged(target, IDS);
    expect(after.ownerOf(symbol)).toBe(other);
    // Only the pinned symbol moved.
    for (const s of SYMBOLS.slice(1, 49)) expect(after.ownerOf(s)).toBe(before.ownerOf(s));
    const unknownWorker = await cli(['pin', symbol, 'w9']);
    expect(unknownWorker.code).toBe(1);
    expect(unknownWorker.stderr).toContain('no such active worker');
    const unknownSymbol = await cli(['pin', 'NOSUCH', other]);
    expect(unknownSymbol.code).toBe(1);
    expect(unknownSymbol.stderr).toContain('not in the universe');
    const unpinned = await cli(['unpin', symbol]);
    expect(unpinned.stdout).toMatch(/^unpinned/);
    after = await converged(target, IDS);
    expect(after.ownerOf(symbol)).toBe(before.ownerOf(symbol));
  });

  it('shows every member with lease age, symbols owned and trades/s', async () => {
    const assignment = await converged(target, IDS);
    const result = await cli(['status', '--json', '--sample-ms', '600']);
    expect(result.code).toBe(0);
    const status = JSON.parse(result.stdout) as ClusterStatus;
    expect(status.epoch).toBe(assignment.epoch);
    expect(status.members.map((m) => m.id)).toEqual(IDS);
    for (const member of status.members) {
      expect(member.state).toBe('active');
      expect(member.symbols).toBe(assignment.symbolsOf(member.id).length);
      expect(member.leaseAgeMs).toBeGreaterThanOrEqual(0);
      expect(member.leaseAgeMs).toBeLessThan(1_000);
      expect(member.leaseLeftMs).toBeGreaterThan(0);
      expect(member.tradesPerSecond).toBeGreaterThan(0);
    }
    expect(status.warnings).toEqual([]);
    const table = await cli(['status', '--sample-ms', '0']);
    expect(table.stdout).toMatch(/^w1\s+active\s+\d+\s+-\s+\d\.\d s ago\s+\d\.\d s\s+http:/m);
  });

  it('says clearly when Redis is unreachable', async () => {
    const port = await freePort();
    for (const args of [['status'], ['symbols', 'ls'], ['pin', 'AAPL', 'w1'], ['drain', 'w1']]) {
      const result = await cli(args, `redis://127.0.0.1:${port}`);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr).toContain(
        `cannot reach Redis at redis://127.0.0.1:${port}: connect ECONNREFUSED`,
      );
    }
  });

  it('drains a worker: its symbols move through planned hand-overs, then it leaves and exits', async () => {
    const monitor = new OverlapMonitor(sim).start();
    const before = await converged(target, IDS);
    const theirs = before.symbolsOf('w2');
    const leaving = workers.find((w) => w.id === 'w2')!;
    const startedAt = Date.now();
    const drained = await cli(['drain', 'w2']);
    expect(drained.stdout).toMatch(/draining w2 at epoch \d+/);
    // Both other workers answered the drain notice (`noticeDrain`) before w2 was marked.
    expect(drained.stdout).toContain('2 of 2 other workers subscribed to its symbols first');
    expect(drained.stdout).toContain('w2 left the ring');
    expect(await leaving.exited).toBe(0);
    figure('fast.drain-to-left-ms', Date.now() - startedAt);
    const after = await converged(target, ['w1', 'w3']);
    for (const id of ['w1', 'w3']) for (const s of before.symbolsOf(id)) expect(after.ownerOf(s)).toBe(id);
    // Planned: w2 wrote a final checkpoint of each symbol, and the new owners waited for it.
    const drainEpoch = Number(/draining w2 at epoch (\d+)/.exec(drained.stdout)?.[1]);
    const lines = logLines(leaving);
    expect(lines.some((l) => l.msg === 'drain requested: handing every symbol over, then leaving')).toBe(
      true,
    );
    expect(lines.some((l) => l.msg === 'left the ring')).toBe(true);
    for (const worker of workers.filter((w) => w.id !== 'w2')) {
      expect(logLines(worker).filter((l) => l.msg.startsWith('previous owner did not hand over'))).toEqual(
        [],
      );
    }
    const finals = await env.redis.hmgetBuffer(env.keys.checkpoints, ...theirs);
    finals.forEach((raw, i) => {
      const record = parseCheckpointRecord(raw!, theirs[i]!);
      // Either w2's final at the drain epoch, or already a periodic write of the new owner after it.
      if (record.owner === 'w2') {
        expect(record.final).toBe(true);
        expect(record.epoch).toBe(drainEpoch);
      } else {
        expect(record.epoch).toBeGreaterThanOrEqual(drainEpoch);
      }
    });
    const refused = await cli(['drain', 'w1', '--wait-ms', '0']);
    expect(refused.code).toBe(0);
    const last = await cli(['drain', 'w3', '--wait-ms', '0']);
    expect(last.code).toBe(1);
    expect(last.stderr).toContain('only active worker');
    monitor.stop();
    const overlap = monitor.report();
    figure('fast.drain.max-overlap-ms', Math.round(overlap.maxMs));
    expect(overlap.maxMs, JSON.stringify(overlap.worst)).toBeLessThan(HANDOVER_WINDOW_MS);
  });
});
