/**
 * The counters a feed client keeps, as plain numbers read by the metrics at scrape time. One object
 * serves every connection of a client (`FeedClient` spreads symbols over several where the provider
 * caps streams per connection): each connection adds to the same counters, so they read as one feed.
 */
import type { DisconnectReason, RejectReason } from '../../feeds/adapter.js';
import type { LagSampler } from './lag-sampler.js';

export interface FeedClientStats {
  /** Connections opened. */
  connects: number;
  /** Reconnect attempts after a drop, a silence or a refusal. */
  reconnects: number;
  frames: number;
  /** Trades decoded (before de-duplication). */
  trades: number;
  rejects: Record<RejectReason, number>;
  lastFrameAt: number;
  /** Trades decoded while `acceptTrades` said no (the worker's lease could not be trusted). */
  gatedTrades: number;
  /** Connections replaced because nothing (no frame, no pong) arrived for `silenceMs`. */
  silenceDrops: number;
  /** "Connection limit" answers: in-band, by HTTP 429/418 at the upgrade, or in the close reason. */
  connectionLimits: number;
  /** Disconnects the provider announced, by reason (slow consumer, forced, server shutdown, ...). */
  disconnects: Record<DisconnectReason, number>;
  /** Jumps in a symbol's trade numbers, where the provider numbers them one by one (Binance, Coinbase). */
  gaps: number;
  /** Trades skipped over all those gaps: lost for good, no feed replays them. */
  missedTrades: number;
  /** Arrival minus trade time of the latest sampled trade (ms); decode and network lag together. */
  readonly lagMs: number;
  /** The largest sampled lag in the current window of `LAG_WINDOW_MS` (ms). */
  readonly lagPeakMs: number;
  /** Gap notices from a relay: trades lost while no relay held the upstream connection. */
  relayGaps: number;
  /** Symbols named over all those notices (a symbol in two notices counts twice). */
  relayGapSymbols: number;
  /** Provider connections the client holds now (1 unless the provider caps streams per connection). */
  connections: number;
  /** Symbols moved from one connection to another (make before break) to close a connection. */
  symbolsMoved: number;
}

function emptyDisconnects(): Record<DisconnectReason, number> {
  return {
    'connection-limit': 0,
    'slow-consumer': 0,
    forced: 0,
    'server-shutdown': 0,
    'symbol-limit': 0,
    'auth-timeout': 0,
  };
}

function emptyRejects(): Record<RejectReason, number> {
  return {
    oversized: 0,
    'invalid-json': 0,
    'bad-shape': 0,
    'bad-symbol': 0,
    'bad-price': 0,
    'bad-size': 0,
    'bad-time': 0,
    'bad-id': 0,
    'unknown-event': 0,
  };
}

export function newFeedStats(lag: LagSampler): FeedClientStats {
  return {
    connects: 0,
    reconnects: 0,
    frames: 0,
    trades: 0,
    rejects: emptyRejects(),
    lastFrameAt: 0,
    gatedTrades: 0,
    silenceDrops: 0,
    connectionLimits: 0,
    disconnects: emptyDisconnects(),
    gaps: 0,
    missedTrades: 0,
    get lagMs(): number {
      return lag.lastMs;
    },
    get lagPeakMs(): number {
      return lag.peakMs;
    },
    relayGaps: 0,
    relayGapSymbols: 0,
    connections: 0,
    symbolsMoved: 0,
  };
}
