import { describe, expect, it } from 'vitest';
import { MAX_FRAME_CHARS, type FeedSession } from '../../../feeds/adapter.js';
import { binance, binanceServer } from '../../../feeds/binance.js';
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

const fixture = loadFixture('binance');
const credentials = { key: '', secret: '' };
const newSession = () => binance.createSession(credentials);

const BNBBTC: Trade = {
  symbol: 'BNBBTC',
  price: 0.001,
  size: 100,
  timeMs: 1672515782136,
  timeNanos: 0,
  id: '12345',
  seq: 12345,
  exchange: '',
  conditions: [],
  kind: 'trade',
  amendsId: '',
};

/**
 * What each server sample decodes to, worked out by hand; `before` puts the session in the state the
 * sample answers (a reply names only its request id).
 */
const DECODED: Readonly<Record<string, { before?: (session: FeedSession) => void; calls: readonly Call[] }>> =
  {
    'subscribe ok': {
      before: (session) => session.subscribe(['BTCUSDT']),
      calls: [['event', { type: 'subscribed', symbols: ['BTCUSDT'] }]],
    },
    // The listed stream is an aggTrade stream: no trade subscription to report.
    'LIST_SUBSCRIPTIONS result': { calls: [] },
    'trade event (raw stream)': { calls: [['trade', BNBBTC]] },
    'aggTrade event': { calls: [['reject', 'unknown-event', 'e aggTrade']] },
    'serverShutdown (combined-stream form)': {
      calls: [['event', { type: 'disconnect', reason: 'server-shutdown', message: 'server shutting down' }]],
    },
    'bad JSON error': {
      calls: [
        ['event', { type: 'error', message: 'code 3: Invalid JSON: expected value at line %s column %s' }],
      ],
    },
    'combined stream frame (note: mock omits p/q)': { calls: [['reject', 'bad-price', 'BNBBTC undefined']] },
  };

describe('binance: every server sample in the fixture', () => {
  it('has a hand-written expectation for each server->client sample', () => {
    expect(
      serverSamples(fixture)
        .map((s) => s.desc)
        .sort(),
    ).toEqual(Object.keys(DECODED).sort());
  });

  for (const { desc, raw } of serverSamples(fixture)) {
    it(`decodes "${desc}"`, () => {
      const session = newSession();
      DECODED[desc]?.before?.(session);
      expect(decodeAll(session, raw)).toStrictEqual(DECODED[desc]?.calls);
    });
  }
});

describe('binance: client side', () => {
  it('is ready on open, with no handshake', () => {
    const session = newSession();
    expect(session.ready).toBe(true);
    expect(session.opening()).toEqual([]);
  });

  it('builds SUBSCRIBE and UNSUBSCRIBE frames shaped as the fixture frames', () => {
    const session = newSession();
    const subscribe = session.subscribe(['BTCUSDT']);
    const unsubscribe = session.unsubscribe(['BTCUSDT']);
    expect(subscribe).toEqual(['{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}']);
    expect(unsubscribe).toEqual(['{"method":"UNSUBSCRIBE","params":["btcusdt@trade"],"id":2}']);
    // Same keys in the same order as the documented frames (which name other streams and ids).
    for (const [desc, frames] of [
      ['live subscribe', subscribe],
      ['live unsubscribe', unsubscribe],
    ] as const) {
      expect(Object.keys(JSON.parse(frames[0]!) as object)).toEqual(
        Object.keys(JSON.parse(sample(fixture, desc).raw) as object),
      );
    }
    expect(clientSamples(fixture)).toHaveLength(2);
  });

  it('maps each reply to the symbols of its own request', () => {
    const session = newSession();
    session.subscribe(['BTCUSDT', 'ETHUSDT']);
    session.unsubscribe(['ETHUSDT']);
    expect(
      decodeAll(session, '{"result":null,"id":2}', '{"result":null,"id":1}', '{"result":null,"id":1}'),
    ).toStrictEqual([
      ['event', { type: 'unsubscribed', symbols: ['ETHUSDT'] }],
      ['event', { type: 'subscribed', symbols: ['BTCUSDT', 'ETHUSDT'] }],
      ['reject', 'bad-id', 'result for unknown request id 1'],
    ]);
    expect(decodeAll(newSession(), sample(fixture, 'subscribe ok').raw)).toStrictEqual([
      ['reject', 'bad-id', 'result for unknown request id 1'],
    ]);
  });

  it('reports the trade streams of a LIST_SUBSCRIPTIONS answer as subscribed', () => {
    expect(
      decodeAll(newSession(), '{"result":["btcusdt@trade","ethusdt@depth","bnbbtc@trade"],"id":3}'),
    ).toStrictEqual([['event', { type: 'subscribed', symbols: ['BTCUSDT', 'BNBBTC'] }]]);
  });

  it('decodes a trade inside the combined-stream wrapper', () => {
    const frame =
      '{"stream":"bnbbtc@trade","data":{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,' +
      '"p":"0.00100000","q":"100.00000000","T":1672515782136,"m":true,"M":true}}';
    expect(decodeAll(newSession(), frame)).toStrictEqual([['trade', BNBBTC]]);
  });

  it('keys trades by symbol and trade id', () => {
    expect(binance.dedupKey(BNBBTC)).toBe('BNBBTC|12345');
    expect(binance.hasTradeIds).toBe(true);
  });
});

describe('binance: limits', () => {
  const symbols = (count: number, prefix = 'S') =>
    Array.from({ length: count }, (_, n) => `${prefix}${n}USDT`);
  const params = (frame: string) => (JSON.parse(frame) as { params: string[] }).params;

  it('declares the documented limits', () => {
    expect(binance.limits.symbolsPerConnection).toBe(1024);
    expect(binance.limits.framesPerSecond).toBeLessThanOrEqual(5);
    expect(binance.limits.symbolsPerFrame).toBe(200);
  });

  it('splits 1024 streams into frames of at most 200, each with its own id', () => {
    const frames = newSession().subscribe(symbols(1024));
    expect(frames.map((frame) => params(frame).length)).toEqual([200, 200, 200, 200, 200, 24]);
    expect(frames.map((frame) => (JSON.parse(frame) as { id: number }).id)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(frames.flatMap(params)).toEqual(symbols(1024).map((s) => `${s.toLowerCase()}@trade`));
  });

  it('refuses to hold more than 1024 streams on one connection', () => {
    const session = newSession();
    session.subscribe(symbols(1024));
    expect(() => session.subscribe(['EXTRAUSDT'])).toThrow(RangeError);
    expect(session.subscribe(['S0USDT'])).toHaveLength(1); // already held: no new stream
    session.unsubscribe(['S1USDT']);
    expect(session.subscribe(['EXTRAUSDT'])).toHaveLength(1);
    expect(() => session.subscribe(['MOREUSDT'])).toThrow(RangeError);
  });

  it('frees the streams of a refused subscribe', () => {
    const session = newSession();
    session.subscribe(symbols(1000));
    session.subscribe(symbols(24, 'T')); // id 6
    expect(decodeAll(session, '{"error":{"code":4,"msg":"Too many subscriptions"},"id":6}')).toStrictEqual([
      ['event', { type: 'disconnect', reason: 'symbol-limit', message: 'code 4: Too many subscriptions' }],
    ]);
    expect(session.subscribe(symbols(24, 'U'))).toHaveLength(1);
  });
});

describe('binance: hostile input goes to reject, never throws', () => {
  const trade = (fields: string) => `{"e":"trade","E":1,"s":"BNBBTC","t":12345,"T":1672515782136,${fields}}`;
  const cases: readonly (readonly [string, string, readonly Call[]])[] = [
    ['invalid JSON', '{"e":', [['reject', 'invalid-json', '{"e":']]],
    ['an array frame', '[]', [['reject', 'bad-shape', 'frame is not an object']]],
    [
      'a wrapper whose data is not an object',
      '{"stream":"x","data":[1]}',
      [['reject', 'bad-shape', 'combined-stream data is not an object']],
    ],
    ['a price in exponent form', trade('"p":"1e-3","q":"1"'), [['reject', 'bad-price', 'BNBBTC 1e-3']]],
    ['a negative price', trade('"p":"-0.001","q":"1"'), [['reject', 'bad-price', 'BNBBTC -0.001']]],
    ['a NaN price', trade('"p":"NaN","q":"1"'), [['reject', 'bad-price', 'BNBBTC NaN']]],
    ['an Infinity price', trade('"p":"Infinity","q":"1"'), [['reject', 'bad-price', 'BNBBTC Infinity']]],
    ['a hex price', trade('"p":"0x10","q":"1"'), [['reject', 'bad-price', 'BNBBTC 0x10']]],
    ['a price with spaces', trade('"p":" 1","q":"1"'), [['reject', 'bad-price', 'BNBBTC  1']]],
    ['a price sent as a number', trade('"p":0.001,"q":"1"'), [['reject', 'bad-price', 'BNBBTC 0.001']]],
    ['a zero price', trade('"p":"0.00000000","q":"1"'), [['reject', 'bad-price', 'BNBBTC 0.00000000']]],
    [
      'an absurd quantity',
      trade('"p":"1","q":"1000000000000.0"'),
      [['reject', 'bad-size', 'BNBBTC 1000000000000.0']],
    ],
    [
      'a quantity with 16 integer digits',
      trade('"p":"1","q":"1234567890123456"'),
      [['reject', 'bad-size', 'BNBBTC 1234567890123456']],
    ],
    ['a zero quantity', trade('"p":"1","q":"0"'), [['reject', 'bad-size', 'BNBBTC 0']]],
    [
      'a time in microseconds',
      '{"e":"trade","s":"BNBBTC","t":1,"p":"1","q":"1","T":1672515782136000}',
      [['reject', 'bad-time', 'BNBBTC 1672515782136000']],
    ],
    [
      'a negative trade id',
      '{"e":"trade","s":"BNBBTC","t":-1,"p":"1","q":"1","T":1672515782136}',
      [['reject', 'bad-id', 'BNBBTC -1']],
    ],
    [
      'a fractional trade id',
      '{"e":"trade","s":"BNBBTC","t":1.5,"p":"1","q":"1","T":1672515782136}',
      [['reject', 'bad-id', 'BNBBTC 1.5']],
    ],
    [
      'a lower-case symbol',
      '{"e":"trade","s":"bnbbtc","t":1,"p":"1","q":"1","T":1672515782136}',
      [['reject', 'bad-symbol', 'bnbbtc']],
    ],
    ['an unknown event', '{"e":"kline"}', [['reject', 'unknown-event', 'e kline']]],
    [
      'an object with nothing known',
      '{"x":1}',
      [['reject', 'unknown-event', 'no event type, result or error']],
    ],
    [
      'a __proto__ key carrying the event',
      '{"__proto__":{"e":"trade"}}',
      [['reject', 'unknown-event', 'no event type, result or error']],
    ],
    [
      'an error that is not an object',
      '{"error":"x","id":1}',
      [['reject', 'bad-shape', 'error is not an object']],
    ],
    [
      'an error with hostile fields',
      '{"error":{"code":{"toString":1},"msg":7},"id":{"valueOf":1}}',
      [['event', { type: 'error', message: 'code object: ' }]],
    ],
    [
      'a result that is neither null nor a list',
      '{"result":{"a":1},"id":9}',
      [['reject', 'bad-id', 'result for unknown request id 9']],
    ],
  ];

  for (const [what, frame, expected] of cases) {
    it(`rejects ${what}`, () => {
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
      for (const frame of mutations(raw, 300, 200 + n))
        expect(() => {
          session.decode(frame, sink);
        }).not.toThrow();
    }
    for (const trade of sink.trades()) expect(trade.seq).toBe(Number(trade.id));
  });
});

const TRADES: readonly Trade[] = [
  BNBBTC,
  { ...BNBBTC, symbol: 'BTCUSDT', price: 43123.45, size: 0.00012, id: '3000000001', seq: 3000000001 },
  {
    ...BNBBTC,
    symbol: 'BTCUSDT',
    price: 43123.46,
    size: 1.5,
    id: '3000000002',
    seq: 3000000002,
    timeMs: 1672515782137,
  },
  { ...BNBBTC, symbol: 'ETHUSDT', price: 0.00000001, size: 99999999.99999999, id: '0', seq: 0 },
];

describe('binance: simulator server half', () => {
  it('serves /ws, /ws/<stream> and /stream', () => {
    for (const url of [
      'ws://h/ws',
      'ws://h/ws/btcusdt@trade',
      'ws://h/stream?streams=a@trade/b@trade',
      'ws://h/stream',
    ]) {
      expect(binanceServer.accepts(new URL(url))).toBe(true);
    }
    for (const url of ['ws://h/', 'ws://h/wsx', 'ws://h/stocks', 'ws://h/?token=x']) {
      expect(binanceServer.accepts(new URL(url))).toBe(false);
    }
  });

  it('subscribes the trade streams named in the URL at connect', () => {
    const raw = new FakeConnection(new URL('ws://h/ws/btcusdt@trade'));
    binanceServer.onOpen(raw);
    expect(raw.authenticated).toBe(true);
    expect(raw.subscriptions()).toEqual(['BTCUSDT']);
    const combined = new FakeConnection(
      new URL('ws://h/stream?streams=btcusdt@trade/bnbbtc@depth/ethusdt@trade'),
    );
    binanceServer.onOpen(combined);
    expect(combined.subscriptions()).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(raw.sent).toEqual([]);
  });

  it('answers SUBSCRIBE, UNSUBSCRIBE and LIST_SUBSCRIPTIONS as Binance does', () => {
    const conn = new FakeConnection(new URL('ws://h/ws'));
    binanceServer.onOpen(conn);
    binanceServer.onMessage(conn, '{"method":"SUBSCRIBE","params":["btcusdt@trade","ethusdt@trade"],"id":1}');
    binanceServer.onMessage(conn, '{"method":"UNSUBSCRIBE","params":["ethusdt@trade"],"id":312}');
    binanceServer.onMessage(conn, '{"method":"LIST_SUBSCRIPTIONS","id":3}');
    expect(conn.drain()).toEqual([
      sample(fixture, 'subscribe ok').raw,
      '{"result":null,"id":312}',
      '{"result":["btcusdt@trade"],"id":3}',
    ]);
  });

  it('answers malformed requests with the documented errors', () => {
    const conn = new FakeConnection(new URL('ws://h/ws'));
    binanceServer.onMessage(conn, '{nope');
    binanceServer.onMessage(conn, '{"method":"SUBSCRIBE","params":["a@trade"],"id":1.5}');
    binanceServer.onMessage(conn, '{"method":"PING","id":1}');
    expect(conn.drain()).toEqual([
      '{"code":3,"msg":"Invalid JSON: expected value at line 1 column 1"}',
      '{"code":2,"msg":"Invalid request: request ID must be an unsigned integer"}',
      '{"code":2,"msg":"Invalid request: unknown variant PING, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`"}',
    ]);
  });

  it('refuses a subscription past 1024 streams', () => {
    const conn = new FakeConnection(new URL('ws://h/ws'));
    conn.subscribe(Array.from({ length: 1024 }, (_, n) => `S${n}USDT`));
    binanceServer.onMessage(conn, '{"method":"SUBSCRIBE","params":["extrausdt@trade"],"id":7}');
    expect(conn.drain()).toEqual(['{"error":{"code":4,"msg":"Too many subscriptions"},"id":7}']);
    expect(conn.subscriptions()).toHaveLength(1024);
  });

  it('drops a connection that sends more than 5 messages in a second', () => {
    const conn = new FakeConnection(new URL('ws://h/ws'));
    for (let n = 1; n <= 5; n++) binanceServer.onMessage(conn, `{"method":"LIST_SUBSCRIPTIONS","id":${n}}`);
    expect(conn.closed).toBeUndefined();
    binanceServer.onMessage(conn, '{"method":"LIST_SUBSCRIPTIONS","id":6}');
    expect(conn.closed).toEqual({ code: 1008, reason: 'Too many messages' });
  });

  it('encodes one event per frame with 8-decimal strings, wrapped on combined streams', () => {
    const frame =
      '{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.00100000","q":"100.00000000",' +
      '"T":1672515782136,"m":true,"M":true}';
    expect(binanceServer.encode([BNBBTC, { ...BNBBTC, kind: 'cancel' }])).toEqual([frame]);
    expect(binanceServer.encodeFor(new FakeConnection(new URL('ws://h/ws/bnbbtc@trade')), [BNBBTC])).toEqual([
      frame,
    ]);
    expect(
      binanceServer.encodeFor(new FakeConnection(new URL('ws://h/stream?streams=bnbbtc@trade')), [BNBBTC]),
    ).toEqual([`{"stream":"bnbbtc@trade","data":${frame}}`]);
    expect(binanceServer.encode(TRADES)).toHaveLength(TRADES.length);
  });

  it('round-trips trades through encode and decode, raw and combined', () => {
    const combined = new FakeConnection(new URL('ws://h/stream'));
    for (const frames of [binanceServer.encode(TRADES), binanceServer.encodeFor(combined, TRADES)]) {
      expect(decodeAll(newSession(), ...frames)).toStrictEqual(TRADES.map((trade) => ['trade', trade]));
    }
  });

  for (const path of ['/ws', '/stream?streams=bnbbtc@trade']) {
    it(`delivers trades over a real socket on ${path}`, async () => {
      const run = await runOverSocket(binance, {
        path,
        credentials,
        expectedKey: '',
        symbols: ['BNBBTC', 'BTCUSDT', 'ETHUSDT'],
        trades: TRADES,
      });
      expect(run.calls).toStrictEqual([
        ['event', { type: 'subscribed', symbols: ['BNBBTC', 'BTCUSDT', 'ETHUSDT'] }],
        ...TRADES.map((trade) => ['trade', trade]),
      ]);
      expect(run.serverReceived).toEqual([
        '{"method":"SUBSCRIBE","params":["bnbbtc@trade","btcusdt@trade","ethusdt@trade"],"id":1}',
      ]);
    });
  }
});
