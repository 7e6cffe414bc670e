/**
 * The table of entry points the feed fuzz run (`feed-fuzz.test.ts`) attacks. One row per decoder of
 * untrusted frames; each row names its valid frames (the material the mutations start from) and opens
 * a fresh decoder with one connection's state.
 *
 * To fuzz a new protocol, add one row:
 * - a feed adapter registered in `feeds/index.ts` (the relay's worker-facing adapter, `feeds/relay.ts`,
 *   once merged) is picked up by `adapterTargets()` with no change here;
 * - any other decoder (the relay's server half reading workers' subscribe frames, say) gets a row
 *   built like `simServerTarget`: seeds plus an `open` that feeds one frame to it.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { DecodeSink, FeedAdapter } from '../../feeds/adapter.js';
import { MAX_FRAME_CHARS } from '../../feeds/adapter.js';
import { FEEDS } from '../../feeds/index.js';
import type { Trade } from '../../feeds/trade.js';
import { Market } from '../../src/sim/market.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { FakeConnection } from '../unit/feeds/support.js';

export interface FuzzTarget {
  readonly name: string;
  /** Whether the decoder emits trades (a client half); a server half only must not throw. */
  readonly decodesTrades: boolean;
  /** Valid frames of this protocol. */
  readonly seeds: readonly string[];
  readonly maxFrameChars: number;
  /** A fresh decoder with one connection's state; each call decodes one frame into `sink`. */
  open(): (frame: string, sink: DecodeSink) => void;
}

/** Trades of a seeded simulated market in the provider's own market (stocks or crypto). */
function marketTrades(adapter: FeedAdapter, count: number): Trade[] {
  const profile = adapter.server.market;
  const market = new Market({
    symbols: generateSymbols(8, profile),
    seed: 42,
    skew: 1,
    ...(profile ? { profile } : {}),
  });
  const trades: Trade[] = [];
  market.generate(count, Date.UTC(2026, 0, 5, 15, 30), trades);
  return trades;
}

/** The provider's server frames recorded in the unit tests' fixtures, where there are any. */
function fixtureFrames(name: string): string[] {
  const file = new URL(`../unit/feeds/fixtures/${name}.json`, import.meta.url);
  if (!existsSync(file)) return [];
  const fixture = JSON.parse(readFileSync(file, 'utf8')) as {
    samples: { direction: string; raw: string }[];
  };
  return fixture.samples.filter((s) => s.direction === 'server->client').map((s) => s.raw);
}

/** A client half: the adapter's session decoding what its server sends. */
export function adapterTarget(adapter: FeedAdapter): FuzzTarget {
  const encoded = [1, 3, 20].flatMap((n) => adapter.server.encode(marketTrades(adapter, n)));
  return {
    name: `${adapter.name} client`,
    decodesTrades: true,
    seeds: [...encoded, ...fixtureFrames(adapter.name)],
    maxFrameChars: MAX_FRAME_CHARS,
    open() {
      const session = adapter.createSession({ key: 'fuzz-key', secret: 'fuzz-secret' });
      return (frame, sink) => session.decode(frame, sink);
    },
  };
}

/** A server half: the simulator reading what a client sends (subscribe, auth, ping). */
export function simServerTarget(adapter: FeedAdapter): FuzzTarget {
  const session = adapter.createSession({ key: 'fuzz-key', secret: 'fuzz-secret' });
  const symbols = generateSymbols(3, adapter.server.market);
  const seeds = [
    ...session.opening(),
    ...session.reply({ type: 'hello' }),
    ...session.subscribe(symbols),
    ...session.unsubscribe(symbols),
  ];
  return {
    name: `${adapter.name} sim server`,
    decodesTrades: false,
    seeds: seeds.length > 0 ? seeds : ['{}'],
    maxFrameChars: MAX_FRAME_CHARS,
    open() {
      const server = adapter.server.createServer?.() ?? adapter.server;
      const conn = new FakeConnection(new URL('ws://127.0.0.1/fuzz'), '');
      server.onOpen(conn);
      return (frame) => server.onMessage(conn, frame);
    },
  };
}

export function adapterTargets(): FuzzTarget[] {
  return Object.values(FEEDS).map(adapterTarget);
}

export const FUZZ_TARGETS: readonly FuzzTarget[] = [
  ...adapterTargets(),
  ...Object.values(FEEDS).map(simServerTarget),
];
