import { describe, expect, it } from 'vitest';
import { Assignment } from '../../src/cluster/ring.js';
import type { RingMember, RingRecord } from '../../src/cluster/ring-record.js';
import { generateSymbols } from '../../src/sim/universe.js';

function record(
  ids: readonly string[],
  epoch = 1,
  pins: Record<string, string> = {},
  vnodes = 500,
): RingRecord {
  const members: RingMember[] = ids.map((id) => ({ id, weight: 1, address: `http://${id}` }));
  return { epoch, members, pins, vnodes, changedAt: 0, reason: 'test' };
}

function ids(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `worker-${String(i).padStart(2, '0')}`);
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const SYMBOLS = generateSymbols(2_000);

describe('Assignment', () => {
  it('is the same whatever order the members are listed in', () => {
    for (const count of [1, 2, 3, 7, 14, 28]) {
      const base = new Assignment(record(ids(count)), SYMBOLS);
      const other = new Assignment(record(shuffled(ids(count), count)), shuffled(SYMBOLS, 7));
      for (const symbol of SYMBOLS) expect(other.ownerOf(symbol)).toBe(base.ownerOf(symbol));
    }
  });

  it('moves symbols only to or from the member that joined or left, at every size from 1 to 32', () => {
    for (let count = 1; count <= 32; count++) {
      const before = new Assignment(record(ids(count)), SYMBOLS);
      const joined = new Assignment(record(ids(count + 1)), SYMBOLS);
      const newcomer = ids(count + 1).at(-1)!;
      for (const symbol of SYMBOLS) {
        const owner = joined.ownerOf(symbol);
        if (owner !== newcomer) expect(owner, `${symbol} at ${count}+1`).toBe(before.ownerOf(symbol));
      }
      const leaver = ids(count)[Math.floor(count / 2)]!;
      const left = new Assignment(record(ids(count).filter((id) => id !== leaver)), SYMBOLS);
      for (const symbol of SYMBOLS) {
        if (before.ownerOf(symbol) !== leaver)
          expect(left.ownerOf(symbol), `${symbol} at ${count}-1`).toBe(before.ownerOf(symbol));
      }
    }
  });

  it('gives every symbol exactly one owner and counts them', () => {
    const assignment = new Assignment(record(ids(5)), SYMBOLS);
    const total = ids(5).reduce((sum, id) => sum + assignment.symbolsOf(id).length, 0);
    expect(total).toBe(SYMBOLS.length);
    for (const id of ids(5)) expect(assignment.symbolCount(id)).toBe(assignment.symbolsOf(id).length);
  });

  it('places a pinned symbol on its pin while that member is live, else on the ring', () => {
    const pinned = new Assignment(record(ids(4), 1, { AAPL: 'worker-03' }), SYMBOLS);
    expect(pinned.ownerOf('AAPL')).toBe('worker-03');
    const gone = new Assignment(record(ids(3), 1, { AAPL: 'worker-03' }), SYMBOLS);
    expect(ids(3)).toContain(gone.ownerOf('AAPL'));
  });

  it('owns nothing with no members', () => {
    const empty = new Assignment(record([]), SYMBOLS);
    expect(empty.ownerOf('AAPL')).toBeUndefined();
    expect(empty.size).toBe(0);
  });
});
