import { describe, expect, it } from 'vitest';
import {
  CONDITION_PROVIDERS,
  conditionRulesFor,
  UPDATES_ALL,
  UPDATES_VOLUME,
} from '../../../src/aggregate/conditions.js';
import rulesFile from '../../../src/aggregate/condition-rules.json' with { type: 'json' };
import { ALL, NOTHING, VOLUME_HIGH_LOW, VOLUME_ONLY } from './reference.js';

const polygon = conditionRulesFor('polygon');
const alpaca = conditionRulesFor('alpaca');

describe('condition rules', () => {
  it('follows the FEEDS.md table for the common Polygon codes', () => {
    const expected: Record<string, typeof ALL> = {
      '2': VOLUME_ONLY,
      '10': VOLUME_HIGH_LOW,
      '12': VOLUME_ONLY,
      '14': ALL,
      '22': VOLUME_HIGH_LOW,
      '37': VOLUME_ONLY,
      '41': ALL,
      '53': VOLUME_ONLY,
      '15': NOTHING,
    };
    for (const [code, flags] of Object.entries(expected)) {
      expect(polygon.eligibility([code]), `code ${code}`).toEqual(flags);
    }
  });

  it('counts an odd lot (37) in volume but not in last, high or low', () => {
    expect(polygon.eligibility(['37'])).toEqual({
      volume: true,
      highLow: false,
      openClose: false,
      last: false,
    });
    expect(alpaca.eligibility(['@', 'I'])).toEqual(VOLUME_ONLY);
  });

  it('lets any "no" win when a trade has several conditions', () => {
    expect(polygon.eligibility(['14', '41'])).toEqual(ALL);
    expect(polygon.eligibility(['14', '37', '41'])).toEqual(VOLUME_ONLY);
    expect(polygon.eligibility(['10', '37'])).toEqual(VOLUME_ONLY); // hl yes + hl no → no
    expect(polygon.eligibility(['22', '15'])).toEqual(NOTHING); // volume yes + volume no → no
    expect(alpaca.eligibility(['@', 'F', 'T', 'I'])).toEqual(VOLUME_ONLY);
    expect(alpaca.eligibility(['@', '4'])).toEqual(VOLUME_HIGH_LOW);
  });

  it('treats an unknown condition conservatively: volume yes, every price-related update no', () => {
    expect(polygon.eligibility(['999'])).toEqual(VOLUME_ONLY);
    expect(polygon.eligibility(['14', '999'])).toEqual(VOLUME_ONLY);
    expect(polygon.eligibility(['15', '999'])).toEqual(NOTHING);
    expect(alpaca.eligibility(['?'])).toEqual(VOLUME_ONLY);
    // A provider without a table of its own: every code is unknown.
    expect(conditionRulesFor('someday-feed').eligibility(['@'])).toEqual(VOLUME_ONLY);
  });

  it('answers a shared frozen array from its last answer, and a changed unfrozen one afresh', () => {
    const rules = conditionRulesFor('polygon');
    const oddLot = Object.freeze(['37']);
    expect(rules.mask(oddLot)).toBe(UPDATES_VOLUME);
    expect(rules.mask(oddLot)).toBe(UPDATES_VOLUME);
    const codes = ['37'];
    expect(rules.mask(codes)).toBe(UPDATES_VOLUME);
    codes[0] = '14';
    expect(rules.mask(codes)).toBe(UPDATES_ALL);
    expect(rules.mask(Object.freeze(['14', '41']))).toBe(UPDATES_ALL);
    expect(rules.mask(oddLot)).toBe(UPDATES_VOLUME);
    expect(rules.mask([])).toBe(UPDATES_ALL);
  });

  it('lets a trade without conditions update everything, and crypto trades always', () => {
    expect(polygon.mask([])).toBe(UPDATES_ALL);
    expect(conditionRulesFor('someday-feed').mask([])).toBe(UPDATES_ALL);
    for (const provider of ['binance', 'coinbase']) {
      expect(conditionRulesFor(provider).eligibility(['I', '37', 'whatever'])).toEqual(ALL);
      expect(conditionRulesFor(provider).describe()).toBeNull();
    }
  });

  it('maps Alpaca and Finnhub letter codes from the same table', () => {
    const finnhub = conditionRulesFor('finnhub');
    for (const code of ['@', 'I', 'T', 'F', '4', 'W', 'Z', 'U', 'M', 'Q', '9']) {
      expect(finnhub.eligibility([code]), code).toEqual(alpaca.eligibility([code]));
    }
    expect(alpaca.eligibility(['@'])).toEqual(ALL);
    expect(alpaca.eligibility(['F'])).toEqual(ALL);
    expect(alpaca.eligibility(['T'])).toEqual(VOLUME_ONLY);
    expect(alpaca.eligibility(['W'])).toEqual(VOLUME_ONLY);
    expect(alpaca.eligibility(['Z'])).toEqual(VOLUME_HIGH_LOW);
    expect(alpaca.eligibility(['U'])).toEqual(VOLUME_ONLY);
    expect(alpaca.eligibility(['M'])).toEqual(NOTHING);
  });

  it('builds rules from the defaults merged with an override, leaving the shared defaults alone', () => {
    const custom = conditionRulesFor('polygon', { '37': { highLow: true }, '900': { volume: false } });
    expect(custom.eligibility(['37'])).toEqual({ ...VOLUME_ONLY, highLow: true });
    expect(custom.eligibility(['900'])).toEqual(NOTHING); // unknown rule, then volume off
    expect(custom.eligibility(['14'])).toEqual(ALL);
    expect(conditionRulesFor('polygon').eligibility(['37'])).toEqual(VOLUME_ONLY);
    expect(conditionRulesFor('polygon')).toBe(polygon);
  });

  it('rejects a malformed override naming the option and the rule', () => {
    expect(() => conditionRulesFor('polygon', { '37': { volume: 'yes' as unknown as boolean } })).toThrow(
      /conditionOverrides\.polygon\["37"\]\.volume must be one of volume, highLow, openClose, last/,
    );
    expect(() => conditionRulesFor('polygon', { '37': { price: true } as never })).toThrow(/\.price must be/);
  });

  it('ships a data file that cites its source and covers every provider', () => {
    expect(rulesFile.source).toMatch(/CTA/);
    expect(rulesFile.source).toMatch(/UTP/);
    expect([...CONDITION_PROVIDERS].sort()).toEqual(['alpaca', 'binance', 'coinbase', 'finnhub', 'polygon']);
    expect(polygon.describe()?.['37']).toEqual(VOLUME_ONLY);
    expect(polygon.mask(['37'])).toBe(UPDATES_VOLUME);
  });
});
