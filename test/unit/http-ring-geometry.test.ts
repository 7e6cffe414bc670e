/**
 * The ring geometry the dashboard draws is the placement the workers act on: every symbol the ring
 * places lies on an arc of its owner, the arcs of all members tile the circle without overlapping,
 * shares follow weights, and pins are marked.
 */
import { describe, expect, it } from 'vitest';
import { Assignment } from '../../src/cluster/ring.js';
import type { RingRecord } from '../../src/cluster/ring-record.js';
import { ringGeometry } from '../../src/http/ring-geometry.js';
import { generateSymbols } from '../../src/sim/universe.js';

const SYMBOLS = generateSymbols(300);

function record(members: { id: string; weight?: number; draining?: boolean }[], pins = {}): RingRecord {
  return {
    epoch: 7,
    members: members.map((m) => ({
      id: m.id,
      weight: m.weight ?? 1,
      address: `http://${m.id}`,
      ...(m.draining === true ? { draining: true } : {}),
    })),
    pins,
    vnodes: 40,
    changedAt: 1,
    reason: 'test',
  };
}

/** Whether `position` lies on one of `arcs`; arcs own (start, end], rounded to 1e-6. */
function onArc(arcs: readonly (readonly [number, number])[], position: number): boolean {
  return arcs.some(([start, end]) => position > start - 2e-6 && position <= end + 2e-6);
}

describe('ringGeometry', () => {
  it('puts every ring-placed symbol on an arc of its owner, and the arcs tile the circle', () => {
    const assignment = new Assignment(record([{ id: 'a' }, { id: 'b' }, { id: 'c', weight: 2 }]), SYMBOLS);
    const geometry = ringGeometry(assignment);
    expect(geometry.epoch).toBe(7);
    const byId = new Map(geometry.members.map((m) => [m.id, m]));
    for (const placed of geometry.symbols) {
      expect(placed.owner).toBe(assignment.ownerOf(placed.symbol));
      expect(placed.pinned).toBe(false);
      expect(placed.position).not.toBeNull();
      expect(onArc(byId.get(placed.owner)?.arcs ?? [], placed.position ?? -1), placed.symbol).toBe(true);
    }
    const all = geometry.members.flatMap((m) => m.arcs).sort((x, y) => x[0] - y[0]);
    expect(all[0]?.[0]).toBe(0);
    expect(all[all.length - 1]?.[1]).toBe(1);
    for (let i = 1; i < all.length; i++) expect(all[i]?.[0]).toBeCloseTo(all[i - 1]?.[1] ?? -1, 6);
    const total = geometry.members.reduce((sum, m) => sum + m.share, 0);
    expect(total).toBeCloseTo(1, 3);
    // Weight 2 holds about half the circle: twice the virtual nodes of each other member.
    expect(byId.get('c')?.share).toBeGreaterThan(0.35);
    expect(byId.get('c')?.share).toBeLessThan(0.65);
  });

  it('marks effective pins, gives a draining member no arcs, and caches per assignment', () => {
    const pinned = SYMBOLS[0] ?? '';
    const toDraining = SYMBOLS[1] ?? '';
    const assignment = new Assignment(
      record([{ id: 'a' }, { id: 'b' }, { id: 'd', draining: true }], { [pinned]: 'b', [toDraining]: 'd' }),
      SYMBOLS,
    );
    const geometry = ringGeometry(assignment);
    const find = (symbol: string) => geometry.symbols.find((s) => s.symbol === symbol);
    expect(find(pinned)).toMatchObject({ owner: 'b', pinned: true });
    // A pin to a draining member is ignored: the ring places the symbol, so it is not marked.
    expect(find(toDraining)?.pinned).toBe(false);
    expect(find(toDraining)?.owner).not.toBe('d');
    const draining = geometry.members.find((m) => m.id === 'd');
    expect(draining).toMatchObject({ draining: true, share: 0, arcs: [] });
    expect(ringGeometry(assignment)).toBe(geometry);
  });

  it('draws an empty ring when no member is active', () => {
    const geometry = ringGeometry(new Assignment(record([{ id: 'd', draining: true }]), SYMBOLS));
    expect(geometry.symbols).toEqual([]);
    expect(geometry.members).toEqual([{ id: 'd', weight: 1, draining: true, share: 0, arcs: [] }]);
  });
});
