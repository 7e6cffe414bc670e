/**
 * Hand-over signals as they travel through Redis: the first trade's position and identity survive
 * the trip, signals written by earlier versions still read, and anything malformed reads as no
 * signal rather than throwing.
 */
import { describe, expect, it } from 'vitest';
import { decodeHandoverSignal, encodeHandoverSignal } from '../../src/cluster/handover-signals.js';

describe('hand-over signals', () => {
  it('carry the first trade, its identity fields included, and say when there is none yet', () => {
    const first = {
      key: 'AAPL|4|a|b', // keys and ids may hold the old separator
      seq: 12,
      timeMs: 1_700_000_000_000,
      atTime: 1,
      identity: { symbol: 'AAPL', id: 'a|b', exchange: '4', kind: 'cancel' as const },
    };
    expect(decodeHandoverSignal(encodeHandoverSignal({ epoch: 7, first }))).toEqual({ epoch: 7, first });
    const withoutIdentity = { key: 'AAPL', seq: null, timeMs: 1, atTime: 1 };
    expect(decodeHandoverSignal(encodeHandoverSignal({ epoch: 7, first: withoutIdentity }))).toEqual({
      epoch: 7,
      first: withoutIdentity,
    });
    expect(decodeHandoverSignal(encodeHandoverSignal({ epoch: 8, first: undefined }))).toEqual({
      epoch: 8,
      first: undefined,
    });
  });

  it('carry how long the subscription has been confirmed; a malformed age reads as none', () => {
    const signal = { epoch: 4, first: undefined, confirmedForMs: 250 };
    expect(decodeHandoverSignal(encodeHandoverSignal({ ...signal, confirmedForMs: 250.7 }))).toEqual(signal);
    // Signals of earlier versions carry no age: the old owner then watches the quiet window itself.
    expect(decodeHandoverSignal('{"epoch":4,"first":null}')).toEqual({ epoch: 4, first: undefined });
    for (const age of ['"250"', '-5', '0', 'null', '1e400'])
      expect(decodeHandoverSignal(`{"epoch":4,"first":null,"confirmedForMs":${age}}`), age).toEqual({
        epoch: 4,
        first: undefined,
      });
  });

  it('read the earlier `epoch|seq|timeMs|key` form', () => {
    expect(decodeHandoverSignal('3|12|1700000000000|AAPL|4|9')).toEqual({
      epoch: 3,
      first: { key: 'AAPL|4|9', seq: 12, timeMs: 1_700_000_000_000, atTime: 1 },
    });
    expect(decodeHandoverSignal('3|||')).toEqual({ epoch: 3, first: undefined });
  });

  it('read anything malformed as no signal', () => {
    const position = { key: 'AAPL|4|9', seq: null, timeMs: 1, atTime: 1 };
    for (const raw of [
      '{',
      '{"epoch":1.5,"first":null}',
      '{"first":null}',
      JSON.stringify({ epoch: 1, first: { ...position, seq: 'x' } }),
      JSON.stringify({ epoch: 1, first: { ...position, identity: { symbol: 'AAPL', id: 9 } } }),
      JSON.stringify({
        epoch: 1,
        first: { ...position, identity: { symbol: 'AAPL', id: '9', exchange: '4', kind: 'bust' } },
      }),
      'x|1|2|k',
      '1|2',
    ])
      expect(decodeHandoverSignal(raw), raw).toBeUndefined();
  });
});
