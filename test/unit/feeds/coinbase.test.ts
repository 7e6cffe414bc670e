import { describe, expect, it } from 'vitest';
import { MAX_FRAME_CHARS } from '../../../feeds/adapter.js';
import { coinbase, createCoinbaseServer } from '../../../feeds/coinbase.js';
import type { Trade } from '../../../feeds/trade.js';
import {
  clientSamples,
  decodeAll,
  FakeConnection,
  loadFixture,
  mutations,
  RecordingSink,
  runOverSocket,
  sample,
  serverSamples,
  type Call,
} from './support.js';

const fixture = loadFixture('coinbase');
const credentials = { key: '', secret: '' };
const newSession = () => coinbase.createSession(credentials);

const MATCH: Trade = {
  symbol: 'BTC-USD',
  price: 400.23,
  size: 5.23512,
  timeMs: 1415348367028, // 2014-11-07T08:19:27.028Z
  timeNanos: 459000, // .028459 s
  id: '10',
  seq: 50,
  exchange: '',
  conditions: [],
  kind: 'trade',
  amendsId: '',
};

const DECODED: Readonly<Record<string, readonly Call[]>> = {
  // The ack lists level2, heartbeat and ticker: no `matches` products, and none were held before.
  'subscriptions ack = full current set': [],
  'match (trade); side = MAKER side': [['trade', MATCH]],
  'heartbeat (1/s per product) carrying last_trade_id for gap detection': [['event', { type: 'heartbeat' }]],
  'ticker (carries trade_id + sequence)': [['reject', 'unknown-event', 'type ticker']],
};

describe('coinbase: every server sample in the fixture', () => {
  it('has a hand-written expectation for each server->client sample', () => {
    expect(
      serverSamples(fixture)
        .map((s) => s.desc)
        .sort(),
    ).toEqual(Object.keys(DECODED).sort());
  });

  for (const { desc, raw } of serverSamples(fixture)) {
    it(`decodes "${desc}"`, () => {
      expect(decodeAll(newSession(), raw)).toStrictEqual(DECODED[desc]);
    });
  }

  it('reads the fixture ack as "no longer subscribed" for products held on matches before', () => {
    const session = newSession();
    session.subscribe(['ETH-USD']);
    expect(
      decodeAll(
        session,
        '{"type":"subscriptions","channels":[{"name":"matches","product_ids":["ETH-USD"]}]}',
      ),
    ).toStrictEqual([['event', { type: 'subscribed', symbols: ['ETH-USD'] }]]);
    expect(decodeAll(session, sample(fixture, 'subscriptions ack = full current set').raw)).toStrictEqual([
      ['event', { type: 'unsubscribed', symbols: ['ETH-USD'] }],
    ]);
  });
});

describe('coinbase: client side', () => {
  it('is ready on open, with no handshake', () => {
    const session = newSession();
    expect(session.ready).toBe(true);
    expect(session.opening()).toEqual([]);
  });

  it('subscribes as the fixture frame does, on the matches channel only', () => {
    const frames = newSession().subscribe(['ETH-USD', 'ETH-EUR']);
    expect(frames).toEqual([
      '{"type":"subscribe","product_ids":["ETH-USD","ETH-EUR"],"channels":["matches"]}',
    ]);
    const documented = JSON.parse(
      sample(
        fixture,
        'subscribe (product_ids at root apply to all channels; per-channel product_ids allowed)',
      ).raw,
    ) as Record<string, unknown>;
    expect(frames).toEqual([JSON.stringify({ ...documented, channels: ['matches'] })]);
  });

  it('unsubscribes named products, not the whole channel the fixture frame drops', () => {
    expect(newSession().unsubscribe(['ETH-USD'])).toEqual([
      '{"type":"unsubscribe","product_ids":["ETH-USD"],"channels":["matches"]}',
    ]);
    expect(clientSamples(fixture)).toHaveLength(2);
  });

  it('splits large subscriptions by limits.symbolsPerFrame', () => {
    const symbols = Array.from({ length: 250 }, (_, n) => `C${n}-USD`);
    const frames = newSession().subscribe(symbols);
    expect(
      frames.map((frame) => (JSON.parse(frame) as { product_ids: string[] }).product_ids.length),
    ).toEqual([100, 100, 50]);
  });

  it('decodes last_match as a trade with the same de-duplication key as the match it replays', () => {
    const replay = sample(fixture, 'match (trade); side = MAKER side').raw.replace('"match"', '"last_match"');
    const calls = decodeAll(newSession(), replay);
    expect(calls).toStrictEqual([['trade', MATCH]]);
    expect(coinbase.dedupKey(calls[0]![1] as Trade)).toBe('BTC-USD|10');
  });
});

describe('coinbase: errors and hostile input', () => {
  const match = (fields: string) =>
    `{"type":"match","trade_id":10,"sequence":50,"time":"2014-11-07T08:19:27.028459Z","product_id":"BTC-USD","side":"sell",${fields}}`;
  const cases: readonly (readonly [string, string, readonly Call[]])[] = [
    [
      'a subscribe failure as an error',
      '{"type":"error","message":"Failed to subscribe","reason":"No channels provided"}',
      [['event', { type: 'error', message: 'Failed to subscribe: No channels provided' }]],
    ],
    [
      'ErrSlowConsume as a slow-consumer disconnect',
      '{"type":"error","message":"slow consumer","reason":"ErrSlowConsume"}',
      [['event', { type: 'disconnect', reason: 'slow-consumer', message: 'slow consumer: ErrSlowConsume' }]],
    ],
    [
      'ErrSlowRead as a forced disconnect',
      '{"type":"error","message":"ErrSlowRead"}',
      [['event', { type: 'disconnect', reason: 'forced', message: 'ErrSlowRead' }]],
    ],
    ['invalid JSON', '{"type"', [['reject', 'invalid-json', '{"type"']]],
    ['an array frame', '[{"type":"match"}]', [['reject', 'bad-shape', 'frame is not an object']]],
    ['a price in exponent form', match('"size":"1","price":"4e2"'), [['reject', 'bad-price', 'BTC-USD 4e2']]],
    ['a negative price', match('"size":"1","price":"-400.23"'), [['reject', 'bad-price', 'BTC-USD -400.23']]],
    [
      'a price sent as a number',
      match('"size":"1","price":400.23'),
      [['reject', 'bad-price', 'BTC-USD 400.23']],
    ],
    [
      'a size of zero',
      match('"size":"0.00000000","price":"1"'),
      [['reject', 'bad-size', 'BTC-USD 0.00000000']],
    ],
    [
      'a size with 19 fraction digits',
      match('"size":"0.0000000000000000001","price":"1"'),
      [['reject', 'bad-size', 'BTC-USD 0.0000000000000000001']],
    ],
    [
      'a time without a zone',
      '{"type":"match","trade_id":1,"sequence":1,"time":"2014-11-07T08:19:27.028459","product_id":"BTC-USD","size":"1","price":"1","side":"buy"}',
      [['reject', 'bad-time', 'BTC-USD 2014-11-07T08:19:27.028459']],
    ],
    [
      'a trade id as text',
      '{"type":"match","trade_id":"1","sequence":1,"time":"2014-11-07T08:19:27Z","product_id":"BTC-USD","size":"1","price":"1","side":"buy"}',
      [['reject', 'bad-id', 'BTC-USD 1']],
    ],
    [
      'a missing sequence',
      '{"type":"match","trade_id":1,"time":"2014-11-07T08:19:27Z","product_id":"BTC-USD","size":"1","price":"1","side":"buy"}',
      [['reject', 'bad-shape', 'BTC-USD sequence undefined']],
    ],
    [
      'an unknown side',
      '{"type":"match","trade_id":1,"sequence":1,"time":"2014-11-07T08:19:27Z","product_id":"BTC-USD","size":"1","price":"1","side":"up"}',
      [['reject', 'bad-shape', 'BTC-USD side up']],
    ],
    [
      'a bad product id',
      match('"size":"1","price":"1"').replace('BTC-USD', 'btc usd'),
      [['reject', 'bad-symbol', 'btc usd']],
    ],
    ['an unknown type', '{"type":"received"}', [['reject', 'unknown-event', 'type received']]],
    [
      'a __proto__ key carrying the type',
      '{"__proto__":{"type":"heartbeat"}}',
      [['reject', 'unknown-event', 'type undefined']],
    ],
    [
      'subscriptions without channels',
      '{"type":"subscriptions","channels":{}}',
      [['reject', 'bad-shape', 'subscriptions without a channel list']],
    ],
    [
      'a matches entry with products that are not symbols',
      '{"type":"subscriptions","channels":[{"name":"matches","product_ids":["BTC-USD",{"toString":1}]}]}',
      [
        ['reject', 'bad-symbol', 'object'],
        ['event', { type: 'subscribed', symbols: ['BTC-USD'] }],
      ],
    ],
    [
      'an error with hostile fields',
      '{"type":"error","message":{"toString":1},"reason":["x"]}',
      [['event', { type: 'error', message: '' }]],
    ],
  ];

  for (const [what, frame, expected] of cases) {
    it(`handles ${what}`, () => {
      expect(decodeAll(newSession(), frame)).toStrictEqual(expected);
    });
  }

  it('rejects an oversized frame', () => {
    expect(decodeAll(newSession(), ' '.repeat(MAX_FRAME_CHARS + 1))).toStrictEqual([
      ['reject', 'oversized', `frame of ${MAX_FRAME_CHARS + 1} characters exceeds ${MAX_FRAME_CHARS}`],
    ]);
  });

  it('survives damaged copies of every fixture frame', () => {
    const session = newSession();
    const sink = new RecordingSink();
    for (const [n, { raw }] of fixture.samples.entries()) {
      for (const frame of mutations(raw, 300, 300 + n))
        expect(() => {
          session.decode(frame, sink);
        }).not.toThrow();
    }
    for (const trade of sink.trades()) {
      expect(Number.isInteger(trade.timeNanos) && trade.timeNanos >= 0 && trade.timeNanos < 1e6).toBe(true);
    }
  });
});

const TRADES: readonly Trade[] = [
  MATCH,
  { ...MATCH, price: 400.24, size: 0.0000001, id: '11', seq: 52, timeMs: 1415348367030, timeNanos: 1000 },
  { ...MATCH, symbol: 'ETH-USD', price: 1850.4, size: 12, id: '7', seq: 9, timeNanos: 0 },
];

describe('coinbase: simulator server half', () => {
  const url = new URL('ws://h/');

  it('serves / without a token parameter', () => {
    expect(coinbase.server.accepts(new URL('ws://h/'))).toBe(true);
    expect(coinbase.server.accepts(new URL('ws://h/?token=x'))).toBe(false);
    expect(coinbase.server.accepts(new URL('ws://h/ws'))).toBe(false);
  });

  it('acknowledges subscriptions with the whole matches set, in the documented forms', () => {
    const server = createCoinbaseServer();
    const conn = new FakeConnection(url);
    server.onOpen(conn);
    expect(conn.authenticated).toBe(true);
    server.onMessage(
      conn,
      '{"type":"subscribe","product_ids":["ETH-USD"],"channels":["matches","heartbeat"]}',
    );
    server.onMessage(conn, '{"type":"subscribe","channels":[{"name":"matches","product_ids":["BTC-USD"]}]}');
    server.onMessage(conn, '{"type":"unsubscribe","product_ids":["ETH-USD"],"channels":["matches"]}');
    server.onMessage(conn, '{"type":"unsubscribe","channels":["matches"]}');
    expect(conn.drain()).toEqual([
      '{"type":"subscriptions","channels":[{"name":"matches","product_ids":["ETH-USD"]}]}',
      '{"type":"subscriptions","channels":[{"name":"matches","product_ids":["ETH-USD","BTC-USD"]}]}',
      '{"type":"subscriptions","channels":[{"name":"matches","product_ids":["BTC-USD"]}]}',
      '{"type":"subscriptions","channels":[{"name":"matches","product_ids":[]}]}',
    ]);
  });

  it('refuses subscriptions without channels or with bad products', () => {
    const server = createCoinbaseServer();
    const conn = new FakeConnection(url);
    server.onMessage(conn, '{"type":"subscribe","product_ids":["ETH-USD"]}');
    server.onMessage(conn, '{"type":"subscribe","product_ids":["eth usd"],"channels":["matches"]}');
    server.onMessage(conn, 'nope');
    expect(conn.drain()).toEqual([
      '{"type":"error","message":"Failed to subscribe","reason":"No channels provided"}',
      '{"type":"error","message":"Failed to subscribe","reason":"eth usd is not a valid product"}',
      '{"type":"error","message":"Failed to subscribe","reason":"malformed JSON"}',
    ]);
    expect(conn.subscriptions()).toEqual([]);
  });

  it('replays the last trade as last_match to a new subscriber only', () => {
    const server = createCoinbaseServer();
    server.encode(TRADES);
    const conn = new FakeConnection(url);
    server.onMessage(conn, '{"type":"subscribe","product_ids":["BTC-USD","SOL-USD"],"channels":["matches"]}');
    server.onMessage(conn, '{"type":"subscribe","product_ids":["BTC-USD"],"channels":["matches"]}');
    const sent = conn.drain();
    expect(sent).toHaveLength(3);
    expect(sent[1]).toBe(
      '{"type":"last_match","trade_id":11,"sequence":52,"maker_order_id":"00000000-0000-4000-8000-00000000000b",' +
        '"taker_order_id":"00000000-0000-4000-9000-00000000000b","time":"2014-11-07T08:19:27.030001Z",' +
        '"product_id":"BTC-USD","size":"0.0000001","price":"400.24","side":"sell"}',
    );
    expect(decodeAll(newSession(), sent[1]!)).toStrictEqual([['trade', TRADES[1]]]);
  });

  it('encodes a match in the fixture shape: same keys, same order, same values but order ids and side', () => {
    const [frame] = createCoinbaseServer().encode([MATCH]);
    expect(frame).toBe(
      '{"type":"match","trade_id":10,"sequence":50,"maker_order_id":"00000000-0000-4000-8000-00000000000a",' +
        '"taker_order_id":"00000000-0000-4000-9000-00000000000a","time":"2014-11-07T08:19:27.028459Z",' +
        '"product_id":"BTC-USD","size":"5.23512","price":"400.23","side":"buy"}',
    );
    const ours = JSON.parse(frame!) as object;
    const documented = JSON.parse(sample(fixture, 'match (trade); side = MAKER side').raw) as object;
    expect(Object.keys(ours)).toEqual(Object.keys(documented));
    const comparable = (message: object) =>
      Object.entries(message).filter(([key]) => !['maker_order_id', 'taker_order_id', 'side'].includes(key));
    expect(comparable(ours)).toEqual(comparable(documented));
  });

  it('round-trips trades through encode and decode', () => {
    const frames = createCoinbaseServer().encode([...TRADES, { ...MATCH, kind: 'cancel' }]);
    expect(frames).toHaveLength(TRADES.length);
    expect(decodeAll(newSession(), ...frames)).toStrictEqual(TRADES.map((trade) => ['trade', trade]));
  });

  it('delivers trades over a real socket', async () => {
    const run = await runOverSocket(coinbase, {
      path: '/',
      credentials,
      expectedKey: '',
      symbols: ['BTC-USD', 'ETH-USD'],
      trades: TRADES,
    });
    expect(run.calls).toStrictEqual([
      ['event', { type: 'subscribed', symbols: ['BTC-USD', 'ETH-USD'] }],
      ...TRADES.map((trade) => ['trade', trade]),
    ]);
  });
});
