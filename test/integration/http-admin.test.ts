/**
 * Admin writes in-process: off without a token (403 saying how to turn them on), 401 without or with
 * a wrong bearer token, and with the right one, symbols added and removed through the view. Bodies
 * are JSON only and size-limited; every symbol is validated and a bad one named by its index.
 * Pins and drain run against a real Redis with two live members, and each success is checked by
 * reading the ring record back.
 */
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Membership, readRingRecord } from '../../src/cluster/membership.js';
import { drainMember, pinSymbol, unpinSymbol } from '../../src/cluster/placement-admin.js';
import { addSymbols } from '../../src/cluster/universe.js';
import { buildApp, type AppServer } from '../../src/http/app.js';
import type { PlacementWrites } from '../../src/http/cluster-view.js';
import { registerScripts } from '../../src/redis/scripts.js';
import { REDIS_URL, testCluster, type TestCluster } from '../support/redis.js';
import { eventually } from '../support/workers.js';
import { call, fakeMetrics, FakeState, FakeView, startNode, TOKEN, type FakeNode } from './http-fake-view.js';

describe('admin writes', () => {
  const state = new FakeState();
  let guarded: FakeNode;
  let open: FakeNode;
  const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

  beforeAll(async () => {
    state.symbols.add('AAPL');
    guarded = await startNode(state, 'w1', { adminToken: TOKEN, bodyLimit: 1_024 });
    open = await startNode(state, 'w2');
  });

  afterAll(async () => {
    await Promise.all([guarded.close(), open.close()]);
  });

  function post(node: FakeNode, body: string, headers: Record<string, string> = auth) {
    return call(`${node.url}/v1/symbols`, { method: 'POST', headers, body });
  }

  it('are off (403) on a worker without an admin token, saying how to turn them on', async () => {
    const { status, body } = await post(open, '{"symbols":["TSLA"]}');
    expect(status).toBe(403);
    expect(body.error?.code).toBe('forbidden');
    expect(body.error?.message).toContain('--admin-token');
    expect((await call(`${open.url}/v1/symbols/AAPL`, { method: 'DELETE', headers: auth })).status).toBe(403);
    for (const [method, path, body] of [
      ['PUT', '/v1/pins/AAPL', '{"worker":"w1"}'],
      ['DELETE', '/v1/pins/AAPL', undefined],
      ['POST', '/v1/members/w1/drain', undefined],
    ] as const) {
      const answer = await call(`${open.url}${path}`, { method, headers: auth, ...(body ? { body } : {}) });
      expect(answer.status, path).toBe(403);
      expect(answer.body.error?.code, path).toBe('forbidden');
    }
    expect(open.view.adminCalls).toEqual([]);
  });

  it('answer 401 with WWW-Authenticate without a token or with a wrong one', async () => {
    const missing = await post(guarded, '{"symbols":["TSLA"]}', { 'content-type': 'application/json' });
    expect(missing.status).toBe(401);
    expect(missing.body.error?.code).toBe('unauthorized');
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="tickring"');
    for (const header of [
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(1)}`,
      `Basic ${TOKEN}`,
      TOKEN,
      'Bearer ',
    ]) {
      const { status } = await post(guarded, '{"symbols":["TSLA"]}', { ...auth, authorization: header });
      expect(status, header).toBe(401);
    }
    const wrong = await call(`${guarded.url}/v1/symbols/AAPL`, {
      method: 'DELETE',
      headers: { authorization: 'Bearer nope-nope-nope-nope' },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toContain('invalid_token');
    for (const [method, path] of [
      ['PUT', '/v1/pins/AAPL'],
      ['DELETE', '/v1/pins/AAPL'],
      ['POST', '/v1/members/w1/drain'],
    ] as const) {
      // Authentication comes before validation: even a malformed body answers 401.
      const noToken = await call(`${guarded.url}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        ...(method === 'PUT' ? { body: '{"worker":' } : {}),
      });
      expect(noToken.status, path).toBe(401);
      expect(noToken.body.error?.code, path).toBe('unauthorized');
      const badToken = await call(`${guarded.url}${path}`, {
        method,
        headers: { ...auth, authorization: `Bearer ${TOKEN}x` },
        ...(method === 'PUT' ? { body: '{"worker":"w1"}' } : {}),
      });
      expect(badToken.status, path).toBe(401);
    }
    expect(guarded.view.adminCalls).toEqual([]);
    expect(state.pins).toEqual({});
    expect(state.symbols.has('TSLA')).toBe(false);
  });

  it('add symbols with the right token, bumping the epoch; repeats are counted as unchanged', async () => {
    const epoch = state.epoch;
    const { status, body } = await post(
      guarded,
      JSON.stringify({ symbols: ['TSLA', 'NFLX', 'TSLA', 'AAPL'] }),
    );
    expect(status).toBe(200);
    expect(body).toEqual({ added: 2, unchanged: 1, epoch: epoch + 1 });
    expect(state.symbols.has('TSLA') && state.symbols.has('NFLX')).toBe(true);
  });

  it('remove a symbol, and answer 404 for one not in the universe', async () => {
    const { status, body } = await call(`${guarded.url}/v1/symbols/NFLX`, {
      method: 'DELETE',
      headers: auth,
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({ removed: 1 });
    expect(state.symbols.has('NFLX')).toBe(false);
    const again = await call(`${guarded.url}/v1/symbols/NFLX`, { method: 'DELETE', headers: auth });
    expect(again.status).toBe(404);
    expect(again.body.error?.code).toBe('not_found');
  });

  it('validate the body: JSON only, the right shape, every symbol', async () => {
    const cases: [string, Record<string, string>, number, string | undefined][] = [
      ['{"symbols":["TSLA"]}', { ...auth, 'content-type': 'text/plain' }, 415, undefined],
      ['{"symbols":', auth, 400, 'body'],
      ['["TSLA"]', auth, 400, 'body'],
      ['{"symbols":[]}', auth, 400, 'symbols'],
      ['{"symbols":"TSLA"}', auth, 400, 'symbols'],
      ['{"symbols":["TSLA","bad one"]}', auth, 400, 'symbols[1]'],
      ['{"symbols":["TSLA"],"pin":"w1"}', auth, 400, 'pin'],
    ];
    for (const [text, headers, status, param] of cases) {
      const answer = await post(guarded, text, headers);
      expect(answer.status, text).toBe(status);
      expect(answer.body.error?.param, text).toBe(param);
    }
  });

  it('refuse a body over the limit with 413 without reading it all', async () => {
    const big = JSON.stringify({ symbols: Array.from({ length: 300 }, (_, i) => `S${i}`) });
    expect(big.length).toBeGreaterThan(1_024);
    const { status, body } = await post(guarded, big);
    expect(status).toBe(413);
    expect(body.error?.code).toBe('payload_too_large');
  });

  it('stop reading a chunked body (no Content-Length) once it passes the limit, and answer 413', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${guarded.url}/v1/symbols`, { method: 'POST', headers: auth }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', reject);
      // Keeps sending well past the limit; the worker answers without waiting for the end.
      const chunk = `{"symbols":[${'"AAAA",'.repeat(200)}`;
      req.write(chunk);
      req.write(chunk);
      req.write(chunk);
    });
    expect(status).toBe(413);
  });

  it('answer 503 when Redis refuses the change', async () => {
    state.redisDown = true;
    try {
      const { status, body } = await post(guarded, '{"symbols":["ORCL"]}');
      expect(status).toBe(503);
      expect(body.error?.code).toBe('unavailable');
    } finally {
      state.redisDown = false;
    }
  });
});

/** A fake view whose placement writes go to a real Redis, as the worker's view does. */
class RedisPlacementView extends FakeView {
  constructor(
    id: string,
    state: FakeState,
    override readonly placement: PlacementWrites,
  ) {
    super(id, state);
  }
}

describe('pin and drain writes against Redis', () => {
  let env: TestCluster;
  let app: AppServer;
  let url: string;
  const opened: Redis[] = [];
  const members: Membership[] = [];
  const silent = pino({ level: 'silent' });
  const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

  function connection(): Redis {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    registerScripts(redis);
    redis.on('error', () => undefined);
    opened.push(redis);
    return redis;
  }

  const ring = () => readRingRecord(env.redis, env.keys);

  beforeAll(async () => {
    env = await testCluster('http-admin');
    await addSymbols(env.redis, env.keys, ['AAPL', 'MSFT', 'IBM']);
    for (const id of ['p1', 'p2']) {
      const member = new Membership(
        connection(),
        connection(),
        env.keys,
        {
          id,
          address: `http://${id}`,
          leaseMs: 2_000,
          heartbeatMs: 200,
          pollMs: 100,
          settleMs: 0,
          settleMaxMs: 0,
        },
        silent,
      );
      members.push(member);
      await member.start();
    }
    await eventually('both on the ring', async () =>
      (await ring()).members.map((m) => m.id).join(',') === 'p1,p2' ? true : undefined,
    );
    const placement: PlacementWrites = {
      pin: (symbol, workerId) => pinSymbol(env.redis, env.keys, symbol, workerId),
      unpin: (symbol) => unpinSymbol(env.redis, env.keys, symbol),
      drain: (workerId) => drainMember(env.redis, env.keys, workerId),
    };
    app = buildApp(
      {
        view: new RedisPlacementView('p1', new FakeState(), placement),
        metrics: fakeMetrics(),
        logger: silent,
      },
      { adminToken: TOKEN, bodyLimit: 1_024 },
    );
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => {
      app.closeAllConnections();
      app.close(() => resolve());
    });
    for (const member of members) member.close();
    for (const redis of opened) redis.disconnect();
    await env.cleanup();
  });

  const pin = (symbol: string, body: string, headers: Record<string, string> = auth) =>
    call(`${url}/v1/pins/${symbol}`, { method: 'PUT', headers, body });

  it('pins a symbol to a member: the ring record holds the pin at the answered epoch', async () => {
    const before = (await ring()).epoch;
    const { status, body } = await pin('AAPL', '{"worker":"p2"}');
    expect(status).toBe(200);
    const record = await ring();
    expect(body).toEqual({ symbol: 'AAPL', worker: 'p2', changed: true, epoch: record.epoch });
    expect(record.epoch).toBe(before + 1);
    expect(record.pins).toEqual({ AAPL: 'p2' });
    const again = await pin('AAPL', '{"worker":"p2"}');
    expect(again.body).toEqual({ symbol: 'AAPL', worker: 'p2', changed: false, epoch: record.epoch });
    expect((await ring()).epoch).toBe(record.epoch);
  });

  it('refuses a pin to an unknown symbol (404) or a worker not in the ring (409), changing nothing', async () => {
    const before = await ring();
    const unknown = await pin('NOPE', '{"worker":"p2"}');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: 'not_found', param: 'symbol' });
    const stranger = await pin('MSFT', '{"worker":"p9"}');
    expect(stranger.status).toBe(409);
    expect(stranger.body.error).toMatchObject({ code: 'not_member', param: 'worker' });
    expect(await ring()).toEqual(before);
  });

  it('validates the pin: symbol, JSON body, worker id, unknown fields, size', async () => {
    const before = await ring();
    const cases: [string, string, Record<string, string>, number, string | undefined][] = [
      ['a%24b', '{"worker":"p2"}', auth, 400, 'symbol'],
      ['MSFT', '{"worker":"p2"}', { ...auth, 'content-type': 'text/plain' }, 415, undefined],
      ['MSFT', '{"worker":', auth, 400, 'body'],
      ['MSFT', '["p2"]', auth, 400, 'body'],
      ['MSFT', '{}', auth, 400, 'worker'],
      ['MSFT', '{"worker":7}', auth, 400, 'worker'],
      ['MSFT', '{"worker":"bad id"}', auth, 400, 'worker'],
      ['MSFT', `{"worker":"${'w'.repeat(65)}"}`, auth, 400, 'worker'],
      ['MSFT', '{"worker":"p2","weight":2}', auth, 400, 'weight'],
      ['MSFT', JSON.stringify({ worker: 'p2', pad: 'x'.repeat(2_000) }), auth, 413, undefined],
    ];
    for (const [symbol, text, headers, status, param] of cases) {
      const answer = await pin(symbol, text, headers);
      expect(answer.status, text.slice(0, 40)).toBe(status);
      expect(answer.body.error?.param, text.slice(0, 40)).toBe(param);
    }
    const query = await call(`${url}/v1/pins/MSFT?force=1`, {
      method: 'PUT',
      headers: auth,
      body: '{"worker":"p2"}',
    });
    expect(query.status).toBe(400);
    expect(await ring()).toEqual(before);
  });

  it('unpins: the pin leaves the ring record; a symbol without a pin answers 404 not_pinned', async () => {
    const before = (await ring()).epoch;
    const { status, body } = await call(`${url}/v1/pins/AAPL`, { method: 'DELETE', headers: auth });
    expect(status).toBe(200);
    const record = await ring();
    expect(body).toEqual({ symbol: 'AAPL', unpinned: true, epoch: before + 1 });
    expect(record.epoch).toBe(before + 1);
    expect(record.pins).toEqual({});
    const again = await call(`${url}/v1/pins/AAPL`, { method: 'DELETE', headers: auth });
    expect(again.status).toBe(404);
    expect(again.body.error).toMatchObject({ code: 'not_pinned', param: 'symbol' });
    const bad = await call(`${url}/v1/pins/a%20b`, { method: 'DELETE', headers: auth });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.param).toBe('symbol');
    expect((await ring()).epoch).toBe(before + 1);
  });

  it('drains a member (202): the ring record lists it draining; refuses unknown, malformed and last members', async () => {
    const drain = (id: string) => call(`${url}/v1/members/${id}/drain`, { method: 'POST', headers: auth });
    const before = (await ring()).epoch;
    const unknown = await drain('p9');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: 'not_member', param: 'id' });
    const malformed = await drain('bad%20id');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error?.param).toBe('id');
    expect((await ring()).epoch).toBe(before);

    const { status, body } = await drain('p2');
    expect(status).toBe(202);
    const record = await ring();
    expect(body).toEqual({ worker: 'p2', draining: true, changed: true, epoch: before + 1 });
    expect(record.epoch).toBe(before + 1);
    expect(record.members.find((m) => m.id === 'p2')?.draining).toBe(true);
    expect(record.members.find((m) => m.id === 'p1')?.draining).toBeUndefined();

    const last = await drain('p1');
    expect(last.status).toBe(409);
    expect(last.body.error).toMatchObject({ code: 'last_member', param: 'id' });
    expect((await ring()).members.find((m) => m.id === 'p1')?.draining).toBeUndefined();
  });
});
