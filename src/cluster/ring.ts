/**
 * Symbol placement: `owner(symbol) = pin(symbol) ?? ring(symbol)`.
 *
 * Every worker builds the same `hashring` from the same ring record, whatever order members joined
 * in: members are added in sorted order (two members hashing to the same 32-bit point resolve the
 * same way everywhere), weights are integers, and each member gets an explicit virtual-node count.
 * The explicit count matters: hashring 3.2.0 otherwise floors each member's share of virtual nodes
 * (its issue #43), so adding one member would move symbols between members that both stayed.
 *
 * Building a ring costs tens of milliseconds, so an `Assignment` is computed once per epoch and
 * lookups on the trade path are a Map read.
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

export function buildHashRing(record: RingRecord): HashRing | undefined {
  const active = activeMembers(record);
  if (active.length === 0) return undefined;
  const servers: Record<string, { vnodes: number }> = {};
  const sorted = active.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const member of sorted) servers[member.id] = { vnodes: record.vnodes * member.weight };
  // 'vnode count' 0 makes every member's explicit count win over hashring's computed share.
  return new HashRing(servers, rememberedMd5, { 'vnode count': 0 });
}

/** The owner of every symbol of the universe at one epoch. */
export class Assignment {
  private readonly owners = new Map<string, string>();
  private readonly bySymbolCount = new Map<string, number>();
  private readonly ring: HashRing | undefined;
  private standbys: Map<string, string> | undefined;

  constructor(
    readonly record: RingRecord,
    symbols: Iterable<string>,
  ) {
    const ring = buildHashRing(record);
    this.ring = ring;
    // A pin to a draining member is ignored like one to a departed member: the ring places it.
    const live = new Set(activeMembers(record).map((m) => m.id));
    for (const member of record.members) this.bySymbolCount.set(member.id, 0);
    for (const symbol of symbols) {
      const pinned = record.pins[symbol];
      const owner = pinned !== undefined && live.has(pinned) ? pinned : ring?.get(symbol);
      if (owner === undefined) continue;
      this.owners.set(symbol, owner);
      this.bySymbolCount.set(owner, (this.bySymbolCount.get(owner) ?? 0) + 1);
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

  symbolsOf(memberId: string): string[] {
    const owned: string[] = [];
    for (const [symbol, owner] of this.owners) if (owner === memberId) owned.push(symbol);
    return owned.sort();
  }

  /**
   * The member that follows `symbol` as a standby (`--replicas 2`): the one that would own it if its
   * owner left. For a ring-placed symbol that is the next distinct member clockwise, for a pinned
   * one the ring's own choice; `undefined` with a single active member.
   */
  standbyOf(symbol: string): string | undefined {
    return this.standbyMap().get(symbol);
  }

  /** The symbols `memberId` follows as a standby, sorted. */
  standbySymbolsOf(memberId: string): string[] {
    const followed: string[] = [];
    for (const [symbol, standby] of this.standbyMap()) if (standby === memberId) followed.push(symbol);
    return followed.sort();
  }

  /** Computed on first use: only workers running standbys pay for it. */
  private standbyMap(): Map<string, string> {
    if (this.standbys) return this.standbys;
    const standbys = new Map<string, string>();
    if (this.ring) {
      for (const [symbol, owner] of this.owners) {
        const standby = this.ring.range(symbol, 2).find((member) => member !== owner);
        if (standby !== undefined) standbys.set(symbol, standby);
      }
    }
    this.standbys = standbys;
    return standbys;
  }

  symbolCount(memberId: string): number {
    return this.bySymbolCount.get(memberId) ?? 0;
  }

  symbols(): IterableIterator<string> {
    return this.owners.keys();
  }

  get size(): number {
    return this.owners.size;
  }
}
