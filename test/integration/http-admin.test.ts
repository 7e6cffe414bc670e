/**
 * Admin writes in-process: off without a token (403 saying how to turn them on), 401 without or with
 * a wrong bearer token, and with the right one, symbols added and removed through the view. Bodies
 * are JSON only and size-limited; every symbol is validated and a bad one named by its index.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, FakeState, startNode, TOKEN, type FakeNode } from './http-fake-view.js';

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
    expect(guarded.view.adminCalls).toEqual([]);
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
