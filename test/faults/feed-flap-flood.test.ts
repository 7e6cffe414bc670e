/**
 * The feed misbehaving for a long stretch, and floods:
 * - the feed drops every connection every two seconds (as Polygon and Alpaca users report); the
 *   worker, with the production back-off, reconnects once per drop (no storm), resubscribes, and
 *   counts exactly the trades it missed as gaps (Binance numbers each symbol's trades);
 *   `TICKRING_FAULTS_FLAP_MS=60000` runs the full minute;
 * - a flood of trades for symbols the worker does not own, and a flood for a symbol still loading:
 *   nothing grows without bound, and every dropped trade is counted.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { binance } from '../../feeds/binance.js';
import { polygon } from '../../feeds/polygon.js';
import { makeTrade } from '../../feeds/trade.js';
import { addSymbols } from '../../src/cluster/universe.js';
import { DEFAULT_BACKOFF_OPTIONS } from '../../src/ingest/backoff.js';
import { FeedClient } from '../../src/ingest/feed-client.js';
import { START_OF_STREAM } from '../../src/ingest/stream-position.js';
import { startSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { BUFFER_OVERFLOW_DROP, MAX_BUFFERED_TRADES, OwnedSymbols } from '../../src/worker/owned-symbols.js';
import { captureLogger, sleep, until } from '../integration/feed-harness.js';
import { REDIS_URL, testCluster } from '../support/redis.js';
import { faultFigure } from './figures.js';
import { appliedTotal, quiet, sentTotal, startTestWorker } from './worker-harness.js';

const FLAP_MS = Number(process.env['TICKRING_FAULTS_FLAP_MS'] ?? 12_000);
const DROP_EVERY_MS = 2_000;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('feed flapping and floods', () => {
  it(
    'reconnects once per drop with back-off, and counts exactly the trades it missed',
    async () => {
      const env = await testCluster('flap');
      cleanups.push(() => env.cleanup());
      const symbols = generateSymbols(16, binance.server.market);
      const sim = await startSimulator({
        protocol: binance,
        symbols,
        rate: 400,
        skew: 0,
        paused: true,
        seed: 6,
      });
      cleanups.push(() => sim.close());
      await addSymbols(env.redis, env.keys, symbols);
      const w = await startTestWorker('w1', {
        redisUrl: REDIS_URL,
        keys: env.keys,
        sim,
        adapter: binance,
        // Production back-off and silence detection: what a flapping feed meets in the field.
        feedClient: { backoff: DEFAULT_BACKOFF_OPTIONS, connectionLimitBackoffMs: 30_000 },
      });
      cleanups.push(() => w.close());
      // Confirmed, not only queued: the subscribe frames are paced, and trades the simulator sends
      // before it holds the subscription reach nobody and precede any gap the client could count.
      await until(() => symbols.every((symbol) => w.worker.feed.isConfirmed(symbol)), 'subscribed', 10_000);
      sim.resume();
      const started = Date.now();
      let drops = 0;
      while (Date.now() - started < FLAP_MS) {
        await sleep(DROP_EVERY_MS);
        drops += sim.dropConnections();
      }
      // Subscribed as the simulator sees it (the client counts a symbol once it sent the frame).
      await until(
        () => sim.stats().connections.some((c) => symbols.every((sym) => c.subscriptions.includes(sym))),
        'resubscribed',
        10_000,
      );
      // Every symbol trades again after the last drop, so every gap shows.
      sim.pause();
      sim.emit(2_000);
      await quiet([w]);
      const stats = w.worker.feed.stats;
      const lost = sentTotal(sim) - appliedTotal([w]);
      faultFigure('feed-flap.duration-ms', FLAP_MS);
      faultFigure('feed-flap.drops', drops);
      faultFigure('feed-flap.reconnects', stats.reconnects);
      faultFigure('feed-flap.sim-connections', sim.stats().connections.length);
      faultFigure('feed-flap.gaps', stats.gaps);
      faultFigure('feed-flap.trades-missed-counted', stats.missedTrades);
      faultFigure('feed-flap.trades-lost', lost);
      expect(drops).toBeGreaterThanOrEqual(Math.floor(FLAP_MS / DROP_EVERY_MS) - 1);
      // One reconnect per drop: no storm (a refused attempt would add one; none happened here).
      expect(stats.reconnects).toBe(drops);
      expect(stats.gaps).toBeGreaterThan(0);
      // Counted exactly: every trade lost is one the gap counters know about.
      expect(stats.missedTrades).toBe(lost);
    },
    FLAP_MS + 60_000,
  );

  it('a flood of trades for symbols nobody owns: dropped and counted, memory flat', async () => {
    const owned = new OwnedSymbols(polygon, {}, 10_000);
    for (const symbol of ['AAPL', 'MSFT']) {
      owned.acquire(symbol);
      owned.goLive(symbol, null, START_OF_STREAM, false);
    }
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    cleanups.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    const FRAMES = 200;
    const PER_FRAME = 1_000;
    wss.on('connection', (socket) => {
      socket.send(JSON.stringify([{ ev: 'status', status: 'connected', message: '' }]));
      socket.on('message', () => {
        // After the auth frame: a flood of 200 000 trades over 200 000 distinct symbols.
        let n = 0;
        for (let f = 0; f < FRAMES; f++) {
          const frame = [];
          for (let i = 0; i < PER_FRAME; i++, n++)
            frame.push({ ev: 'T', sym: `Z${n}`, p: 10, s: 1, t: Date.now(), i: String(n), x: 4 });
          socket.send(JSON.stringify(frame));
        }
      });
    });
    const port = (wss.address() as AddressInfo).port;
    const heapBefore = process.memoryUsage().heapUsed;
    let passed = 0;
    // The worker's path: every decoded trade goes to its owned symbols, which drop the unowned.
    const client = new FeedClient(
      {
        adapter: polygon,
        url: `ws://127.0.0.1:${port}/stocks`,
        credentials: { key: 'k', secret: '' },
        userAgent: 'tickring/test flood',
      },
      (trade) => {
        passed++;
        owned.ingest(trade);
      },
      captureLogger().log,
    );
    cleanups.push(() => client.close());
    client.start();
    await until(() => passed >= FRAMES * PER_FRAME, 'the flood to arrive', 60_000);
    const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
    expect(owned.unownedDropped).toBe(FRAMES * PER_FRAME);
    expect(owned.size).toBe(2);
    faultFigure('flood.unowned-trades', FRAMES * PER_FRAME);
    faultFigure('flood.unowned-dropped-counted', owned.unownedDropped);
    faultFigure('flood.heap-growth-mb', heapGrowthMb.toFixed(1));
    // 200 000 symbols kept anywhere would cost far more than this.
    expect(heapGrowthMb).toBeLessThan(150);
  });

  it('a flood for a symbol still loading: the buffer stops at its cap and counts what it dropped', () => {
    const owned = new OwnedSymbols(polygon, {}, 10_000);
    owned.acquire('AAPL');
    // Past the cap the oldest are dropped a hundredth of the cap at a time (`BUFFER_OVERFLOW_DROP`).
    const flood = MAX_BUFFERED_TRADES + 2 * BUFFER_OVERFLOW_DROP;
    for (let i = 0; i < flood; i++)
      owned.ingest(
        makeTrade({
          symbol: 'AAPL',
          price: 10,
          size: 1,
          timeMs: 1_700_000_000_000,
          id: String(i),
          exchange: '4',
        }),
      );
    expect(owned.get('AAPL')?.buffer.length).toBe(MAX_BUFFERED_TRADES);
    expect(owned.bufferOverflows).toBe(2 * BUFFER_OVERFLOW_DROP);
    // The worker names them in a warning (`reportBufferOverflows`), once.
    expect(owned.takeOverflowed()).toEqual(['AAPL']);
    expect(owned.takeOverflowed()).toEqual([]);
    owned.goLive('AAPL', null, START_OF_STREAM, false);
    expect(owned.get('AAPL')?.aggregate.snapshot().trades).toBe(MAX_BUFFERED_TRADES);
    faultFigure('flood.loading-buffer-cap', MAX_BUFFERED_TRADES);
    faultFigure('flood.loading-overflow-counted', owned.bufferOverflows);
  });
});
