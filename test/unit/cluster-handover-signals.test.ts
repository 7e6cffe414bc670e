/**
 * Hand-over signals as they travel through Redis: the first trade's position and identity survive
 * the trip, signals written by earlier versions still read, and anything malformed reads as no
 * signal rather than throwing.
 */
import { describe, expect, it } from 'vitest';
import { announces, decodeHandoverSignal, encodeHandoverSignal } from '../../src/cluster/handover-signals.js';

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

  it('carry who wrote them ahead of their epoch; a malformed writer makes the signal unreadable', () => {
    const signal = { epoch: 9, first: undefined, confirmedForMs: 40, by: { id: 'w3', instance: 'a1' } };
    expect(decodeHandoverSignal(encodeHandoverSignal(signal))).toEqual(signal);
    // Read without its writer, it would count for whichever worker owns the symbol at epoch 9.
    for (const by of ['"w3"', 'null', '{"id":"w3"}', '{"id":"w3","instance":7}', '[]'])
      expect(decodeHandoverSignal(`{"epoch":9,"first":null,"by":${by}}`), by).toBeUndefined();
  });

  it('count at their epoch and later; written ahead, only for the new owner still in the same process', () => {
    const running = new Map([
      ['w3', 'a1'],
      ['w4', 'b2'],
    ]);
    const instanceOf = (id: string): string | undefined => running.get(id);
    const atEpoch = { epoch: 9, first: undefined };
    expect(announces(atEpoch, 9, 'w3', instanceOf)).toBe(true);
    expect(announces(atEpoch, 8, 'w4', instanceOf)).toBe(true);
    expect(announces(atEpoch, 10, 'w3', instanceOf)).toBe(false);
    expect(announces(undefined, 9, 'w3', instanceOf)).toBe(false);
    const ahead = { ...atEpoch, by: { id: 'w3', instance: 'a1' } };
    expect(announces(ahead, 9, 'w3', instanceOf)).toBe(true);
    // Another worker owns the symbol at that epoch (two joined at once): its buffer is not this one.
    expect(announces(ahead, 9, 'w4', instanceOf)).toBe(false);
    // The guess was wrong: another change took epoch 9, and the join came at 10.
    expect(announces(ahead, 10, 'w3', instanceOf)).toBe(false);
    // w3 restarted since it wrote the signal: the buffers it names died with that process.
    expect(announces(ahead, 9, 'w3', () => 'c3')).toBe(false);
    expect(announces(ahead, 9, 'w3', () => undefined)).toBe(false);
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
