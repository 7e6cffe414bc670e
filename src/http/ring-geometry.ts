/**
 * The ring as a picture: where each active member's virtual nodes put it on the circle, and where
 * each symbol lands. Computed from the same `hashring` every worker builds (`buildHashRing`), so the
 * dashboard draws the placement the workers act on instead of re-implementing the hash in a browser.
 *
 * Positions are fractions of the circle in [0, 1): a hash value divided by 2^32. In hashring a key
 * belongs to the first virtual node at or after its hash (wrapping around), so the arc a virtual node
 * owns runs from the previous node (exclusive) to itself. Neighbouring arcs of one member are merged.
 */
import { buildHashRing } from '../cluster/ring.js';
import type { Assignment } from '../cluster/ring.js';

const CIRCLE = 2 ** 32;

export interface RingArcs {
  readonly id: string;
  readonly weight: number;
  readonly draining: boolean;
  /** Share of the circle this member's arcs cover. */
  readonly share: number;
  /** `[start, end]` fractions; an arc crossing 0 is split in two. */
  readonly arcs: readonly (readonly [number, number])[];
}

export interface RingSymbol {
  readonly symbol: string;
  /** Where the symbol hashes on the circle; null if the ring cannot tell (no active member). */
  readonly position: number | null;
  readonly owner: string;
  readonly pinned: boolean;
}

export interface RingGeometry {
  readonly epoch: number;
  readonly vnodes: number;
  readonly changedAt: number;
  readonly reason: string;
  readonly members: readonly RingArcs[];
  readonly symbols: readonly RingSymbol[];
}

/** hashring's key hash: public in its code, private in its typings. */
interface HashRingInternals {
  points(): Record<string, number[]>;
  hashValue(key: string): number;
}

const cache = new WeakMap<Assignment, RingGeometry>();

/** Rounded to 6 places: a millionth of the circle is far below a pixel. */
const fraction = (value: number): number => Math.round((value / CIRCLE) * 1e6) / 1e6;

export function ringGeometry(assignment: Assignment): RingGeometry {
  const cached = cache.get(assignment);
  if (cached) return cached;
  const { record } = assignment;
  const ring = buildHashRing(record) as unknown as HashRingInternals | undefined;
  const arcsOf = new Map<string, [number, number][]>();
  for (const member of record.members) arcsOf.set(member.id, []);
  if (ring) {
    const nodes: { value: number; id: string }[] = [];
    for (const [id, values] of Object.entries(ring.points()))
      for (const value of values) nodes.push({ value, id });
    nodes.sort((a, b) => a.value - b.value);
    // Walk the circle from 0: each node owns (previous, itself]; past the last node, the first owns.
    let start = 0;
    let runId: string | undefined;
    let runStart = 0;
    const close = (end: number): void => {
      if (runId !== undefined && end > runStart) arcsOf.get(runId)?.push([fraction(runStart), fraction(end)]);
    };
    for (const node of nodes) {
      if (node.id !== runId) {
        close(start);
        runId = node.id;
        runStart = start;
      }
      start = node.value;
    }
    close(start);
    // From the last node round to the circle's end belongs to the first node.
    const first = nodes[0];
    if (first && start < CIRCLE) arcsOf.get(first.id)?.push([fraction(start), 1]);
  }
  const members: RingArcs[] = record.members.map((member) => {
    const arcs = mergeArcs(arcsOf.get(member.id) ?? []);
    const share = arcs.reduce((sum, [a, b]) => sum + (b - a), 0);
    return {
      id: member.id,
      weight: member.weight,
      draining: member.draining === true,
      share: Math.round(share * 1e4) / 1e4,
      arcs,
    };
  });
  const symbols: RingSymbol[] = [];
  for (const symbol of [...assignment.symbols()].sort()) {
    symbols.push({
      symbol,
      position: ring ? fraction(ring.hashValue(symbol)) : null,
      owner: assignment.ownerOf(symbol) ?? '',
      pinned: record.pins[symbol] === assignment.ownerOf(symbol),
    });
  }
  const geometry: RingGeometry = {
    epoch: record.epoch,
    vnodes: record.vnodes,
    changedAt: record.changedAt,
    reason: record.reason,
    members,
    symbols,
  };
  cache.set(assignment, geometry);
  return geometry;
}

function mergeArcs(arcs: [number, number][]): [number, number][] {
  arcs.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const arc of arcs) {
    const last = merged[merged.length - 1];
    if (last && arc[0] <= last[1]) last[1] = Math.max(last[1], arc[1]);
    else merged.push([arc[0], arc[1]]);
  }
  return merged;
}
