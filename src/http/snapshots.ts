/**
 * Many symbols' answers at once, for the listing's page and for stream updates: this worker's own
 * symbols from memory, every other owner's in one internal call per owner
 * (`POST /v1/internal/snapshots`). Each answer carries a version token, and a caller passes the
 * tokens it already has, so an owner sends only what changed. The listing needs two numbers per
 * symbol, and asks for those alone (`POST /v1/internal/summaries`): whole answers cost each owner a
 * snapshot and about 700 bytes of JSON per symbol, and the asking worker their parsing.
 */
import type { AggregateSnapshot, AggregateSummary } from '../aggregate/index.js';
import type { Assignment } from '../cluster/ring.js';
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

/** A symbol's line in the listing, as its owner answers it. */
export interface SymbolLine extends AggregateSummary {
  readonly symbol: string;
}

/** The internal summaries route's reply. */
export interface SummaryBatch {
  readonly answeredBy: string;
  readonly epoch: number;
  readonly summaries: SymbolLine[];
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

  /** What the internal summaries route answers: this worker's own symbols' lines. */
  localSummaries(symbols: readonly string[], minEpoch: number): SummaryBatch {
    const summaries: SymbolLine[] = [];
    const notOwned: string[] = [];
    for (const symbol of symbols) {
      const summary = this.view.ownsAt(symbol, minEpoch) ? this.view.localSummary(symbol) : undefined;
      if (summary) summaries.push({ symbol, ...summary });
      else notOwned.push(symbol);
    }
    return { answeredBy: this.view.workerId, epoch: this.view.epoch(), summaries, notOwned };
  }

  /**
   * The listing's lines for `symbols`, asking each owner once. Symbols whose owner did not answer
   * are missing from the result.
   */
  async summaries(symbols: readonly string[]): Promise<Map<string, AggregateSummary>> {
    const result = new Map<string, AggregateSummary>();
    await this.askOwners(
      symbols,
      (owned) => {
        for (const line of this.localSummaries(owned, 0).summaries) result.set(line.symbol, line);
      },
      (address, part, epoch) => this.summariesFrom(address, part, epoch, result),
    );
    return result;
  }

  private async summariesFrom(
    address: string,
    symbols: readonly string[],
    epoch: number,
    into: Map<string, AggregateSummary>,
  ): Promise<void> {
    const reply = await this.routing.post(`${address}/v1/internal/summaries`, { symbols, minEpoch: epoch });
    const asked = new Set(symbols);
    for (const { symbol, trades, lastPrice } of replyItems(reply, 'summaries')) {
      if (typeof symbol !== 'string' || !asked.has(symbol) || typeof trades !== 'number') continue;
      if (lastPrice !== null && typeof lastPrice !== 'number') continue;
      into.set(symbol, { trades, lastPrice });
    }
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
    await this.askOwners(
      symbols,
      (owned) => {
        const batch = this.local(owned, Object.fromEntries(known), 0);
        for (const update of batch.changed) result.set(update.data.symbol, update);
      },
      (address, part, epoch) => this.fetchFrom(address, part, known, epoch, result),
    );
    return result;
  }

  /**
   * Groups `symbols` by owner at the current ring and asks each once: this worker's own through
   * `local` (the ring says they are ours; the local answers skip those not live yet), every other
   * owner through `remote`, in calls of at most `SNAPSHOT_BATCH_MAX` symbols, all at once.
   */
  private async askOwners(
    symbols: readonly string[],
    local: (owned: readonly string[]) => void,
    remote: (address: string, part: readonly string[], epoch: number) => Promise<void>,
  ): Promise<void> {
    const assignment = this.view.assignment();
    if (!assignment) return;
    const calls: Promise<void>[] = [];
    for (const [owner, owned] of symbolsByOwner(assignment, symbols)) {
      if (owner === this.view.workerId) {
        local(owned);
        continue;
      }
      const address = assignment.record.members.find((m) => m.id === owner)?.address;
      if (!address) continue;
      for (let i = 0; i < owned.length; i += SNAPSHOT_BATCH_MAX)
        calls.push(remote(address, owned.slice(i, i + SNAPSHOT_BATCH_MAX), assignment.epoch));
    }
    await Promise.all(calls);
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
    const asked = new Set(symbols);
    for (const { version, data } of replyItems(reply, 'changed')) {
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

/** `symbols` grouped by their owner at `assignment`; symbols without one are left out. */
function symbolsByOwner(assignment: Assignment, symbols: readonly string[]): Map<string, string[]> {
  const byOwner = new Map<string, string[]>();
  for (const symbol of symbols) {
    const owner = assignment.ownerOf(symbol);
    if (owner === undefined) continue;
    const list = byOwner.get(owner);
    if (list) list.push(symbol);
    else byOwner.set(owner, [symbol]);
  }
  return byOwner;
}

/** The objects in the array `field` of a peer's reply; anything else there is skipped. */
function replyItems(reply: unknown, field: string): Record<string, unknown>[] {
  if (typeof reply !== 'object' || reply === null) return [];
  const items = (reply as Record<string, unknown>)[field];
  if (!Array.isArray(items)) return [];
  return items.filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null);
}
