/**
 * Symbol placement: `owner(symbol) = pin(symbol) ?? ring(symbol)`.
 *
 * Every worker builds the same `hashring` from the same ring record, whatever order members joined
 * in: members are added in sorted order (two members hashing to the same 32-bit point resolve the
 * same way everywhere), weights are integers, and each member gets an explicit virtual-node count.
 * The explicit count matters: hashring 3.2.0 otherwise floors each member's share of virtual nodes
 * (its issue #43), so adding one member would move symbols between members that both stayed.
 *
 * hashring places every symbol: `buildHashRing` builds one ring per record, and an `Assignment`
 * asks it once per symbol per epoch; lookups on the trade path are a Map read.
 */
import { createHash } from 'node:crypto';
import HashRing from 'hashring';
import { activeMembers, type RingRecord } from './ring-record.js';
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
 * hashring for `record`'s active members, built once per record object and shared by every
 * `Assignment` and ring picture of it. Callers must not `add`, `remove` or `swap` on it.
 */
export function buildHashRing(record: RingRecord): HashRing | undefined {
  const built = rings.get(record);
  if (built !== undefined) return built ?? undefined;
  const active = activeMembers(record);
  let ring: HashRing | null = null;
  if (active.length > 0) {
    const servers: Record<string, { vnodes: number }> = {};
    const sorted = active.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const member of sorted) servers[member.id] = { vnodes: record.vnodes * member.weight };
    // 'vnode count' 0 makes every member's explicit count win over hashring's computed share.
    ring = new HashRing(servers, rememberedMd5, { 'vnode count': 0 });
  }
  rings.set(record, ring);
  return ring ?? undefined;
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
  /** Whether symbols are placed at all: not on a ring without active members. */
  private readonly placed: boolean;
  /** Per slot, the owner's index in `ids`. */
  private readonly ownerAt: Uint16Array;
  /** Per slot, the standby's index in `ids`, `NO_STANDBY` for none. */
  private readonly standbyAt: Uint16Array;
  /** The active members; pinned owners are among them (pins go to live members). */
  private readonly ids: readonly string[];
  private readonly indexOf = new Map<string, number>();
  /** Per member index, the symbols it owns and follows, in the universe's order; sorted on demand. */
  private readonly owned: string[][];
  private readonly followed: string[][];

  constructor(
    readonly record: RingRecord,
    symbols: Iterable<string>,
  ) {
    const ring = buildHashRing(record);
    const active = activeMembers(record);
    this.ids = ring ? active.map((m) => m.id) : [];
    this.ids.forEach((id, i) => this.indexOf.set(id, i));
    this.owned = this.ids.map(() => []);
    this.followed = this.ids.map(() => []);
    this.index = SymbolIndex.of(symbols);
    this.placed = ring !== undefined;
    const count = ring ? this.index.symbols.length : 0;
    this.ownerAt = new Uint16Array(count);
    this.standbyAt = new Uint16Array(count);
    if (!ring) return;
    // With one member there is no standby, and a range of 2 would walk the whole circle looking.
    const size = active.length > 1 ? 2 : 1;
    const hasPins = Object.keys(record.pins).length > 0;
    const list = this.index.symbols;
    for (let slot = 0; slot < count; slot++) {
      const symbol = list[slot] ?? '';
      const [first = '', second] = ring.range(symbol, size);
      // A pin to a draining member is ignored like one to a departed member: the ring places it.
      const pinned = hasPins ? this.indexOf.get(record.pins[symbol] ?? '') : undefined;
      const ringOwner = this.indexOf.get(first) ?? 0;
      const owner = pinned ?? ringOwner;
      // For a pinned symbol the standby is the ring's own choice, or the next member if that is the pin.
      const standby =
        owner === ringOwner ? (second === undefined ? undefined : this.indexOf.get(second)) : ringOwner;
      this.ownerAt[slot] = owner;
      this.owned[owner]?.push(symbol);
      this.standbyAt[slot] = standby ?? NO_STANDBY;
      if (standby !== undefined) this.followed[standby]?.push(symbol);
    }
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
