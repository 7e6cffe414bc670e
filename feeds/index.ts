/**
 * The registry of feed adapters. Adding a provider means adding its module and one line here.
 */
import type { FeedAdapter } from './adapter.js';
import { alpaca } from './alpaca.js';
import { binance } from './binance.js';
import { coinbase } from './coinbase.js';
import { finnhub } from './finnhub.js';
import { polygon } from './polygon.js';
import { relay } from './relay.js';

export const FEEDS: Readonly<Record<string, FeedAdapter>> = {
  polygon,
  alpaca,
  finnhub,
  binance,
  coinbase,
  // tickring's own relay (`tickring relay`): one upstream connection fanned out to every worker.
  relay,
};

export const FEED_NAMES = Object.keys(FEEDS);

export function getFeed(name: string): FeedAdapter | undefined {
  return Object.hasOwn(FEEDS, name) ? FEEDS[name] : undefined;
}
