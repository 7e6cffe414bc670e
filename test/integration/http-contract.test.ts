/**
 * The OpenAPI contract: the document served at `/openapi.json` lists exactly the routes the router
 * has, every `$ref` in it resolves, and every answer the API gives (each route, success and error
 * cases, forwarded and stale answers, stream events) is a status the document lists for that route,
 * with a body its schema accepts. The schemas forbid unknown properties, so a field added to an
 * answer without documenting it fails here.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckpointRecord } from '../../src/cluster/checkpoints.js';
import { OPENAPI_DOCUMENT } from '../../src/http/openapi.js';
import { API_ERROR_CODES } from '../../src/http/respond.js';
import { call, FakeState, startNode, TOKEN, type FakeNode } from './http-fake-view.js';

type Json = Record<string, unknown>;

const DOC_ID = 'tickring-openapi';
const doc = OPENAPI_DOCUMENT as Json;
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema({ ...doc, $id: DOC_ID });

const escape = (segment: string): string => segment.replace(/~/g, '~0').replace(/\//g, '~1');

function at(pointer: string): unknown {
  let node: unknown = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = typeof node === 'object' && node !== null ? (node as Json)[key] : undefined;
  }
  return node;
}

const validators = new Map<string, ValidateFunction>();
function validatorAt(pointer: string): ValidateFunction {
  let validate = validators.get(pointer);
  if (!validate) {
    validate = ajv.compile({ $ref: `${DOC_ID}#${pointer}` });
    validators.set(pointer, validate);
  }
  return validate;
}

/** The pointer of the response object documented for `status`, following a `$ref`. */
function responsePointer(path: string, method: string, status: number): string {
  const pointer = `/paths/${escape(path)}/${method.toLowerCase()}/responses/${status}`;
  const response = at(pointer) as Json | undefined;
  if (!response) throw new Error(`${method} ${path} answered ${status}, which the document does not list`);
  const ref = response['$ref'];
  return typeof ref === 'string' ? ref.slice(1) : pointer;
}

/** Checks one answer against the document: listed status, documented media type, valid body. */
function expectConforms(
  path: string,
  method: string,
  answer: { status: number; headers: Headers; text: string },
): void {
  const pointer = responsePointer(path, method, answer.status);
  const content = (at(pointer) as Json)['content'] as Json | undefined;
  const type = (answer.headers.get('content-type') ?? '').split(';')[0] ?? '';
  expect(content, `${method} ${path} ${answer.status} documents no content`).toBeDefined();
  expect(Object.keys(content ?? {}), `${method} ${path} ${answer.status}`).toContain(type);
  if (type !== 'application/json') return;
  const validate = validatorAt(`${pointer}/content/${escape(type)}/schema`);
  const body: unknown = JSON.parse(answer.text);
  if (!validate(body)) {
    throw new Error(
      `${method} ${path} ${answer.status}: ${ajv.errorsText(validate.errors)}\n${answer.text.slice(0, 400)}`,
    );
  }
}

const T0 = Date.UTC(2024, 5, 10, 14, 30);

describe('the OpenAPI document', () => {
  const state = new FakeState();
  let w1: FakeNode;
  let w2: FakeNode;
  let gone: FakeNode;
  const covered = new Set<string>();

  async function check(
    node: FakeNode,
    method: string,
    path: string,
    concrete: string,
    init: RequestInit = {},
  ): Promise<{ status: number; body: unknown }> {
    const answer = await call(`${node.url}${concrete}`, { ...init, method });
    expectConforms(path, method, answer);
    covered.add(`${method} ${path} ${answer.status}`);
    return answer;
  }

  beforeAll(async () => {
    for (const s of ['AAPL', 'MSFT', 'GOOG', 'DEAD']) state.symbols.add(s);
    Object.assign(state.pins, { AAPL: 'w1', MSFT: 'w2', GOOG: 'w2', DEAD: 'w3' });
    w1 = await startNode(state, 'w1', { adminToken: TOKEN, bodyLimit: 512, stream: { flushMs: 20 } });
    w2 = await startNode(state, 'w2');
    gone = await startNode(state, 'w3');
    w1.view.trade('AAPL', T0, 3);
    w1.view.trade('AAPL', T0 + 61_000, 1);
    w2.view.trade('MSFT', T0, 2);
    const dead = gone.view.trade('DEAD', T0, 5);
    const record: CheckpointRecord = {
      v: 1,
      owner: 'w3',
      epoch: state.epoch,
      writtenAt: Date.now() - 1_000,
      watermark: '',
      final: false,
      aggregate: dead.toCheckpoint(),
    };
    state.checkpoints.set('DEAD', record);
    await gone.close();
  });

  afterAll(async () => {
    await Promise.all([w1.close(), w2.close()]);
  });

  it('is OpenAPI 3.1 and lists exactly the routes the router serves', () => {
    expect(doc['openapi']).toBe('3.1.0');
    const documented = Object.entries(doc['paths'] as Json).flatMap(([path, item]) =>
      Object.keys(item as Json).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const served = w1.app.routes.map(([method, template]) => `${method} ${template}`);
    expect([...documented].sort()).toEqual([...served].sort());
  });

  it('has every error code documented in the HTTP table of docs/errors.md, and no other', () => {
    const text = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const table = text.slice(text.indexOf('## HTTP API error codes'));
    const listed = [...table.matchAll(/^\| `([a-z_]+)`/gm)].map((m) => m[1]);
    expect([...listed].sort()).toEqual([...API_ERROR_CODES].sort());
  });

  it('resolves every $ref', () => {
    const refs: string[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (typeof node === 'object' && node !== null) {
        for (const [key, value] of Object.entries(node)) {
          if (key === '$ref' && typeof value === 'string') refs.push(value);
          else walk(value);
        }
      }
    };
    walk(doc);
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of refs) expect(at(ref.slice(1)), ref).toBeDefined();
  });

  it('is what /openapi.json serves', async () => {
    const { body } = await check(w1, 'GET', '/openapi.json', '/openapi.json');
    expect(body).toEqual(JSON.parse(JSON.stringify(doc)));
  });

  it('describes the operational routes', async () => {
    await check(w1, 'GET', '/healthz', '/healthz');
    await check(w1, 'GET', '/readyz', '/readyz');
    w1.view.ready = false;
    await check(w1, 'GET', '/readyz', '/readyz');
    w1.view.ready = true;
    await check(w1, 'GET', '/metrics', '/metrics');
    await check(w1, 'GET', '/v1/cluster', '/v1/cluster');
    await check(w1, 'PATCH', '/v1/cluster', '/v1/cluster').catch(() => undefined);
    const wrong = await call(`${w1.url}/v1/cluster`, { method: 'PATCH' });
    expect(wrong.status).toBe(405);
    expectConforms('/v1/cluster', 'GET', wrong);
  });

  it('describes the listing', async () => {
    await check(w2, 'GET', '/v1/symbols', '/v1/symbols');
    await check(w2, 'GET', '/v1/symbols', '/v1/symbols?limit=1&prefix=A&owner=w1');
    await check(w2, 'GET', '/v1/symbols', '/v1/symbols?limit=2000');
    w2.view.serving = false;
    await check(w2, 'GET', '/v1/symbols', '/v1/symbols');
    w2.view.serving = true;
  });

  it('describes one symbol: from the owner, forwarded, stale, and every error', async () => {
    const path = '/v1/symbols/{symbol}';
    await check(w1, 'GET', path, '/v1/symbols/AAPL');
    const forwarded = await check(w2, 'GET', path, '/v1/symbols/AAPL');
    expect(forwarded.body).toMatchObject({ forwardedTo: 'w1' });
    const stale = await check(w1, 'GET', path, '/v1/symbols/DEAD');
    expect(stale.body).toMatchObject({ stale: true });
    await check(w1, 'GET', path, '/v1/symbols/a%24b');
    await check(w1, 'GET', path, '/v1/symbols/NOPE');
    await check(w1, 'GET', path, '/v1/symbols/MSFT', {
      headers: { 'x-tickring-forwarded': 'w2', 'x-tickring-min-epoch': '0' },
    });
    state.checkpoints.delete('DEAD');
    await check(w1, 'GET', path, '/v1/symbols/DEAD');
  });

  it('describes bars: from the owner, forwarded, stale, and every error', async () => {
    const path = '/v1/symbols/{symbol}/bars';
    const own = await check(w1, 'GET', path, '/v1/symbols/AAPL/bars?interval=1m');
    expect((own.body as { bars: unknown[] }).bars).toHaveLength(2);
    await check(w2, 'GET', path, '/v1/symbols/AAPL/bars?interval=1s&limit=5&from=2024-06-10T14:30:00Z');
    state.history.set('60000:DEAD', [
      {
        intervalMs: 60_000,
        start: T0 - 60_000,
        open: 1,
        high: 1,
        low: 1,
        close: 1,
        volume: 1,
        vwap: 1,
        trades: 1,
        amended: false,
        complete: true,
      },
    ]);
    const stale = await check(w2, 'GET', path, '/v1/symbols/DEAD/bars');
    expect(stale.body).toMatchObject({ stale: true });
    await check(w1, 'GET', path, '/v1/symbols/AAPL/bars?interval=7m');
    await check(w1, 'GET', path, '/v1/symbols/NOPE/bars');
    state.redisDown = true;
    await check(w1, 'GET', path, '/v1/symbols/DEAD/bars');
    state.redisDown = false;
  });

  it('describes admin writes and their errors', async () => {
    const json = { 'content-type': 'application/json' };
    const auth = { ...json, authorization: `Bearer ${TOKEN}` };
    await check(w1, 'POST', '/v1/symbols', '/v1/symbols', { headers: auth, body: '{"symbols":["TSLA"]}' });
    await check(w1, 'POST', '/v1/symbols', '/v1/symbols', { headers: auth, body: '{"symbols":[1]}' });
    await check(w1, 'POST', '/v1/symbols', '/v1/symbols', { headers: json, body: '{"symbols":["TSLA"]}' });
    await check(w2, 'POST', '/v1/symbols', '/v1/symbols', { headers: auth, body: '{"symbols":["TSLA"]}' });
    await check(w1, 'POST', '/v1/symbols', '/v1/symbols', { headers: auth, body: 'x'.repeat(600) });
    await check(w1, 'POST', '/v1/symbols', '/v1/symbols', {
      headers: { ...auth, 'content-type': 'text/csv' },
    });
    state.redisDown = true;
    await check(w1, 'POST', '/v1/symbols', '/v1/symbols', { headers: auth, body: '{"symbols":["ORCL"]}' });
    state.redisDown = false;
    await check(w1, 'DELETE', '/v1/symbols/{symbol}', '/v1/symbols/TSLA', { headers: auth });
    await check(w1, 'DELETE', '/v1/symbols/{symbol}', '/v1/symbols/TSLA', { headers: auth });
    await check(w1, 'DELETE', '/v1/symbols/{symbol}', '/v1/symbols/TSLA');
    await check(w2, 'DELETE', '/v1/symbols/{symbol}', '/v1/symbols/TSLA', { headers: auth });
    await check(w1, 'DELETE', '/v1/symbols/{symbol}', '/v1/symbols/a%24', { headers: auth });
  });

  it('describes the internal snapshot call', async () => {
    const path = '/v1/internal/snapshots';
    const headers = { 'content-type': 'application/json' };
    const { body } = await check(w1, 'POST', path, path, {
      headers,
      body: JSON.stringify({ symbols: ['AAPL', 'MSFT'], known: {}, minEpoch: 0 }),
    });
    expect(body).toMatchObject({ notOwned: ['MSFT'] });
    await check(w1, 'POST', path, path, { headers, body: '{"symbols":"AAPL"}' });
    await check(w1, 'POST', path, path, { body: '{}' });
  });

  it('describes the internal summaries call', async () => {
    const path = '/v1/internal/summaries';
    const headers = { 'content-type': 'application/json' };
    const { body } = await check(w1, 'POST', path, path, {
      headers,
      body: JSON.stringify({ symbols: ['AAPL', 'MSFT'], minEpoch: 0 }),
    });
    expect(body).toMatchObject({ notOwned: ['MSFT'], summaries: [{ symbol: 'AAPL' }] });
    await check(w1, 'POST', path, path, { headers, body: '{"symbols":"AAPL"}' });
    await check(w1, 'POST', path, path, { body: '{}' });
  });

  it('describes the stream, its events and its errors', async () => {
    const response = await fetch(`${w2.url}/v1/stream?symbols=AAPL,MSFT`);
    expect(response.status).toBe(200);
    expect(Object.keys((at(responsePointer('/v1/stream', 'GET', 200)) as Json)['content'] as Json)).toEqual([
      response.headers.get('content-type')?.split(';')[0],
    ]);
    const validate = validatorAt(
      `/paths/${escape('/v1/stream')}/get/responses/200/content/text~1event-stream/x-event-data`,
    );
    let text = '';
    const decoder = new TextDecoder();
    for await (const chunk of response.body ?? []) {
      text += decoder.decode(chunk as Uint8Array, { stream: true });
      if ((text.match(/^data: /gm) ?? []).length >= 2) break;
    }
    await response.body?.cancel().catch(() => undefined);
    const events = [...text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1] ?? '') as unknown);
    expect(events).toHaveLength(2);
    for (const event of events) expect(validate(event), ajv.errorsText(validate.errors)).toBe(true);
    covered.add('GET /v1/stream 200');
    await check(w1, 'GET', '/v1/stream', '/v1/stream');
    await check(w1, 'GET', '/v1/stream', '/v1/stream?symbols=NOPE');
    w1.view.serving = false;
    await check(w1, 'GET', '/v1/stream', '/v1/stream?symbols=AAPL');
    w1.view.serving = true;
  });

  it('describes the dashboard, its files and the routes it reads', async () => {
    const headers = { 'content-type': 'application/json' };
    await check(w1, 'GET', '/', '/');
    await check(w1, 'GET', '/dashboard/{file}', '/dashboard/main.js');
    await check(w1, 'GET', '/dashboard/{file}', '/dashboard/style.css');
    await check(w1, 'GET', '/dashboard/{file}', '/dashboard/icon.svg');
    await check(w1, 'GET', '/dashboard/{file}', '/dashboard/nope.js');
    await check(w1, 'GET', '/dashboard/{file}', '/dashboard/main.js?x=1');
    await check(w1, 'GET', '/v1/ring', '/v1/ring');
    const workers = await check(w2, 'GET', '/v1/workers', '/v1/workers');
    // w3 is closed: listed in the ring, unreachable.
    expect(workers.body).toMatchObject({
      workers: expect.arrayContaining([
        expect.objectContaining({ id: 'w3', reachable: false, report: null }),
      ]),
    });
    w1.view.rebalances = [
      {
        epoch: 2,
        at: new Date(T0).toISOString(),
        ms: 3,
        gained: 1,
        lost: 0,
        gainedSymbols: ['AAPL'],
        lostSymbols: [],
        reason: 'join w1',
      },
    ];
    await check(w2, 'GET', '/v1/rebalances', '/v1/rebalances');
    await check(w2, 'GET', '/v1/rebalances', '/v1/rebalances?limit=0');
    await check(w2, 'GET', '/v1/market', '/v1/market?points=3');
    // A relay published, a member behind it, and standbys following symbols: all documented.
    state.relay = { holder: 'relay-a', token: 3, address: 'ws://127.0.0.1:9/relay', feed: 'polygon' };
    w2.view.feedName = 'relay';
    for (const symbol of state.symbols) {
      const standby = state.assignment().standbyOf(symbol);
      (standby === 'w1' ? w1 : standby === 'w2' ? w2 : undefined)?.view.followed.set(symbol, 'loading');
    }
    const withRelay = await check(w2, 'GET', '/v1/workers', '/v1/workers');
    expect(withRelay.body).toMatchObject({ relay: { holder: 'relay-a', token: 3, usedBy: ['w2'] } });
    await check(w2, 'GET', '/v1/market', '/v1/market?points=3');
    w1.view.followed.set('MSFT', 'live');
    const following = await check(w1, 'POST', '/v1/internal/market', '/v1/internal/market', {
      headers,
      body: JSON.stringify({ symbols: ['AAPL'], standbys: ['MSFT', 'GOOG'], intervalMs: 60_000, points: 5 }),
    });
    expect(following.body).toMatchObject({ following: { MSFT: 'live' } });
    state.relay = undefined;
    w2.view.feedName = 'sim';
    w1.view.followed.clear();
    w2.view.followed.clear();
    await check(w2, 'GET', '/v1/market', '/v1/market?points=99');
    await check(w1, 'GET', '/v1/internal/worker', '/v1/internal/worker');
    const path = '/v1/internal/market';
    await check(w1, 'POST', path, path, {
      headers,
      body: JSON.stringify({ symbols: ['AAPL', 'MSFT'], intervalMs: 60_000, points: 5, minEpoch: 0 }),
    });
    await check(w1, 'POST', path, path, { headers, body: '{"symbols":["AAPL"],"intervalMs":7,"points":5}' });
    await check(w1, 'POST', path, path, { body: '{}' });
    w1.view.serving = false;
    for (const route of ['/v1/ring', '/v1/workers', '/v1/rebalances', '/v1/market'])
      await check(w1, 'GET', route, route);
    w1.view.serving = true;
  });

  it('describes pins and drain and their errors', async () => {
    const json = { 'content-type': 'application/json' };
    const auth = { ...json, authorization: `Bearer ${TOKEN}` };
    const pins = '/v1/pins/{symbol}';
    const body = '{"worker":"w1"}';
    const pinned = await check(w1, 'PUT', pins, '/v1/pins/GOOG', { headers: auth, body });
    expect(pinned.status).toBe(200);
    await check(w1, 'PUT', pins, '/v1/pins/GOOG', { headers: auth, body: '{"worker":"no way"}' });
    await check(w1, 'PUT', pins, '/v1/pins/GOOG', { headers: json, body });
    await check(w2, 'PUT', pins, '/v1/pins/GOOG', { headers: auth, body });
    await check(w1, 'PUT', pins, '/v1/pins/NOPE', { headers: auth, body });
    await check(w1, 'PUT', pins, '/v1/pins/GOOG', { headers: auth, body: '{"worker":"w9"}' });
    await check(w1, 'PUT', pins, '/v1/pins/GOOG', { headers: auth, body: 'x'.repeat(600) });
    await check(w1, 'PUT', pins, '/v1/pins/GOOG', { headers: { ...auth, 'content-type': 'text/csv' }, body });
    state.redisDown = true;
    await check(w1, 'PUT', pins, '/v1/pins/GOOG', { headers: auth, body });
    await check(w1, 'DELETE', pins, '/v1/pins/GOOG', { headers: auth });
    state.redisDown = false;
    expect((await check(w1, 'DELETE', pins, '/v1/pins/GOOG', { headers: auth })).status).toBe(200);
    expect((await check(w1, 'DELETE', pins, '/v1/pins/GOOG', { headers: auth })).status).toBe(404);
    await check(w1, 'DELETE', pins, '/v1/pins/a%24', { headers: auth });
    await check(w1, 'DELETE', pins, '/v1/pins/AAPL');
    await check(w2, 'DELETE', pins, '/v1/pins/AAPL', { headers: auth });

    const drain = '/v1/members/{id}/drain';
    expect((await check(w1, 'POST', drain, '/v1/members/w3/drain', { headers: auth })).status).toBe(202);
    await check(w1, 'POST', drain, '/v1/members/w2/drain', { headers: auth });
    expect((await check(w1, 'POST', drain, '/v1/members/w1/drain', { headers: auth })).status).toBe(409);
    await check(w1, 'POST', drain, '/v1/members/w9/drain', { headers: auth });
    await check(w1, 'POST', drain, '/v1/members/a%24b/drain', { headers: auth });
    await check(w1, 'POST', drain, '/v1/members/w3/drain');
    await check(w2, 'POST', drain, '/v1/members/w3/drain', { headers: auth });
    state.redisDown = true;
    await check(w1, 'POST', drain, '/v1/members/w3/drain', { headers: auth });
    state.redisDown = false;
    state.draining.clear();
    state.pins['GOOG'] = 'w2';
    state.bump();
  });

  it('was exercised on every route, with a success and an error each where one exists', () => {
    for (const [method, template] of w1.app.routes) {
      const statuses = [...covered].filter((c) => c.startsWith(`${method} ${template} `));
      expect(statuses.length, `${method} ${template}`).toBeGreaterThan(0);
      expect(
        statuses.some((c) => / 20[02]$/.test(c)),
        `${method} ${template} 200 or 202`,
      ).toBe(true);
    }
    for (const status of [202, 400, 401, 403, 404, 409, 413, 415, 503]) {
      expect(
        [...covered].some((c) => c.endsWith(` ${status}`)),
        String(status),
      ).toBe(true);
    }
  });
});
