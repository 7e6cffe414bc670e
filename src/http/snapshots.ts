/**
 * Many symbols' answers at once, for the listing's page and for stream updates: this worker's own
 * symbols from memory, every other owner's in one internal call per owner
 * (`POST /v1/internal/snapshots`). Each answer carries a version token, and a caller passes the
 * tokens it already has, so an owner sends only what changed.
 */
import type { AggregateSnapshot } from '../aggregate/index.js';
import type { ClusterView } from './cluster-view.js';
import type { OwnerRouting, Provenance } from './owner-routing.js';

export type SymbolAnswer = AggregateSnapshot & Provenance;

export interface SymbolUpdate {
  readonly version: string;
  readonly data: SymbolAnswer;
}

/** The internal route's reply. */
export interface SnapshotBatch {
  readonly answeredBy: string;
  readonly epoch: number;
  /** Answers whose version differs from the one the caller passed. */
  readonly changed: SymbolUpdate[];
  /** Symbols this worker does not own (live) at the caller's epoch. */
  readonly notOwned: string[];
}

/** Symbols per internal call. */
export const SNAPSHOT_BATCH_MAX = 1_000;

export class Snapshots {
  constructor(
    private readonly view: ClusterView,
    private readonly routing: OwnerRouting,
  ) {}

  /** What the internal route answers: this worker's own symbols, those changed since `known`. */
  local(
    symbols: readonly string[],
    known: Readonly<Record<string, string>>,
    minEpoch: number,
  ): SnapshotBatch {
    const changed: SymbolUpdate[] = [];
    const notOwned: string[] = [];
    for (const symbol of symbols) {
      const local = this.view.ownsAt(symbol, minEpoch) ? this.view.localSnapshot(symbol) : undefined;
      if (!local) notOwned.push(symbol);
      else if (known[symbol] !== local.version)
        changed.push({ version: local.version, data: { ...local.snapshot, ...this.routing.live(symbol) } });
    }
    return { answeredBy: this.view.workerId, epoch: this.view.epoch(), changed, notOwned };
  }

  /**
   * Answers for `symbols` whose version differs from `known`, asking each owner once. Symbols whose
   * owner did not answer are missing from the result.
   */
  async collect(
    symbols: readonly string[],
    known: ReadonlyMap<string, string> = new Map(),
  ): Promise<Map<string, SymbolUpdate>> {
    const result = new Map<string, SymbolUpdate>();
    const assignment = this.view.assignment();
    if (!assignment) return result;
    const byOwner = new Map<string, string[]>();
    for (const symbol of symbols) {
      const owner = assignment.ownerOf(symbol);
      if (owner === undefined) continue;
      const list = byOwner.get(owner) ?? [];
      list.push(symbol);
      byOwner.set(owner, list);
    }
    const calls: Promise<void>[] = [];
    for (const [owner, owned] of byOwner) {
      if (owner === this.view.workerId) {
        // The ring says these are ours; `localSnapshot` answers only those already live.
        const batch = this.local(owned, Object.fromEntries(known), 0);
        for (const update of batch.changed) result.set(update.data.symbol, update);
        continue;
      }
      const address = assignment.record.members.find((m) => m.id === owner)?.address;
      if (!address) continue;
      for (let i = 0; i < owned.length; i += SNAPSHOT_BATCH_MAX) {
        const part = owned.slice(i, i + SNAPSHOT_BATCH_MAX);
        calls.push(this.fetchFrom(address, part, known, assignment.epoch, result));
      }
    }
    await Promise.all(calls);
    return result;
  }

  private async fetchFrom(
    address: string,
    symbols: readonly string[],
    known: ReadonlyMap<string, string>,
    epoch: number,
    into: Map<string, SymbolUpdate>,
  ): Promise<void> {
    const knownHere: Record<string, string> = {};
    for (const symbol of symbols) {
      const version = known.get(symbol);
      if (version !== undefined) knownHere[symbol] = version;
    }
    const reply = await this.routing.post(`${address}/v1/internal/snapshots`, {
      symbols,
      known: knownHere,
      minEpoch: epoch,
    });
    if (typeof reply !== 'object' || reply === null) return;
    const changed = (reply as { changed?: unknown }).changed;
    if (!Array.isArray(changed)) return;
    const asked = new Set(symbols);
    for (const item of changed as unknown[]) {
      if (typeof item !== 'object' || item === null) continue;
      const { version, data } = item as { version?: unknown; data?: unknown };
      if (typeof version !== 'string' || typeof data !== 'object' || data === null) continue;
      const answer = data as SymbolAnswer;
      if (!asked.has(answer.symbol)) continue;
      into.set(answer.symbol, {
        version,
        data: { ...answer, answeredBy: this.view.workerId, forwardedTo: answer.answeredBy },
      });
    }
  }
}
