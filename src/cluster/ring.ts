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

export const DEFAULT_VNODES = 500;

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
  private readonly owners = new Map<string, string>();
  private readonly standbys = new Map<string, string>();
  /** Per member id, the symbols it owns and follows, in the universe's order; sorted on demand. */
  private readonly owned = new Map<string, string[]>();
  private readonly followed = new Map<string, string[]>();

  constructor(
    readonly record: RingRecord,
    symbols: Iterable<string>,
  ) {
    const ring = buildHashRing(record);
    if (!ring) return;
    const active = activeMembers(record);
    for (const member of active) {
      this.owned.set(member.id, []);
      this.followed.set(member.id, []);
    }
    // With one member there is no standby, and a range of 2 would walk the whole circle looking.
    const size = active.length > 1 ? 2 : 1;
    const hasPins = Object.keys(record.pins).length > 0;
    for (const symbol of symbols) {
      if (this.owners.has(symbol)) continue;
      const [first, second] = ring.range(symbol, size);
      if (first === undefined) continue;
      // A pin to a draining member is ignored like one to a departed member: the ring places it.
      const pinned = hasPins ? record.pins[symbol] : undefined;
      const owner = pinned !== undefined && this.owned.has(pinned) ? pinned : first;
      // For a pinned symbol the standby is the ring's own choice, or the next member if that is the pin.
      const standby = owner === first ? second : first;
      this.owners.set(symbol, owner);
      this.owned.get(owner)?.push(symbol);
      if (standby !== undefined) {
        this.standbys.set(symbol, standby);
        this.followed.get(standby)?.push(symbol);
      }
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
    return this.owners.get(symbol);
  }

  /** The symbols `memberId` owns, sorted. */
  symbolsOf(memberId: string): string[] {
    return sortedCopy(this.owned.get(memberId));
  }

  /**
   * The member that follows `symbol` as a standby (`--replicas 2`): the one that would own it if its
   * owner left. For a ring-placed symbol that is the next distinct member clockwise, for a pinned
   * one the ring's own choice; `undefined` with a single active member.
   */
  standbyOf(symbol: string): string | undefined {
    return this.standbys.get(symbol);
  }

  /** The symbols `memberId` follows as a standby, sorted. */
  standbySymbolsOf(memberId: string): string[] {
    return sortedCopy(this.followed.get(memberId));
  }

  symbolCount(memberId: string): number {
    return this.owned.get(memberId)?.length ?? 0;
  }

  symbols(): IterableIterator<string> {
    return this.owners.keys();
  }

  get size(): number {
    return this.owners.size;
  }
}

function sortedCopy(symbols: readonly string[] | undefined): string[] {
  return symbols === undefined ? [] : [...symbols].sort();
}
