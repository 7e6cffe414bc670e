/**
 * The providers' official JavaScript clients, pointed at the simulator, work unchanged: Polygon's
 * (now Massive's, `@massive.com/client-js`, successor of `@polygon.io/client-js`) and Binance's
 * (`@binance/spot`, the official connector that replaced `@binance/connector`). Each connects with its
 * own URL scheme, subscribes its own way and receives exactly the trades the simulator sent.
 */
import { Spot, type SpotWebsocketStreams } from '@binance/spot';
import { websocketClient } from '@massive.com/client-js';
import { afterEach, describe, expect, it } from 'vitest';
import { binance } from '../../feeds/binance.js';
import { polygon } from '../../feeds/polygon.js';
import { startSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { until } from './feed-harness.js';

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The W3C-style socket the Massive client returns; its `websocket` typings are not installed. */
interface W3CSocket {
  onmessage: ((event: { data: unknown }) => void) | null;
  send(data: string): void;
  close(): void;
}

const massive = websocketClient as unknown as (apiKey: string, apiBase: string) => { stocks(): W3CSocket };

interface PolygonEvent {
  ev: string;
  status?: string;
  sym?: string;
  i?: string;
  s?: number;
}

describe('official clients against the simulator', () => {
  it('Polygon/Massive @massive.com/client-js: authenticates, subscribes and receives T events', async () => {
    const sim = await startSimulator({
      protocol: polygon,
      symbols: generateSymbols(10),
      paused: true,
      seed: 2,
    });
    cleanups.push(() => sim.close());
    // The client appends the market's path (`/stocks`) to the base and sends the auth on open.
    const ws = massive('test-key', `ws://127.0.0.1:${sim.port}`).stocks();
    cleanups.push(() => {
      ws.close();
    });
    const events: PolygonEvent[] = [];
    ws.onmessage = ({ data }: { data: unknown }) => {
      const messages = JSON.parse(String(data)) as PolygonEvent[];
      for (const message of messages) {
        events.push(message);
        if (message.ev === 'status' && message.status === 'auth_success') {
          ws.send(JSON.stringify({ action: 'subscribe', params: 'T.AAPL,T.MSFT' }));
        }
      }
    };
    await until(() => events.filter((e) => e.status === 'success').length === 2, 'two subscription acks');
    expect(events.slice(0, 2).map((e) => e.status)).toEqual(['connected', 'auth_success']);

    sim.emit(1_000);
    const truth = sim.stats().symbols;
    const expected = (truth['AAPL']?.trades ?? 0) + (truth['MSFT']?.trades ?? 0);
    const trades = (): PolygonEvent[] => events.filter((e) => e.ev === 'T');
    await until(() => trades().length >= expected, `${expected} T events`);
    expect(trades()).toHaveLength(expected);
    expect(
      trades()
        .filter((t) => t.sym === 'AAPL')
        .map((t) => t.i),
    ).toEqual(Array.from({ length: truth['AAPL']?.trades ?? 0 }, (_, n) => String(n + 1)));
    const volume = trades()
      .filter((t) => t.sym === 'MSFT')
      .reduce((sum, t) => sum + (t.s ?? 0), 0);
    expect(volume).toBe(truth['MSFT']?.volume);
  });

  it('Binance @binance/spot: connects to /stream, subscribes with SUBSCRIBE and receives trade events', async () => {
    const symbols = generateSymbols(10, binance.server.market);
    const sim = await startSimulator({ protocol: binance, symbols, paused: true, seed: 2 });
    cleanups.push(() => sim.close());
    // The connector's README passes a plain object; its configuration class is not exported.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
    const client = new Spot({ configurationWebsocketStreams: { wsURL: `ws://127.0.0.1:${sim.port}` } });
    const connection: SpotWebsocketStreams.WebsocketStreamsConnection =
      await client.websocketStreams.connect();
    cleanups.push(async () => {
      await connection.disconnect();
    });
    const received: SpotWebsocketStreams.TradeResponse[] = [];
    for (const symbol of ['btcusdt', 'ethusdt']) {
      connection.trade({ symbol }).on('message', (data) => {
        received.push(data);
      });
    }
    await until(
      () => (sim.stats().connections[0]?.subscriptions.length ?? 0) === 2,
      'both streams subscribed',
      5_000,
      () => sim.stats().connections,
    );
    expect([...(sim.stats().connections[0]?.subscriptions ?? [])].sort()).toEqual(['BTCUSDT', 'ETHUSDT']);

    sim.emit(1_000);
    const truth = sim.stats().symbols;
    const expected = (truth['BTCUSDT']?.trades ?? 0) + (truth['ETHUSDT']?.trades ?? 0);
    await until(() => received.length >= expected, `${expected} trade events`);
    expect(received).toHaveLength(expected);
    const btc = received.filter((t) => t.s === 'BTCUSDT');
    expect(btc.map((t) => Number(t.t))).toEqual(Array.from({ length: btc.length }, (_, n) => n + 1));
    const volume = btc.reduce((sum, t) => sum + Number(t.q), 0);
    expect(Math.abs(volume - (truth['BTCUSDT']?.volume ?? 0))).toBeLessThan(1e-9 * volume);
    expect(btc.every((t) => t.e === 'trade' && /^\d+\.\d{8}$/.test(t.p ?? ''))).toBe(true);
  });
});
