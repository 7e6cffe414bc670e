/**
 * Scaling a running `tickring up` from another terminal: 2 workers, `tickring scale 6`, then
 * `tickring scale 2`, while trades flow the whole time. Scaling up adds workers to the ring;
 * scaling down drains the extra ones (each hands every symbol over and exits, and is not restarted).
 * After the trades stop, every symbol's trade count and volume must equal the simulator's truth
 * exactly: no trade lost or counted twice across any of the hand-overs.
 *
 * `up` runs its simulator at rate 0 and the test drives it with `POST /sim/emit` about every 50 ms,
 * from the moment both first workers own their symbols: a feed replays nothing, so a trade sent
 * before anyone subscribed could never be counted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRingRecord } from '../../src/cluster/membership.js';
import { Assignment } from '../../src/cluster/ring.js';
import { listSymbols } from '../../src/cluster/universe.js';
import type { SimStats } from '../../src/sim/sim-stats.js';
import { figure, userAgentId } from '../scenario/ring-harness.js';
import { REDIS_URL, testCluster, type TestCluster } from '../support/redis.js';
import { freePortRange } from '../support/ports.js';
import { actingEpoch, CLI, eventually, getJson } from '../support/workers.js';

const run = promisify(execFile);
const SYMBOLS = 60;

interface Summary {
  symbol: string;
  trades: number;
}

describe('tickring scale under a running simulator', () => {
  let env: TestCluster;
  let up: ChildProcess;
  let exited: Promise<number | null>;
  let output = '';
  let simUrl = '';
  let emitted = 0;
  let emitting: NodeJS.Timeout | undefined;
  let emitInFlight: Promise<void> = Promise.resolve();

  /** `tickring <args>` against the test's cluster, as an operator would run it from anywhere. */
  async function tickring(...args: string[]): Promise<string> {
    const { stdout } = await run(
      process.execPath,
      [CLI, ...args, '--redis', REDIS_URL, '--key-prefix', env.prefix, '--cluster', env.cluster],
      { timeout: 150_000 },
    );
    return stdout;
  }

  async function simStats(): Promise<SimStats> {
    return (await getJson<SimStats>(`${simUrl}/sim/stats`)).body;
  }

  /**
   * The ring's active members are `ids` (none joining or draining), every member acts on the ring's
   * epoch, and the simulator sees each symbol subscribed by exactly its owner.
   */
  async function converged(ids: readonly string[]): Promise<Assignment> {
    return eventually(
      `${ids.join(',')} to converge`,
      async () => {
        const record = await readRingRecord(env.redis, env.keys);
        const members = record.members.map((m) => `${m.id}${m.draining === true ? '(draining)' : ''}`);
        if (members.join(',') !== [...ids].sort().join(','))
          throw new Error(`members are ${members.join(',')}`);
        const assignment = new Assignment(record, await listSymbols(env.redis, env.keys));
        for (const member of record.members) {
          const epoch = await actingEpoch(member.address);
          if (epoch !== record.epoch) throw new Error(`${member.id} acts on ${epoch}, not ${record.epoch}`);
        }
        const holders = new Map<string, string[]>();
        for (const connection of (await simStats()).connections) {
          const id = userAgentId(connection.userAgent) ?? `conn-${connection.id}`;
          for (const symbol of connection.subscriptions)
            holders.set(symbol, [...(holders.get(symbol) ?? []), id]);
        }
        for (const symbol of assignment.symbols()) {
          const held = holders.get(symbol) ?? [];
          if (held.length !== 1 || held[0] !== assignment.ownerOf(symbol))
            throw new Error(
              `${symbol} is owned by ${assignment.ownerOf(symbol)}, subscribed by [${held.join(',')}]`,
            );
        }
        return assignment;
      },
      90_000,
      200,
    );
  }

  function startEmitting(): void {
    emitting = setInterval(() => {
      emitInFlight = emitInFlight.then(async () => {
        const response = await fetch(`${simUrl}/sim/emit?count=15`, { method: 'POST' });
        await response.body?.cancel();
        if (response.ok) emitted += 15;
      });
    }, 50);
  }

  async function stopEmitting(): Promise<void> {
    clearInterval(emitting);
    await emitInFlight;
  }

  beforeAll(async () => {
    env = await testCluster('scale');
    // w1-w6 take the ports from `base` on.
    const base = await freePortRange(6);
    up = spawn(
      process.execPath,
      [
        CLI,
        'up',
        '--redis',
        REDIS_URL,
        '--key-prefix',
        env.prefix,
        '--cluster',
        env.cluster,
        '--workers',
        '2',
        '--http-port',
        String(base),
        '--symbols',
        String(SYMBOLS),
        '--rate',
        '0',
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    up.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    up.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    exited = new Promise((resolve) => up.once('exit', (code) => resolve(code)));
    simUrl = await eventually(
      'the banner',
      () => /\(stats: (http:\/\/[^\s]+)\/sim\/stats\)/.exec(output)?.[1],
      60_000,
    );
    await converged(['w1', 'w2']);
  });

  afterAll(async () => {
    clearInterval(emitting);
    if (up.exitCode === null) {
      up.kill('SIGTERM');
      const timer = setTimeout(() => up.kill('SIGKILL'), 8_000);
      await exited;
      clearTimeout(timer);
    }
    await env.cleanup();
  });

  it('scales 2 → 6 → 2 while trades flow and ends with exact aggregates', async () => {
    startEmitting();
    const startedAt = Date.now();

    expect(await tickring('scale', '6')).toMatch(/running 6 workers; the ring \(epoch \d+\) has 6 active/);
    await converged(['w1', 'w2', 'w3', 'w4', 'w5', 'w6']);
    figure('scale.2-to-6-converged-ms', Date.now() - startedAt);

    const downAt = Date.now();
    expect(await tickring('scale', '2')).toMatch(
      /running 2 workers; the ring \(epoch \d+\) has 2 active: w1, w2/,
    );
    const final = await converged(['w1', 'w2']);
    figure('scale.6-to-2-converged-ms', Date.now() - downAt);
    // The drained workers exited on their own, and were not restarted.
    expect(output).not.toMatch(/worker exited; restarting/);

    await stopEmitting();
    figure('scale.trades-emitted', emitted);
    const truth = (await simStats()).symbols;
    const address = final.record.members[0]!.address;
    const counted = async (): Promise<Map<string, number>> => {
      const { body } = await getJson<{ symbols: Summary[] }>(`${address}/v1/symbols?limit=1000`);
      return new Map(body.symbols.map((s) => [s.symbol, s.trades]));
    };
    // Every trade sent has been applied once the counts stop moving; then compare exactly.
    let previous = '';
    const counts = await eventually(
      'the counts to settle',
      async () => {
        const now = await counted();
        const text = JSON.stringify([...now]);
        const settled = text === previous;
        previous = text;
        return settled ? now : undefined;
      },
      30_000,
      1_000,
    );
    let lost = 0;
    let doubled = 0;
    const miscounted: string[] = [];
    for (const symbol of final.symbols()) {
      const diff = (counts.get(symbol) ?? 0) - (truth[symbol]?.trades ?? 0);
      if (diff < 0) lost -= diff;
      else doubled += diff;
      // Sent while no connection held the symbol, or received and then dropped by a hand-over.
      if (diff !== 0) miscounted.push(`${symbol} ${diff} (undelivered ${truth[symbol]?.undelivered ?? 0})`);
    }
    figure('scale.trades-lost', lost);
    figure('scale.trades-doubled', doubled);
    // The warnings of every process, for a failure in CI to be traced from its output alone.
    if (lost + doubled > 0) console.log(`SCALE-OUTPUT\n${output}`);
    expect({ lost, doubled }, `miscounted: ${miscounted.join(', ')}`).toEqual({ lost: 0, doubled: 0 });
    for (const symbol of final.symbols()) {
      const { body } = await getJson<{ trades: number; volume: number; owner: string }>(
        `${address}/v1/symbols/${symbol}`,
      );
      expect(body.owner, symbol).toBe(final.ownerOf(symbol));
      expect(body.trades, symbol).toBe(truth[symbol]?.trades ?? 0);
      expect(body.volume, symbol).toBe(truth[symbol]?.volume ?? 0);
    }
  });
});
