/**
 * Faults against a ring of worker processes on the shared Redis, with trades flowing: a crash
 * (SIGKILL), a lost pub/sub message (the subscriber connection killed with CLIENT KILL at the moment
 * the ring changes), and a worker paused with SIGSTOP past its lease then resumed. In each, every
 * symbol ends with exactly one owner, and no symbol stays subscribed by two workers for longer than
 * a hand-over window (the criterion is in `ring-harness.ts`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { polygon } from '../../feeds/polygon.js';
import { parseCheckpointRecord } from '../../src/cluster/checkpoints.js';
import { readRingRecord } from '../../src/cluster/membership.js';
import { addSymbols, listSymbols } from '../../src/cluster/universe.js';
import { ringScriptKeys } from '../../src/redis/keys.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { testCluster, type TestCluster } from '../support/redis.js';
import { eventually, stopAll, type WorkerProcess } from '../support/workers.js';
import {
  clientIdByName,
  converged,
  epochsActedOn,
  FAST_SETTLE,
  figure,
  HANDOVER_WINDOW_MS,
  launcher,
  LEASE_MS,
  logLines,
  OverlapMonitor,
  POLL_MS,
  sleep,
  subscribers,
  type ConvergeTarget,
} from './ring-harness.js';

const SYMBOLS = generateSymbols(60);
const IDS = ['w1', 'w2', 'w3'];

describe('ring faults with worker processes', () => {
  let env: TestCluster;
  let sim: RunningSimulator;
  let target: ConvergeTarget;
  const workers: WorkerProcess[] = [];
  let launch: (id: string, extra?: readonly string[]) => WorkerProcess;

  beforeAll(async () => {
    env = await testCluster('ring-faults');
    sim = await startSimulator({ protocol: polygon, symbols: SYMBOLS, rate: 300, seed: 7 });
    await addSymbols(env.redis, env.keys, SYMBOLS);
    launch = launcher({ prefix: env.prefix, cluster: env.cluster, feedUrl: sim.wsUrl }, workers, FAST_SETTLE);
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
    for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGCONT');
    await stopAll(workers);
    await sim.close();
    await env.cleanup();
  });

  function current(id: string): WorkerProcess {
    const worker = [...workers].reverse().find((w) => w.id === id);
    if (!worker) throw new Error(`no worker ${id}`);
    return worker;
  }

  it('gives a SIGKILLed worker’s symbols to the others within about lease + poll', async () => {
    const monitor = new OverlapMonitor(sim).start();
    const before = await converged(target, IDS);
    const theirs = before.symbolsOf('w2');
    expect(theirs.length).toBeGreaterThan(0);
    const victim = current('w2');
    const killedAt = performance.now();
    victim.child.kill('SIGKILL');
    await victim.exited;
    await eventually(
      'every symbol of w2 subscribed by another worker',
      () => {
        const holders = subscribers(sim);
        return theirs.every((s) => (holders.get(s) ?? []).some((id) => id !== 'w2')) ? true : undefined;
      },
      10_000,
      10,
    );
    const ownedAgainMs = performance.now() - killedAt;
    const after = await converged(target, ['w1', 'w3']);
    expect(after.record.reason).toContain('reaped w2');
    // Symbols of the survivors stayed where they were.
    for (const id of ['w1', 'w3']) for (const s of before.symbolsOf(id)) expect(after.ownerOf(s)).toBe(id);
    figure('fast.sigkill-to-owned-again-ms', Math.round(ownedAgainMs));
    expect(ownedAgainMs).toBeLessThan(LEASE_MS + 250 + POLL_MS + 1_000);

    launch('w2');
    await converged(target, IDS);
    monitor.stop();
    const overlap = monitor.report();
    figure('fast.sigkill.max-overlap-ms', Math.round(overlap.maxMs));
    expect(overlap.maxMs, JSON.stringify(overlap.worst)).toBeLessThan(HANDOVER_WINDOW_MS);
  });

  it('converges when a worker loses the pub/sub message of a new epoch (CLIENT KILL)', async () => {
    const monitor = new OverlapMonitor(sim).start();
    await converged(target, IDS);
    const name = 'tickring:worker:w1:sub';
    const id = await clientIdByName(env.redis, name);
    expect(id, `${name} in CLIENT LIST`).toBeDefined();
    const added = ['ZZLOST1', 'ZZLOST2', 'ZZLOST3', 'ZZLOST4', 'ZZLOST5', 'ZZLOST6'];
    const startedAt = performance.now();
    // One pipeline: Redis closes w1's subscriber, then publishes the new epoch it cannot hear.
    const replies = await env.redis
      .pipeline()
      .client('KILL', 'ID', id!)
      .tickringSetSymbols(...ringScriptKeys(env.keys), env.keys.symbols, 'add', 500, ...added)
      .exec();
    expect(replies?.[0]?.[1]).toBe(1);
    const epoch = Number((replies?.[1]?.[1] as number[] | undefined)?.[0]);
    await converged(target, IDS);
    const w1Acted = epochsActedOn(current('w1')).find((e) => e.epoch >= epoch);
    expect(w1Acted).toBeDefined();
    figure('fast.pubsub-lost.converged-ms', Math.round(performance.now() - startedAt));
    // The subscriber came back as a new connection.
    await eventually('w1 resubscribed', async () => {
      const again = await clientIdByName(env.redis, name);
      return again !== undefined && again !== id ? true : undefined;
    });
    monitor.stop();
    const overlap = monitor.report();
    figure('fast.pubsub-lost.max-overlap-ms', Math.round(overlap.maxMs));
    expect(overlap.maxMs, JSON.stringify(overlap.worst)).toBeLessThan(HANDOVER_WINDOW_MS);
  });

  it('fences a worker paused past its lease (SIGSTOP): it writes nothing after, then rejoins', async () => {
    const monitor = new OverlapMonitor(sim).start();
    // The same sampling without leaving the stopped worker out: it must see the stale subscriptions,
    // which shows the monitor is not blind.
    const unfiltered = new OverlapMonitor(sim).start();
    await converged(target, IDS);
    const victim = current('w1');
    // Every checkpoint record seen in Redis while this runs, so none can hide behind a later write.
    const seen = new Map<string, { owner: string; epoch: number; writtenAt: number }>();
    const sampling = { on: true };
    const sampler = (async () => {
      while (sampling.on) {
        const all = await env.redis.hgetallBuffer(env.keys.checkpoints);
        for (const [symbol, raw] of Object.entries(all)) {
          const record = parseCheckpointRecord(raw, symbol);
          seen.set(`${record.owner}/${record.epoch}/${record.writtenAt}/${symbol}`, record);
        }
        await sleep(25);
      }
    })();
    await sleep(500); // a few periodic checkpoints of w1 land first
    const stoppedAt = Date.now();
    monitor.stopped.add('w1');
    victim.child.kill('SIGSTOP');
    const reaped = await converged(target, ['w2', 'w3'], { exclude: new Set(['w1']) });
    expect(reaped.record.reason).toContain('reaped w1');
    await sleep(LEASE_MS); // well past the lease
    const resumedAt = Date.now();
    victim.child.kill('SIGCONT');
    monitor.stopped.delete('w1');
    const back = await converged(target, IDS);
    sampling.on = false;
    await sampler;
    monitor.stop();
    unfiltered.stop();
    expect(unfiltered.report().maxMs).toBeGreaterThan(LEASE_MS);

    const lines = logLines(victim).filter((line) => line.time >= resumedAt);
    const fenced = lines.find((line) => line.msg.startsWith('fenced'));
    expect(fenced, 'w1 logs that it fenced itself').toBeDefined();
    // It never even tried to write with a lapsed lease (the script would have refused).
    expect(lines.filter((line) => JSON.stringify(line).includes('LEASE_LOST'))).toEqual([]);
    const rejoin = lines.find((line) => line.msg.startsWith('rejoined the ring'));
    expect(rejoin).toBeDefined();
    // In Redis: w1's checkpoints were written before it stopped, or at an epoch after its rejoin.
    const byW1 = [...seen.values()].filter((r) => r.owner === 'w1');
    expect(byW1.some((r) => r.writtenAt < stoppedAt)).toBe(true);
    const afterLapse = byW1.filter((r) => r.writtenAt >= stoppedAt && r.epoch <= reaped.epoch);
    expect(afterLapse).toEqual([]);
    expect(back.epoch).toBeGreaterThan(reaped.epoch);
    const overlap = monitor.report();
    figure('fast.sigstop.max-overlap-ms', Math.round(overlap.maxMs));
    figure('fast.sigstop.paused-ms', resumedAt - stoppedAt);
    expect(overlap.maxMs, JSON.stringify(overlap.worst)).toBeLessThan(HANDOVER_WINDOW_MS);
    expect((await readRingRecord(env.redis, env.keys)).members.map((m) => m.id)).toEqual(IDS);
  });
});
