/**
 * Forwarded queries pass the owner's bytes through when the owner wrote the final answer, and still
 * rewrite the answer of an owner that does not know `x-tickring-answer-for` (a worker of an older
 * version during a rolling upgrade). The listing shows what owners answer for its lines, and nothing
 * of a reply that is not such an answer.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANSWER_FOR_HEADER, ANSWERED_FOR_HEADER } from '../../src/http/owner-routing.js';
import { call, FakeState, startNode, type FakeNode } from './http-fake-view.js';

describe('forwarded queries', () => {
  const state = new FakeState();
  let w1: FakeNode;
  let w2: FakeNode;
  let old: Server;
  let oldSaw: IncomingHttpHeaders | undefined;
  let oldRequests = 0;
  let oldDelayMs = 0;
  /** What `old` answers to the listing's internal call. */
  let oldSummaries: unknown = {};

  beforeAll(async () => {
    for (const symbol of ['AAPL', 'MSFT']) state.symbols.add(symbol);
    w1 = await startNode(state, 'w1');
    w2 = await startNode(state, 'w2');
    // An owner of an older version: answers as it always did, whatever the caller asks.
    old = createServer((req, res) => {
      oldSaw = req.headers;
      oldRequests++;
      const body = JSON.stringify(
        req.url === '/v1/internal/summaries'
          ? oldSummaries
          : {
              symbol: 'MSFT',
              trades: 7,
              owner: 'old',
              epoch: state.epoch,
              answeredBy: 'old',
              stale: false,
              ageMs: 0,
            },
      );
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      }, oldDelayMs);
    });
    await new Promise<void>((resolve) => old.listen(0, '127.0.0.1', resolve));
    const address = `http://127.0.0.1:${(old.address() as AddressInfo).port}`;
    state.members = [...state.members, { id: 'old', address, weight: 1 }];
    Object.assign(state.pins, { AAPL: 'w2', MSFT: 'old' });
    state.bump();
    w2.view.trade('AAPL', Date.UTC(2026, 0, 5, 15), 3, 190);
  });

  afterAll(async () => {
    await w1.close();
    await w2.close();
    old.closeAllConnections();
    await new Promise<void>((resolve) => old.close(() => resolve()));
  });

  it('gets the final answer from an owner that knows the header, as the owner would have answered', async () => {
    const forwarded = await call(`${w1.url}/v1/symbols/AAPL`);
    const direct = await call(`${w2.url}/v1/symbols/AAPL`);
    expect(forwarded.status).toBe(200);
    expect(forwarded.body).toEqual({ ...direct.body, answeredBy: 'w1', forwardedTo: 'w2' });
    // The owner answered for w1 and said so; w1 sent those bytes on.
    const own = await fetch(`${w2.url}/v1/symbols/AAPL`, {
      headers: { 'x-tickring-forwarded': 'w1', [ANSWER_FOR_HEADER]: 'w1' },
    });
    expect(own.headers.get(ANSWERED_FOR_HEADER)).toBe('w1');
    expect(await own.text()).toBe(forwarded.text);
  });

  it('rewrites the answer of an owner that does not know the header', async () => {
    const { status, body } = await call(`${w1.url}/v1/symbols/MSFT`);
    expect(oldSaw?.[ANSWER_FOR_HEADER]).toBe('w1');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      symbol: 'MSFT',
      trades: 7,
      owner: 'old',
      answeredBy: 'w1',
      forwardedTo: 'old',
    });
  });

  it("lists an owner's symbols with null where its reply to the listing's call is not an answer", async () => {
    const listed = async (): Promise<unknown> =>
      (await call<{ symbols: unknown[] }>(`${w1.url}/v1/symbols`)).body.symbols;
    const aapl = { symbol: 'AAPL', owner: 'w2', trades: 3, lastPrice: 190.02 };
    const unanswered = { symbol: 'MSFT', owner: 'old', trades: null, lastPrice: null };
    // An owner of an older version answers its single-symbol answer; the route itself is new.
    expect(await listed()).toEqual([aapl, unanswered]);
    for (const hostile of [
      { summaries: 'MSFT' },
      {
        summaries: [
          null,
          5,
          [],
          { symbol: 'MSFT', trades: '7', lastPrice: 1 },
          { symbol: 'MSFT', trades: 7, lastPrice: 'x' },
          { symbol: 'MSFT', lastPrice: 1 },
          { symbol: ['MSFT'], trades: 7, lastPrice: 1 },
          // Not asked of this owner: its own owner answers for it.
          { symbol: 'AAPL', trades: 99, lastPrice: 1 },
        ],
      },
    ]) {
      oldSummaries = hostile;
      expect(await listed()).toEqual([aapl, unanswered]);
    }
    oldSummaries = { summaries: [{ symbol: 'MSFT', trades: 7, lastPrice: 412.5 }] };
    expect(await listed()).toEqual([aapl, { ...unanswered, trades: 7, lastPrice: 412.5 }]);
    oldSummaries = {};
  });

  it('shares one forward among queries that arrive while it is on its way, and keeps nothing after', async () => {
    oldDelayMs = 100;
    try {
      const before = oldRequests;
      const answers = await Promise.all(Array.from({ length: 10 }, () => call(`${w1.url}/v1/symbols/MSFT`)));
      expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
      expect(new Set(answers.map((a) => a.text)).size).toBe(1);
      expect(answers[0]?.body).toMatchObject({ symbol: 'MSFT', answeredBy: 'w1', forwardedTo: 'old' });
      expect(oldRequests - before).toBe(1);
      // Once answered, the next query is forwarded afresh.
      await call(`${w1.url}/v1/symbols/MSFT`);
      expect(oldRequests - before).toBe(2);
    } finally {
      oldDelayMs = 0;
    }
  });
});
