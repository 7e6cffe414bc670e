/**
 * Symbol placement: `owner(symbol) = pin(symbol) ?? ring(symbol)`.
 *
 * Every worker builds the same `hashring` from the same ring record, whatever order members joined
 * in: members are added in sorted order (two members hashing to the same 32-bit point resolve the
 * same way everywhere), weights are integers, and each member gets an explicit virtual-node count.
 * The explicit count matters: hashring 3.2.0 otherwise floors each member's share of virtual nodes
 * (its issue #43), so adding one member would move symbols between members that both stayed.
 *
 * hashring places every symbol: `buildHashRing` builds one ring per distinct member set, and an
 * `Assignment` asks it once per symbol for each placement it has not computed recently (a ring with
 * its pins, over one universe); lookups on the trade path are a Map read.
 */
import { createHash } from 'node:crypto';
import HashRing from 'hashring';
import { activeMembers, type RingRecord } from './ring-record.js';
import { RecentCache } from './recent-cache.js';
import { SymbolIndex } from './symbol-index.js';

export const DEFAULT_VNODES = 500;

/** `standbyAt`'s mark for a symbol without a standby (a single active member). */
const NO_STANDBY = 0xffff;

/** Past this many remembered digests the memory is given back and hashing starts over. */
const MAX_REMEMBERED_DIGESTS = 200_000;
const digests = new Map<string, Buffer>();

/**
 * md5 as hashring computes it, remembered per key (hashring takes a hash function for this). Every
 * epoch rebuilds the ring from the same keys, each member's `id-i` points and the same symbols, and
 * hashing them again was most of what a rebuild cost. Placement is unchanged: the digest is the same.
 */
function rememberedMd5(key: string): Buffer {
  let digest = digests.get(key);
  if (digest === undefined) {
    if (digests.size >= MAX_REMEMBERED_DIGESTS) digests.clear();
    digest = createHash('md5').update(key).digest();
    digests.set(key, digest);
  }
  return digest;
}

/** One ring per record: hashring's continuum is fixed once built, and a record never changes. */
const rings = new WeakMap<RingRecord, HashRing | null>();

/**
 * Rings of the last few distinct member sets, by `placementKey`. Epochs keep coming back to a ring
 * seen shortly before: a drained member's leave changes nothing on the ring it drained from, that
 * ring is the one from before the member joined, and a restarted worker rejoins the ring it left.
 * Building hashring's continuum (an object per point, a comparator sort of 18,000 points at 9
 * members) is most of an epoch's CPU, and every worker pays it at the same moment.
 */
const recentRings = new RecentCache<string, HashRing | null>(4);

/**
 * What hashring's placement depends on, in one string: the active members' ids and weights (in
 * sorted order, as they are added) and the virtual nodes per unit of weight. Equal keys build
 * equal rings.
 */
function ringKey(record: RingRecord): string {
  const active = activeMembers(record).map((m) => [m.id, m.weight] as const);
  active.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([record.vnodes, active]);
}

/**
 * hashring for `record`'s active members, built once per distinct member set among the last few
 * and shared by every `Assignment` and ring picture of it. Callers must not `add`, `remove` or
 * `swap` on it.
 */
export function buildHashRing(record: RingRecord): HashRing | undefined {
  const built = rings.get(record);
  if (built !== undefined) return built ?? undefined;
  const key = ringKey(record);
  let ring = recentRings.get(key);
  if (ring === undefined) {
    ring = newHashRing(record) ?? null;
    recentRings.set(key, ring);
  }
  rings.set(record, ring);
  return ring ?? undefined;
}

/** A hashring of its own for `record`'s active members, never shared (tests compare with it). */
export function newHashRing(record: RingRecord): HashRing | undefined {
  const active = activeMembers(record);
  if (active.length === 0) return undefined;
  const servers: Record<string, { vnodes: number }> = {};
  const sorted = active.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const member of sorted) servers[member.id] = { vnodes: record.vnodes * member.weight };
  // 'vnode count' 0 makes every member's explicit count win over hashring's computed share.
  return new HashRing(servers, rememberedMd5, { 'vnode count': 0 });
}

/** Where every symbol of one universe goes on one ring with one set of pins (see `Assignment`). */
interface Placement {
  readonly index: SymbolIndex;
  /** Whether symbols are placed at all: not on a ring without active members. */
  readonly placed: boolean;
  /** Per slot, the owner's index in `ids`. */
  readonly ownerAt: Uint16Array;
  /** Per slot, the standby's index in `ids`, `NO_STANDBY` for none. */
  readonly standbyAt: Uint16Array;
  /** The active members; pinned owners are among them (pins go to live members). */
  readonly ids: readonly string[];
  readonly indexOf: ReadonlyMap<string, number>;
  /** Per member index, the symbols it owns and follows, in the universe's order; sorted on demand. */
  readonly owned: readonly (readonly string[])[];
  readonly followed: readonly (readonly string[])[];
}

/**
 * The placements of the last few epochs, by ring and pins; each valid for the universe index it
 * was computed over. Never changed once computed, so assignments share them.
 */
const recentPlacements = new RecentCache<string, Placement>(4);
/** Placements computed and reused so far in this process (for tests and the bench). */
export const placementCounts = { computed: 0, reused: 0 };

function placementKey(record: RingRecord): string {
  return Object.keys(record.pins).length === 0
    ? ringKey(record)
    : `${ringKey(record)}\u0000${JSON.stringify(record.pins)}`;
}

/** The placement of `index` by `record`: one hashring `range(symbol, 2)` per symbol. */
function place(record: RingRecord, index: SymbolIndex): Placement {
  const ring = buildHashRing(record);
  const active = activeMembers(record);
  const ids = ring ? active.map((m) => m.id) : [];
  const indexOf = new Map<string, number>();
  ids.forEach((id, i) => indexOf.set(id, i));
  const owned: string[][] = ids.map(() => []);
  const followed: string[][] = ids.map(() => []);
  const count = ring ? index.symbols.length : 0;
  const ownerAt = new Uint16Array(count);
  const standbyAt = new Uint16Array(count);
  const placement = { index, placed: ring !== undefined, ownerAt, standbyAt, ids, indexOf, owned, followed };
  if (!ring) return placement;
  // With one member there is no standby, and a range of 2 would walk the whole circle looking.
  const size = active.length > 1 ? 2 : 1;
  const hasPins = Object.keys(record.pins).length > 0;
  const list = index.symbols;
  for (let slot = 0; slot < count; slot++) {
    const symbol = list[slot] ?? '';
    const [first = '', second] = ring.range(symbol, size);
    // A pin to a draining member is ignored like one to a departed member: the ring places it.
    const pinned = hasPins ? indexOf.get(record.pins[symbol] ?? '') : undefined;
    const ringOwner = indexOf.get(first) ?? 0;
    const owner = pinned ?? ringOwner;
    // For a pinned symbol the standby is the ring's own choice, or the next member if that is the pin.
    const standby =
      owner === ringOwner ? (second === undefined ? undefined : indexOf.get(second)) : ringOwner;
    ownerAt[slot] = owner;
    owned[owner]?.push(symbol);
    standbyAt[slot] = standby ?? NO_STANDBY;
    if (standby !== undefined) followed[standby]?.push(symbol);
  }
  return placement;
}

/**
 * The owner of every symbol of the universe at one epoch, and its standby (`--replicas 2`): the
 * member that would own it if its owner left. Both come from one hashring `range(symbol, 2)` per
 * symbol (the ring's owner and the next distinct member clockwise), and each member's owned and
 * followed symbols are listed in the same pass, so a worker acting on an epoch walks the universe
 * once (`bench/epoch-cost.ts`). `range` does not go through hashring's LRU cache, which a fresh ring
 * per epoch would only miss.
 */
export class Assignment {
  /** The universe, each symbol with a slot in `ownerAt` and `standbyAt`; shared between epochs. */
  private readonly index: SymbolIndex;
  private readonly placed: boolean;
  private readonly ownerAt: Uint16Array;
  private readonly standbyAt: Uint16Array;
  private readonly ids: readonly string[];
  private readonly indexOf: ReadonlyMap<string, number>;
  private readonly owned: readonly (readonly string[])[];
  private readonly followed: readonly (readonly string[])[];

  constructor(
    readonly record: RingRecord,
    symbols: Iterable<string>,
  ) {
    const index = SymbolIndex.of(symbols);
    // An epoch that changed nothing hashring places by (a drained member leaving, a ring seen
    // shortly before) gets the placement already computed.
    const key = placementKey(record);
    let placement = recentPlacements.get(key);
    if (placement?.index !== index) {
      placement = place(record, index);
      recentPlacements.set(key, placement);
      placementCounts.computed++;
    } else {
      placementCounts.reused++;
    }
    ({
      index: this.index,
      placed: this.placed,
      ownerAt: this.ownerAt,
      standbyAt: this.standbyAt,
      ids: this.ids,
      indexOf: this.indexOf,
      owned: this.owned,
      followed: this.followed,
    } = placement);
  }

  get epoch(): number {
    return this.record.epoch;
  }

  /** Whether `memberId` is listed in this epoch's record and marked draining. */
  isDraining(memberId: string): boolean {
    return this.record.members.some((member) => member.id === memberId && member.draining === true);
  }

  ownerOf(symbol: string): string | undefined {
    const slot = this.slotOf(symbol);
    return slot === undefined ? undefined : this.ids[this.ownerAt[slot] ?? -1];
  }

  private slotOf(symbol: string): number | undefined {
    return this.placed ? this.index.slots.get(symbol) : undefined;
  }

  /** The symbols `memberId` owns, sorted. */
  symbolsOf(memberId: string): string[] {
    return sortedCopy(this.owned[this.indexOf.get(memberId) ?? -1]);
  }

  /**
   * The member that follows `symbol` as a standby (`--replicas 2`): the one that would own it if its
   * owner left. For a ring-placed symbol that is the next distinct member clockwise, for a pinned
   * one the ring's own choice; `undefined` with a single active member.
   */
  standbyOf(symbol: string): string | undefined {
    const slot = this.slotOf(symbol);
    return slot === undefined ? undefined : this.ids[this.standbyAt[slot] ?? NO_STANDBY];
  }

  /** The symbols `memberId` follows as a standby, sorted. */
  standbySymbolsOf(memberId: string): string[] {
    return sortedCopy(this.followed[this.indexOf.get(memberId) ?? -1]);
  }

  /** How many symbols have another owner here than at `previous` (a symbol new to the universe counts). */
  movedSince(previous: Assignment): number {
    let moved = 0;
    if (previous.index === this.index && previous.placed) {
      // The same universe: compare slot by slot, the previous ring's member numbers translated.
      const owners = previous.ids.map((id) => this.indexOf.get(id) ?? -1);
      for (let slot = 0; slot < this.ownerAt.length; slot++)
        if (owners[previous.ownerAt[slot] ?? -1] !== this.ownerAt[slot]) moved++;
      return moved;
    }
    for (const symbol of this.symbols()) if (previous.ownerOf(symbol) !== this.ownerOf(symbol)) moved++;
    return moved;
  }

  symbolCount(memberId: string): number {
    return this.owned[this.indexOf.get(memberId) ?? -1]?.length ?? 0;
  }

  /** The universe this assignment was built over, placed or not (a new one over it reuses its index). */
  get universe(): readonly string[] {
    return this.index.symbols;
  }

  symbols(): IterableIterator<string> {
    return (this.placed ? this.index.symbols : []).values();
  }

  get size(): number {
    return this.ownerAt.length;
  }
}

function sortedCopy(symbols: readonly string[] | undefined): string[] {
  return symbols === undefined ? [] : [...symbols].sort();
}
