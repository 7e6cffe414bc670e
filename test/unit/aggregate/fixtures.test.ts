/**
 * The trades in shared/fixtures, decoded by hand here (not through the adapters), aggregated, and
 * checked against an exact bigint calculation from the same decimal text.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeTrade, type Trade } from '../../../feeds/trade.js';
import { conditionRulesFor } from '../../../src/aggregate/conditions.js';
import { SymbolAggregate } from '../../../src/aggregate/symbol-aggregate.js';
import { ALL, combine, RefBucket, relErr, toFixed, VOLUME_ONLY, type RefFlags } from './reference.js';

const FIXTURES = new URL('../feeds/fixtures/', import.meta.url);
const SCALE = 8; // every fixture price and size has at most 8 decimals

interface Decoded {
  provider: string;
  trade: Trade;
  /** The price and size exactly as the provider wrote them. */
  priceText: string;
  sizeText: string;
  flags: RefFlags;
}

function frames(provider: string): unknown[] {
  const file = JSON.parse(readFileSync(new URL(`${provider}.json`, FIXTURES), 'utf8')) as {
    samples: { direction: string; raw: string }[];
  };
  return file.samples
    .filter((s) => s.direction === 'server->client')
    .map((s) => JSON.parse(s.raw) as unknown);
}

/** RFC 3339 with up to 9 fractional digits → [ms, nanoseconds within the ms]. */
function rfc3339(text: string): [number, number] {
  const m = /^(.{19})(?:\.(\d{1,9}))?Z$/.exec(text);
  if (!m) throw new Error(`bad time ${text}`);
  const digits = (m[2] ?? '').padEnd(9, '0');
  return [Date.parse(`${m[1]}.${digits.slice(0, 3)}Z`), Number(digits.slice(3))];
}

// Our own reading of the rules for the codes the fixtures carry (see FEEDS.md and the UTP letters).
const POLYGON: Record<string, RefFlags> = {
  '0': ALL,
  '12': VOLUME_ONLY,
  '14': ALL,
  '37': VOLUME_ONLY,
  '41': ALL,
};
const LETTERS: Record<string, RefFlags> = { '@': ALL, I: VOLUME_ONLY, F: ALL, T: VOLUME_ONLY };

type Raw = Record<string, unknown>;

function decodeAll(): Decoded[] {
  const out: Decoded[] = [];
  for (const frame of frames('polygon')) {
    for (const e of frame as Raw[]) {
      if (e['ev'] !== 'T') continue;
      const c = ((e['c'] as number[] | undefined) ?? []).map(String);
      out.push({
        provider: 'polygon',
        trade: makeTrade({
          symbol: e['sym'] as string,
          price: e['p'] as number,
          size: e['s'] as number,
          timeMs: e['t'] as number,
          id: e['i'] as string,
          exchange: String(e['x']),
          seq: e['q'] as number,
          conditions: c,
        }),
        priceText: String(e['p']),
        sizeText: String(e['s']),
        flags: combine(c.map((code) => POLYGON[code]!)),
      });
    }
  }
  for (const frame of frames('alpaca')) {
    for (const e of frame as Raw[]) {
      if (e['T'] !== 't') continue;
      const [timeMs, timeNanos] = rfc3339(e['t'] as string);
      const c = e['c'] as string[];
      out.push({
        provider: 'alpaca',
        trade: makeTrade({
          symbol: e['S'] as string,
          price: e['p'] as number,
          size: e['s'] as number,
          timeMs,
          timeNanos,
          id: String(e['i']),
          exchange: e['x'] as string,
          conditions: c,
        }),
        priceText: String(e['p']),
        sizeText: String(e['s']),
        flags: combine(c.map((code) => LETTERS[code]!)),
      });
    }
  }
  for (const frame of frames('finnhub')) {
    const f = frame as { type?: string; data?: Raw[] };
    if (f.type !== 'trade') continue;
    for (const d of f.data ?? []) {
      const trade = makeTrade({
        symbol: d['s'] as string,
        price: d['p'] as number,
        size: d['v'] as number,
        timeMs: d['t'] as number,
      });
      out.push({
        provider: 'finnhub',
        trade,
        priceText: String(d['p']),
        sizeText: String(d['v']),
        flags: ALL,
      });
    }
  }
  for (const frame of frames('binance')) {
    const e = frame as Raw;
    if (e['e'] !== 'trade') continue;
    const trade = makeTrade({
      symbol: e['s'] as string,
      price: Number(e['p']),
      size: Number(e['q']),
      timeMs: e['T'] as number,
      id: String(e['t']),
    });
    out.push({
      provider: 'binance',
      trade,
      priceText: e['p'] as string,
      sizeText: e['q'] as string,
      flags: ALL,
    });
  }
  for (const frame of frames('coinbase')) {
    const e = frame as Raw;
    if (e['type'] !== 'match') continue;
    const [timeMs, timeNanos] = rfc3339(e['time'] as string);
    const trade = makeTrade({
      symbol: e['product_id'] as string,
      price: Number(e['price']),
      size: Number(e['size']),
      timeMs,
      timeNanos,
      id: String(e['trade_id']),
      seq: e['sequence'] as number,
    });
    out.push({
      provider: 'coinbase',
      trade,
      priceText: e['price'] as string,
      sizeText: e['size'] as string,
      flags: ALL,
    });
  }
  return out;
}

describe('fixture trades', () => {
  const decoded = decodeAll();

  it('decodes the trades the fixtures hold', () => {
    expect(decoded.map((d) => `${d.provider}:${d.trade.symbol}`)).toEqual([
      'polygon:AAPL',
      'polygon:AMZN',
      'polygon:AMZN',
      'polygon:MSFT',
      'alpaca:AAPL',
      'alpaca:AAPL',
      'finnhub:BINANCE:BTCUSDT',
      'binance:BNBBTC',
      'coinbase:BTC-USD',
    ]);
  });

  it('aggregate to what an exact bigint calculation gives', () => {
    const keys = [...new Set(decoded.map((d) => `${d.provider}|${d.trade.symbol}`))];
    for (const key of keys) {
      const [provider, symbol] = key.split('|') as [string, string];
      const agg = new SymbolAggregate(symbol, { conditionRules: conditionRulesFor(provider) });
      let ref = new RefBucket();
      let sessionStart = -Infinity;
      let late = 0;
      decoded
        .filter((d) => d.provider === provider && d.trade.symbol === symbol)
        .forEach((d, arrival) => {
          agg.apply(d.trade);
          const day = Math.floor(d.trade.timeMs / 86_400_000);
          if (day < sessionStart) {
            late++;
            return;
          }
          if (day > sessionStart) {
            sessionStart = day;
            ref = new RefBucket();
          }
          const timed = {
            ...d.trade,
            arrival,
            priceFixed: toFixed(d.priceText, SCALE),
            sizeFixed: toFixed(d.sizeText, SCALE),
          };
          ref.add(timed, d.flags);
        });
      const snap = agg.snapshot();
      const message = `${provider} ${symbol}`;
      expect(snap.volume, message).toBe(Number(ref.volume) / 10 ** SCALE);
      expect(snap.trades, message).toBe(ref.trades);
      const vwap = ref.vwap(SCALE);
      if (vwap === null) expect(snap.vwap, message).toBeNull();
      else expect(relErr(snap.vwap!, vwap), message).toBeLessThan(1e-12);
      expect([snap.open, snap.high, snap.low, snap.close], message).toEqual(
        [ref.open, ref.high, ref.low, ref.close].map((t) =>
          t === null ? null : Number(t.priceFixed) / 10 ** SCALE,
        ),
      );
      expect(snap.last?.id ?? null, message).toBe(ref.last?.id ?? null);
      expect(snap.counters.lateSession, message).toBe(late);
    }
  });

  it('keeps what the conditions say: odd lots and Form T only add volume', () => {
    const aggregate = (provider: string, symbol: string): SymbolAggregate => {
      const agg = new SymbolAggregate(symbol, { conditionRules: conditionRulesFor(provider) });
      for (const d of decoded) if (d.provider === provider && d.trade.symbol === symbol) agg.apply(d.trade);
      return agg;
    };
    // AMZN: an odd lot [14, 37, 41] then a regular 100: only the regular one sets prices and last.
    expect(aggregate('polygon', 'AMZN').snapshot()).toMatchObject({
      volume: 101,
      trades: 2,
      last: { id: '799', size: 100 },
    });
    // MSFT [0, 12]: Form T.
    expect(aggregate('polygon', 'MSFT').snapshot()).toMatchObject({ volume: 100, open: null, last: null });
    // Alpaca: two odd lots, the second from an older session (late).
    expect(aggregate('alpaca', 'AAPL').snapshot()).toMatchObject({
      volume: 1,
      last: null,
      counters: { lateSession: 1 },
    });
    // Coinbase keeps microseconds in the last trade's time.
    expect(aggregate('coinbase', 'BTC-USD').snapshot().last).toEqual({
      price: 400.23,
      size: 5.23512,
      time: '2014-11-07T08:19:27.028459000Z',
      exchange: '',
      id: '10',
    });
  });

  it('takes the Alpaca cancel out again ("x" frame, decoded by hand; its time is a placeholder)', () => {
    const cancel = frames('alpaca')
      .flatMap((f) => f as Raw[])
      .find((e) => e['T'] === 'x')!;
    const timeMs = Date.UTC(2024, 5, 3, 15);
    const fields = {
      symbol: cancel['S'] as string,
      price: cancel['p'] as number,
      size: cancel['s'] as number,
      timeMs,
    };
    const agg = new SymbolAggregate('DJT', { conditionRules: conditionRulesFor('alpaca') });
    agg.apply(
      makeTrade({ ...fields, id: String(cancel['i']), exchange: cancel['x'] as string, conditions: ['@'] }),
    );
    agg.apply(makeTrade({ ...fields, id: '4869', conditions: ['@'] }));
    agg.apply(
      makeTrade({ ...fields, id: String(cancel['i']), exchange: cancel['x'] as string, kind: 'cancel' }),
    );
    expect(agg.snapshot()).toMatchObject({ trades: 1, volume: 31_800, vwap: 36.18, amended: true });
  });
});
