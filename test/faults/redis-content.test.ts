/**
 * Corrupt or foreign values under tickring's keys, against worker processes on the shared Redis
 * (each case under its own prefix):
 * - keys of the wrong kind at start: the worker refuses with one error naming every such key, no
 *   stack trace, exit 1;
 * - corrupt checkpoints (not JSON, the wrong shape, a foreign aggregate, pollution keys, a huge
 *   value, a packed aggregate of random bytes or of impossible counts) and corrupt bar history: the worker logs the symbol, starts it empty and keeps serving;
 * - the ring record overwritten while the worker runs, as garbage and as the wrong kind of key: the
 *   worker stays up on its last good assignment, keeps answering, and says what is wrong once per
 *   ring read. (The ring record is rewritten by the next membership change once the key is deleted.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { polygon } from '../../feeds/polygon.js';
import { makeTrade } from '../../feeds/trade.js';
import { PACKED_SERIES_COUNT } from '../../src/aggregate/packed-checkpoint.js';
import { SymbolAggregate } from '../../src/aggregate/symbol-aggregate.js';
import { readRingRecord } from '../../src/cluster/membership.js';
import { KEY_TYPES } from '../../src/redis/key-types.js';
import { barKey } from '../../src/redis/keys.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import { sleep } from '../integration/feed-harness.js';
import { REDIS_URL, testCluster, type TestCluster } from '../support/redis.js';
import { eventually, stopAll, type WorkerProcess } from '../support/workers.js';
import { logLines } from '../scenario/ring-harness.js';
import { faultFigure } from './figures.js';
import { runCli, spawnWorker } from './processes.js';

const SYMBOLS = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'META', 'NFLX', 'AMD', 'TSLA'];

describe('corrupt and foreign values under tickring keys', () => {
  let sim: RunningSimulator;
  const envs: TestCluster[] = [];
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    sim = await startSimulator({ protocol: polygon, symbols: SYMBOLS, rate: 100, seed: 4 });
  });

  afterAll(async () => {
    await stopAll(workers);
    await sim.close();
    for (const env of envs) await env.cleanup();
  });

  function args(env: TestCluster): string[] {
    return [
      '--redis',
      REDIS_URL,
      '--key-prefix',
      env.prefix,
      '--cluster',
      env.cluster,
      '--feed-url',
      sim.wsUrl,
      '--http-port',
      '0',
      '--symbols',
      SYMBOLS.join(','),
      '--lease-ms',
      '1500',
      '--heartbeat-ms',
      '250',
      '--poll-ms',
      '250',
      '--checkpoint-ms',
      '200',
      '--settle-ms',
      '0',
    ];
  }

  async function cluster(): Promise<TestCluster> {
    const env = await testCluster('content');
    envs.push(env);
    return env;
  }

  it('refuses to start on keys of the wrong kind, naming every one, without a stack trace', async () => {
    const env = await cluster();
    const names = Object.keys(KEY_TYPES) as (keyof typeof KEY_TYPES)[];
    for (const name of names) {
      const key = env.keys[name];
      // The wrong kind for each: a list is never right.
      await env.redis.rpush(key, 'foreign');
    }
    const { code, output } = await runCli(['worker', '--worker-id', 'c0', ...args(env)]);
    expect(code).toBe(1);
    expect(output).toContain('hold values tickring did not write');
    for (const name of names) expect(output, name).toContain(`${env.keys[name]} holds a list`);
    expect(output).not.toMatch(/ReplyError|\n\s+at /);
    faultFigure('redis-content.wrong-type-keys', names.length);
  });

  it('starts a symbol empty on a corrupt checkpoint, names it, and keeps serving', async () => {
    const env = await cluster();
    // A record's JSON head as a worker writes it before a packed aggregate (see `recordParts`).
    const head = JSON.stringify({ v: 1, owner: 'x', epoch: 1, writtenAt: 1, watermark: '', final: false });
    const packed = new SymbolAggregate('AMD');
    packed.apply(makeTrade({ symbol: 'AMD', price: 1, size: 1, timeMs: Date.now() }));
    const hugeCount = Buffer.from(packed.checkpointPacked().bytes);
    hugeCount.writeDoubleLE(2 ** 31, PACKED_SERIES_COUNT * 8);
    const corrupt: Record<string, string | Buffer> = {
      AAPL: '{not json',
      MSFT: JSON.stringify({ v: 2, owner: 'x' }),
      NVDA: JSON.stringify({
        v: 1,
        owner: 'x',
        epoch: 1,
        writtenAt: 1,
        watermark: '',
        aggregate: { version: 1 },
      }),
      AMZN: '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"v":1}',
      GOOGL: JSON.stringify({
        v: 1,
        owner: 'x',
        epoch: 1,
        writtenAt: 1,
        watermark: 'w',
        aggregate: 'x'.repeat(1_000_000),
      }),
      META: 'null',
      NFLX: Buffer.concat([Buffer.from(`${head}\0`), randomBytes(300)]),
      AMD: Buffer.concat([Buffer.from(`${head}\0`), hugeCount]),
    };
    for (const [symbol, value] of Object.entries(corrupt))
      await env.redis.hset(env.keys.checkpoints, symbol, value);
    // Bar history that is not tickring's either.
    await env.redis.zadd(barKey(env.keys, 'TSLA', 60_000), 1, '{bad', 2, '[]', 3, 'null');
    const worker = spawnWorker('c1', args(env));
    workers.push(worker);
    const base = await eventually(
      'the worker ready',
      () => {
        const ready = logLines(worker).find((l) => l.msg === 'worker ready');
        return ready ? String(ready['http']) : undefined;
      },
      20_000,
    );
    // A packed aggregate is unpacked and checked when restored, which a quiet symbol's may be just
    // after it went live (see `OwnedSymbol`): its report can follow `worker ready`.
    const unreported = (): string[] => {
      const reported = logLines(worker).filter((l) => l.msg.startsWith('corrupt'));
      return Object.keys(corrupt).filter((symbol) => !reported.some((l) => l['symbol'] === symbol));
    };
    await eventually(
      'every corrupt checkpoint reported',
      () => {
        const missing = unreported();
        if (missing.length > 0) throw new Error(`not reported: ${missing.join(', ')}`);
        return true;
      },
      5_000,
    );
    for (const symbol of SYMBOLS) {
      const answer = await fetch(`${base}/v1/symbols/${symbol}`);
      expect(answer.status, symbol).toBe(200);
    }
    const bars = await fetch(`${base}/v1/symbols/TSLA/bars?interval=1m`);
    expect(bars.status).toBeLessThan(500);
    expect(worker.child.exitCode).toBeNull();
    faultFigure('redis-content.corrupt-checkpoints', Object.keys(corrupt).length);
  });

  it('stays up and keeps serving while the ring record is garbage or the wrong kind, then repairs it', async () => {
    const env = await cluster();
    const worker = spawnWorker('c2', args(env));
    workers.push(worker);
    const base = await eventually(
      'the worker ready',
      () => {
        const ready = logLines(worker).find((l) => l.msg === 'worker ready');
        return ready ? String(ready['http']) : undefined;
      },
      20_000,
    );
    for (const [what, spoil] of [
      ['garbage', () => env.redis.set(env.keys.ring, '{"epoch":"x"')],
      [
        'wrong-kind',
        async () => {
          await env.redis.del(env.keys.ring);
          await env.redis.hset(env.keys.ring, 'foreign', '1');
        },
      ],
    ] as const) {
      const linesBefore = worker.output.length;
      await spoil();
      await sleep(2_000);
      expect(worker.child.exitCode, what).toBeNull();
      const said = worker.output.slice(linesBefore).join('\n');
      // It says so on ring reads (a poll period apart) and keeps its last good assignment, until its
      // next heartbeat finds the record unreadable below the epoch it saw and rewrites it.
      const record = await readRingRecord(env.redis, env.keys).catch(() => undefined);
      expect(
        said.includes('ring refresh failed') || record?.reason.includes('ring record restored'),
        what,
      ).toBe(true);
      expect(worker.output.length - linesBefore, what).toBeLessThan(2_000 / 250 + 10);
      const answer = await fetch(`${base}/v1/symbols/AAPL`);
      expect(answer.status, what).toBe(200);
      faultFigure(`redis-content.ring-${what}.log-lines-in-2s`, worker.output.length - linesBefore);
    }
    await env.redis.del(env.keys.ring);
  });
});
