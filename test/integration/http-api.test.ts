/**
 * The read API in-process, over real HTTP on port 0: three fake workers share one fake cluster, so
 * every answer path is reached on demand: the owner from memory, a non-owner by forwarding, and
 * with the owner gone, Redis marked stale (or 503 when Redis has nothing). Every parameter's
 * rejection is checked to name the parameter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SymbolAggregate } from '../../src/aggregate/index.js';
import type { CheckpointRecord } from '../../src/cluster/checkpoints.js';
import { call, FakeState, startNode, type FakeNode } from './http-fake-view.js';

const T0 = Date.UTC(2024, 5, 10, 14, 30, 0);

function checkpointOf(node: FakeNode, symbol: string, ageMs: number): CheckpointRecord {
  const aggregate = node.view.aggregates.get(symbol);
  if (!aggregate) throw new Error(`no aggregate for ${symbol}`);
  return {
    v: 1,
    owner: node.id,
    epoch: node.view.epoch(),
    writtenAt: Date.now() - ageMs,
    watermark: '',
    final: false,
    aggregate: aggregate.toCheckpoint(),
  };
}

describe('the symbol API on a fake cluster of three workers', () => {
  const state = new FakeState();
  let w1: FakeNode;
  let w2: FakeNode;
  let w3: FakeNode;

  beforeAll(async () => {
    for (const s of ['AAPL', 'AMD', 'AMZN', 'BRK.B', 'MSFT', 'GOOG', 'NVDA', 'BTC/USD']) state.symbols.add(s);
    Object.assign(state.pins, {
      AAPL: 'w1',
      AMD: 'w1',
      AMZN: 'w2',
      'BRK.B': 'w1',
      MSFT: 'w2',
      GOOG: 'w3',
      NVDA: 'w3',
      'BTC/USD': 'w2',
    });
    w1 = await startNode(state, 'w1');
    w2 = await startNode(state, 'w2');
    w3 = await startNode(state, 'w3');
    // AAPL trades in three minutes; MSFT in one; BTC/USD once.
    w1.view.trade('AAPL', T0, 3, 190);
    w1.view.trade('AAPL', T0 + 60_000, 2, 191);
    w1.view.trade('AAPL', T0 + 120_500, 1, 192);
    w1.view.trade('BRK.B', T0, 1, 410);
    w2.view.trade('MSFT', T0, 4, 420);
    w2.view.trade('BTC/USD', T0, 1, 65_000);
  });

  afterAll(async () => {
    await Promise.all([w1, w2, w3].map((node) => node.close()));
  });

  describe('GET /v1/symbols/{symbol}', () => {
    it('answers from the owner’s memory, saying who answered at which epoch', async () => {
      const { status, body, headers } = await call(`${w1.url}/v1/symbols/AAPL`);
      expect(status).toBe(200);
      expect(headers.get('content-type')).toContain('application/json');
      expect(body).toMatchObject({
        symbol: 'AAPL',
        owner: 'w1',
        answeredBy: 'w1',
        epoch: state.epoch,
        stale: false,
        ageMs: 0,
        trades: 6,
        volume: 600,
      });
      expect(body.forwardedTo).toBeUndefined();
    });

    it('serves the same bytes while the symbol is unchanged, and new ones after a trade or another aggregate', async () => {
      const first = await call(`${w1.url}/v1/symbols/BRK.B`);
      const again = await call(`${w1.url}/v1/symbols/BRK.B`);
      expect(again.text).toBe(first.text);
      w1.view.trade('BRK.B', T0 + 1, 1, 411);
      const after = await call(`${w1.url}/v1/symbols/BRK.B`);
      expect(after.body.trades).toBe((first.body.trades ?? 0) + 1);
      // A symbol re-loaded at the same epoch starts another aggregate, its change count from zero.
      const original = w1.view.aggregates.get('BRK.B');
      w1.view.aggregates.set('BRK.B', new SymbolAggregate('BRK.B'));
      const reloaded = await call(`${w1.url}/v1/symbols/BRK.B`);
      expect(reloaded.body.trades).toBe(0);
      if (original) w1.view.aggregates.set('BRK.B', original);
      expect((await call(`${w1.url}/v1/symbols/BRK.B`)).text).toBe(after.text);
    });

    it('forwards from a non-owner to the owner', async () => {
      const { status, body } = await call(`${w3.url}/v1/symbols/AAPL`);
      expect(status).toBe(200);
      expect(body).toMatchObject({
        owner: 'w1',
        answeredBy: 'w3',
        forwardedTo: 'w1',
        stale: false,
        trades: 6,
      });
    });

    it('decodes URL-encoded symbols', async () => {
      const { status, body } = await call(`${w1.url}/v1/symbols/${encodeURIComponent('BTC/USD')}`);
      expect(status).toBe(200);
      expect(body).toMatchObject({ symbol: 'BTC/USD', owner: 'w2', forwardedTo: 'w2', trades: 1 });
    });

    it('refuses a forwarded request for a symbol it does not own at the caller’s epoch (409)', async () => {
      const headers = { 'x-tickring-forwarded': 'w3', 'x-tickring-min-epoch': String(state.epoch) };
      const notMine = await call(`${w1.url}/v1/symbols/MSFT`, { headers });
      expect(notMine.status).toBe(409);
      expect(notMine.body.error?.code).toBe('not_owner');
      const future = await call(`${w1.url}/v1/symbols/AAPL`, {
        headers: { ...headers, 'x-tickring-min-epoch': String(state.epoch + 1) },
      });
      expect(future.status).toBe(409);
    });

    it('answers 400 for a malformed symbol, naming the parameter', async () => {
      const { status, body } = await call(`${w1.url}/v1/symbols/${encodeURIComponent('a$b')}`);
      expect(status).toBe(400);
      expect(body.error).toMatchObject({ code: 'bad_request', param: 'symbol' });
      expect(body.error?.message).toContain('a$b');
    });

    it('answers 404 for a symbol outside the universe, after re-reading the ring', async () => {
      const before = w1.view.refreshes;
      const { status, body } = await call(`${w1.url}/v1/symbols/ZZZZ`);
      expect(status).toBe(404);
      expect(body.error).toMatchObject({ code: 'not_found', param: 'symbol' });
      expect(w1.view.refreshes).toBe(before + 1);
    });

    it('rejects unknown and repeated query parameters', async () => {
      const unknown = await call(`${w1.url}/v1/symbols/AAPL?fields=all`);
      expect(unknown.status).toBe(400);
      expect(unknown.body.error?.param).toBe('fields');
      const repeated = await call(`${w1.url}/v1/symbols/AAPL/bars?limit=1&limit=2`);
      expect(repeated.status).toBe(400);
      expect(repeated.body.error?.param).toBe('limit');
    });
  });

  describe('GET /v1/symbols/{symbol}/bars', () => {
    it('answers the owner’s bars, oldest first, the open one last and incomplete', async () => {
      const { status, body } = await call(`${w1.url}/v1/symbols/AAPL/bars?interval=1m`);
      expect(status).toBe(200);
      expect(body).toMatchObject({ symbol: 'AAPL', interval: '1m', owner: 'w1', stale: false });
      expect(body.bars?.map((b) => [b.start, b.trades, b.complete])).toEqual([
        [new Date(T0).toISOString(), 3, true],
        [new Date(T0 + 60_000).toISOString(), 2, true],
        [new Date(T0 + 120_000).toISOString(), 1, false],
      ]);
    });

    it('applies limit (the newest) and from/to (by bar start, inclusive), in ms or ISO 8601', async () => {
      const newest = await call(`${w2.url}/v1/symbols/AAPL/bars?interval=1m&limit=1`);
      expect(newest.body.forwardedTo).toBe('w1');
      expect(newest.body.bars?.map((b) => b.start)).toEqual([new Date(T0 + 120_000).toISOString()]);
      const from = new Date(T0 + 60_000).toISOString();
      const ranged = await call(`${w1.url}/v1/symbols/AAPL/bars?interval=1m&from=${from}&to=${T0 + 60_000}`);
      expect(ranged.body.bars?.map((b) => b.trades)).toEqual([2]);
      const offset = await call(
        `${w1.url}/v1/symbols/AAPL/bars?interval=1s&from=${encodeURIComponent('2024-06-10T10:30:00.000-04:00')}&to=${T0 + 999}`,
      );
      expect(offset.body.bars?.map((b) => [b.start, b.trades])).toEqual([[new Date(T0).toISOString(), 3]]);
    });

    it('merges the Redis history under the bars memory still keeps; memory wins', async () => {
      const old = T0 - 3_600_000;
      state.history.set('60000:AAPL', [
        {
          intervalMs: 60_000,
          start: old,
          open: 1,
          high: 1,
          low: 1,
          close: 1,
          volume: 5,
          vwap: 1,
          trades: 1,
          amended: false,
          complete: true,
        },
        // A stale version of a bar memory holds: memory's version (3 trades) must win.
        {
          intervalMs: 60_000,
          start: T0,
          open: 1,
          high: 1,
          low: 1,
          close: 1,
          volume: 1,
          vwap: 1,
          trades: 99,
          amended: false,
          complete: true,
        },
      ]);
      const all = await call(`${w3.url}/v1/symbols/AAPL/bars?interval=1m&limit=10`);
      expect(all.body.bars?.map((b) => b.trades)).toEqual([1, 3, 2, 1]);
      const onlyOld = await call(`${w1.url}/v1/symbols/AAPL/bars?interval=1m&to=${T0 - 1}`);
      expect(onlyOld.body.bars?.map((b) => b.start)).toEqual([new Date(old).toISOString()]);
      state.history.clear();
    });

    it('validates every parameter with a 400 naming it', async () => {
      const cases: [string, string][] = [
        ['interval=2m', 'interval'],
        ['interval=', 'interval'],
        ['limit=0', 'limit'],
        ['limit=1001', 'limit'],
        ['limit=1.5', 'limit'],
        ['from=yesterday', 'from'],
        ['to=2024-06-10T14:30:00', 'to'],
        [`from=${T0 + 1}&to=${T0}`, 'from'],
        ['symbol=AAPL', 'symbol'],
      ];
      for (const [query, param] of cases) {
        const { status, body } = await call(`${w1.url}/v1/symbols/AAPL/bars?${query}`);
        expect(status, query).toBe(400);
        expect(body.error?.param, query).toBe(param);
      }
      const { body } = await call(`${w1.url}/v1/symbols/AAPL/bars?interval=2m`);
      expect(body.error?.message).toContain('1s, 1m, 5m');
    });
  });

  describe('GET /v1/symbols', () => {
    it('lists the universe sorted, with each owner’s trade count', async () => {
      const { status, body } = await call(`${w3.url}/v1/symbols`);
      expect(status).toBe(200);
      expect(body.symbols?.map((s) => s.symbol)).toEqual([...state.symbols].sort());
      expect(body.symbols?.find((s) => s.symbol === 'AAPL')).toEqual({
        symbol: 'AAPL',
        owner: 'w1',
        trades: 6,
        lastPrice: 192,
      });
      expect(body.symbols?.find((s) => s.symbol === 'GOOG')).toMatchObject({ owner: 'w3', trades: null });
      expect(body.nextCursor).toBeNull();
    });

    it('filters by prefix and owner', async () => {
      const prefix = await call(`${w1.url}/v1/symbols?prefix=AM`);
      expect(prefix.body.symbols?.map((s) => s.symbol)).toEqual(['AMD', 'AMZN']);
      const owner = await call(`${w1.url}/v1/symbols?owner=w1`);
      expect(owner.body.symbols?.map((s) => s.symbol)).toEqual(['AAPL', 'AMD', 'BRK.B']);
      const both = await call(`${w1.url}/v1/symbols?owner=w2&prefix=A`);
      expect(both.body.symbols?.map((s) => s.symbol)).toEqual(['AMZN']);
    });

    it('pages with limit and an opaque cursor until nextCursor is null', async () => {
      const seen: string[] = [];
      let cursor: string | null | undefined = undefined;
      let pages = 0;
      do {
        const query: string = cursor ? `limit=3&cursor=${cursor}` : 'limit=3';
        const { status, body } = await call(`${w2.url}/v1/symbols?${query}`);
        expect(status).toBe(200);
        seen.push(...(body.symbols ?? []).map((s) => s.symbol));
        cursor = body.nextCursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(3);
      expect(seen).toEqual([...state.symbols].sort());
    });

    it('rejects a bad limit, cursor, prefix or owner', async () => {
      for (const [query, param] of [
        ['limit=0', 'limit'],
        ['cursor=!!', 'cursor'],
        ['prefix=aa', 'prefix'],
        ['owner=%20', 'owner'],
        ['scope=local', 'scope'],
      ]) {
        const { status, body } = await call(`${w1.url}/v1/symbols?${query}`);
        expect(status, query).toBe(400);
        expect(body.error?.param, query).toBe(param);
      }
    });
  });

  describe('readiness', () => {
    it('/healthz is 200 while the process runs; /readyz says why it is not ready', async () => {
      expect((await call(`${w1.url}/healthz`)).status).toBe(200);
      w1.view.ready = false;
      const { status, body } = await call(`${w1.url}/readyz`);
      w1.view.ready = true;
      expect(status).toBe(503);
      expect(body).toMatchObject({ ready: false, reasons: ['feed is connecting'] });
      expect((await call(`${w1.url}/readyz`)).status).toBe(200);
    });

    it('answers 503 not_ready with Retry-After on symbol routes while it cannot serve', async () => {
      w2.view.serving = false;
      try {
        for (const path of [
          '/v1/symbols',
          '/v1/symbols/AAPL',
          '/v1/symbols/AAPL/bars',
          '/v1/stream?symbols=AAPL',
        ]) {
          const { status, body, headers } = await call(`${w2.url}${path}`);
          expect(status, path).toBe(503);
          expect(body.error?.code, path).toBe('not_ready');
          expect(headers.get('retry-after'), path).toBe('1');
        }
        // A parameter error is still a 400: validation comes first.
        expect((await call(`${w2.url}/v1/symbols/AAPL/bars?limit=0`)).status).toBe(400);
      } finally {
        w2.view.serving = true;
      }
    });
  });

  describe('routing', () => {
    it('answers 404 for unknown routes and 405 with Allow for wrong methods', async () => {
      const missing = await call(`${w1.url}/v2/nothing`);
      expect(missing.status).toBe(404);
      expect(missing.body.error?.code).toBe('not_found');
      const wrong = await call(`${w1.url}/v1/cluster`, { method: 'PUT' });
      expect(wrong.status).toBe(405);
      expect(wrong.headers.get('allow')).toBe('GET');
    });

    it('records request durations by route template, never by symbol', async () => {
      const { text } = await call(`${w1.url}/metrics`);
      expect(text).toContain(
        'tickring_http_request_seconds_count{route="/v1/symbols/{symbol}",status="200"}',
      );
      expect(text).not.toContain('AAPL');
    });
  });

  describe('when the owner is gone', () => {
    it('falls back to the checkpoint marked stale with its age, or 503 without one', async () => {
      state.checkpoints.set('AAPL', checkpointOf(w1, 'AAPL', 5_000));
      await w1.close();
      const { status, body } = await call(`${w2.url}/v1/symbols/AAPL`);
      expect(status).toBe(200);
      expect(body).toMatchObject({ symbol: 'AAPL', owner: 'w1', answeredBy: 'w2', stale: true, trades: 6 });
      expect(body.ageMs).toBeGreaterThanOrEqual(5_000);
      expect(body.forwardedTo).toBeUndefined();
      // The forward failed, so the ring was re-read once before falling back.
      expect(w2.view.refreshes).toBeGreaterThan(0);

      const none = await call(`${w2.url}/v1/symbols/AMD`);
      expect(none.status).toBe(503);
      expect(none.body.error?.code).toBe('unavailable');
    });

    it('answers bars from the checkpoint and the Redis history, marked stale', async () => {
      state.history.set('60000:AAPL', [
        {
          intervalMs: 60_000,
          start: T0 - 60_000,
          open: 1,
          high: 1,
          low: 1,
          close: 1,
          volume: 7,
          vwap: 1,
          trades: 7,
          amended: false,
          complete: true,
        },
      ]);
      const { status, body } = await call(`${w3.url}/v1/symbols/AAPL/bars?interval=1m`);
      expect(status).toBe(200);
      expect(body).toMatchObject({ stale: true, answeredBy: 'w3', interval: '1m' });
      expect(body.bars?.map((b) => b.trades)).toEqual([7, 3, 2, 1]);
    });

    it('answers 503 when Redis is unreachable too', async () => {
      state.redisDown = true;
      try {
        const { status, body } = await call(`${w3.url}/v1/symbols/AAPL`);
        expect(status).toBe(503);
        expect(body.error?.code).toBe('unavailable');
        expect((await call(`${w3.url}/v1/symbols/AAPL/bars`)).status).toBe(503);
      } finally {
        state.redisDown = false;
      }
    });
  });
});
