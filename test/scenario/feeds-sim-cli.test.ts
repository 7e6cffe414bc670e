/**
 * `tickring sim` as a process: the protocol's market from `--protocol`, faults on a timer from
 * `--faults`, the per-key limit from `--connections-per-key`, and the control API beside the feed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { binance } from '../../feeds/binance.js';
import { polygon } from '../../feeds/polygon.js';
import type { SimStats } from '../../src/sim/sim-stats.js';
import { feedClient, until } from '../integration/feed-harness.js';
import { CLI, eventually, getJson } from '../support/workers.js';

const children: ChildProcess[] = [];
const closers: (() => void)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await Promise.all(
    children.splice(0).map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) resolve();
          else {
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }
        }),
    ),
  );
});

/** Starts `tickring sim` on a free port and returns its WebSocket and control URLs from its log. */
async function sim(args: readonly string[]): Promise<{ wsUrl: string; httpUrl: string; output: string[] }> {
  const child = spawn(process.execPath, [CLI, 'sim', '--port', '0', '--log-level', 'info', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const output: string[] = [];
  const collect = (chunk: Buffer): void => {
    output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const wsUrl = await eventually('the simulator to listen', () => {
    for (const line of output) {
      const parsed = JSON.parse(line) as { msg?: string; url?: string; control?: string };
      if (parsed.msg === 'simulator listening' && parsed.control !== undefined) return parsed.url;
    }
    return undefined;
  });
  return { wsUrl, httpUrl: new URL(wsUrl.replace(/^ws/, 'http')).origin, output };
}

describe('tickring sim', () => {
  it('trades crypto pairs for --protocol binance and applies --faults on a timer', async () => {
    const s = await sim([
      '--protocol',
      'binance',
      '--symbols',
      '8',
      '--rate',
      '200',
      '--faults',
      'malformed:2@200ms',
    ]);
    const { body } = await getJson<SimStats>(`${s.httpUrl}/sim/stats`);
    expect(Object.keys(body.symbols).slice(0, 2)).toEqual(['BTCUSDT', 'ETHUSDT']);
    const h = feedClient(binance, s.wsUrl);
    closers.push(() => h.client.close());
    h.client.setSymbols(Object.keys(body.symbols));
    h.client.start();
    await until(
      () => h.trades.length > 20 && h.client.stats.rejects['invalid-json'] >= 1,
      'trades and rejects',
      5_000,
    );
    expect(h.trades.some((t) => !Number.isInteger(t.size))).toBe(true);
    const after = await getJson<SimStats>(`${s.httpUrl}/sim/stats`);
    expect(after.body.faults.malformed).toBeGreaterThanOrEqual(2);
    // The log line crosses a pipe from the simulator's process: it may trail the stats a moment.
    await until(
      () => s.output.some((line) => line.includes('scheduled fault applied')),
      'the scheduled fault to be logged',
      5_000,
    );
  });

  it('enforces --connections-per-key 1 for Polygon: the newer connection evicts the older', async () => {
    const s = await sim([
      '--protocol',
      'polygon',
      '--symbols',
      '5',
      '--rate',
      '0',
      '--connections-per-key',
      '1',
    ]);
    const first = feedClient(polygon, s.wsUrl, { connectionLimitBackoffMs: 60_000 }, 'tickring/test first');
    closers.push(() => first.client.close());
    first.client.start();
    await until(() => first.client.status === 'ready', 'the first to connect');
    const second = feedClient(polygon, s.wsUrl, { connectionLimitBackoffMs: 60_000 }, 'tickring/test second');
    closers.push(() => second.client.close());
    second.client.start();
    await until(() => first.client.stats.connectionLimits === 1, 'the eviction');
    await until(() => second.client.status === 'ready', 'the second to finish its handshake');
    // The evicted socket leaves the simulator's list once its close handshake ends, a moment later.
    let body = (await getJson<SimStats>(`${s.httpUrl}/sim/stats`)).body;
    for (let i = 0; i < 50 && body.connections.length > 1; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      body = (await getJson<SimStats>(`${s.httpUrl}/sim/stats`)).body;
    }
    expect(body.connections.map((c) => c.userAgent)).toEqual(['tickring/test second']);
    expect(body.faults.connectionLimits).toBe(1);
  });
});
