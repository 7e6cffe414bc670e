/**
 * Calm rebalancing, counted. A cold start of six workers with joins admitted at once produces one
 * epoch per join; with the default settle window (joins admitted together once nobody asked to join
 * for 1 s, at most 5 s) it produces one. A rolling restart of six workers with stable ids and
 * addresses and `--static-membership` produces no epoch at all; leaving on stop costs three per worker
 * (a drain, so the symbols move while the worker still applies them; the leave; the join).
 * The figures are printed as `RING-FIGURE` lines.
 *
 * Six workers show the storm as well as ten did, in half the time. They share two cores here, so
 * leases and heartbeats are the defaults (5 s, 1 s): a worker starving for CPU while the others boot
 * must not lose its lease; polls stay fast.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { polygon } from '../../feeds/polygon.js';
import { readRingRecord } from '../../src/cluster/membership.js';
import { addSymbols, listSymbols } from '../../src/cluster/universe.js';
import { freePort } from '../../src/roles/embedded-redis.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { testCluster, type TestCluster } from '../support/redis.js';
import { stopAll, type WorkerProcess } from '../support/workers.js';
import { converged, epochsActedOn, figure, launcher, type ConvergeTarget } from './ring-harness.js';

const SYMBOLS = generateSymbols(200);
const IDS = Array.from({ length: 6 }, (_, i) => `w${String(i + 1).padStart(2, '0')}`);
const DEFAULT_TIMINGS = ['--lease-ms', '5000', '--heartbeat-ms', '1000', '--poll-ms', '250'];

describe('a six-worker cluster settles without a storm of rebalances', () => {
  let sim: RunningSimulator;
  let env: TestCluster | undefined;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    sim = await startSimulator({ protocol: polygon, symbols: SYMBOLS, rate: 100, seed: 3 });
  });

  afterEach(async () => {
    await stopAll(workers.splice(0));
    await env?.cleanup();
    env = undefined;
  });

  afterAll(async () => {
    await sim.close();
  });

  async function cluster(label: string): Promise<{ env: TestCluster; target: ConvergeTarget }> {
    const created = await testCluster(label);
    env = created;
    await addSymbols(created.redis, created.keys, SYMBOLS);
    const target: ConvergeTarget = {
      redis: created.redis,
      keys: created.keys,
      sim,
      symbols: () => listSymbols(created.redis, created.keys),
      workers: () => workers,
    };
    return { env: created, target };
  }

  /** Starts all six at once and reports epochs produced and acted on. */
  async function coldStart(label: string, settle: readonly string[]): Promise<number> {
    const { env: e, target } = await cluster(label);
    const launch = launcher({ prefix: e.prefix, cluster: e.cluster, feedUrl: sim.wsUrl }, workers, [
      ...DEFAULT_TIMINGS,
      ...settle,
    ]);
    const before = (await readRingRecord(e.redis, e.keys)).epoch;
    const startedAt = Date.now();
    for (const id of IDS) launch(id);
    const assignment = await converged(target, IDS, { timeoutMs: 60_000 });
    const produced = assignment.epoch - before;
    const acted = workers.map((w) => epochsActedOn(w));
    const actedCounts = acted.map((a) => a.length);
    const movedCounts = acted.map((a) => a.filter((x) => x.moved > 0).length);
    figure(`${label}.epochs-produced`, produced);
    figure(
      `${label}.epochs-acted-on-per-worker(max,mean)`,
      `${Math.max(...actedCounts)},${mean(actedCounts)}`,
    );
    figure(
      `${label}.epochs-with-moves-per-worker(max,mean)`,
      `${Math.max(...movedCounts)},${mean(movedCounts)}`,
    );
    figure(`${label}.start-to-converged-ms`, Date.now() - startedAt);
    return produced;
  }

  it('cold start without a settle window: one epoch per join (the storm, for comparison)', async () => {
    const produced = await coldStart('cold-start.settle-0', ['--settle-ms', '0', '--settle-max-ms', '0']);
    expect(produced).toBe(IDS.length);
  }, 90_000);

  it('cold start with the default settle window: one epoch', async () => {
    const produced = await coldStart('cold-start.settle-default', []);
    expect(produced).toBeLessThanOrEqual(2);
  }, 90_000);

  async function rollingRestart(label: string, mode: readonly string[]): Promise<number> {
    const { env: e, target } = await cluster(label);
    const ports = new Map<string, number>();
    for (const id of IDS) ports.set(id, await freePort());
    const launch = launcher({ prefix: e.prefix, cluster: e.cluster, feedUrl: sim.wsUrl }, workers, [
      ...DEFAULT_TIMINGS,
      ...mode,
    ]);
    // A fixed address per id: the member's info must not change across the restart.
    const start = (id: string): WorkerProcess => launch(id, ['--http-port', String(ports.get(id))]);
    for (const id of IDS) start(id);
    await converged(target, IDS, { timeoutMs: 60_000 });
    const before = (await readRingRecord(e.redis, e.keys)).epoch;
    const startedAt = Date.now();
    for (const id of IDS) {
      const old = [...workers].reverse().find((w) => w.id === id)!;
      old.child.kill('SIGTERM');
      expect(await old.exited).toBe(0);
      start(id);
      await converged(target, IDS, { timeoutMs: 30_000 });
    }
    const produced = (await readRingRecord(e.redis, e.keys)).epoch - before;
    figure(`${label}.epochs-produced`, produced);
    figure(`${label}.duration-ms`, Date.now() - startedAt);
    return produced;
  }

  it('rolling restart with static membership: no epoch', async () => {
    const produced = await rollingRestart('rolling-restart.static', ['--static-membership']);
    expect(produced).toBe(0);
  }, 120_000);

  it('rolling restart leaving on stop: three epochs per worker (drain, leave, join)', async () => {
    const produced = await rollingRestart('rolling-restart.leave', []);
    expect(produced).toBe(3 * IDS.length);
  }, 150_000);
});

function mean(values: readonly number[]): string {
  return (values.reduce((a, b) => a + b, 0) / values.length).toFixed(1);
}
