/**
 * Hot-symbol pins on Zipf s=1 universes of 8,000 symbols: the plain ring's max/mean trade load per
 * worker against the planned pins', checked through a real `Assignment` built with those pins;
 * determinism under shuffled inputs; hysteresis under rate noise; and the caps.
 */
import { describe, expect, it } from 'vitest';
import { parseRatesSnapshot, planHotPins, type HotPinOptions } from '../../src/cluster/hot-pins.js';
import { Assignment } from '../../src/cluster/ring.js';
import type { RingMember, RingRecord } from '../../src/cluster/ring-record.js';
import { Prng } from '../../src/sim/prng.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { ZipfTable } from '../../src/sim/zipf.js';

const SYMBOLS = generateSymbols(8_000);
const ZIPF = new ZipfTable(SYMBOLS.length, 1);
/** Trades/s by symbol: 10,000 in all, item k with weight 1/(k+1). */
const RATES: ReadonlyMap<string, number> = new Map(SYMBOLS.map((s, k) => [s, ZIPF.probability(k) * 10_000]));
const TOP_SHARE = ZIPF.probability(0);

function members(count: number): RingMember[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `worker-${String(i + 1).padStart(2, '0')}`,
    weight: 1,
    address: '',
  }));
}

function record(list: readonly RingMember[], pins: Record<string, string> = {}): RingRecord {
  return { epoch: 1, members: list, pins, vnodes: 500, changedAt: 0, reason: 'test' };
}

/** Max/mean trade load per unit of weight, computed from what the ring actually does with `pins`. */
function maxOverMean(
  list: readonly RingMember[],
  pins: Record<string, string>,
  rates: ReadonlyMap<string, number>,
): number {
  const assignment = new Assignment(record(list, pins), SYMBOLS);
  const active = list.filter((m) => m.draining !== true);
  const weights = active.reduce((sum, m) => sum + m.weight, 0);
  const total = [...rates.values()].reduce((a, b) => a + b, 0);
  return Math.max(
    ...active.map((m) => {
      const load = assignment.symbolsOf(m.id).reduce((sum, s) => sum + (rates.get(s) ?? 0), 0);
      return load / ((total * m.weight) / weights);
    }),
  );
}

function shuffled<T>(items: readonly T[], prng: Prng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = prng.int(0, i);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function plan(list: readonly RingMember[], options: Partial<HotPinOptions> = {}, rates = RATES) {
  return planHotPins(rates, list, new Assignment(record(list), SYMBOLS), options);
}

describe('planHotPins on a Zipf s=1 universe', () => {
  it.each([4, 8, 16])('brings max/mean to max(1.25, top share x N) at %i workers', (count) => {
    const list = members(count);
    const result = plan(list);
    const best = Math.max(1.25, TOP_SHARE * count);
    const ring = maxOverMean(list, {}, RATES);
    const planned = maxOverMean(list, { ...result.pins }, RATES);
    console.log(
      `${count} workers: ring ${ring.toFixed(3)}, planned ${planned.toFixed(3)}, best ${best.toFixed(3)}, ` +
        `${Object.keys(result.pins).length} pins, ${result.movedSymbols} moved`,
    );
    expect(result.ringMaxOverMean).toBeCloseTo(ring, 9);
    expect(result.predictedMaxOverMean).toBeCloseTo(planned, 9);
    expect(result.bestPossible).toBeCloseTo(best, 9);
    expect(planned).toBeLessThanOrEqual(best + 0.02);
    expect(result.movedSymbols).toBe(Object.keys(result.pins).length);
    expect(result.pin).toHaveLength(result.movedSymbols);
    expect(result.capped).toBe(false);
  });

  it('beats the plain ring at 8 workers whatever the worker ids (that is, whatever the hash)', () => {
    const prefixes = ['worker-', 'w', 'node-', 'tickring-', 'host', 'wk', 'a', 'b', 'c', 'd', 'e', 'f'];
    const rings: number[] = [];
    for (const prefix of prefixes) {
      const list = members(8).map((m, i) => ({ ...m, id: `${prefix}${String(i + 1).padStart(2, '0')}` }));
      const result = plan(list);
      rings.push(result.ringMaxOverMean);
      expect(maxOverMean(list, { ...result.pins }, RATES)).toBeLessThanOrEqual(1.25 + 0.02);
    }
    rings.sort((a, b) => a - b);
    const median = ((rings[5] ?? 0) + (rings[6] ?? 0)) / 2;
    console.log(
      `8 workers, plain ring max/mean over ${prefixes.length} id sets: ${rings.map((r) => r.toFixed(2)).join(' ')}`,
    );
    expect(median).toBeGreaterThan(1.6);
    expect(median).toBeLessThan(1.8);
    expect(rings[0]).toBeGreaterThan(1.4);
  });

  it('pins few symbols at 8 workers, the hottest ones', () => {
    const result = plan(members(8));
    const pinned = Object.keys(result.pins);
    expect(pinned.length).toBeGreaterThan(0);
    expect(pinned.length).toBeLessThanOrEqual(32);
    // Hot symbols move, not the tail: every pinned symbol is in the top 5 % by rate.
    for (const symbol of pinned) expect(SYMBOLS.indexOf(symbol)).toBeLessThan(400);
  });

  it('gives a symbol hotter than the target x fair share a worker to itself', () => {
    const list = members(16);
    const result = plan(list);
    expect(result.dedicated).toEqual(['AAPL']);
    const assignment = new Assignment(record(list, { ...result.pins }), SYMBOLS);
    const owner = assignment.ownerOf('AAPL') ?? '';
    const others = assignment.symbolsOf(owner).filter((s) => s !== 'AAPL');
    const otherLoad = others.reduce((sum, s) => sum + (RATES.get(s) ?? 0), 0);
    // Only a sliver of cold symbols (within the tolerance) shares its worker.
    expect(otherLoad / (10_000 / 16)).toBeLessThanOrEqual(0.011);
  });

  it('is deterministic: shuffled rates, members and universe give the same pins', () => {
    const list = members(8);
    const reference = plan(list);
    const prng = new Prng(7);
    for (let round = 0; round < 3; round++) {
      const rates = new Map(shuffled([...RATES], prng));
      const order = shuffled(SYMBOLS, prng);
      const ring = new Assignment(record(list), SYMBOLS);
      const placement = { ownerOf: (s: string) => ring.ownerOf(s), symbols: () => order.values() };
      const again = planHotPins(rates, shuffled(list, prng), placement);
      expect(JSON.stringify(again)).toBe(JSON.stringify(reference));
    }
  });

  it('breaks ties between equally hot symbols by name', () => {
    const list = members(8);
    // 10 equally hot symbols over a flat tail: which of them move depends only on their names.
    const rates = new Map(SYMBOLS.map((s, k) => [s, k < 10 ? 400 : 1]));
    const reference = plan(list, {}, rates);
    expect(Object.keys(reference.pins).length).toBeGreaterThan(0);
    const prng = new Prng(11);
    for (let round = 0; round < 3; round++) {
      const again = plan(shuffled(list, prng), {}, new Map(shuffled([...rates], prng)));
      expect(again.pins).toEqual(reference.pins);
    }
  });
});

describe('hysteresis and caps', () => {
  function noisy(seed: number, amplitude: number): Map<string, number> {
    const prng = new Prng(seed);
    return new Map([...RATES].map(([s, r]) => [s, r * (1 + amplitude * (2 * prng.next() - 1))]));
  }

  it.each([8, 16])('keeps the pins under 5 percent rate noise at %i workers', (count) => {
    const list = members(count);
    const first = plan(list);
    for (let seed = 1; seed <= 5; seed++) {
      const again = plan(list, { currentPins: first.pins }, noisy(seed, 0.05));
      expect(again.basis).toBe('kept');
      expect(again.movedSymbols).toBe(0);
      expect(again.pins).toEqual(first.pins);
      expect(again.pin).toEqual([]);
      expect(again.unpin).toEqual([]);
    }
  });

  it('releases pins once the load evens out, and replans when the hot set changes', () => {
    const list = members(8);
    const first = plan(list);
    const flat = new Map(SYMBOLS.map((s) => [s, 1]));
    const calm = plan(list, { currentPins: first.pins }, flat);
    expect(Object.keys(calm.pins)).toEqual([]);
    expect(calm.unpin).toEqual(Object.keys(first.pins).sort());
    // The Zipf ranking reversed: the old pins are useless and the new hot symbols sit elsewhere.
    const reversed = new Map(
      SYMBOLS.map((s, k) => [s, RATES.get(SYMBOLS[SYMBOLS.length - 1 - k] ?? '') ?? 0]),
    );
    const moved = plan(list, { currentPins: first.pins }, reversed);
    expect(moved.currentMaxOverMean).toBeGreaterThan(1.3);
    expect(maxOverMean(list, { ...moved.pins }, reversed)).toBeLessThanOrEqual(1.27);
  });

  it('holds the moves cap, still improving what it can', () => {
    const list = members(8);
    const uncapped = plan(list);
    for (const maxMoves of [0, 1, 3, 5]) {
      const result = plan(list, { maxMoves });
      expect(result.movedSymbols).toBeLessThanOrEqual(maxMoves);
      expect(result.capped).toBe(maxMoves < uncapped.movedSymbols);
      expect(result.predictedMaxOverMean).toBeLessThanOrEqual(result.ringMaxOverMean);
      expect(maxOverMean(list, { ...result.pins }, RATES)).toBeCloseTo(result.predictedMaxOverMean, 9);
    }
    // A cap of 3 per call converges over a few calls, each moving at most 3.
    let pins: Readonly<Record<string, string>> = {};
    for (let call = 0; call < 20; call++) {
      const step = plan(list, { maxMoves: 3, currentPins: pins });
      expect(step.movedSymbols).toBeLessThanOrEqual(3);
      pins = step.pins;
    }
    expect(maxOverMean(list, { ...pins }, RATES)).toBeLessThanOrEqual(1.25 + 0.06);
  });

  it('holds the pins cap and never pins to a draining member', () => {
    const list = members(16);
    const capped = plan(list, { maxPins: 10 });
    expect(Object.keys(capped.pins).length).toBeLessThanOrEqual(10);
    expect(capped.capped).toBe(true);
    const draining = list.map((m, i) => (i === 0 ? { ...m, draining: true } : m));
    const ring = new Assignment(record(draining), SYMBOLS);
    const result = planHotPins(RATES, draining, ring);
    expect(Object.values(result.pins)).not.toContain(list[0]?.id);
  });

  it('weighs a worker of weight 2 as two', () => {
    const list = members(8).map((m, i) => (i === 0 ? { ...m, weight: 2 } : m));
    const result = plan(list);
    const planned = maxOverMean(list, { ...result.pins }, RATES);
    expect(result.predictedMaxOverMean).toBeCloseTo(planned, 9);
    expect(planned).toBeLessThanOrEqual(1.25 + 0.02);
  });

  it('rejects a target below 1', () => {
    expect(() => plan(members(4), { target: 0.9 })).toThrow(/target/);
  });
});

describe('parseRatesSnapshot', () => {
  it('reads a bare object or one under "rates", and refuses bad rates', () => {
    expect(parseRatesSnapshot('{"AAPL": 12.5, "MSFT": 0}')).toEqual(
      new Map([
        ['AAPL', 12.5],
        ['MSFT', 0],
      ]),
    );
    expect(parseRatesSnapshot('{"version": 3, "rates": {"AAPL": 1}}')).toEqual(new Map([['AAPL', 1]]));
    expect(() => parseRatesSnapshot('{"AAPL": -1}')).toThrow(/AAPL has rate -1/);
    expect(() => parseRatesSnapshot('{"AAPL": "fast"}')).toThrow(/rates are numbers/);
    expect(() => parseRatesSnapshot('[1, 2]')).toThrow(/not a JSON object/);
    expect(() => parseRatesSnapshot('nope')).toThrow(/not JSON/);
  });
});
