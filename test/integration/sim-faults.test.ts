/**
 * The simulator's faults as a client sees them on the wire, and the truth the simulator keeps while
 * they happen: malformed frames and duplicates never enter it, cancels and corrections amend it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { FeedAdapter } from '../../feeds/adapter.js';
import { alpaca } from '../../feeds/alpaca.js';
import { binance } from '../../feeds/binance.js';
import { FEEDS } from '../../feeds/index.js';
import { polygon } from '../../feeds/polygon.js';
import type { Trade } from '../../feeds/trade.js';
import type { FeedClient } from '../../src/ingest/feed-client.js';
import { MALFORMED_KINDS } from '../../src/sim/faults.js';
import { startSimulator, type RunningSimulator, type SimulatorInput } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { text } from './sim-client.js';
import { feedClient, sleep, subscribedExactly, tally, until, type Harness } from './feed-harness.js';

const sims: RunningSimulator[] = [];
const clients: FeedClient[] = [];
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const socket of sockets.splice(0)) socket.terminate();
  await Promise.all(sims.splice(0).map((sim) => sim.close()));
});

async function simFor(
  adapter: FeedAdapter,
  options: Partial<SimulatorInput> = {},
): Promise<RunningSimulator> {
  const sim = await startSimulator({
    protocol: adapter,
    symbols: generateSymbols(10, adapter.server.market),
    paused: true,
    seed: 3,
    ...options,
  });
  sims.push(sim);
  return sim;
}

/** A ready feed client subscribed to every symbol of the simulator. */
async function subscribed(
  adapter: FeedAdapter,
  sim: RunningSimulator,
  agent = 'tickring/test feed-harness',
): Promise<Harness> {
  const h = feedClient(adapter, sim.wsUrl, { connectionLimitBackoffMs: 60_000 }, agent);
  clients.push(h.client);
  const symbols = Object.keys(sim.stats().symbols);
  h.client.setSymbols(symbols);
  h.client.start();
  await subscribedExactly(sim, symbols, agent.split(' ').pop());
  return h;
}

async function post(
  sim: RunningSimulator,
  path: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${sim.httpUrl}${path}`, { method: 'POST' });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('POST /sim/fault/<name>', () => {
  it('applies a fault and says how much it touched; refuses unknown faults, bad counts and unsupported amendments', async () => {
    const sim = await simFor(polygon);
    await subscribed(polygon, sim);
    expect(await post(sim, '/sim/fault/duplicate?count=7')).toEqual({
      status: 200,
      body: { fault: 'duplicate', applied: 7 },
    });
    expect(await post(sim, '/sim/fault/malformed?count=3')).toEqual({
      status: 200,
      body: { fault: 'malformed', applied: 3 },
    });
    const unknown = await post(sim, '/sim/fault/meltdown');
    expect(unknown.status).toBe(404);
    expect(JSON.stringify(unknown.body)).toContain('faults are drop, silent, duplicate, malformed');
    expect((await post(sim, '/sim/fault/malformed?count=-1')).status).toBe(400);
    expect((await post(sim, '/sim/fault/malformed?count=1e3')).status).toBe(400);
    const unsupported = await post(sim, '/sim/fault/correction');
    expect(unsupported).toEqual({
      status: 400,
      body: { error: { code: 'unsupported', message: 'this protocol sends no corrections' } },
    });
    expect(sim.stats().faults).toMatchObject({ duplicates: 0, malformed: 3, corrections: 0 });
  });
});

describe('fault: silent', () => {
  it('keeps the socket open but sends nothing and answers no ping', async () => {
    const sim = await simFor(polygon);
    const h = await subscribed(polygon, sim);
    const ws = new WebSocket(sim.wsUrl);
    sockets.push(ws);
    await new Promise((resolve) => ws.once('open', resolve));
    let pongs = 0;
    ws.on('pong', () => pongs++);
    ws.ping();
    await until(() => pongs === 1, 'a pong before the fault');

    expect(sim.fault('silent')).toBe(2);
    const before = h.trades.length;
    sim.emit(500);
    ws.ping();
    await sleep(200);
    expect(pongs).toBe(1);
    expect(h.trades.length).toBe(before);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect(sim.stats().connections.every((c) => c.silenced)).toBe(true);
    expect(sim.stats().faults.silenced).toBe(2);
  });
});

describe('fault: duplicate', () => {
  it('sends the next trades twice, back to back, while the truth counts each once', async () => {
    const sim = await simFor(polygon);
    const h = await subscribed(polygon, sim);
    sim.fault('duplicate', 25);
    sim.emit(400);
    await until(() => h.trades.length >= 425, '425 trades');
    await sleep(50);
    expect(h.trades).toHaveLength(425);
    const keys = h.trades.map((t) => polygon.dedupKey(t));
    expect(keys.length - new Set(keys).size).toBe(25);
    // Each duplicate follows its original directly.
    expect(
      h.trades
        .slice(0, 50)
        .every((t, i) => (i % 2 === 0 ? true : t === h.trades[i - 1] || keys[i] === keys[i - 1])),
    ).toBe(true);
    const stats = sim.stats();
    expect(stats.totals.trades).toBe(400);
    expect(Object.values(stats.symbols).reduce((sum, s) => sum + s.duplicatesSent, 0)).toBe(25);
    expect(Object.values(stats.symbols).reduce((sum, s) => sum + s.trades, 0)).toBe(400);
  });
});

for (const adapter of Object.values(FEEDS)) {
  describe(`fault: malformed (${adapter.name})`, () => {
    it('sends frames the client refuses one by one, by reason, without touching the truth', async () => {
      const sim = await simFor(adapter);
      const h = await subscribed(adapter, sim);
      sim.emit(200);
      await until(() => h.trades.length >= 200, '200 trades');
      expect(sim.fault('malformed', 8)).toBe(8);
      await until(
        () => Object.values(h.client.stats.rejects).reduce((a, b) => a + b, 0) >= 8,
        '8 rejects',
        5_000,
        () => h.client.stats.rejects,
      );
      sim.emit(200);
      await until(() => h.trades.length >= 400, '400 trades');
      for (const kind of MALFORMED_KINDS) expect(h.client.stats.rejects[kind], kind).toBe(2);
      expect(h.trades).toHaveLength(400);
      expect(sim.stats().totals.trades).toBe(400);
      expect(sim.stats().connections[0]?.malformedSent).toBe(8);
    });
  });
}

describe('fault: connection-limit', () => {
  it('Polygon: says max_connections in-band, closes, and refuses the next attempts the same way', async () => {
    const sim = await simFor(polygon);
    const h = await subscribed(polygon, sim);
    expect(sim.fault('connection-limit', 1)).toBe(1);
    await until(() => h.events.some((e) => e.type === 'disconnect'), 'the disconnect event');
    expect(h.events.find((e) => e.type === 'disconnect')).toEqual({
      type: 'disconnect',
      reason: 'connection-limit',
      message: 'Maximum number of connections exceeded.',
    });
    expect(sim.stats().faults.refusalsPending).toBe(1);
    // A raw client is refused in-band too.
    const ws = new WebSocket(sim.wsUrl);
    sockets.push(ws);
    const frames: string[] = [];
    ws.on('message', (data) => frames.push(text(data)));
    const closed = await new Promise<number>((resolve) => ws.once('close', resolve));
    expect(closed).toBe(1008);
    expect(frames).toEqual([
      '[{"ev":"status","status":"max_connections","message":"Maximum number of connections exceeded."}]',
    ]);
    expect(sim.stats().faults).toMatchObject({ refusalsPending: 0, connectionLimits: 2 });
  });

  it('Alpaca: answers 406 and closes', async () => {
    const sim = await simFor(alpaca);
    const h = await subscribed(alpaca, sim);
    sim.fault('connection-limit');
    await until(() => h.events.some((e) => e.type === 'disconnect'), 'the disconnect event');
    expect(h.events.find((e) => e.type === 'disconnect')).toEqual({
      type: 'disconnect',
      reason: 'connection-limit',
      message: 'connection limit exceeded',
    });
  });

  it('Binance: closes open connections with the reason and refuses the next upgrades with HTTP 429', async () => {
    const sim = await simFor(binance);
    await subscribed(binance, sim);
    const ws = new WebSocket(sim.wsUrl);
    sockets.push(ws);
    await new Promise((resolve) => ws.once('open', resolve));
    const closing = new Promise<[number, string]>((resolve) =>
      ws.once('close', (code, reason) => resolve([code, reason.toString()])),
    );
    expect(sim.fault('connection-limit', 2)).toBe(2);
    expect(await closing).toEqual([1008, 'connection limit exceeded']);
    for (let attempt = 0; attempt < 3; attempt++) {
      const next = new WebSocket(sim.wsUrl);
      sockets.push(next);
      const outcome = await new Promise<string>((resolve) => {
        next.once('open', () => resolve('open'));
        next.once('error', (err) => resolve(err.message));
      });
      // The harness client reconnects too and may take one of the refusals first.
      if (attempt === 2) expect(outcome).toBe('open');
      else if (outcome !== 'open') expect(outcome).toBe('Unexpected server response: 429');
    }
  });
});

describe('one connection per key (connectionsPerKey: 1)', () => {
  it('Polygon: a second connection with the same key evicts the older one', async () => {
    const sim = await simFor(polygon, { connectionsPerKey: 1 });
    const first = await subscribed(polygon, sim, 'tickring/test first');
    const second = feedClient(
      polygon,
      sim.wsUrl,
      { connectionLimitBackoffMs: 60_000 },
      'tickring/test second',
    );
    clients.push(second.client);
    second.client.setSymbols(['AAPL']);
    second.client.start();
    await until(() => first.events.some((e) => e.type === 'disconnect'), 'the eviction of the first');
    await subscribedExactly(sim, ['AAPL'], 'second');
    expect(first.client.stats.connectionLimits).toBe(1);
    expect(first.client.status).toBe('backoff');
    expect(second.client.status).toBe('ready');
  });

  it('Alpaca: a second connection with the same key is refused with 406', async () => {
    const sim = await simFor(alpaca, { connectionsPerKey: 1 });
    const first = await subscribed(alpaca, sim, 'tickring/test first');
    const second = feedClient(
      alpaca,
      sim.wsUrl,
      { connectionLimitBackoffMs: 60_000 },
      'tickring/test second',
    );
    clients.push(second.client);
    second.client.start();
    await until(() => second.events.some((e) => e.type === 'disconnect'), 'the refusal of the second');
    expect(second.client.stats.connectionLimits).toBe(1);
    expect(first.client.status).toBe('ready');
    expect(first.client.stats.connects).toBe(1);
  });
});

/** The client's own aggregate: a trade or correction adds, a cancel takes its trade out. */
function amendedTally(trades: readonly Trade[]): Map<string, { trades: number; volume: number }> {
  const out = tally(trades.filter((t) => t.kind !== 'cancel'));
  for (const cancel of trades.filter((t) => t.kind === 'cancel')) {
    const entry = out.get(cancel.symbol);
    if (!entry) throw new Error(`cancel of ${cancel.symbol} before any trade`);
    entry.trades--;
    entry.volume -= cancel.size;
  }
  return out;
}

describe('faults: correction and cancel (Alpaca)', () => {
  it('amends recent trades and the truth with them', async () => {
    const sim = await simFor(alpaca);
    const h = await subscribed(alpaca, sim);
    sim.emit(600);
    await until(() => h.trades.length >= 600, '600 trades');
    expect(sim.fault('correction', 4)).toBe(4);
    expect(sim.fault('cancel', 3)).toBe(3);
    // 4 corrections arrive as a cancel and a correction each, plus 3 lone cancels.
    await until(() => h.trades.length >= 600 + 8 + 3, 'the amendments');
    const amendments = h.trades.slice(600);
    expect(amendments.filter((t) => t.kind === 'correction')).toHaveLength(4);
    expect(amendments.filter((t) => t.kind === 'cancel')).toHaveLength(7);
    for (const correction of amendments.filter((t) => t.kind === 'correction')) {
      const original = h.trades.find(
        (t) => t.kind === 'trade' && t.symbol === correction.symbol && t.id === correction.amendsId,
      );
      expect(original, correction.amendsId).toBeDefined();
      expect(correction.timeMs).toBe(original?.timeMs);
    }
    const stats = sim.stats({ ids: true });
    const mine = amendedTally(h.trades);
    let cancelled = 0;
    for (const [symbol, truth] of Object.entries(stats.symbols)) {
      expect(mine.get(symbol)?.trades ?? 0, symbol).toBe(truth.trades);
      expect(mine.get(symbol)?.volume ?? 0, symbol).toBe(truth.volume);
      cancelled += truth.cancelledIds.length;
      for (const id of truth.cancelledIds) expect(truth.ids).not.toContain(id);
      expect(truth.ids).toHaveLength(truth.trades);
    }
    expect(cancelled).toBe(7);
    expect(stats.totals).toMatchObject({ generated: 600, trades: 600 - 3 });
    expect(stats.faults).toMatchObject({ corrections: 4, cancels: 3 });
  });
});
