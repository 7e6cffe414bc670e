import { describe, expect, it } from 'vitest';
import { MAX_FRAME_CHARS } from '../../../feeds/adapter.js';
import { finnhub } from '../../../feeds/finnhub.js';
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

const fixture = loadFixture('finnhub');
const credentials = { key: 'KEY', secret: '' };
const newSession = () => finnhub.createSession(credentials);

const DECODED: Readonly<Record<string, readonly Call[]>> = {
  'crypto trade': [
    [
      'trade',
      {
        symbol: 'BINANCE:BTCUSDT',
        price: 7296.89,
        size: 0.011467,
        timeMs: 1575526691134,
        timeNanos: 0,
        id: '',
        seq: null,
        exchange: '',
        conditions: [],
        kind: 'trade',
        amendsId: '',
      },
    ],
  ],
};

describe('finnhub: every server sample in the fixture', () => {
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
});

describe('finnhub: client side', () => {
  it('is ready without a handshake and sends nothing on open', () => {
    const session = newSession();
    expect(session.ready).toBe(true);
    expect(session.opening()).toEqual([]);
    expect(session.reply({ type: 'heartbeat' })).toEqual([]);
  });

  it('produces the fixture subscribe and unsubscribe frames byte for byte', () => {
    expect(newSession().subscribe(['AAPL'])).toEqual([
      sample(fixture, 'subscribe (one symbol per message)').raw,
    ]);
    expect(newSession().unsubscribe(['AAPL'])).toEqual([sample(fixture, 'unsubscribe').raw]);
    expect(clientSamples(fixture)).toHaveLength(2);
  });

  it('sends one symbol per message, as limits.symbolsPerFrame says', () => {
    expect(finnhub.limits.symbolsPerFrame).toBe(1);
    expect(newSession().subscribe(['AAPL', 'MSFT', 'BINANCE:BTCUSDT'])).toEqual([
      '{"type":"subscribe","symbol":"AAPL"}',
      '{"type":"subscribe","symbol":"MSFT"}',
      '{"type":"subscribe","symbol":"BINANCE:BTCUSDT"}',
    ]);
  });

  it('puts the key in the URL and masks it for logs', () => {
    expect(finnhub.connectUrl('wss://ws.finnhub.io', { key: 'abc', secret: '' })).toBe(
      'wss://ws.finnhub.io/?token=abc',
    );
    expect(finnhub.connectUrl('wss://ws.finnhub.io/?token=old&x=1', { key: 'a&b=c', secret: '' })).toBe(
      'wss://ws.finnhub.io/?token=a%26b%3Dc&x=1',
    );
    expect(finnhub.redactUrl('wss://ws.finnhub.io/?token=abc')).toBe('wss://ws.finnhub.io/?token=***');
    expect(finnhub.redactUrl('wss://h/?x=1&token=a%26b&y=2')).toBe('wss://h/?x=1&token=***&y=2');
    expect(finnhub.redactUrl('wss://h/')).toBe('wss://h/');
  });

  it('has no trade ids and no de-duplication key: identical prints are two trades', () => {
    expect(finnhub.hasTradeIds).toBe(false);
    const trades = decodeAll(newSession(), sample(fixture, 'crypto trade').raw);
    expect(finnhub.dedupKey(trades[0]![1] as Trade)).toBeNull();
  });
});

describe('finnhub: control messages and hostile input', () => {
  const T = '"s":"AAPL","p":150.5,"t":1669903170123';
  const cases: readonly (readonly [string, string, readonly Call[]])[] = [
    ['a ping as a heartbeat', '{"type":"ping"}', [['event', { type: 'heartbeat' }]]],
    [
      'an error',
      '{"type":"error","msg":"Invalid message"}',
      [['event', { type: 'error', message: 'Invalid message' }]],
    ],
    [
      'the too-many-symbols error as a symbol limit',
      '{"type":"error","msg":"Subscribing to too many symbols"}',
      [['event', { type: 'disconnect', reason: 'symbol-limit', message: 'Subscribing to too many symbols' }]],
    ],
    [
      'a price update (v: 0) as a counted reject',
      `{"data":[{${T},"v":0}],"type":"trade"}`,
      [['reject', 'bad-size', 'AAPL price update, volume 0']],
    ],
    [
      'stock conditions as text codes',
      `{"data":[{"c":["1","12"],${T},"v":100}],"type":"trade"}`,
      [
        [
          'trade',
          {
            symbol: 'AAPL',
            price: 150.5,
            size: 100,
            timeMs: 1669903170123,
            timeNanos: 0,
            id: '',
            seq: null,
            exchange: '',
            conditions: ['1', '12'],
            kind: 'trade',
            amendsId: '',
          },
        ],
      ],
    ],
    ['invalid JSON', '{"type":', [['reject', 'invalid-json', '{"type":']]],
    ['an array frame', '[{"type":"ping"}]', [['reject', 'bad-shape', 'frame is not an object']]],
    [
      'trade data that is not a list',
      '{"type":"trade","data":{}}',
      [['reject', 'bad-shape', 'trade data is not an array']],
    ],
    [
      'a trade that is not an object',
      '{"type":"trade","data":[7]}',
      [['reject', 'bad-shape', 'trade is not an object']],
    ],
    [
      'a negative price',
      `{"type":"trade","data":[{"s":"AAPL","p":-1,"t":1669903170123,"v":1}]}`,
      [['reject', 'bad-price', 'AAPL -1']],
    ],
    [
      'an infinite price',
      `{"type":"trade","data":[{"s":"AAPL","p":1e999,"t":1669903170123,"v":1}]}`,
      [['reject', 'bad-price', 'AAPL Infinity']],
    ],
    [
      'an absurd volume',
      `{"type":"trade","data":[{${T},"v":1e15}]}`,
      [['reject', 'bad-size', 'AAPL 1000000000000000']],
    ],
    ['a volume as text', `{"type":"trade","data":[{${T},"v":"1"}]}`, [['reject', 'bad-size', 'AAPL 1']]],
    [
      'a time in seconds',
      `{"type":"trade","data":[{"s":"AAPL","p":1,"t":1669903170,"v":1}]}`,
      [['reject', 'bad-time', 'AAPL 1669903170']],
    ],
    [
      'a missing time',
      `{"type":"trade","data":[{"s":"AAPL","p":1,"v":1}]}`,
      [['reject', 'bad-time', 'AAPL undefined']],
    ],
    [
      'a symbol with a space',
      `{"type":"trade","data":[{"s":"IC MARKETS:1","p":1,"t":1669903170123,"v":1}]}`,
      [['reject', 'bad-symbol', 'IC MARKETS:1']],
    ],
    [
      'conditions that are not text',
      `{"type":"trade","data":[{${T},"v":1,"c":[1]}]}`,
      [['reject', 'bad-shape', 'AAPL conditions']],
    ],
    ['an unknown type', '{"type":"news"}', [['reject', 'unknown-event', 'type news']]],
    [
      'a __proto__ key carrying the type',
      '{"__proto__":{"type":"ping"}}',
      [['reject', 'unknown-event', 'type undefined']],
    ],
    [
      'a __proto__ key carrying trade fields',
      '{"type":"trade","data":[{"__proto__":{"s":"AAPL","p":1,"t":1669903170123,"v":1}}]}',
      [['reject', 'bad-symbol', 'undefined']],
    ],
    [
      'one bad trade among good ones',
      `{"type":"trade","data":[{${T},"v":1},{"s":"AAPL","p":"x","t":1,"v":1}]}`,
      [
        [
          'trade',
          {
            symbol: 'AAPL',
            price: 150.5,
            size: 1,
            timeMs: 1669903170123,
            timeNanos: 0,
            id: '',
            seq: null,
            exchange: '',
            conditions: [],
            kind: 'trade',
            amendsId: '',
          },
        ],
        ['reject', 'bad-price', 'AAPL x'],
      ],
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
      for (const frame of mutations(raw, 300, 100 + n))
        expect(() => {
          session.decode(frame, sink);
        }).not.toThrow();
    }
    for (const trade of sink.trades()) expect(trade.price).toBeGreaterThan(0);
  });
});

const TRADES: readonly Trade[] = [
  {
    symbol: 'BINANCE:BTCUSDT',
    price: 7296.89,
    size: 0.011467,
    timeMs: 1575526691134,
    timeNanos: 0,
    id: '',
    seq: null,
    exchange: '',
    conditions: [],
    kind: 'trade',
    amendsId: '',
  },
  {
    symbol: 'AAPL',
    price: 150.5,
    size: 100,
    timeMs: 1669903170123,
    timeNanos: 0,
    id: '',
    seq: null,
    exchange: '',
    conditions: ['1', '12'],
    kind: 'trade',
    amendsId: '',
  },
  {
    symbol: 'AAPL',
    price: 150.5,
    size: 100,
    timeMs: 1669903170123,
    timeNanos: 0,
    id: '',
    seq: null,
    exchange: '',
    conditions: ['1', '12'],
    kind: 'trade',
    amendsId: '',
  },
];

describe('finnhub: simulator server half', () => {
  it('serves / with a token parameter', () => {
    expect(finnhub.server.accepts(new URL('ws://h/?token=abc'))).toBe(true);
    expect(finnhub.server.accepts(new URL('ws://h/?token='))).toBe(true);
    expect(finnhub.server.accepts(new URL('ws://h/'))).toBe(false);
    expect(finnhub.server.accepts(new URL('ws://h/ws?token=abc'))).toBe(false);
  });

  it('closes a connection with a missing or wrong token and accepts the right one', () => {
    for (const url of ['ws://h/?token=', 'ws://h/?token=WRONG']) {
      const conn = new FakeConnection(new URL(url), 'KEY');
      finnhub.server.onOpen(conn);
      expect(conn.closed).toEqual({ code: 1008, reason: 'Invalid API key' });
      expect(conn.authenticated).toBe(false);
    }
    const conn = new FakeConnection(new URL('ws://h/?token=KEY'), 'KEY');
    finnhub.server.onOpen(conn);
    expect(conn.closed).toBeUndefined();
    expect(conn.authenticated).toBe(true);
    expect(conn.sent).toEqual([]);
  });

  it('subscribes one symbol per message without an ack', () => {
    const conn = new FakeConnection(new URL('ws://h/?token=any'));
    finnhub.server.onOpen(conn);
    finnhub.server.onMessage(conn, sample(fixture, 'subscribe (one symbol per message)').raw);
    finnhub.server.onMessage(conn, '{"type":"subscribe","symbol":"MSFT"}');
    finnhub.server.onMessage(conn, sample(fixture, 'unsubscribe').raw);
    expect(conn.subscriptions()).toEqual(['MSFT']);
    expect(conn.sent).toEqual([]);
    const refused = new FakeConnection(new URL('ws://h/?token=WRONG'), 'KEY');
    finnhub.server.onOpen(refused);
    finnhub.server.onMessage(refused, '{"type":"subscribe","symbol":"AAPL"}');
    expect(refused.subscriptions()).toEqual([]);
    finnhub.server.onMessage(conn, 'nope');
    expect(conn.drain()).toEqual(['{"type":"error","msg":"Invalid message"}']);
  });

  it('encodes the fixture trade back to the fixture text, byte for byte', () => {
    const { raw } = sample(fixture, 'crypto trade');
    const trades = decodeAll(newSession(), raw).map((call) => call[1] as Trade);
    expect(finnhub.server.encode(trades)).toEqual([raw]);
  });

  it('encodes conditions first, in Finnhub key order, and skips what Finnhub never sends', () => {
    const cancel: Trade = { ...TRADES[1]!, kind: 'cancel', amendsId: 'x' };
    expect(finnhub.server.encode([TRADES[1]!, cancel])).toEqual([
      '{"data":[{"c":["1","12"],"p":150.5,"s":"AAPL","t":1669903170123,"v":100}],"type":"trade"}',
    ]);
    expect(finnhub.server.encode([cancel])).toEqual([]);
  });

  it('round-trips trades, duplicates included, through encode and decode', () => {
    expect(decodeAll(newSession(), ...finnhub.server.encode(TRADES))).toStrictEqual(
      TRADES.map((trade) => ['trade', trade]),
    );
  });

  it('delivers trades over a real socket with the token in the URL', async () => {
    const run = await runOverSocket(finnhub, {
      path: '/',
      credentials,
      expectedKey: 'KEY',
      symbols: ['AAPL', 'BINANCE:BTCUSDT'],
      trades: TRADES,
    });
    expect(run.calls).toStrictEqual(TRADES.map((trade) => ['trade', trade]));
    expect(run.serverReceived).toEqual([
      '{"type":"subscribe","symbol":"AAPL"}',
      '{"type":"subscribe","symbol":"BINANCE:BTCUSDT"}',
    ]);
  });

  it('is closed over a real socket when the token is wrong', async () => {
    const run = await runOverSocket(finnhub, {
      path: '/',
      credentials: { key: 'WRONG', secret: '' },
      expectedKey: 'KEY',
      symbols: ['AAPL'],
      trades: TRADES,
    });
    expect(run.closed).toEqual({ code: 1008, reason: 'Invalid API key' });
    expect(run.calls).toEqual([]);
  });
});
