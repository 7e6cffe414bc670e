/**
 * The relay protocol's codec: every field of a normalized trade survives the trip, each bad element
 * is refused by its reason, and the control frames become the events the feed client acts on (a
 * version or upstream mismatch refuses the relay; `gap` and `bye` are reported).
 */
import { describe, expect, it } from 'vitest';
import { binance } from '../../../feeds/binance.js';
import { coinbase } from '../../../feeds/coinbase.js';
import { finnhub } from '../../../feeds/finnhub.js';
import { polygon } from '../../../feeds/polygon.js';
import { parseRelayRequest, relay, relayAdapter, relayFrames } from '../../../feeds/relay.js';
import { makeTrade, type Trade } from '../../../feeds/trade.js';
import { decodeAll, FakeConnection } from './support.js';

const trades: Trade[] = [
  makeTrade({
    symbol: 'AAPL',
    price: 189.91,
    size: 100,
    timeMs: 1_764_000_000_123,
    timeNanos: 456_789,
    id: '52983525029461',
    seq: 4301,
    exchange: '4',
    conditions: ['37', '14'],
  }),
  makeTrade({ symbol: 'BTC-USD', price: 97_000.5, size: 0.00012345, timeMs: 1_764_000_000_124, id: '7' }),
  makeTrade({
    symbol: 'MSFT',
    price: 410,
    size: 5,
    timeMs: 1_764_000_000_125,
    id: '9',
    exchange: 'V',
    kind: 'correction',
    amendsId: '8',
  }),
  makeTrade({ symbol: 'MSFT', price: 410, size: 5, timeMs: 1_764_000_000_126, kind: 'cancel', id: '9' }),
];

function hello(session = relay.createSession({ key: '', secret: '' })) {
  decodeAll(session, relayFrames.hello({ feed: 'polygon', relay: 'r1', token: 3 }));
  return session;
}

describe('relay codec', () => {
  it('carries every field of a normalized trade, batched in one frame', () => {
    const [frame = ''] = relay.server.encode(trades);
    const calls = decodeAll(hello(), frame);
    expect(calls).toEqual(trades.map((trade) => ['trade', trade]));
  });

  it('refuses each bad element by its reason and keeps the good ones', () => {
    const good = JSON.parse(relayFrames.trades([trades[0] as Trade])) as { d: unknown[][] };
    const row = good.d[0] ?? [];
    const bad = (index: number, value: unknown): unknown[] => row.map((v, i) => (i === index ? value : v));
    const frame = JSON.stringify({
      t: 'trades',
      d: [row, bad(0, 'not a symbol!'), bad(1, -1), bad(2, null), bad(3, 0), bad(5, 7), bad(9, 5), [1, 2]],
    });
    const calls = decodeAll(hello(), frame);
    expect(calls.map((call) => (call[0] === 'reject' ? call[1] : call[0]))).toEqual([
      'trade',
      'bad-symbol',
      'bad-price',
      'bad-size',
      'bad-time',
      'bad-id',
      'bad-shape',
      'bad-shape',
    ]);
    expect(decodeAll(hello(), '{"t":', '[1]', '{"t":"what"}').map((c) => c[1])).toEqual([
      'invalid-json',
      'bad-shape',
      'unknown-event',
    ]);
  });

  it('is ready after a hello of version 1 and refuses another version or another upstream', () => {
    const session = relay.createSession({ key: '', secret: '' });
    expect(session.opening()).toEqual(['{"op":"hello","v":1}']);
    expect(session.ready).toBe(false);
    expect(decodeAll(session, relayFrames.hello({ feed: 'alpaca', relay: 'r', token: 1 }))).toEqual([
      ['event', { type: 'hello' }],
    ]);
    expect(session.ready).toBe(true);

    const v2 = relay.createSession({ key: '', secret: '' });
    const refused = decodeAll(v2, '{"t":"hello","v":2,"feed":"polygon","relay":"r","token":1}');
    expect(refused[0]).toMatchObject(['event', { type: 'auth-failed' }]);
    expect(v2.ready).toBe(false);

    const polygonOnly = relayAdapter(polygon).createSession({ key: '', secret: '' });
    const wrong = decodeAll(polygonOnly, relayFrames.hello({ feed: 'binance', relay: 'r', token: 1 }));
    expect(wrong[0]).toMatchObject([
      'event',
      { type: 'auth-failed', message: expect.stringContaining('binance') },
    ]);
    expect(polygonOnly.ready).toBe(false);
  });

  it('turns gap, bye, acks and errors into feed events', () => {
    const calls = decodeAll(
      hello(),
      relayFrames.gap(['AAPL', 'MSFT'], 1_000, 4_000),
      relayFrames.bye('slow-consumer', 'queue limit exceeded'),
      relayFrames.subscribed(['AAPL']),
      relayFrames.unsubscribed(['AAPL']),
      relayFrames.error('hello first'),
    );
    expect(calls).toEqual([
      ['event', { type: 'gap', symbols: ['AAPL', 'MSFT'], fromMs: 1_000, toMs: 4_000 }],
      ['event', { type: 'disconnect', reason: 'slow-consumer', message: 'queue limit exceeded' }],
      ['event', { type: 'subscribed', symbols: ['AAPL'] }],
      ['event', { type: 'unsubscribed', symbols: ['AAPL'] }],
      ['event', { type: 'error', message: 'hello first' }],
    ]);
  });

  it('de-duplicates by the provider id fields, and not at all without an id', () => {
    const [first, , correction] = trades;
    expect(relay.dedupKey(first as Trade)).toBe('AAPL|4|52983525029461');
    expect(relay.dedupKey(correction as Trade)).toBe('MSFT|V|9|correction');
    expect(relay.dedupKey(makeTrade({ symbol: 'AAPL', price: 1, size: 1, timeMs: 1 }))).toBeNull();
    // A trade without an id has no key, which a fields list cannot say: the worker uses the text.
    expect(relay.dedupFields).toBeUndefined();
  });

  it('behind a known provider, uses its key and trade numbering, so gaps across a failover are counted', () => {
    const trade = makeTrade({ symbol: 'BTC-USD', price: 1, size: 1, timeMs: 1, id: '42', seq: 9 });
    for (const upstream of [polygon, binance, coinbase, finnhub]) {
      const adapter = relayAdapter(upstream);
      expect(adapter.dedupKey(trade), upstream.name).toBe(upstream.dedupKey(trade));
      expect(adapter.sequentialId?.(trade) ?? null, upstream.name).toBe(
        upstream.sequentialId?.(trade) ?? null,
      );
      expect(adapter.hasTradeIds).toBe(upstream.hasTradeIds);
      // So the worker de-duplicates relayed trades field by field wherever the provider's key allows.
      expect(adapter.dedupFields, upstream.name).toEqual(upstream.dedupFields);
    }
    expect(relayAdapter(coinbase).sequentialId?.(trade)).toBe(42);
  });

  it('parses client requests; the server half needs a hello before subscriptions', () => {
    expect(parseRelayRequest('{"op":"subscribe","s":["AAPL","bad symbol!"]}')).toEqual({
      op: 'subscribe',
      symbols: ['AAPL'],
    });
    expect(parseRelayRequest('{"op":"subscribe","s":"AAPL"}')).toBeUndefined();
    expect(parseRelayRequest('nope')).toBeUndefined();
    const conn = new FakeConnection(new URL('ws://x/relay'));
    relay.server.onOpen(conn);
    relay.server.onMessage(conn, '{"op":"subscribe","s":["AAPL"]}');
    expect(conn.subscriptions()).toEqual([]);
    relay.server.onMessage(conn, '{"op":"hello","v":1}');
    relay.server.onMessage(conn, '{"op":"subscribe","s":["AAPL"]}');
    expect(conn.subscriptions()).toEqual(['AAPL']);
    expect(conn.drain().map((f) => (JSON.parse(f) as { t: string }).t)).toEqual(['hello', 'subscribed']);
    const old = new FakeConnection(new URL('ws://x/relay'));
    relay.server.onMessage(old, '{"op":"hello","v":9}');
    expect(old.closed?.code).toBe(1002);
  });
});
