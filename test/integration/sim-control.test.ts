import { afterEach, describe, expect, it } from 'vitest';
import { polygon } from '../../feeds/polygon.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import type { SimStats } from '../../src/sim/sim-stats.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { SimClient } from './sim-client.js';

/** Control responses are either a payload or `{ error: { code, message } }`. */
type ControlBody = Record<string, unknown> & { error: { code: string; message: string } };

let sim: RunningSimulator | undefined;
const clients: SimClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await sim?.close();
  sim = undefined;
});

async function start(rate = 0): Promise<RunningSimulator> {
  sim = await startSimulator({ protocol: polygon, symbols: generateSymbols(10), rate, paused: true });
  return sim;
}

async function call(
  s: RunningSimulator,
  method: string,
  path: string,
): Promise<{ status: number; body: ControlBody }> {
  const res = await fetch(`${s.httpUrl}${path}`, { method });
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return { status: res.status, body: (await res.json()) as ControlBody };
}

describe('simulator control API', () => {
  it('GET /sim/stats reports every symbol, totals and connections', async () => {
    const s = await start();
    const c = await SimClient.ready(s.wsUrl, ['AAPL'], { userAgent: 'tickring/0.1.0 worker/w7' });
    clients.push(c);
    s.emit(300);
    const { status, body } = await call(s, 'GET', '/sim/stats');
    const stats = body as unknown as SimStats;
    expect(status).toBe(200);
    expect(stats.running).toBe(false);
    expect(Object.keys(stats.symbols)).toEqual(generateSymbols(10));
    expect(stats.totals.trades).toBe(300);
    const perSymbol = Object.values(stats.symbols);
    expect(perSymbol.reduce((sum, v) => sum + v.trades, 0)).toBe(300);
    expect(perSymbol.reduce((sum, v) => sum + v.volume, 0)).toBe(stats.totals.volume);
    expect(stats.connections).toEqual([
      {
        id: 1,
        userAgent: 'tickring/0.1.0 worker/w7',
        authenticated: true,
        subscriptions: ['AAPL'],
        tradesSent: stats.symbols['AAPL']?.trades,
        malformedSent: 0,
        silenced: false,
      },
    ]);
    expect(stats.slowConsumerDrops).toBe(0);
  });

  it('POST /sim/emit sends exactly count trades and refuses a bad count with 400', async () => {
    const s = await start();
    expect(await call(s, 'POST', '/sim/emit?count=250')).toEqual({ status: 200, body: { emitted: 250 } });
    expect(s.stats().totals.trades).toBe(250);
    for (const bad of [
      '',
      '?count=0',
      '?count=-5',
      '?count=1e3',
      '?count=abc',
      '?count=1000001',
      '?count=2.5',
    ]) {
      const { status, body } = await call(s, 'POST', `/sim/emit${bad}`);
      expect(status, bad).toBe(400);
      expect(body.error.code).toBe('bad_request');
      expect(body.error.message).toContain('count must be an integer from 1 to 1000000');
    }
    expect(s.stats().totals.trades).toBe(250);
  });

  it('POST /sim/pause and /sim/resume switch the rate timer', async () => {
    const s = await start(1_000);
    expect(s.stats().running).toBe(false);
    expect(await call(s, 'POST', '/sim/resume')).toEqual({ status: 200, body: { running: true } });
    expect(s.stats().running).toBe(true);
    expect(await call(s, 'POST', '/sim/pause')).toEqual({ status: 200, body: { running: false } });
    expect(s.stats().running).toBe(false);
  });

  it('POST /sim/drop terminates every client socket', async () => {
    const s = await start();
    const a = await SimClient.ready(s.wsUrl, ['*']);
    const b = await SimClient.ready(s.wsUrl, ['AAPL']);
    clients.push(a, b);
    expect(await call(s, 'POST', '/sim/drop')).toEqual({ status: 200, body: { dropped: 2 } });
    await a.waitFor(() => a.closed, 'close of a');
    await b.waitFor(() => b.closed, 'close of b');
    expect(s.stats().connections).toEqual([]);
    // The market keeps going; new clients can connect again.
    const again = await SimClient.ready(s.wsUrl, ['*']);
    clients.push(again);
    expect(s.stats().connections.map((c) => c.id)).toEqual([3]);
  });

  it('answers unknown routes with 404 and wrong methods with 405, as JSON errors', async () => {
    const s = await start();
    const missing = await call(s, 'GET', '/sim/nope');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: { code: 'not_found', message: 'no route for /sim/nope' } });
    expect((await call(s, 'GET', '/')).status).toBe(404);
    const wrong = await call(s, 'GET', '/sim/emit?count=5');
    expect(wrong.status).toBe(405);
    expect(wrong.body.error.code).toBe('method_not_allowed');
    expect(s.stats().totals.trades).toBe(0);
  });
});
