/**
 * Shared pieces of the adapter tests: the provider fixtures (verbatim copies of
 * /work/shared/fixtures, so the tests run anywhere), a sink that records every call in order, a fake
 * simulator connection, and a real-socket harness that drives a client session against a server half.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type {
  Credentials,
  DecodeSink,
  FeedAdapter,
  FeedEvent,
  FeedSession,
  RejectReason,
  SimConnection,
  SimServerProtocol,
} from '../../../feeds/adapter.js';
import type { Trade } from '../../../feeds/trade.js';

export interface Sample {
  readonly kind: string;
  readonly source: string;
  readonly direction: 'server->client' | 'client->server';
  readonly desc: string;
  readonly raw: string;
}

export interface Fixture {
  readonly provider: string;
  readonly notes: readonly string[];
  readonly samples: readonly Sample[];
}

export function loadFixture(name: string): Fixture {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8')) as Fixture;
}

export function serverSamples(fixture: Fixture): Sample[] {
  return fixture.samples.filter((sample) => sample.direction === 'server->client');
}

export function clientSamples(fixture: Fixture): Sample[] {
  return fixture.samples.filter((sample) => sample.direction === 'client->server');
}

export function sample(fixture: Fixture, desc: string): Sample {
  const found = fixture.samples.find((candidate) => candidate.desc === desc);
  if (!found) throw new Error(`fixture ${fixture.provider} has no sample "${desc}"`);
  return found;
}

/** One sink call, in the order the decoder made it. */
export type Call =
  readonly ['trade', Trade] | readonly ['event', FeedEvent] | readonly ['reject', RejectReason, string];

export class RecordingSink implements DecodeSink {
  readonly calls: Call[] = [];
  trade(trade: Trade): void {
    this.calls.push(['trade', trade]);
  }
  event(event: FeedEvent): void {
    this.calls.push(['event', event]);
  }
  reject(reason: RejectReason, detail: string): void {
    this.calls.push(['reject', reason, detail]);
  }
  trades(): Trade[] {
    return this.calls.flatMap((call) => (call[0] === 'trade' ? [call[1]] : []));
  }
}

/** Decodes frames in order with one session and returns every sink call. */
export function decodeAll(session: FeedSession, ...frames: string[]): Call[] {
  const sink = new RecordingSink();
  for (const frame of frames) session.decode(frame, sink);
  return sink.calls;
}

/** A simulator connection that records what the server half does with it. */
export class FakeConnection implements SimConnection {
  readonly sent: string[] = [];
  closed: { code: number; reason: string } | undefined;
  authenticated = false;
  private readonly subscribed = new Set<string>();

  constructor(
    readonly url: URL,
    readonly expectedKey = '',
  ) {}

  send(frame: string): void {
    this.sent.push(frame);
  }
  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }
  authenticate(): void {
    this.authenticated = true;
  }
  subscribe(symbols: readonly string[]): void {
    for (const symbol of symbols) this.subscribed.add(symbol);
  }
  unsubscribe(symbols: readonly string[]): void {
    for (const symbol of symbols) this.subscribed.delete(symbol);
  }
  subscriptions(): readonly string[] {
    return [...this.subscribed];
  }
  /** Takes (and forgets) what was sent so far. */
  drain(): string[] {
    return this.sent.splice(0);
  }
}

/** A fake connection whose frames also go down a real socket. */
class SocketConnection extends FakeConnection {
  constructor(
    url: URL,
    expectedKey: string,
    private readonly socket: WebSocket,
  ) {
    super(url, expectedKey);
  }
  override send(frame: string): void {
    super.send(frame);
    this.socket.send(frame);
  }
  override close(code: number, reason: string): void {
    super.close(code, reason);
    this.socket.close(code, reason);
  }
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface EncodesPerConnection {
  encodeFor(conn: SimConnection, trades: readonly Trade[]): string[];
}

function encodesPerConnection(server: SimServerProtocol): server is SimServerProtocol & EncodesPerConnection {
  return 'encodeFor' in server && typeof server.encodeFor === 'function';
}

export interface SocketRun {
  readonly calls: readonly Call[];
  readonly serverReceived: readonly string[];
  readonly closed: { code: number; reason: string } | undefined;
}

/**
 * Runs one client session against the adapter's server half over a real WebSocket on 127.0.0.1:
 * the client sends its opening frames, answers control events through `reply`, subscribes to
 * `symbols` once ready; the server then publishes `trades` of those symbols. Resolves when the client
 * has `trades.length` trades, or when the server closed the connection.
 */
export async function runOverSocket(
  adapter: FeedAdapter,
  options: {
    readonly path: string;
    readonly credentials: Credentials;
    readonly expectedKey: string;
    readonly symbols: readonly string[];
    readonly trades: readonly Trade[];
  },
): Promise<SocketRun> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const { port } = wss.address() as AddressInfo;
  let conn: SocketConnection | undefined;
  const serverReceived: string[] = [];
  wss.on('connection', (socket, request) => {
    const url = new URL(request.url ?? '/', `ws://127.0.0.1:${port}`);
    if (!adapter.server.accepts(url)) {
      socket.close(4404, 'no such path');
      return;
    }
    conn = new SocketConnection(url, options.expectedKey, socket);
    const current = conn;
    socket.on('message', (data: Buffer) => {
      const text = data.toString('utf8');
      serverReceived.push(text);
      adapter.server.onMessage(current, text);
    });
    adapter.server.onOpen(current);
  });

  const session = adapter.createSession(options.credentials);
  const sink = new RecordingSink();
  const client = new WebSocket(
    adapter.connectUrl(`ws://127.0.0.1:${port}${options.path}`, options.credentials),
  );
  let subscribed = false;
  let closed: { code: number; reason: string } | undefined;
  const send = (frames: readonly string[]) => {
    for (const frame of frames) client.send(frame);
  };
  const subscribeWhenReady = () => {
    if (session.ready && !subscribed) {
      subscribed = true;
      send(session.subscribe(options.symbols));
    }
  };
  client.on('open', () => {
    send(session.opening());
    subscribeWhenReady();
  });
  client.on('message', (data: Buffer) => {
    const before = sink.calls.length;
    session.decode(data.toString('utf8'), sink);
    for (const call of sink.calls.slice(before)) if (call[0] === 'event') send(session.reply(call[1]));
    subscribeWhenReady();
  });
  client.on('close', (code, reason) => {
    closed = { code, reason: reason.toString('utf8') };
  });

  try {
    await waitFor(
      () =>
        closed !== undefined ||
        (conn !== undefined && options.symbols.every((symbol) => conn?.subscriptions().includes(symbol))),
      'the server to hold every subscription',
    );
    if (closed === undefined && conn !== undefined) {
      const live = new Set(conn.subscriptions());
      const mine = options.trades.filter((trade) => live.has(trade.symbol));
      const frames = encodesPerConnection(adapter.server)
        ? adapter.server.encodeFor(conn, mine)
        : adapter.server.encode(mine);
      for (const frame of frames) conn.send(frame);
      await waitFor(() => sink.trades().length >= options.trades.length, 'the client to decode every trade');
    }
    return { calls: sink.calls, serverReceived, closed };
  } finally {
    client.terminate();
    await new Promise<void>((resolve) => {
      wss.close(() => {
        resolve();
      });
    });
  }
}

/** A small deterministic PRNG (mulberry32) for the mutation tests. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` damaged copies of `frame`: characters dropped, duplicated or replaced by JSON-significant
 * ones, so the decoder meets truncated, mistyped and restructured input.
 */
export function mutations(frame: string, count: number, seed: number): string[] {
  const random = prng(seed);
  const alphabet = '{}[]":,0-9eE.tfn\\ _$';
  const result: string[] = [];
  for (let n = 0; n < count; n++) {
    const chars = Array.from(frame);
    const edits = 1 + Math.floor(random() * 3);
    for (let e = 0; e < edits && chars.length > 0; e++) {
      const at = Math.floor(random() * chars.length);
      const choice = random();
      if (choice < 0.33) chars.splice(at, 1);
      else if (choice < 0.66) chars.splice(at, 0, chars[at] ?? '');
      else chars[at] = alphabet[Math.floor(random() * alphabet.length)] ?? '';
    }
    result.push(chars.join(''));
  }
  return result;
}
