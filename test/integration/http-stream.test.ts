/**
 * `/v1/stream` in-process: a client of any worker gets the latest answer of each followed symbol,
 * then one coalesced update per symbol per flush, for its own symbols and for other owners'. A client
 * that stops reading is dropped once its socket holds too much unsent, and counted; the worker's
 * memory for it stays bounded.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/workers.js';
import { call, FakeState, startNode, type FakeNode } from './http-fake-view.js';
import { readEvents } from './http-sse-client.js';

describe('GET /v1/stream', () => {
  const state = new FakeState();
  let w1: FakeNode;
  let w2: FakeNode;
  const T0 = Date.UTC(2024, 5, 10, 14, 30);

  beforeAll(async () => {
    for (const s of ['AAPL', 'MSFT', 'GOOG']) state.symbols.add(s);
    Object.assign(state.pins, { AAPL: 'w1', MSFT: 'w2', GOOG: 'w2' });
    w1 = await startNode(state, 'w1', { stream: { flushMs: 20 } });
    w2 = await startNode(state, 'w2', { stream: { flushMs: 20 } });
    w1.view.trade('AAPL', T0, 1);
    w2.view.trade('MSFT', T0, 2);
  });

  afterAll(async () => {
    await Promise.all([w1.close(), w2.close()]);
  });

  it('sends the latest answer of every followed symbol, then updates as owners apply trades', async () => {
    let traded = false;
    const { status, contentType, events } = await readEvents(
      `${w2.url}/v1/stream?symbols=AAPL,MSFT`,
      (seen) => {
        if (seen.length >= 2 && !traded) {
          traded = true;
          // After the first events: AAPL (owned by w1) trades twice more, in one flush at most.
          w1.view.trade('AAPL', T0 + 1, 2);
        }
        return seen.some((e) => e.data.symbol === 'AAPL' && e.data.trades === 3);
      },
    );
    expect(status).toBe(200);
    expect(contentType).toContain('text/event-stream');
    const first = events.slice(0, 2).map((e) => [e.event, e.data.symbol, e.data.trades]);
    expect(first).toEqual(
      expect.arrayContaining([
        ['update', 'AAPL', 1],
        ['update', 'MSFT', 2],
      ]),
    );
    const aapl = events.filter((e) => e.data.symbol === 'AAPL');
    expect(aapl.at(-1)?.data).toMatchObject({ owner: 'w1', answeredBy: 'w2', forwardedTo: 'w1', trades: 3 });
    // Unchanged symbols are not re-sent; ids increase.
    expect(events.filter((e) => e.data.symbol === 'MSFT')).toHaveLength(1);
    const ids = events.map((e) => Number(e.id));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
  });

  it('coalesces many changes within one flush into one event per symbol', async () => {
    let traded = false;
    const { events } = await readEvents(`${w1.url}/v1/stream?symbols=AAPL`, (seen) => {
      if (seen.length === 1 && !traded) {
        traded = true;
        for (let i = 0; i < 50; i++) w1.view.trade('AAPL', T0 + 2 + i, 1);
      }
      return seen.some((e) => e.data.trades === 53);
    });
    expect(events[0]?.data.trades).toBe(3);
    // 50 trades applied synchronously land in one flush: one event, not 50.
    expect(events).toHaveLength(2);
  });

  it('validates symbols: required, well-formed, known, at most 100', async () => {
    for (const [query, status, param] of [
      ['', 400, 'symbols'],
      ['symbols=', 400, 'symbols'],
      ['symbols=AAPL,bad$', 400, 'symbols'],
      [`symbols=${Array.from({ length: 101 }, (_, i) => `S${i}`).join(',')}`, 400, 'symbols'],
      ['symbols=AAPL,NOPE', 404, 'symbols'],
      ['symbols=AAPL&since=1', 400, 'since'],
    ] as const) {
      const answer = await call(`${w1.url}/v1/stream?${query}`);
      expect(answer.status, query).toBe(status);
      expect(answer.body.error?.param, query).toBe(param);
    }
  });

  it('drops a client that stops reading, counts it, and keeps serving the others', async () => {
    const slow = await startNode(state, 'w3', { stream: { flushMs: 5, maxBufferedBytes: 32 * 1024 } });
    const symbols = Array.from({ length: 100 }, (_, i) => `X${i}`);
    for (const s of symbols) {
      state.symbols.add(s);
      state.pins[s] = 'w3';
    }
    state.bump();
    // Every symbol changes between flushes: about 100 events of ~600 bytes per flush.
    let time = T0;
    const churn = setInterval(() => {
      time++;
      for (const s of symbols) slow.view.trade(s, time, 1);
    }, 2);
    const socket = connect((slow.app.address() as { port: number }).port, '127.0.0.1');
    try {
      socket.write(`GET /v1/stream?symbols=${symbols.join(',')} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await new Promise((resolve) => socket.once('data', resolve));
      socket.pause(); // never reads again
      expect(slow.app.streams.size).toBe(1);
      await eventually(
        'the slow client to be dropped',
        () => (slow.app.streams.dropped === 1 ? true : undefined),
        20_000,
      );
      expect(slow.app.streams.size).toBe(0);
      const { text } = await call(`${slow.url}/metrics`);
      expect(text).toContain('tickring_stream_clients_dropped_total 1');
      expect(text).toContain('tickring_stream_clients 0');
      // A well-behaved client of the same worker is served as before.
      const { events } = await readEvents(`${slow.url}/v1/stream?symbols=X1`, (seen) => seen.length >= 2);
      expect(events.length).toBeGreaterThanOrEqual(2);
    } finally {
      clearInterval(churn);
      socket.destroy();
      await slow.close();
    }
  });
});
