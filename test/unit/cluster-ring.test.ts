/**
 * Ring invariants beyond `ring.test.ts`: member counts 33 to 64, the sizes where hashring 3.2.0's
 * rounding (its issue #43) would move symbols between members that stayed, shuffled orders at large
 * sizes, draining members, weights, and the ring record's parsing of what Lua's cjson writes.
 */
import HashRing from 'hashring';
import { describe, expect, it } from 'vitest';
import { Assignment } from '../../src/cluster/ring.js';
import {
  activeMembers,
  EMPTY_RING,
  parseRingRecord,
  withMember,
  type RingMember,
  type RingRecord,
} from '../../src/cluster/ring-record.js';
import { generateSymbols } from '../../src/sim/universe.js';

const SYMBOLS = generateSymbols(1_500);

function ids(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `node-${String(i).padStart(2, '0')}`);
}

function record(members: readonly (string | RingMember)[], pins: Record<string, string> = {}): RingRecord {
  return {
    epoch: 1,
    members: members.map((m) => (typeof m === 'string' ? { id: m, weight: 1, address: '' } : m)),
    pins,
    vnodes: 500,
    changedAt: 0,
    reason: 'test',
  };
}

/** Symbols whose owner differs between `a` and `b` although neither owner is in `allowed`. */
function strayMoves(a: Assignment, b: Assignment, allowed: ReadonlySet<string>): string[] {
  return SYMBOLS.filter((s) => {
    const before = a.ownerOf(s);
    const after = b.ownerOf(s);
    return before !== after && !allowed.has(before ?? '') && !allowed.has(after ?? '');
  });
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

describe('the ring at 33 to 64 members', () => {
  it('moves symbols only to a member that joins, at every size', () => {
    let previous = new Assignment(record(ids(32)), SYMBOLS);
    for (let count = 33; count <= 64; count++) {
      const next = new Assignment(record(ids(count)), SYMBOLS);
      const newcomer = ids(count).at(-1)!;
      expect(strayMoves(previous, next, new Set([newcomer])), `${count - 1}+1`).toEqual([]);
      expect(next.symbolCount(newcomer)).toBeGreaterThan(0);
      previous = next;
    }
  }, 60_000);

  it('moves only the leaver’s symbols at the sizes where hashring rounding used to bite (7, 14, 28, 56)', () => {
    for (const count of [7, 14, 28, 56]) {
      const before = new Assignment(record(ids(count)), SYMBOLS);
      const leaver = ids(count)[Math.floor(count / 3)]!;
      const after = new Assignment(record(ids(count).filter((id) => id !== leaver)), SYMBOLS);
      expect(strayMoves(before, after, new Set([leaver])), `${count}-1`).toEqual([]);
    }
  }, 60_000);

  it('is the same whatever order 47 or 64 members are listed in', () => {
    for (const count of [47, 64]) {
      const base = new Assignment(record(ids(count)), SYMBOLS);
      const other = new Assignment(record(shuffled(ids(count), count)), shuffled(SYMBOLS, 3));
      expect(SYMBOLS.filter((s) => other.ownerOf(s) !== base.ownerOf(s))).toEqual([]);
    }
  }, 60_000);
});

describe('remembered digests', () => {
  it('place every symbol where plain md5 hashring does, on a first build and on a rebuild', () => {
    // Workers of different versions must agree on every placement: remembering digests must not
    // change one. The second build runs on digests remembered from the first.
    const members = [...ids(5), { id: 'heavy', weight: 2, address: '' }];
    const servers: Record<string, { vnodes: number }> = {};
    for (const m of record(members).members) servers[m.id] = { vnodes: 500 * m.weight };
    const plain = new HashRing(servers, 'md5', { 'vnode count': 0 });
    for (let build = 0; build < 2; build++) {
      const assignment = new Assignment(record(members), SYMBOLS);
      expect(SYMBOLS.filter((s) => assignment.ownerOf(s) !== plain.get(s))).toEqual([]);
      expect(SYMBOLS.filter((s) => assignment.standbyOf(s) !== plain.range(s, 2)[1])).toEqual([]);
    }
  });
});

describe('withMember: the ring a joining worker expects', () => {
  const joiner = { id: 'node-02b', weight: 1, address: 'http://joiner' };

  it('adds the member in id order, so the expected ring is the one the join will build', () => {
    const expected = withMember(record(ids(4)), joiner, 100);
    expect(expected.members.map((m) => m.id)).toEqual([
      'node-00',
      'node-01',
      'node-02',
      'node-02b',
      'node-03',
    ]);
    expect(expected.vnodes).toBe(500);
    const joined = new Assignment(record([...ids(4), joiner]), SYMBOLS);
    const guessed = new Assignment(expected, SYMBOLS);
    expect(guessed.symbolsOf(joiner.id)).toEqual(joined.symbolsOf(joiner.id));
  });

  it('leaves a record that lists the member as it is, and gives an empty ring the vnodes asked for', () => {
    const listed = record([...ids(2), joiner]);
    expect(withMember(listed, joiner, 100)).toBe(listed);
    const first = withMember(EMPTY_RING, joiner, 100);
    expect(first.members).toEqual([joiner]);
    expect(first.vnodes).toBe(100);
  });
});

describe('draining and weights', () => {
  it('gives a draining member nothing and moves only its symbols, ignoring pins to it', () => {
    const members = ids(5);
    const before = new Assignment(record(members), SYMBOLS);
    const draining = members.map((id) =>
      id === 'node-02' ? { id, weight: 1, address: '', draining: true } : id,
    );
    const pinned = SYMBOLS[0]!;
    const during = new Assignment(record(draining, { [pinned]: 'node-02' }), SYMBOLS);
    expect(during.symbolsOf('node-02')).toEqual([]);
    expect(during.symbolCount('node-02')).toBe(0);
    expect(during.isDraining('node-02')).toBe(true);
    expect(during.isDraining('node-01')).toBe(false);
    expect(during.ownerOf(pinned)).not.toBe('node-02');
    expect(strayMoves(before, during, new Set(['node-02']))).toEqual([]);
    // The same owners as if it had left.
    const gone = new Assignment(record(members.filter((id) => id !== 'node-02')), SYMBOLS);
    for (const s of SYMBOLS) expect(during.ownerOf(s)).toBe(gone.ownerOf(s));
  });

  it('gives a member of weight 2 about twice the symbols of one of weight 1', () => {
    const heavy = { id: 'node-00', weight: 2, address: '' };
    const assignment = new Assignment(record([heavy, ...ids(4).slice(1)]), SYMBOLS);
    const light =
      (assignment.symbolCount('node-01') +
        assignment.symbolCount('node-02') +
        assignment.symbolCount('node-03')) /
      3;
    const ratio = assignment.symbolCount('node-00') / light;
    expect(ratio).toBeGreaterThan(1.7);
    expect(ratio).toBeLessThan(2.3);
  });
});

describe('parseRingRecord', () => {
  const base = { v: 1, epoch: 4, pins: {}, vnodes: 500, changedAt: 1, reason: 'x' };

  it('reads draining members and keeps them out of the active set', () => {
    const parsed = parseRingRecord(
      JSON.stringify({
        ...base,
        members: [
          { id: 'b', weight: 1, address: 'http://b', draining: true },
          { id: 'a', weight: 1, address: 'http://a', draining: false },
        ],
      }),
    );
    expect(parsed.members.map((m) => m.id)).toEqual(['a', 'b']);
    expect(parsed.members[0]).toEqual({ id: 'a', weight: 1, address: 'http://a' });
    expect(parsed.members[1]?.draining).toBe(true);
    expect(activeMembers(parsed).map((m) => m.id)).toEqual(['a']);
  });

  it('accepts the empty object cjson writes for an empty list, and rejects fractional weights', () => {
    expect(parseRingRecord(JSON.stringify({ ...base, members: {} })).members).toEqual([]);
    expect(() => parseRingRecord(JSON.stringify({ ...base, members: [{ id: 'a', weight: 1.5 }] }))).toThrow(
      /weight 1.5/,
    );
    expect(() => parseRingRecord('{')).toThrow(/not JSON/);
  });

  it("keeps the universe's epoch only where it is an epoch up to the record's own", () => {
    const universeOf = (universe: unknown): number | undefined =>
      parseRingRecord(JSON.stringify({ ...base, members: [], universe })).universe;
    expect(universeOf(3)).toBe(3);
    expect(universeOf(4)).toBe(4);
    // Not trusted: the reader reads the universe instead.
    for (const bad of [5, -1, 2.5, '3', null]) expect(universeOf(bad), String(bad)).toBeUndefined();
    expect(parseRingRecord(JSON.stringify({ ...base, members: [] }))).not.toHaveProperty('universe');
  });
});
