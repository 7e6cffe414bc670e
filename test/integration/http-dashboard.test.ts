/**
 * The dashboard's routes in-process over a fake cluster: the page and its files with their headers
 * (content types, a self-only CSP, ETags), every file the page loads actually served, and the JSON
 * routes it reads: ring geometry, members' reports gathered over HTTP (a dead member shown as
 * unreachable), the merged rebalance timeline, and market rows from each owner's memory.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATIC_DIR } from '../../src/http/static-files.js';
import { call, FakeState, startNode, type FakeNode } from './http-fake-view.js';

const T0 = Date.UTC(2024, 5, 10, 14, 30);

interface MarketAnswer {
  interval: string;
  symbols: {
    symbol: string;
    owner: string | null;
    pinned: boolean;
    answered: boolean;
    last: number | null;
    trades: number | null;
    change: number | null;
    spark: (number | null)[];
    standby: string | null;
    standbyState: 'loading' | 'live' | null;
  }[];
  nextCursor: string | null;
}

describe('the dashboard routes', () => {
  const state = new FakeState();
  let w1: FakeNode;
  let w2: FakeNode;
  let w3: FakeNode;

  beforeAll(async () => {
    for (const s of ['AAPL', 'MSFT', 'GOOG', 'DEAD']) state.symbols.add(s);
    Object.assign(state.pins, { AAPL: 'w1', MSFT: 'w2', GOOG: 'w2', DEAD: 'w3' });
    w1 = await startNode(state, 'w1');
    w2 = await startNode(state, 'w2');
    w3 = await startNode(state, 'w3');
    w1.view.trade('AAPL', T0, 3, 100);
    w1.view.trade('AAPL', T0 + 61_000, 2, 101);
    w2.view.trade('MSFT', T0, 1, 50);
    w1.view.rebalances = [
      {
        epoch: 3,
        at: '2024-06-10T14:30:01.000Z',
        ms: 12,
        gained: 1,
        lost: 0,
        gainedSymbols: ['AAPL'],
        lostSymbols: [],
        reason: 'join w1',
      },
    ];
    w2.view.rebalances = [
      {
        epoch: 3,
        at: '2024-06-10T14:30:02.000Z',
        ms: 30,
        gained: 2,
        lost: 1,
        gainedSymbols: ['GOOG', 'MSFT'],
        lostSymbols: ['AAPL'],
        reason: 'join w1',
      },
    ];
    await w3.close();
  });

  afterAll(async () => {
    await Promise.all([w1.close(), w2.close()]);
  });

  it('serves the page with a self-only CSP, the right types, and ETags', async () => {
    const page = await fetch(`${w1.url}/`);
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toMatch(/unsafe|https?:|\*/);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const etag = page.headers.get('etag') ?? '';
    expect(etag).toMatch(/^".+"$/);
    const again = await fetch(`${w1.url}/`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    // Nothing inline, nothing from elsewhere.
    expect(html).not.toMatch(/<script>|\sstyle=|\son[a-z]+=|https?:\/\//);

    const types: Record<string, string> = {
      '.js': 'text/javascript; charset=utf-8',
      '.css': 'text/css; charset=utf-8',
      '.svg': 'image/svg+xml',
    };
    const referenced = [...html.matchAll(/(?:src|href)="\/dashboard\/([^"]+)"/g)].map((m) => m[1] ?? '');
    expect(referenced).toEqual(expect.arrayContaining(['main.js', 'style.css', 'icon.svg']));
    // Every module main.js imports, transitively, is served with a JavaScript type.
    const seen = new Set<string>();
    const queue = [...referenced];
    while (queue.length > 0) {
      const name = queue.shift() ?? '';
      if (seen.has(name)) continue;
      seen.add(name);
      const response = await fetch(`${w1.url}/dashboard/${name}`);
      expect(response.status, name).toBe(200);
      expect(response.headers.get('content-type'), name).toBe(types[name.slice(name.lastIndexOf('.'))]);
      expect(response.headers.get('content-security-policy')).toBe(csp);
      const text = await response.text();
      if (name.endsWith('.js')) {
        for (const m of text.matchAll(/from '\.\/([^']+)'|import\('\.\/([^']+)'\)/g))
          queue.push(m[1] ?? m[2] ?? '');
        expect(text, `${name} must not reach out`).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
      }
    }
    expect(seen.size).toBeGreaterThan(8);
  });

  it('answers 404 for files it does not ship, also with a path in the name', async () => {
    for (const path of ['/dashboard/nope.js', '/dashboard/..%2Fapp.js', '/dashboard/tsconfig.json']) {
      const answer = await call(`${w1.url}${path}`);
      expect(answer.status, path).toBe(404);
      expect(answer.body.error?.code).toBe('not_found');
    }
    expect(readFileSync(`${STATIC_DIR}index.html`, 'utf8')).toContain('<main');
  });

  it('gives the ring geometry: arcs per member and each symbol with its owner and pin', async () => {
    const { status, body } = await call<{
      epoch: number;
      members: { id: string; share: number; arcs: [number, number][] }[];
      symbols: { symbol: string; owner: string; pinned: boolean; position: number | null }[];
    }>(`${w2.url}/v1/ring`);
    expect(status).toBe(200);
    expect(body.epoch).toBe(state.epoch);
    expect(body.members.map((m) => m.id)).toEqual(['w1', 'w2', 'w3']);
    expect(body.members.reduce((sum, m) => sum + m.share, 0)).toBeCloseTo(1, 3);
    expect(body.symbols).toContainEqual(
      expect.objectContaining({ symbol: 'AAPL', owner: 'w1', pinned: true }),
    );
    w2.view.serving = false;
    expect((await call(`${w2.url}/v1/ring`)).status).toBe(503);
    w2.view.serving = true;
  });

  it('gathers every member’s report, marking one that does not answer', async () => {
    const { status, body } = await call<{
      workers: {
        id: string;
        reachable: boolean;
        symbols: number;
        report: { id: string; symbols: number } | null;
      }[];
    }>(`${w2.url}/v1/workers`);
    expect(status).toBe(200);
    expect(body.workers.map((w) => [w.id, w.reachable, w.report?.symbols ?? null])).toEqual([
      ['w1', true, 1],
      ['w2', true, 1],
      ['w3', false, null],
    ]);
    expect(body.workers[0]?.report).not.toHaveProperty('rebalances');
    const own = await call<{ id: string; rebalances: unknown[] }>(`${w1.url}/v1/internal/worker`);
    expect(own.body).toMatchObject({ id: 'w1', rebalances: [expect.objectContaining({ epoch: 3 })] });
  });

  it('lists the relay apart, with the members behind it, and each member’s standby counts', async () => {
    const before = await call<{ relay: unknown }>(`${w1.url}/v1/workers`);
    expect(before.body.relay).toBeNull();
    state.relay = { holder: 'relay-b', token: 7, address: 'ws://127.0.0.1:9/relay', feed: 'alpaca' };
    w1.view.feedName = 'relay';
    w2.view.followed.set('AAPL', 'loading');
    w2.view.followed.set('DEAD', 'live');
    w2.view.standbyPromotions = 2;
    try {
      const { body } = await call<{
        relay: { holder: string; token: number; address: string; feed: string; usedBy: string[] } | null;
        workers: { id: string; report: { feedName: string; standby: unknown } | null }[];
      }>(`${w2.url}/v1/workers`);
      expect(body.relay).toEqual({
        holder: 'relay-b',
        token: 7,
        address: 'ws://127.0.0.1:9/relay',
        feed: 'alpaca',
        usedBy: ['w1'],
      });
      const w2Report = body.workers.find((w) => w.id === 'w2')?.report;
      expect(w2Report?.standby).toEqual({ symbols: 2, warming: 1, promotions: 2 });
      expect(body.workers.find((w) => w.id === 'w1')?.report?.feedName).toBe('relay');
      // Redis unreadable: the members still listed, the relay unknown.
      state.redisDown = true;
      const down = await call<{ relay: unknown; workers: unknown[] }>(`${w2.url}/v1/workers`);
      expect(down.status).toBe(200);
      expect(down.body.relay).toBeNull();
      expect(down.body.workers).toHaveLength(3);
    } finally {
      state.redisDown = false;
      state.relay = undefined;
      w1.view.feedName = 'sim';
      w2.view.followed.clear();
      w2.view.standbyPromotions = 0;
    }
  });

  it('shows each symbol’s standby only where the standby worker says it follows it', async () => {
    const nodes: Record<string, FakeNode> = { w1, w2 };
    const expected: Record<string, string | null> = {};
    // Every reachable candidate follows its symbols except MSFT's: that one is not claimed.
    for (const symbol of state.symbols) {
      const candidate = state.assignment().standbyOf(symbol) ?? '';
      const node = nodes[candidate];
      if (node && symbol !== 'MSFT') node.view.followed.set(symbol, symbol === 'AAPL' ? 'loading' : 'live');
      expected[symbol] = node && symbol !== 'MSFT' ? candidate : null;
    }
    // w3 is down: what it would follow is not claimed by anyone.
    expect(Object.values(expected).some((id) => id !== null)).toBe(true);
    try {
      for (const asker of [w1, w2]) {
        const { body } = await call<MarketAnswer>(`${asker.url}/v1/market`);
        for (const row of body.symbols) {
          expect(row.standby, `${row.symbol} from ${asker.view.workerId}`).toBe(expected[row.symbol]);
          const how = expected[row.symbol] === null ? null : row.symbol === 'AAPL' ? 'loading' : 'live';
          expect(row.standbyState, row.symbol).toBe(how);
          // The owner's figures stay as they were.
          if (row.symbol === 'AAPL') expect(row).toMatchObject({ owner: 'w1', answered: true, trades: 5 });
        }
      }
    } finally {
      w1.view.followed.clear();
      w2.view.followed.clear();
    }
    const plain = await call<MarketAnswer>(`${w1.url}/v1/market`);
    expect(plain.body.symbols.every((row) => row.standby === null && row.standbyState === null)).toBe(true);
    const bad = await call(`${w1.url}/v1/internal/market`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ symbols: [], standbys: ['no good'], intervalMs: 60_000, points: 5 }),
    });
    expect(bad.status).toBe(400);
  });

  it('merges the rebalance timeline by epoch', async () => {
    const { body } = await call<{
      rebalances: { epoch: number; ms: number; moved: number; reason: string; workers: { id: string }[] }[];
    }>(`${w1.url}/v1/rebalances`);
    expect(body.rebalances).toEqual([
      expect.objectContaining({
        epoch: 3,
        ms: 30,
        moved: 3,
        reason: 'join w1',
        at: '2024-06-10T14:30:02.000Z',
      }),
    ]);
    expect(body.rebalances[0]?.workers.map((w) => w.id)).toEqual(['w1', 'w2']);
    expect((await call(`${w1.url}/v1/rebalances?limit=0`)).status).toBe(400);
  });

  it('lists market rows from each owner, with sparklines, and says which owner did not answer', async () => {
    const { status, body } = await call<MarketAnswer>(`${w2.url}/v1/market?points=5`);
    expect(status).toBe(200);
    expect(body.interval).toBe('1m');
    const bySymbol = Object.fromEntries(body.symbols.map((row) => [row.symbol, row]));
    expect(Object.keys(bySymbol)).toEqual(['AAPL', 'DEAD', 'GOOG', 'MSFT']);
    expect(bySymbol['AAPL']).toMatchObject({
      owner: 'w1',
      pinned: true,
      answered: true,
      last: 101.01,
      trades: 5,
    });
    expect(bySymbol['AAPL']?.change).toBeCloseTo(1.01, 6);
    expect(bySymbol['AAPL']?.spark).toEqual([100.02, 101.01]);
    expect(bySymbol['MSFT']).toMatchObject({ owner: 'w2', answered: true, last: 50, spark: [50] });
    expect(bySymbol['DEAD']).toMatchObject({ owner: 'w3', answered: false, last: null, spark: [] });
    // GOOG is w2's but has had no trade: not live, so not answered either.
    expect(bySymbol['GOOG']?.answered).toBe(false);

    const page = await call<MarketAnswer>(`${w1.url}/v1/market?limit=2`);
    expect(page.body.symbols.map((r) => r.symbol)).toEqual(['AAPL', 'DEAD']);
    const next = await call<MarketAnswer>(
      `${w1.url}/v1/market?limit=2&cursor=${encodeURIComponent(page.body.nextCursor ?? '')}`,
    );
    expect(next.body.symbols.map((r) => r.symbol)).toEqual(['GOOG', 'MSFT']);
    expect(next.body.nextCursor).toBeNull();
    const owned = await call<MarketAnswer>(`${w1.url}/v1/market?owner=w2&interval=1s`);
    expect(owned.body.symbols.map((r) => r.symbol)).toEqual(['GOOG', 'MSFT']);
    expect(owned.body.interval).toBe('1s');
    for (const bad of ['points=0', 'points=61', 'interval=7m', 'limit=0', 'nope=1']) {
      expect((await call(`${w1.url}/v1/market?${bad}`)).status, bad).toBe(400);
    }
  });
});
