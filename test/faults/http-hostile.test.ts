/**
 * The HTTP API under hostile clients, in-process against fake workers (`http-fake-view.ts`):
 * - a seeded fuzz of every route with hostile paths, query parameters, headers and bodies: never a
 *   500, always a JSON error with a stable code;
 * - every limit: headers and URLs past the cap (431), bodies past the cap (413, connection closed),
 *   a lying Content-Length, bad percent-encoding;
 * - slowloris and an idle-connection flood while a normal client keeps asking: its latency stays
 *   within a generous multiple of the baseline measured in the same test, and the slow connections
 *   are cut after the header timeout;
 * - the connection cap: connections past it are closed at once, and room comes back once the
 *   header timeout frees the idle ones.
 */
import { request, Agent } from 'node:http';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EDGE_NUMBERS, EDGE_STRINGS } from './hostile-json.js';
import { faultFigure, FUZZ_SEED, fuzzRuns } from './figures.js';
import { FakeState, startNode, TOKEN, type FakeNode } from '../integration/http-fake-view.js';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

/** One request with the path sent byte for byte as given (fetch would normalise it). */
function raw(
  base: string,
  options: {
    method: string;
    path: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    agent?: Agent;
  },
): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: options.method,
        path: options.path,
        headers: options.headers,
        agent: options.agent ?? false,
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** Sends `text` on a raw socket and resolves with everything the server answered until it closed. */
function rawExchange(port: number, text: string | Buffer, waitMs = 3_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, waitMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', done);
    socket.on('error', done);
    socket.write(text);
  });
}

const SYMBOL_ROUTES = [
  '/v1/symbols/{s}',
  '/v1/symbols/{s}/bars',
  '/v1/symbols',
  '/v1/cluster',
  '/healthz',
  '/readyz',
  '/v1/stream',
  '/v1/pins/{s}',
  '/v1/members/{s}/drain',
  '/v1/internal/snapshots',
  '/v1/internal/summaries',
  '/openapi.json',
  '/{s}',
  '/v1/{s}/{s}',
];
const PARAMS = ['limit', 'interval', 'cursor', 'prefix', 'owner', 'from', 'to', 'symbols', 'x', '__proto__'];

const hostileText = fc.oneof(
  fc.constantFrom(
    ...EDGE_STRINGS,
    ...EDGE_NUMBERS,
    'AAPL',
    '1m',
    '5m',
    '1s',
    '%',
    '%zz',
    '%00',
    '%C0%AF',
    '..',
    '.',
  ),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.nat({ max: 9_000 }).map((n) => 'A'.repeat(n)),
);

/** Percent-encodes the UTF-8 bytes of `text` (lone surrogates included, as U+FFFD) that match `which`. */
function percent(text: string, which: RegExp): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += which.test(c) ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}` : c;
  }
  return out;
}

function encodeSome(text: string, encode: boolean): string {
  // Half the time every reserved byte is encoded; otherwise only what would break the request line.
  return encode ? percent(text, /[^A-Za-z0-9._~-]/) : percent(text, /[^\x21-\x7e]|[#?]/);
}

const hostileRequest = fc.record({
  method: fc.oneof(
    { weight: 8, arbitrary: fc.constant('GET') },
    { weight: 3, arbitrary: fc.constantFrom('POST', 'PUT', 'DELETE') },
    { weight: 1, arbitrary: fc.constantFrom('HEAD', 'PATCH', 'OPTIONS') },
  ),
  route: fc.constantFrom(...SYMBOL_ROUTES),
  segment: hostileText,
  encode: fc.boolean(),
  query: fc.array(fc.tuple(fc.constantFrom(...PARAMS), hostileText), { maxLength: 4 }),
  auth: fc.constantFrom(
    '',
    `Bearer ${TOKEN}`,
    'Bearer ',
    'Basic Zm9vOmJhcg==',
    `Bearer ${TOKEN}x`,
    'Bearer \u00ff',
  ),
  contentType: fc.constantFrom(
    '',
    'application/json',
    'text/plain',
    'application/json; charset=utf-8',
    'APPLICATION/JSON',
  ),
  body: fc.oneof(
    fc.constant(undefined),
    fc.json({ maxDepth: 3 }),
    fc.constantFrom(
      '{"symbols":["AAPL"]}',
      '{"symbols":[]}',
      '{"worker":"w1"}',
      '{"__proto__":{"polluted":1}}',
      '{"symbols":{"length":1e9}}',
      '{"symbols":["' + 'A'.repeat(5_000) + '"]}',
      '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
      'not json',
      '{"symbols":[1,null,true,{}]}',
    ),
  ),
  forwarded: fc.constantFrom(undefined, '1', 'w2', '\u0000', 'x'.repeat(500)),
  minEpoch: fc.constantFrom(undefined, '0', '-1', 'NaN', '1e309', '9007199254740993', 'abc', '99999999'),
});

describe('HTTP under hostile clients', () => {
  const state = new FakeState();
  let node: FakeNode;
  let limited: FakeNode;

  beforeAll(async () => {
    for (const symbol of ['AAPL', 'MSFT', 'BRK.B', 'SPY']) state.symbols.add(symbol);
    node = await startNode(state, 'w1', { adminToken: TOKEN, bodyLimit: 4_096 });
    limited = await startNode(state, 'w2', {
      limits: {
        headersTimeoutMs: 1_500,
        requestTimeoutMs: 3_000,
        connectionsCheckingIntervalMs: 100,
        maxConnections: 400,
      },
    });
    state.pins['AAPL'] = 'w1';
    state.pins['MSFT'] = 'w2';
    state.bump();
    node.view.trade('AAPL', Date.now(), 50);
    limited.view.trade('MSFT', Date.now(), 50);
  });

  afterAll(async () => {
    await Promise.all([node.close(), limited.close()]);
  });

  it('fuzzed requests to every route: never a 500, every error JSON with a stable code', async () => {
    const statuses = new Map<number, number>();
    let tried = 0;
    const protoBefore = Object.getOwnPropertyNames(Object.prototype).join(',');
    await fc.assert(
      fc.asyncProperty(hostileRequest, async (r) => {
        tried++;
        const segment = encodeSome(r.segment, r.encode) || 'X';
        const path = r.route.replaceAll('{s}', segment);
        const query = r.query.map(([k, v]) => `${k}=${encodeSome(v, r.encode)}`).join('&');
        const headers: Record<string, string> = {};
        if (r.auth) headers['authorization'] = r.auth.replace(/[^\t\x20-\x7e]/g, '?');
        if (r.contentType) headers['content-type'] = r.contentType;
        if (r.forwarded !== undefined)
          headers['x-tickring-forwarded'] = r.forwarded.replace(/[^\t\x20-\x7e]/g, '?');
        if (r.minEpoch !== undefined) headers['x-tickring-min-epoch'] = r.minEpoch;
        const method = r.route === '/v1/stream' && r.method === 'GET' ? 'HEAD' : r.method;
        const answer = await raw(node.url, {
          method,
          path: query ? `${path}?${query}` : path,
          headers,
          ...(r.body !== undefined && method !== 'GET' && method !== 'HEAD' ? { body: r.body } : {}),
        });
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        expect(answer.status, `${method} ${path}?${query}: ${answer.text.slice(0, 200)}`).toBeLessThan(500);
        if (answer.status >= 400 && method !== 'HEAD') {
          const body = JSON.parse(answer.text || `{"status":${answer.status}}`) as {
            error?: { code?: unknown; message?: unknown };
          };
          expect(
            typeof body.error?.code,
            `${method} ${path.slice(0, 100)} q=${query.slice(0, 100)} h=${JSON.stringify(headers).slice(0, 300)} ${answer.status} ${JSON.stringify(answer.headers)} ${answer.text.slice(0, 200)}`,
          ).toBe('string');
          expect(typeof body.error?.message).toBe('string');
          // A message quotes at most a bounded piece of what the client sent.
          expect(answer.text.length).toBeLessThan(4_096);
        }
      }),
      { seed: FUZZ_SEED, numRuns: fuzzRuns(1_500), endOnFailure: true },
    );
    expect(Object.getOwnPropertyNames(Object.prototype).join(',')).toBe(protoBefore);
    // The fuzz reached past the router: successes, parameter errors and auth errors all occurred.
    for (const status of [200, 400, 401, 404])
      expect(statuses.get(status) ?? 0, `status ${status}`).toBeGreaterThan(0);
    faultFigure('http.fuzz.requests', tried);
    faultFigure(
      'http.fuzz.statuses',
      JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0]))),
    );
    // The server still answers normally.
    expect((await raw(node.url, { method: 'GET', path: '/v1/symbols/AAPL' })).status).toBe(200);
  });

  it('refuses headers, URLs and bodies past the caps, and malformed requests, without a 500', async () => {
    const port = Number(new URL(node.url).port);
    const cases: [string, string | Buffer, RegExp][] = [
      [
        '20 KiB URL',
        `GET /v1/symbols/${'A'.repeat(20 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`,
        /^HTTP\/1\.1 431[^]*headers_too_large/,
      ],
      [
        '20 KiB header',
        `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20 * 1024)}\r\n\r\n`,
        /^HTTP\/1\.1 431[^]*headers_too_large/,
      ],
      [
        '5000 headers',
        `GET /healthz HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 5_000 }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\n\r\n`,
        /^HTTP\/1\.1 431[^]*headers_too_large/,
      ],
      ['garbage request line', 'HELLO\r\n\r\n', /^HTTP\/1\.1 400[^]*"bad_request"/],
      ['binary noise', Buffer.from([0, 1, 2, 255, 254, 13, 10, 13, 10]), /^HTTP\/1\.1 400/],
      [
        'bad percent-encoding',
        'GET /v1/symbols/%zz%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        /^HTTP\/1\.1 4\d\d/,
      ],
      [
        'conflicting lengths (request smuggling)',
        'POST /v1/symbols HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        /^HTTP\/1\.1 400/,
      ],
    ];
    for (const [what, text, expected] of cases) {
      const answer = await rawExchange(port, text);
      expect(answer, what).toMatch(expected);
    }
    const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    // A body past the limit: 413, and the server closes the connection instead of reading on.
    const big = await raw(node.url, {
      method: 'POST',
      path: '/v1/symbols',
      headers: auth,
      body: `{"symbols":["${'A'.repeat(10_000)}"]}`,
    });
    expect(big.status).toBe(413);
    expect(big.headers['connection']).toBe('close');
    // A Content-Length that claims a gigabyte is refused before a byte of it is read.
    const claimed = await rawExchange(
      port,
      `POST /v1/symbols HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n{"symbols":[`,
    );
    expect(claimed).toMatch(/^HTTP\/1\.1 413/);
    faultFigure('http.limit-cases', cases.length + 2);
    expect((await raw(node.url, { method: 'GET', path: '/healthz' })).status).toBe(200);
  });

  /** `count` sequential GETs on a keep-alive connection; returns each latency (ms). */
  async function latencies(url: string, count: number): Promise<number[]> {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      const answer = await raw(url, { method: 'GET', path: '/v1/symbols/MSFT', agent });
      out.push(performance.now() - started);
      expect(answer.status).toBe(200);
    }
    agent.destroy();
    return out;
  }

  function p95(values: readonly number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))] ?? 0;
  }

  it('keeps answering a normal client during slowloris and an idle-connection flood, then cuts the slow ones', async () => {
    const port = Number(new URL(limited.url).port);
    const baseline = p95(await latencies(limited.url, 60));
    // Judged on the server's side: a client that never reads cannot tell a closed connection from a
    // half-closed one while the server's answer sits unread in its buffer, but the server's socket
    // emits 'close' only once it is destroyed, its slot free again.
    const serverClosedAt = new Map<Socket, number | undefined>();
    const track = (socket: Socket): void => {
      serverClosedAt.set(socket, undefined);
      socket.once('close', () => serverClosedAt.set(socket, performance.now()));
    };
    limited.app.on('connection', track);
    const sockets: Socket[] = [];
    const openedAt = performance.now();
    const open = (slow: boolean): void => {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      if (slow) {
        // A header that never ends: one byte every 200 ms.
        socket.write('GET /v1/symbols/AAPL HTTP/1.1\r\nHost: x\r\nX-Slow: ');
        const drip = setInterval(() => {
          if (socket.destroyed) clearInterval(drip);
          else socket.write('a');
        }, 200);
      }
      sockets.push(socket);
    };
    try {
      for (let i = 0; i < 150; i++) open(true);
      for (let i = 0; i < 150; i++) open(false);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const under = p95(await latencies(limited.url, 60));
      faultFigure('http.slowloris.baseline-p95-ms', baseline.toFixed(2));
      faultFigure('http.slowloris.under-attack-p95-ms', under.toFixed(2));
      // Generous: a loaded 2-core machine may be slow, but not by an order of magnitude past 50 ms.
      expect(under).toBeLessThan(Math.max(20 * baseline, baseline + 50));
      // Every slow or idle connection is cut once the header timeout (1.5 s) passes.
      const stillOpen = (): number => [...serverClosedAt.values()].filter((at) => at === undefined).length;
      const deadline = performance.now() + 10_000;
      while (stillOpen() > 0 && performance.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 50));
      expect({ accepted: serverClosedAt.size >= sockets.length, stillOpen: stillOpen() }).toEqual({
        accepted: true,
        stillOpen: 0,
      });
      const slowest = Math.max(...[...serverClosedAt.values()].map((t) => (t ?? Infinity) - openedAt));
      faultFigure('http.slowloris.connections', sockets.length);
      faultFigure('http.slowloris.all-cut-after-ms', Math.round(slowest));
      expect(slowest).toBeLessThan(1_500 + 3_000);
    } finally {
      limited.app.off('connection', track);
      for (const socket of sockets) socket.destroy();
    }
  });

  it('closes connections past the cap at once, and has room again once the idle ones time out', async () => {
    const port = Number(new URL(limited.url).port);
    const sockets: Socket[] = [];
    for (let i = 0; i < 450; i++) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.on('close', () => undefined);
      sockets.push(socket);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const refused = sockets.filter((s) => s.destroyed || s.readableEnded).length;
    // 400 is the cap; the rest were closed by the server without a word.
    expect(refused).toBeGreaterThanOrEqual(50);
    // Fill any slot freed meanwhile, so the server is full when the client below first tries.
    for (let i = 0; i < 20; i++) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      sockets.push(socket);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    const floodedAt = performance.now();
    // Room again once the idle connections hit the header timeout; until then, a client is refused.
    let recoveredMs: number;
    let failures = 0;
    for (;;) {
      try {
        const answer = await raw(limited.url, { method: 'GET', path: '/healthz' });
        if (answer.status === 200) {
          recoveredMs = performance.now() - floodedAt;
          break;
        }
      } catch {
        failures++;
      }
      if (performance.now() - floodedAt > 10_000) throw new Error('no room after 10 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(failures, 'a client is refused while the server is full').toBeGreaterThan(0);
    faultFigure('http.connection-cap.refused', refused);
    faultFigure('http.connection-cap.room-again-after-ms', Math.round(recoveredMs));
    expect(recoveredMs).toBeLessThan(1_500 + 3_000);
    for (const socket of sockets) socket.destroy();
  });
});
