import { afterEach, describe, expect, it } from 'vitest';
import { polygon } from '../../feeds/polygon.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { SimClient } from './sim-client.js';

const running: RunningSimulator[] = [];
const clients: SimClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(running.splice(0).map((s) => s.close()));
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Counts of the handle kinds a simulator owns: listening servers, sockets and timers. */
function handles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) {
    if (kind === 'TCPServerWrap' || kind === 'TCPSocketWrap' || kind === 'Timeout')
      counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

describe('simulator lifecycle', () => {
  it('emits about rate x seconds in rate mode, stops when paused and goes on after resume', async () => {
    const s = await startSimulator({ protocol: polygon, symbols: generateSymbols(50), rate: 2_000 });
    running.push(s);
    const c = await SimClient.ready(s.wsUrl, ['*']);
    clients.push(c);
    const startedAt = performance.now();
    const before = s.stats().totals.trades;
    await sleep(1_000);
    const elapsedS = (performance.now() - startedAt) / 1000;
    const produced = s.stats().totals.trades - before;
    expect(produced).toBeGreaterThan(2_000 * elapsedS * 0.6);
    expect(produced).toBeLessThan(2_000 * elapsedS * 1.4);

    s.pause();
    expect(s.stats().running).toBe(false);
    const atPause = s.stats().totals.trades;
    await sleep(300);
    expect(s.stats().totals.trades).toBe(atPause);
    // Everything sent reached the wildcard subscriber.
    const sent = s.stats().connections[0]?.tradesSent ?? -1;
    expect(sent).toBeGreaterThan(1_000);
    await c.waitFor(() => c.trades.length === sent, `${sent} trades`);

    s.resume();
    await sleep(300);
    expect(s.stats().totals.trades).toBeGreaterThan(atPause + 200);
  });

  it('terminates a connection that stops reading once its buffer passes the limit', async () => {
    const s = await startSimulator({
      protocol: polygon,
      symbols: generateSymbols(20),
      paused: true,
      maxBufferedBytes: 256 * 1024,
    });
    running.push(s);
    const stalled = await SimClient.ready(s.wsUrl, ['*']);
    const healthy = await SimClient.ready(s.wsUrl, ['AAPL']);
    clients.push(stalled, healthy);
    stalled.ws.pause(); // stop reading: kernel buffers fill, then the simulator's send buffer grows
    // Loopback socket buffers hold several MiB; 200k trades are about 20 MB of frames.
    for (let i = 0; i < 20 && s.stats().slowConsumerDrops === 0; i++) s.emit(10_000);
    const stats = s.stats();
    expect(stats.slowConsumerDrops).toBe(1);
    expect(stats.connections.map((conn) => conn.id)).toEqual([2]);
    const sent = stats.connections[0]?.tradesSent ?? -1;
    await healthy.waitFor(() => healthy.trades.length === sent, `${sent} trades`);
    stalled.ws.resume();
    await stalled.waitFor(() => stalled.closed, 'close of the stalled client');
  });

  it('close() is idempotent, refuses work afterwards and leaves no open handles', async () => {
    await sleep(50); // let the previous test's sockets finish closing
    const baseline = handles();
    const s = await startSimulator({ protocol: polygon, symbols: generateSymbols(5), rate: 500 });
    const c = await SimClient.ready(s.wsUrl, ['*']);
    await c.waitFor(() => c.trades.length > 0, 'first trades');
    const res = await fetch(`${s.httpUrl}/sim/stats`); // leaves a keep-alive connection open
    expect(res.status).toBe(200);
    await res.arrayBuffer();

    const open = handles();
    expect(open['TCPServerWrap']).toBe((baseline['TCPServerWrap'] ?? 0) + 1);
    expect(open['TCPSocketWrap']).toBeGreaterThanOrEqual((baseline['TCPSocketWrap'] ?? 0) + 2);

    const first = s.close();
    expect(s.close()).toBe(first);
    await first;
    await s.close();
    await c.waitFor(() => c.closed, 'client close');
    expect(s.stats().running).toBe(false);
    const total = s.stats().totals.trades;
    expect(total).toBeGreaterThan(0);
    s.emit(10);
    await expect(fetch(`${s.httpUrl}/sim/stats`)).rejects.toThrow();
    await sleep(50);
    expect(s.stats().totals.trades).toBe(total); // neither emit() nor the timer runs after close
    // Other parts of the test runner may come and go; nothing the simulator owned may remain.
    const after = handles();
    for (const kind of ['TCPServerWrap', 'TCPSocketWrap', 'Timeout']) {
      expect(after[kind] ?? 0, kind).toBeLessThanOrEqual(baseline[kind] ?? 0);
    }
  });

  it('rejects invalid options, naming each one', async () => {
    await expect(
      startSimulator({ protocol: polygon, symbols: ['AAPL', 'bad symbol', 'AAPL'], rate: -1, tickMs: 0 }),
    ).rejects.toThrow(
      /rate must be a number >= 0.*tickMs must be.*"bad symbol" is invalid.*"AAPL" appears more than once/,
    );
    await expect(startSimulator({ protocol: polygon, symbols: [] })).rejects.toMatchObject({
      code: 'TICKRING_ERR_CONFIG',
    });
  });
});
