/**
 * A real worker in-process (real Redis, the simulator as its feed) behind `buildApp`: completed bars
 * go to Redis with the periodic checkpoint, in the same round trip and only for symbols that have new
 * completed bars (counted with MONITOR), and the bars route answers history older than what the
 * aggregates keep in memory by merging Redis under memory.
 */
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type AppServer } from '../../src/http/app.js';
import { barKey } from '../../src/redis/keys.js';
import type { RunningSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import type { Worker } from '../../src/worker/worker.js';
import { RedisErrorCounts, workerMetrics, workerView } from '../../src/worker/worker-view.js';
import { inProcessWorker, type InProcessWorker } from '../support/in-process-worker.js';
import { testRedis, type TestCluster } from '../support/redis.js';
import { call } from './http-fake-view.js';

const SYMBOLS = generateSymbols(8);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a worker writing bars and answering their history', () => {
  let running: InProcessWorker;
  let env: TestCluster;
  let sim: RunningSimulator;
  let worker: Worker;
  let app: AppServer;
  let url: string;

  beforeAll(async () => {
    running = await inProcessWorker('wbars', SYMBOLS, {
      barCloseGraceMs: 0,
      // Memory keeps two completed 1 s bars: older ones are only in Redis.
      aggregate: { barIntervalsMs: [1_000, 60_000], barCap: 2 },
    });
    ({ env, sim, worker } = running);
    const errors = new RedisErrorCounts();
    app = buildApp({
      view: workerView(worker, { redis: env.redis, keys: env.keys, vnodes: 50 }, errors),
      metrics: workerMetrics(worker, errors),
      logger: pino({ level: 'silent' }),
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    await running.start();
  });

  afterAll(async () => {
    app.closeAllConnections();
    app.close();
    await running.close();
  });

  it('writes completed bars with the checkpoint, one round trip, only for symbols with new bars', async () => {
    // Four batches in four different seconds: four 1 s bars per traded symbol. Start clear of a
    // minute boundary, or each symbol's 1 min bar would complete too and add to the count.
    const untilNextMinute = 60_000 - (Date.now() % 60_000);
    if (untilNextMinute < 8_000) await pause(untilNextMinute + 100);
    for (let i = 0; i < 4; i++) {
      await running.emitAndApply(200);
      await pause(1_050);
    }
    const monitor = await testRedis().monitor();
    const commands: { source: string; args: string[] }[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => commands.push({ source, args }));
    /**
     * The commands sent from `from` on by the connections that touched this test's keys (not those a
     * script ran), a checkpoint script call shown as `checkpoint` and a bar write as `write-bars`
     * (heartbeats are scripts too).
     */
    const sentSince = (from: number): string[] => {
      const recent = commands.slice(from).filter((c) => c.source !== 'lua');
      const ours = new Set(
        recent.filter((c) => c.args.some((a) => a.includes(env.prefix))).map((c) => c.source),
      );
      return recent
        .filter((c) => ours.has(c.source))
        .map((c) => {
          const name = c.args[0]?.toLowerCase() ?? '';
          if (!name.startsWith('eval')) return name;
          if (c.args.includes(env.keys.checkpoints)) return 'checkpoint';
          return c.args.some((a) => a.startsWith(`${env.keys.bars}:`)) ? 'write-bars' : name;
        });
    };
    /** The commands scripts ran on this test's bar keys from `from` on. */
    const scriptedSince = (from: number): string[] =>
      commands
        .slice(from)
        .filter((c) => c.source === 'lua' && c.args[1]?.startsWith(`${env.keys.bars}:`) === true)
        .map((c) => c.args[0]?.toLowerCase() ?? '');
    await pause(50);
    const started = commands.length;
    await worker.checkpoint();
    await pause(100);
    const first = sentSince(started);
    const scripted = scriptedSince(started);
    const traded = SYMBOLS.filter((s) => (sim.stats().symbols[s]?.trades ?? 0) > 0);
    // One checkpoint script, and one bar write whose ZADDs are the completed bars: each traded
    // symbol's four 1 s bars (the 1 min bar is still open).
    expect(first.filter((c) => c === 'checkpoint')).toHaveLength(1);
    expect(first.filter((c) => c === 'write-bars')).toHaveLength(1);
    expect(first.filter((c) => c === 'zadd' || c === 'multi')).toEqual([]);
    expect(scripted.filter((c) => c === 'zadd')).toHaveLength(traded.length * 4);
    expect(scripted.filter((c) => c === 'zremrangebyrank')).toHaveLength(traded.length);
    for (const symbol of traded) expect(await env.redis.zcard(barKey(env.keys, symbol, 1_000))).toBe(4);

    // Nothing new since: the next checkpoint writes no bar and no aggregate.
    const again = commands.length;
    await worker.checkpoint();
    await pause(100);
    const second = sentSince(again);
    expect(second.filter((c) => c === 'write-bars' || c === 'checkpoint')).toEqual([]);
    expect(scriptedSince(again)).toEqual([]);
    monitor.disconnect();
  });

  it('answers history older than memory from Redis, every trade in exactly one bar', async () => {
    const truth = sim.stats().symbols;
    for (const symbol of SYMBOLS) {
      const { status, body } = await call(`${url}/v1/symbols/${symbol}/bars?interval=1s&limit=1000`);
      expect(status).toBe(200);
      expect(body.stale).toBe(false);
      const trades = body.bars?.reduce((sum, bar) => sum + bar.trades, 0) ?? 0;
      expect(trades, symbol).toBe(truth[symbol]?.trades ?? 0);
      if ((truth[symbol]?.trades ?? 0) > 0) {
        expect(body.bars).toHaveLength(4);
        // Memory holds only the newest completed bars; the rest came from Redis.
        expect(worker.owned.get(symbol)?.aggregate.listBars(1_000)?.length).toBeLessThan(4);
      }
    }
    const { text } = await call(`${url}/metrics`);
    expect(text).toMatch(/tickring_bars_written_total [1-9]/);
  });
});
