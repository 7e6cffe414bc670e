/**
 * The single pass that gives every symbol its owner and standby (one hashring `range(symbol, 2)`
 * each) answers what the per-symbol hashring calls gave (`get`, `range(symbol, 2)`, pins), for
 * random rings: ids hashring orders specially (integer-like, with a colon), weights, draining
 * members, pins, and symbols that land exactly on a point. (Not `__proto__` or `constructor`: the
 * universe's symbol rule keeps them out, and hashring's LRU cache, a plain object, would write them
 * onto `Object.prototype`.)
 */
import HashRing from 'hashring';
import { describe, expect, it } from 'vitest';
import { Assignment, buildHashRing, newHashRing } from '../../src/cluster/ring.js';
import { activeMembers, type RingMember, type RingRecord } from '../../src/cluster/ring-record.js';
import { Prng } from '../../src/sim/prng.js';
import { generateSymbols } from '../../src/sim/universe.js';

const ID_SHAPES = [
  (i: number) => `w${i}`,
  (i: number) => String(i * 7),
  (i: number) => `worker-${String(i).padStart(2, '0')}`,
  (i: number) => `10.0.0.${i}:8080`,
  (i: number) => `${i}b`,
];

function randomRecord(random: Prng, epoch: number): RingRecord {
  const count = random.int(1, 12);
  const shape = ID_SHAPES[random.int(0, ID_SHAPES.length - 1)]!;
  const members: RingMember[] = [];
  for (let i = 0; i < count; i++) {
    const id = random.chance(0.3) ? String(random.int(0, 40)) : shape(random.int(0, 60));
    if (members.some((m) => m.id === id)) continue;
    const draining = random.chance(0.15);
    members.push({ id, weight: random.int(1, 3), address: '', ...(draining ? { draining } : {}) });
  }
  members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const pins: Record<string, string> = {};
  for (let i = 0; i < random.int(0, 6); i++) {
    const target = members[random.int(0, members.length - 1)]?.id ?? 'gone';
    pins[`SYM${random.int(0, 300)}`] = random.chance(0.2) ? 'departed' : target;
  }
  return { epoch, members, pins, vnodes: random.int(5, 60), changedAt: 0, reason: 'test' };
}

/** What an `Assignment` answered before the single pass: hashring's own calls, one per question. */
class PerSymbolCalls {
  readonly owners = new Map<string, string>();
  private readonly ring: HashRing | undefined;

  constructor(record: RingRecord, symbols: readonly string[]) {
    // A ring of its own, not the one buildHashRing shares with the Assignment.
    this.ring = newHashRing(record);
    const live = new Set(activeMembers(record).map((m) => m.id));
    for (const symbol of symbols) {
      const pinned = record.pins[symbol];
      const owner = pinned !== undefined && live.has(pinned) ? pinned : this.ring?.get(symbol);
      if (owner !== undefined) this.owners.set(symbol, owner);
    }
  }

  standbyOf(symbol: string): string | undefined {
    const owner = this.owners.get(symbol);
    if (owner === undefined || !this.ring) return undefined;
    return this.ring.range(symbol, 2).find((member) => member !== owner);
  }

  symbolsOf(id: string): string[] {
    return [...this.owners]
      .filter(([, owner]) => owner === id)
      .map(([symbol]) => symbol)
      .sort();
  }

  standbySymbolsOf(id: string): string[] {
    return [...this.owners.keys()].filter((symbol) => this.standbyOf(symbol) === id).sort();
  }
}

function universe(random: Prng, record: RingRecord): string[] {
  const symbols = generateSymbols(random.int(50, 400));
  for (let i = 0; i <= 300; i++) if (random.chance(0.2)) symbols.push(`SYM${i}`);
  // Keys that hash exactly onto a point of the ring.
  for (const member of record.members) symbols.push(`${member.id}-0`, `${member.id}-3`);
  return symbols;
}

describe('equal points of two members', () => {
  // Found by search: with 50 virtual nodes, a point of one member equals a point of the other, and
  // the symbol named after the first member's virtual node lands exactly on it.
  const ties = [
    { members: ['t534', 't956'], symbol: 't534-13', first: 't534' },
    // hashring lists integer-like ids in numeric order: 239 before 1155, though '1155' < '239'.
    { members: ['239', '1155'], symbol: '1155-9', first: '239' },
  ];

  it('give a symbol on them the owner and standby hashring gives it', () => {
    for (const { members, symbol, first } of ties) {
      const record: RingRecord = {
        epoch: 1,
        members: members.map((id) => ({ id, weight: 1, address: '' })),
        pins: {},
        vnodes: 50,
        changedAt: 0,
        reason: 'test',
      };
      // A fresh hashring, not the one buildHashRing shares.
      const reference = newHashRing(record);
      const assignment = new Assignment(record, [symbol]);
      expect(reference?.get(symbol)).toBe(first);
      expect(assignment.ownerOf(symbol)).toBe(first);
      expect(assignment.standbyOf(symbol)).toBe(reference?.range(symbol, 2)[1]);
    }
  });
});

describe('Assignment: owners and standbys in one pass', () => {
  it('answers what hashring’s per-symbol calls gave, for random rings', () => {
    const random = new Prng(29);
    for (let round = 0; round < 60; round++) {
      const record = randomRecord(random, 1);
      const symbols = universe(random, record);
      const assignment = new Assignment(record, symbols);
      const reference = new PerSymbolCalls(record, symbols);
      const context = JSON.stringify({ members: record.members, pins: record.pins });
      expect([...assignment.symbols()], context).toEqual([...reference.owners.keys()]);
      expect(assignment.size).toBe(reference.owners.size);
      for (const symbol of symbols) {
        expect(assignment.ownerOf(symbol), `${symbol} ${context}`).toBe(reference.owners.get(symbol));
        expect(assignment.standbyOf(symbol), `${symbol} ${context}`).toBe(reference.standbyOf(symbol));
      }
      for (const id of [...record.members.map((m) => m.id), 'departed']) {
        expect(assignment.symbolsOf(id), `${id} ${context}`).toEqual(reference.symbolsOf(id));
        expect(assignment.standbySymbolsOf(id), `${id} ${context}`).toEqual(reference.standbySymbolsOf(id));
        expect(assignment.symbolCount(id)).toBe(reference.symbolsOf(id).length);
      }
    }
  });

  it('counts the symbols whose owner changed since an earlier epoch as a walk of both would', () => {
    const random = new Prng(5);
    for (let round = 0; round < 30; round++) {
      const before = randomRecord(random, 1);
      const after = randomRecord(random, 2);
      const symbols = universe(random, before);
      const previous = new Assignment(before, symbols.slice(0, -20));
      const next = new Assignment(after, symbols);
      let moved = 0;
      for (const symbol of next.symbols()) if (previous.ownerOf(symbol) !== next.ownerOf(symbol)) moved++;
      expect(next.movedSince(previous)).toBe(moved);
    }
  });

  it('counts moved symbols slot by slot when both epochs read the same universe', () => {
    const random = new Prng(17);
    for (let round = 0; round < 30; round++) {
      const before = randomRecord(random, 1);
      const after = randomRecord(random, 2);
      const symbols = universe(random, before);
      const previous = new Assignment(before, symbols);
      // Read again: equal, not the same array (as two SMEMBERS replies are).
      const next = new Assignment(after, [...symbols]);
      const walk = (from: Assignment, to: Assignment): number =>
        [...to.symbols()].filter((symbol) => from.ownerOf(symbol) !== to.ownerOf(symbol)).length;
      expect(next.movedSince(previous)).toBe(walk(previous, next));
      expect(previous.movedSince(next)).toBe(walk(next, previous));
    }
  });

  it('indexes a universe read in another order, or changed, afresh', () => {
    const random = new Prng(3);
    const record = randomRecord(random, 1);
    const symbols = universe(random, record);
    const lists = [symbols, [...symbols].reverse(), [...symbols, 'NEW1'], symbols.slice(1), [...symbols]];
    for (const list of lists) {
      const assignment = new Assignment(record, list);
      const reference = new PerSymbolCalls(record, list);
      expect([...assignment.symbols()]).toEqual([...reference.owners.keys()]);
      for (const symbol of [...list, 'ABSENT']) {
        expect(assignment.ownerOf(symbol)).toBe(reference.owners.get(symbol));
        expect(assignment.standbyOf(symbol)).toBe(reference.standbyOf(symbol));
      }
    }
  });

  it('places a symbol listed twice once', () => {
    const record = oneMemberRecord();
    const assignment = new Assignment(record, ['AAPL', 'MSFT', 'AAPL']);
    expect(assignment.size).toBe(2);
    expect(assignment.symbolsOf('a')).toEqual(['AAPL', 'MSFT']);
    expect(assignment.standbyOf('AAPL')).toBeUndefined();
  });
});

describe('buildHashRing', () => {
  it('builds one ring per member set and shares it between records with the same one', () => {
    const record = oneMemberRecord();
    const ring = buildHashRing(record);
    expect(buildHashRing(record)).toBe(ring);
    // Another epoch, address or draining member changes nothing hashring places by.
    const same = {
      ...record,
      epoch: 2,
      members: [...record.members, { id: 'b', weight: 1, address: 'x', draining: true }],
    };
    expect(buildHashRing(same)).toBe(ring);
    expect(buildHashRing({ ...record, vnodes: 11 })).not.toBe(ring);
    expect(buildHashRing({ ...record, members: [{ id: 'a', weight: 2, address: '' }] })).not.toBe(ring);
    expect(buildHashRing({ ...record, members: [] })).toBeUndefined();
  });

  it('keeps only the last few member sets', () => {
    const record = oneMemberRecord();
    const ring = buildHashRing(record);
    for (let vnodes = 20; vnodes < 30; vnodes++) buildHashRing({ ...record, vnodes });
    expect(buildHashRing({ ...record })).not.toBe(ring);
  });
});

describe('Assignment: placements computed recently', () => {
  const symbols = generateSymbols(300);
  const members = (...ids: string[]): RingMember[] => ids.map((id) => ({ id, weight: 1, address: '' }));
  const at = (epoch: number, list: RingMember[], pins: Record<string, string> = {}): RingRecord => ({
    epoch,
    members: list,
    pins,
    vnodes: 40,
    changedAt: epoch,
    reason: 'test',
  });

  it('are reused by an epoch that changed nothing hashring places by, and answer the same', () => {
    const before = new Assignment(at(1, members('a', 'b', 'c')), symbols);
    const joined = new Assignment(at(2, members('a', 'b', 'c', 'd')), symbols);
    const drained = new Assignment(
      at(3, [...members('a', 'b', 'c'), { ...members('d')[0]!, draining: true }]),
      [...symbols],
    );
    const left = new Assignment(at(4, members('a', 'b', 'c')), symbols);
    const fresh = new PerSymbolCalls(at(5, members('a', 'b', 'c')), symbols);
    expect(joined.movedSince(before)).toBeGreaterThan(0);
    for (const assignment of [before, drained, left]) {
      expect(assignment.movedSince(before)).toBe(0);
      for (const symbol of symbols) {
        expect(assignment.ownerOf(symbol)).toBe(fresh.owners.get(symbol));
        expect(assignment.standbyOf(symbol)).toBe(fresh.standbyOf(symbol));
      }
      expect(assignment.symbolsOf('a')).toEqual(fresh.symbolsOf('a'));
    }
    expect(left.epoch).toBe(4);
    expect(drained.isDraining('d')).toBe(true);
  });

  it('are not reused across other pins or another universe', () => {
    const record = at(1, members('a', 'b'));
    const plain = new Assignment(record, symbols);
    const symbol = symbols.find((s) => plain.ownerOf(s) === 'a')!;
    const pinned = new Assignment(at(2, members('a', 'b'), { [symbol]: 'b' }), symbols);
    expect(pinned.ownerOf(symbol)).toBe('b');
    expect(new Assignment(at(3, members('a', 'b')), symbols).ownerOf(symbol)).toBe('a');
    const fewer = new Assignment(at(4, members('a', 'b')), symbols.slice(1));
    expect(fewer.size).toBe(symbols.length - 1);
    expect(fewer.ownerOf(symbols[0]!)).toBeUndefined();
  });
});

/** A ring of the one member `a`, 10 virtual nodes. */
function oneMemberRecord(): RingRecord {
  return {
    epoch: 1,
    members: [{ id: 'a', weight: 1, address: '' }],
    pins: {},
    vnodes: 10,
    changedAt: 0,
    reason: 'test',
  };
}
