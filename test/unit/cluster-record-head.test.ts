/**
 * The JSON head a packed aggregate follows in a checkpoint record is written out by hand for the
 * usual periodic record: it must read back exactly as `JSON.stringify` of the same head would,
 * whatever the strings hold (quotes, backslashes, control characters, non-ASCII) and whatever the
 * numbers are (fractions, negatives, huge, not finite).
 */
import { describe, expect, it } from 'vitest';
import { packedHead, parseCheckpointRecord, type RecordHead } from '../../src/cluster/checkpoints.js';

const NUL = '\u0000';

function head(owner: string, key: string, numbers: number[], flags: [boolean, boolean]): RecordHead {
  const [epoch = 1, writtenAt = 0, seq = 0, timeMs = 0, atTime = 0] = numbers;
  return {
    v: 1,
    owner,
    epoch,
    writtenAt,
    watermark: key,
    final: flags[0],
    position: { key, seq: seq < 0 ? null : seq, timeMs, atTime },
    overlapped: flags[1],
  };
}

describe('a checkpoint record head', () => {
  const strings = [
    '',
    'w1',
    'AAPL|4|123',
    'a"b\\c',
    'tab\there',
    '\u0001\u001f',
    'ünï €',
    '\ud83d\ude00',
    'x'.repeat(300),
  ];
  const numbers = [
    [1, 1_700_000_000_123, 5, 1_700_000_000_000, 1],
    [2 ** 40, 0, -1, 0, 0],
    [7, 1.5, Number.MAX_SAFE_INTEGER, -3, 2],
    [Number.NaN, Number.POSITIVE_INFINITY, 1e21, 1e-7, Number.NEGATIVE_INFINITY],
    [-0, -0, -0, -0, -0],
  ];

  it('is the text JSON.stringify writes, then the NUL a packed aggregate follows', () => {
    for (const owner of strings)
      for (const key of strings)
        for (const n of numbers)
          for (const flags of [
            [false, false],
            [true, true],
          ] as [boolean, boolean][]) {
            const h = head(owner, key, n, flags);
            expect(packedHead(h)).toBe(JSON.stringify(h) + NUL);
          }
  });

  it('keeps a watermark that differs from the position key, and heads it does not write by hand', () => {
    const base = head('w1', 'AAPL|1', [3, 10, 4, 10, 1], [false, false]);
    const cases: RecordHead[] = [
      { ...base, watermark: 'other"key' },
      {
        ...base,
        position: { ...base.position!, identity: { symbol: 'AAPL', id: '1', exchange: '4', kind: 'trade' } },
      },
      { v: 1, owner: 'w1', epoch: 3, writtenAt: 10, watermark: 'k', final: true },
    ];
    for (const h of cases) expect(packedHead(h)).toBe(JSON.stringify(h) + NUL);
  });

  it('reads back as the record it was written from', () => {
    const h = head('w"2', 'MSFT|\\|9', [12, 1_700_000_000_000, 77, 1_700_000_000_000, 3], [true, false]);
    const raw = Buffer.concat([Buffer.from(packedHead(h)), Buffer.from([1, 2, 3])]);
    const record = parseCheckpointRecord(raw, 'MSFT', { unpack: false });
    expect({ ...record, aggregate: undefined }).toEqual({ ...h, aggregate: undefined });
  });
});
