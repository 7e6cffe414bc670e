/**
 * Fuzzing every feed decoder (the rows of `fuzz-targets.ts`) with hostile frames (`hostile-json.ts`),
 * seeded so a failure reproduces. For every frame: the decoder does not throw; every trade it lets
 * through is sane (a valid symbol, finite positive price and size below the cap, a plausible time, a
 * bounded id); Object.prototype gains nothing. Over the whole run the aggregates fed with those
 * trades stay finite and checkpoint to JSON. Then the same frames go down a real socket to the real
 * feed client, which must count every reject the decoder made and stay connected.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { DecodeSink, FeedEvent, RejectReason } from '../../feeds/adapter.js';
import { MAX_ABS_VALUE } from '../../feeds/adapter.js';
import { FEEDS } from '../../feeds/index.js';
import { isValidSymbol } from '../../feeds/symbol.js';
import type { Trade } from '../../feeds/trade.js';
import { conditionRulesFor, SymbolAggregate } from '../../src/aggregate/index.js';
import { feedClient, until } from '../integration/feed-harness.js';
import { faultFigure, FUZZ_SEED, fuzzRuns } from './figures.js';
import { FUZZ_TARGETS, adapterTarget } from './fuzz-targets.js';
import { edgeFrames, hostileFrames, type FrameKind, type HostileFrame } from './hostile-json.js';

const RUNS_PER_TARGET = fuzzRuns(3_000);
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(2300, 0, 1);

class CountingSink implements DecodeSink {
  trades: Trade[] = [];
  events: FeedEvent[] = [];
  rejects: RejectReason[] = [];
  trade(trade: Trade): void {
    this.trades.push(trade);
  }
  event(event: FeedEvent): void {
    this.events.push(event);
  }
  reject(reason: RejectReason, detail: string): void {
    if (typeof detail !== 'string' || detail.length > 400)
      throw new Error(`reject detail too long: ${detail.length}`);
    this.rejects.push(reason);
  }
  calls(): number {
    return this.trades.length + this.events.length + this.rejects.length;
  }
}

/** Why `trade` must not reach an aggregate, or `undefined` when it is sane. */
function insane(trade: Trade): string | undefined {
  if (typeof trade.symbol !== 'string' || !isValidSymbol(trade.symbol))
    return `symbol ${JSON.stringify(trade.symbol)}`;
  for (const [name, value] of [
    ['price', trade.price],
    ['size', trade.size],
  ] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value >= MAX_ABS_VALUE)
      return `${name} ${value}`;
  }
  if (!Number.isSafeInteger(trade.timeMs) || trade.timeMs < EARLIEST || trade.timeMs > LATEST)
    return `timeMs ${trade.timeMs}`;
  if (!Number.isInteger(trade.timeNanos) || trade.timeNanos < 0 || trade.timeNanos > 999_999)
    return `timeNanos ${trade.timeNanos}`;
  if (typeof trade.id !== 'string' || trade.id.length > 128) return 'id';
  if (trade.seq !== null && !Number.isSafeInteger(trade.seq)) return `seq ${trade.seq}`;
  if (typeof trade.exchange !== 'string' || trade.exchange.length > 64) return 'exchange';
  if (
    !Array.isArray(trade.conditions) ||
    !trade.conditions.every((c) => typeof c === 'string' && c.length <= 64)
  )
    return 'conditions';
  if (!['trade', 'correction', 'cancel'].includes(trade.kind)) return `kind ${trade.kind}`;
  if (typeof trade.amendsId !== 'string' || trade.amendsId.length > 128) return 'amendsId';
  return undefined;
}

function prototypeKeys(): string {
  return [Object.prototype, Array.prototype, Function.prototype]
    .map((proto) => Object.getOwnPropertyNames(proto).sort().join(','))
    .join('|');
}

const totals = new Map<string, number>();

afterAll(() => {
  let all = 0;
  for (const [name, count] of totals) {
    faultFigure(`fuzz.inputs.${name.replace(/ /g, '-')}`, count);
    all += count;
  }
  faultFigure('fuzz.inputs.feed-decoders-total', all);
});

describe('feed decoders under hostile frames', () => {
  for (const target of FUZZ_TARGETS) {
    it(`${target.name}: never throws, lets only sane trades through, pollutes nothing`, () => {
      const protoBefore = prototypeKeys();
      const decode = target.open();
      const byKind = new Map<FrameKind, number>();
      const aggregates = new Map<string, SymbolAggregate>();
      const feedName = target.name.split(' ')[0] ?? '';
      const rules = conditionRulesFor(feedName);
      let tried = 0;
      let accepted = 0;
      let silent = 0;
      const check = (input: HostileFrame): void => {
        tried++;
        byKind.set(input.kind, (byKind.get(input.kind) ?? 0) + 1);
        const sink = new CountingSink();
        decode(input.frame, sink);
        if (!target.decodesTrades) return;
        if (sink.calls() === 0) silent++;
        for (const trade of sink.trades) {
          const why = insane(trade);
          if (why !== undefined) throw new Error(`insane trade (${why}) from ${input.frame.slice(0, 300)}`);
          accepted++;
          let aggregate = aggregates.get(trade.symbol);
          if (!aggregate) {
            aggregate = new SymbolAggregate(trade.symbol, { conditionRules: rules });
            aggregates.set(trade.symbol, aggregate);
          }
          aggregate.apply(trade);
        }
        expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      };
      for (const edge of edgeFrames(target.seeds, target.maxFrameChars)) check(edge);
      fc.assert(
        fc.property(hostileFrames(target.seeds), (input) => {
          check(input);
        }),
        { seed: FUZZ_SEED, numRuns: RUNS_PER_TARGET },
      );
      expect(prototypeKeys()).toBe(protoBefore);
      for (const [symbol, aggregate] of aggregates) {
        const snapshot = aggregate.snapshot();
        for (const field of ['volume', 'vwap', 'open', 'high', 'low', 'close'] as const) {
          const value = snapshot[field];
          if (value !== null) expect(Number.isFinite(value), `${symbol} ${field} ${value}`).toBe(true);
        }
        expect(() => JSON.stringify(aggregate.toCheckpoint())).not.toThrow();
      }
      totals.set(target.name, tried);
      faultFigure(`fuzz.kinds.${target.name.replace(/ /g, '-')}`, JSON.stringify(Object.fromEntries(byKind)));
      if (target.decodesTrades) {
        faultFigure(`fuzz.accepted-trades.${target.name.replace(/ /g, '-')}`, accepted);
        faultFigure(`fuzz.silent-frames.${target.name.replace(/ /g, '-')}`, silent);
      }
    });
  }
});

describe('the feed client counts every reject a hostile socket causes', () => {
  for (const adapter of Object.values(FEEDS)) {
    it(`${adapter.name}: rejects counted frame by frame, the connection stays up`, async () => {
      const target = adapterTarget(adapter);
      const frames = fc
        .sample(hostileFrames(target.seeds), { seed: FUZZ_SEED, numRuns: fuzzRuns(300) })
        .map((input) => input.frame)
        .filter((frame) => frame.length < 1_000_000);
      // What the decoder says about each frame, offline, with one session as the client has.
      const offline = new CountingSink();
      const decode = target.open();
      for (const frame of frames) decode(frame, offline);

      const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
      await once(wss, 'listening');
      const port = (wss.address() as AddressInfo).port;
      const harness = feedClient(adapter, `ws://127.0.0.1:${port}/stocks`);
      // Every connection gets the frames straight away; the client decodes them whatever its state.
      wss.on('connection', (socket) => {
        for (const frame of frames) socket.send(frame);
        socket.send(Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28]), { binary: true });
      });
      try {
        harness.client.start();
        await until(() => harness.client.stats.frames >= frames.length + 1, 'every frame received', 15_000);
        const counted = Object.values(harness.client.stats.rejects).reduce((a, b) => a + b, 0);
        // The binary frame is one more reject (it is not text the adapter can read).
        expect(counted - offline.rejects.length).toBeGreaterThanOrEqual(0);
        expect(counted - offline.rejects.length).toBeLessThanOrEqual(1);
        expect(harness.client.stats.connects).toBe(1);
        expect(harness.client.stats.reconnects).toBe(0);
        totals.set(`${adapter.name} feed-client socket`, frames.length + 1);
        faultFigure(`fuzz.socket-rejects-counted.${adapter.name}`, counted);
      } finally {
        harness.client.close();
        wss.close();
      }
    });
  }
});
