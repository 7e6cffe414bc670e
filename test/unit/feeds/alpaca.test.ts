import { describe, expect, it } from 'vitest';
import { MAX_FRAME_CHARS } from '../../../feeds/adapter.js';
import { alpaca } from '../../../feeds/alpaca.js';
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

const fixture = loadFixture('alpaca');
const credentials = { key: 'KEY', secret: 'SECRET' };
const newSession = () => alpaca.createSession(credentials);

/** What each server sample decodes to, worked out by hand from the fixture text. */
const DECODED: Readonly<Record<string, readonly Call[]>> = {
  welcome: [['event', { type: 'hello' }]],
  'auth ok': [['event', { type: 'authenticated' }]],
  'auth failed': [['event', { type: 'auth-failed', message: 'auth failed' }]],
  'second connection': [
    ['event', { type: 'disconnect', reason: 'connection-limit', message: 'connection limit exceeded' }],
  ],
  'too many symbols for plan (subscriptions unchanged)': [
    ['event', { type: 'disconnect', reason: 'symbol-limit', message: 'symbol limit exceeded' }],
  ],
  'slow consumer (may not arrive before disconnect)': [
    ['event', { type: 'disconnect', reason: 'slow-consumer', message: 'slow client' }],
  ],
  'subscription ack = FULL current subscription set': [['event', { type: 'subscribed', symbols: ['AAPL'] }]],
  trade: [
    [
      'trade',
      {
        symbol: 'AAPL',
        price: 126.55,
        size: 1,
        timeMs: 1614009104208, // 2021-02-22T15:51:44.208Z
        timeNanos: 0,
        id: '96921',
        seq: null,
        exchange: 'D',
        conditions: ['@', 'I'],
        kind: 'trade',
        amendsId: '',
      },
    ],
  ],
  'batched quotes, nanosecond RFC3339 timestamps': [
    ['reject', 'unknown-event', 'T q'],
    ['reject', 'unknown-event', 'T q'],
    ['reject', 'unknown-event', 'T q'],
  ],
  'trade (nanosecond timestamp)': [
    [
      'trade',
      {
        symbol: 'AAPL',
        price: 144.6,
        size: 25,
        timeMs: 1611743734828, // 2021-01-27T10:35:34.828Z
        timeNanos: 401270, // .82840127 s = 828 ms + 401 270 ns
        id: '1532',
        seq: null,
        exchange: 'Q',
        conditions: ['@', 'F', 'T', 'I'],
        kind: 'trade',
        amendsId: '',
      },
    ],
  ],
  'subscription ack incl. auto-subscribed cancelErrors/corrections (mirrors trades)': [
    ['event', { type: 'subscribed', symbols: ['AAPL'] }],
  ],
  // The fixture's time is a placeholder for a msgpack timestamp: not RFC 3339 text.
  "trade cancel/error ('x'), 'a' = action": [
    ['reject', 'bad-time', 'DJT <msgpack Timestamp(seconds=10,nanoseconds=10)>'],
  ],
  'trading status': [['reject', 'unknown-event', 'T s']],
};

describe('alpaca: every server sample in the fixture', () => {
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

describe('alpaca: corrections and cancels (documentation examples)', () => {
  it('decodes a correction as a cancel of the original followed by the corrected trade', () => {
    const frame =
      '[{"T":"c","S":"EEM","x":"M","oi":52983525033527,"op":39.1582,"os":440000,"oc":[" ","7"],' +
      '"ci":52983525034326,"cp":39.1809,"cs":440000,"cc":[" ","7"],"z":"B","t":"2023-04-06T14:25:06.542305024Z"}]';
    const common = { symbol: 'EEM', timeMs: 1680791106542, timeNanos: 305024, seq: null, exchange: 'M' };
    expect(decodeAll(newSession(), frame)).toStrictEqual([
      [
        'trade',
        {
          ...common,
          price: 39.1582,
          size: 440000,
          id: '52983525033527',
          conditions: [' ', '7'],
          kind: 'cancel',
          amendsId: '52983525033527',
        },
      ],
      [
        'trade',
        {
          ...common,
          price: 39.1809,
          size: 440000,
          id: '52983525034326',
          conditions: [' ', '7'],
          kind: 'correction',
          amendsId: '52983525033527',
        },
      ],
    ]);
  });

  it('decodes a cancel as one cancel of the named trade', () => {
    const frame =
      '[{"T":"x","S":"GOOGL","i":465,"x":"D","p":105.31,"s":300,"a":"C","z":"C","t":"2023-04-06T13:15:42.83540958Z"}]';
    expect(decodeAll(newSession(), frame)).toStrictEqual([
      [
        'trade',
        {
          symbol: 'GOOGL',
          price: 105.31,
          size: 300,
          timeMs: 1680786942835,
          timeNanos: 409580,
          id: '465',
          seq: null,
          exchange: 'D',
          conditions: [],
          kind: 'cancel',
          amendsId: '465',
        },
      ],
    ]);
  });

  it('emits nothing of a correction whose corrected half is bad', () => {
    const frame =
      '[{"T":"c","S":"EEM","x":"M","oi":1,"op":39.1582,"os":440000,"oc":[],' +
      '"ci":2,"cp":39.1809,"cs":-5,"cc":[],"z":"B","t":"2023-04-06T14:25:06.542305024Z"}]';
    expect(decodeAll(newSession(), frame)).toStrictEqual([['reject', 'bad-size', 'EEM -5']]);
  });

  it('keys a cancel apart from the trade it cancels, and a correction apart from both', () => {
    const [[, cancel], [, correction]] = decodeAll(
      newSession(),
      '[{"T":"c","S":"EEM","x":"M","oi":7,"op":1,"os":1,"oc":[],"ci":8,"cp":2,"cs":1,"cc":[],"t":"2023-04-06T14:25:06Z"}]',
    ) as [['trade', Trade], ['trade', Trade]];
    const [[, trade]] = decodeAll(
      newSession(),
      '[{"T":"t","i":7,"S":"EEM","x":"M","p":1,"s":1,"t":"2023-04-06T14:25:05Z","c":[]}]',
    ) as [['trade', Trade]];
    expect(alpaca.dedupKey(trade)).toBe('EEM|M|7');
    expect(alpaca.dedupKey(cancel)).toBe('EEM|M|7|cancel');
    expect(alpaca.dedupKey(correction)).toBe('EEM|M|8|correction');
  });
});

describe('alpaca: client frames', () => {
  it('produces the fixture auth frame byte for byte, with its masked credentials', () => {
    const auth = sample(fixture, 'auth');
    const session = alpaca.createSession({ key: `CK${'*'.repeat(18)}`, secret: '*'.repeat(35) });
    expect(session.opening()).toEqual([]);
    expect(session.reply({ type: 'hello' })).toEqual([auth.raw]);
    expect(session.ready).toBe(false);
    expect(session.reply({ type: 'authenticated' })).toEqual([]);
    expect(session.ready).toBe(true);
  });

  it('subscribes and unsubscribes trades only: the fixture frames without their other channels', () => {
    const session = newSession();
    const subscribe = session.subscribe(['AAPL']);
    const unsubscribe = session.unsubscribe(['VOO']);
    expect(subscribe).toEqual(['{"action":"subscribe","trades":["AAPL"]}']);
    expect(unsubscribe).toEqual(['{"action":"unsubscribe","trades":["VOO"]}']);
    for (const [desc, frames] of [
      ['incremental subscribe (adds to current set)', subscribe],
      ['incremental unsubscribe (subtracts)', unsubscribe],
    ] as const) {
      const { action, trades } = JSON.parse(sample(fixture, desc).raw) as Record<string, unknown>;
      expect(frames).toEqual([JSON.stringify({ action, trades })]);
    }
    expect(clientSamples(fixture)).toHaveLength(3);
  });

  it('splits subscriptions into frames of at most limits.symbolsPerFrame symbols', () => {
    const symbols = Array.from({ length: 2 * alpaca.limits.symbolsPerFrame + 1 }, (_, n) => `S${n}`);
    const frames = newSession().subscribe(symbols);
    const parts = frames.map((frame) => (JSON.parse(frame) as { trades: string[] }).trades);
    expect(parts.map((part) => part.length)).toEqual([1000, 1000, 1]);
    expect(parts.flat()).toEqual(symbols);
    expect(newSession().subscribe([])).toEqual([]);
  });

  it('reports symbols that a later full-set ack no longer lists as unsubscribed', () => {
    const session = newSession();
    session.subscribe(['AAPL', 'MSFT']);
    expect(decodeAll(session, '[{"T":"subscription","trades":["AAPL","MSFT"]}]')).toStrictEqual([
      ['event', { type: 'subscribed', symbols: ['AAPL', 'MSFT'] }],
    ]);
    session.unsubscribe(['MSFT']);
    expect(decodeAll(session, '[{"T":"subscription","trades":["AAPL"]}]')).toStrictEqual([
      ['event', { type: 'subscribed', symbols: ['AAPL'] }],
      ['event', { type: 'unsubscribed', symbols: ['MSFT'] }],
    ]);
    session.unsubscribe(['AAPL']);
    expect(decodeAll(session, '[{"T":"subscription","trades":[]}]')).toStrictEqual([
      ['event', { type: 'unsubscribed', symbols: ['AAPL'] }],
    ]);
  });
});

const VALID = { T: 't', i: 1, S: 'AAPL', x: 'D', p: 126.55, s: 1, t: '2021-02-22T15:51:44.208Z', c: ['@'] };
const withField = (field: string, value: unknown) => `[${JSON.stringify({ ...VALID, [field]: value })}]`;

describe('alpaca: hostile input goes to reject, never throws', () => {
  const cases: readonly (readonly [string, string, readonly Call[]])[] = [
    ['invalid JSON', '[{"T":"t",', [['reject', 'invalid-json', '[{"T":"t",']]],
    ['an object instead of an array', '{"T":"t"}', [['reject', 'bad-shape', 'frame is not an array']]],
    [
      'elements that are not objects',
      '[1,null,"t"]',
      [
        ['reject', 'bad-shape', 'event is not an object'],
        ['reject', 'bad-shape', 'event is not an object'],
        ['reject', 'bad-shape', 'event is not an object'],
      ],
    ],
    ['a negative price', withField('p', -1), [['reject', 'bad-price', 'AAPL -1']]],
    ['a zero price', withField('p', 0), [['reject', 'bad-price', 'AAPL 0']]],
    [
      'an infinite price (1e999)',
      '[{"T":"t","i":1,"S":"AAPL","x":"D","p":1e999,"s":1,"t":"2021-02-22T15:51:44.208Z"}]',
      [['reject', 'bad-price', 'AAPL Infinity']],
    ],
    ['a price sent as text', withField('p', '126.55'), [['reject', 'bad-price', 'AAPL 126.55']]],
    ['an absurd size', withField('s', 1e13), [['reject', 'bad-size', 'AAPL 10000000000000']]],
    ['a missing size', withField('s', undefined), [['reject', 'bad-size', 'AAPL undefined']]],
    [
      'an impossible date',
      withField('t', '2021-02-30T00:00:00Z'),
      [['reject', 'bad-time', 'AAPL 2021-02-30T00:00:00Z']],
    ],
    ['a time in milliseconds', withField('t', 1614009104208), [['reject', 'bad-time', 'AAPL 1614009104208']]],
    ['a negative id', withField('i', -1), [['reject', 'bad-id', 'AAPL -1']]],
    ['an id beyond 2^53', withField('i', 2 ** 53), [['reject', 'bad-id', 'AAPL 9007199254740992']]],
    ['an id sent as text', withField('i', '1'), [['reject', 'bad-id', 'AAPL 1']]],
    ['a missing symbol', withField('S', undefined), [['reject', 'bad-symbol', 'undefined']]],
    ['a lower-case symbol', withField('S', 'aapl'), [['reject', 'bad-symbol', 'aapl']]],
    [
      'a symbol object with its own toString',
      withField('S', { toString: 1 }),
      [['reject', 'bad-symbol', 'object']],
    ],
    ['conditions as a string', withField('c', '@'), [['reject', 'bad-shape', 'AAPL conditions']]],
    ['a missing exchange', withField('x', undefined), [['reject', 'bad-shape', 'AAPL exchange undefined']]],
    ['an unknown message type', '[{"T":"zz"}]', [['reject', 'unknown-event', 'T zz']]],
    [
      'an unknown success message',
      '[{"T":"success","msg":"constructor"}]',
      [['reject', 'unknown-event', 'success constructor']],
    ],
    [
      'a __proto__ key carrying the type',
      '[{"__proto__":{"T":"t","S":"AAPL"}}]',
      [['reject', 'unknown-event', 'T undefined']],
    ],
    [
      'a __proto__ key carrying the fields',
      '[{"T":"t","__proto__":{"S":"AAPL","p":1,"s":1}}]',
      [['reject', 'bad-symbol', 'undefined']],
    ],
    [
      'an error with hostile code and message',
      '[{"T":"error","code":{"toString":1},"msg":{"valueOf":1}}]',
      [['event', { type: 'error', message: 'code object: ' }]],
    ],
    [
      'a subscription list that is not a list',
      '[{"T":"subscription","trades":"AAPL"}]',
      [['reject', 'bad-shape', 'subscription list is AAPL']],
    ],
    [
      'a subscription list with entries that are not symbols',
      '[{"T":"subscription","trades":["AAPL",1,"__proto__"]}]',
      [
        ['reject', 'bad-symbol', '1'],
        ['reject', 'bad-symbol', '__proto__'],
        ['event', { type: 'subscribed', symbols: ['AAPL'] }],
      ],
    ],
    [
      'a cancel with an unknown action',
      '[{"T":"x","S":"GOOGL","i":465,"x":"D","p":105.31,"s":300,"a":"Z","t":"2023-04-06T13:15:42Z"}]',
      [['reject', 'bad-shape', 'GOOGL action Z']],
    ],
  ];

  for (const [what, frame, expected] of cases) {
    it(`rejects ${what}`, () => {
      expect(decodeAll(newSession(), frame)).toStrictEqual(expected);
    });
  }

  it('rejects an oversized frame before parsing it', () => {
    const frame = `[${' '.repeat(MAX_FRAME_CHARS)}]`;
    expect(decodeAll(newSession(), frame)).toStrictEqual([
      ['reject', 'oversized', `frame of ${MAX_FRAME_CHARS + 2} characters exceeds ${MAX_FRAME_CHARS}`],
    ]);
  });

  it('survives damaged copies of every fixture frame, emitting only valid trades', () => {
    const session = newSession();
    const sink = new RecordingSink();
    for (const [n, { raw }] of fixture.samples.entries()) {
      for (const frame of mutations(raw, 300, n + 1))
        expect(() => {
          session.decode(frame, sink);
        }).not.toThrow();
    }
    for (const trade of sink.trades()) {
      expect(trade.price).toBeGreaterThan(0);
      expect(trade.size).toBeGreaterThan(0);
      expect(Number.isInteger(trade.timeMs)).toBe(true);
    }
    expect(({} as Record<string, unknown>)['T']).toBeUndefined();
  });
});

const TRADES: readonly Trade[] = [
  {
    symbol: 'AAPL',
    price: 126.55,
    size: 100,
    timeMs: 1614009104208,
    timeNanos: 123456,
    id: '96921',
    seq: null,
    exchange: 'D',
    conditions: ['@', 'I'],
    kind: 'trade',
    amendsId: '',
  },
  {
    symbol: 'MSFT',
    price: 240.1,
    size: 3,
    timeMs: 1614009105000,
    timeNanos: 0,
    id: '17',
    seq: null,
    exchange: 'V',
    conditions: [],
    kind: 'trade',
    amendsId: '',
  },
  {
    symbol: 'AAPL',
    price: 126.5,
    size: 100,
    timeMs: 1614009106001,
    timeNanos: 1,
    id: '96921',
    seq: null,
    exchange: 'D',
    conditions: ['@', 'I'],
    kind: 'cancel',
    amendsId: '96921',
  },
  {
    symbol: 'AAPL',
    price: 126.56,
    size: 100,
    timeMs: 1614009106001,
    timeNanos: 1,
    id: '96930',
    seq: null,
    exchange: 'D',
    conditions: ['@'],
    kind: 'correction',
    amendsId: '96921',
  },
  {
    symbol: 'MSFT',
    price: 240.1,
    size: 3,
    timeMs: 1614009107000,
    timeNanos: 999999,
    id: '17',
    seq: null,
    exchange: 'V',
    conditions: [],
    kind: 'cancel',
    amendsId: '17',
  },
];

describe('alpaca: simulator server half', () => {
  const url = new URL('ws://127.0.0.1/v2/test');

  it('serves the documented feed paths only', () => {
    for (const path of ['/v2/iex', '/v2/sip', '/v2/test', '/v2/delayed_sip']) {
      expect(alpaca.server.accepts(new URL(`ws://h${path}`))).toBe(true);
    }
    for (const path of ['/', '/stocks', '/v2/other', '/v2/iex/x']) {
      expect(alpaca.server.accepts(new URL(`ws://h${path}`))).toBe(false);
    }
  });

  it('answers the handshake with Alpaca exact frames', () => {
    const conn = new FakeConnection(url, 'KEY');
    alpaca.server.onOpen(conn);
    expect(conn.drain()).toEqual([sample(fixture, 'welcome').raw]);
    alpaca.server.onMessage(conn, '{"action":"subscribe","trades":["AAPL"]}');
    expect(conn.drain()).toEqual(['[{"T":"error","code":401,"msg":"not authenticated"}]']);
    alpaca.server.onMessage(conn, '{"action":"auth","key":"WRONG","secret":"S"}');
    expect(conn.drain()).toEqual([sample(fixture, 'auth failed').raw]);
    alpaca.server.onMessage(conn, '{"action":"auth","key":"KEY","secret":""}');
    expect(conn.drain()).toEqual([sample(fixture, 'auth failed').raw]);
    alpaca.server.onMessage(conn, '{"action":"auth","key":"KEY","secret":"S"}');
    expect(conn.drain()).toEqual([sample(fixture, 'auth ok').raw]);
    expect(conn.authenticated).toBe(true);
    alpaca.server.onMessage(conn, '{"action":"auth","key":"KEY","secret":"S"}');
    expect(conn.drain()).toEqual(['[{"T":"error","code":403,"msg":"already authenticated"}]']);
    alpaca.server.onMessage(conn, 'nope');
    expect(conn.drain()).toEqual(['[{"T":"error","code":400,"msg":"invalid syntax"}]']);
    alpaca.server.onMessage(conn, '{"action":"subscribe","trades":["bad symbol"]}');
    expect(conn.drain()).toEqual(['[{"T":"error","code":400,"msg":"invalid syntax"}]']);
  });

  it('acknowledges subscribe and unsubscribe with the whole set', () => {
    const conn = new FakeConnection(url);
    alpaca.server.onMessage(conn, '{"action":"auth","key":"any","secret":"S"}');
    conn.drain();
    alpaca.server.onMessage(conn, '{"action":"subscribe","trades":["AAPL","MSFT"],"quotes":["AMD"]}');
    alpaca.server.onMessage(conn, '{"action":"unsubscribe","trades":["MSFT"]}');
    expect(conn.drain()).toEqual([
      '[{"T":"subscription","trades":["AAPL","MSFT"],"quotes":[],"bars":[],"updatedBars":[],"dailyBars":[],' +
        '"statuses":[],"lulds":[],"corrections":["AAPL","MSFT"],"cancelErrors":["AAPL","MSFT"]}]',
      '[{"T":"subscription","trades":["AAPL"],"quotes":[],"bars":[],"updatedBars":[],"dailyBars":[],' +
        '"statuses":[],"lulds":[],"corrections":["AAPL"],"cancelErrors":["AAPL"]}]',
    ]);
    expect(conn.subscriptions()).toEqual(['AAPL']);
  });

  it('encodes the fixture trades back to the fixture text, byte for byte', () => {
    for (const desc of ['trade', 'trade (nanosecond timestamp)']) {
      const { raw } = sample(fixture, desc);
      const trades = decodeAll(newSession(), raw).map((call) => call[1] as Trade);
      expect(alpaca.server.encode(trades)).toEqual([raw]);
    }
  });

  it('encodes a cancel in the documented shape and a correction pair as one T:"c" message', () => {
    const cancel = TRADES[4]!;
    const [original, corrected] = [TRADES[2]!, TRADES[3]!];
    expect(alpaca.server.encode([cancel])).toEqual([
      '[{"T":"x","S":"MSFT","i":17,"x":"V","p":240.1,"s":3,"a":"C","z":"C","t":"2021-02-22T15:51:47.000999999Z"}]',
    ]);
    expect(alpaca.server.encode([original, corrected])).toEqual([
      '[{"T":"c","S":"AAPL","x":"D","oi":96921,"op":126.5,"os":100,"oc":["@","I"],"ci":96930,"cp":126.56,' +
        '"cs":100,"cc":["@"],"z":"C","t":"2021-02-22T15:51:46.001000001Z"}]',
    ]);
    expect(alpaca.server.encode([])).toEqual([]);
  });

  it('round-trips trades, cancels and corrections through encode and decode', () => {
    const frames = alpaca.server.encode(TRADES);
    expect(frames).toHaveLength(1);
    expect(decodeAll(newSession(), ...frames)).toStrictEqual(TRADES.map((trade) => ['trade', trade]));
  });

  it('runs the handshake, subscription and trades over a real socket', async () => {
    const run = await runOverSocket(alpaca, {
      path: '/v2/test',
      credentials,
      expectedKey: 'KEY',
      symbols: ['AAPL', 'MSFT'],
      trades: TRADES,
    });
    const events = run.calls.filter((call) => call[0] === 'event').map((call) => call[1]);
    expect(events).toStrictEqual([
      { type: 'hello' },
      { type: 'authenticated' },
      { type: 'subscribed', symbols: ['AAPL', 'MSFT'] },
    ]);
    expect(run.calls.filter((call) => call[0] === 'trade').map((call) => call[1])).toStrictEqual(TRADES);
    expect(run.serverReceived).toEqual([
      '{"action":"auth","key":"KEY","secret":"SECRET"}',
      '{"action":"subscribe","trades":["AAPL","MSFT"]}',
    ]);
  });
});
