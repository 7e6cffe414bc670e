/**
 * A worker's standby shadows (`--replicas 2`): for each symbol it would own if the symbol's owner
 * left the ring, a shadow aggregate that applies the same trades as the owner and is never written,
 * so a crash loses nothing. A shadow's life:
 * - acquired when followed, it buffers (warming, `loading`) until one of the owner's checkpoints
 *   meets its buffer exactly: placed in it, or settled (see `SettledCheckpoints`); then it is live;
 * - its owner left the ring: promoted to the owned aggregate as it is, a warming one with its
 *   buffer (see `promote`);
 * - its symbol moves between two other workers: it stands in for the previous owner in the
 *   hand-over, and writes the final checkpoint if that owner does not (see `standInsAt`);
 * - no longer followed: retiring, still applied, while its owner may be dead unseen (see `retire`),
 *   then released.
 * A dropped feed connection sends the shadows it carried back to warming (only those: Binance spreads
 * symbols over several connections); a symbol this worker hands over and follows from then on is a
 * live shadow at once. The same set holds the buffers a worker about to join keeps of the symbols it
 * expects to own.
 */
import { performance } from 'node:perf_hooks';
import type { Trade } from '../../feeds/trade.js';
import type { SymbolAggregate } from '../aggregate/index.js';
import { checkpointPosition, type CheckpointRecord, type CheckpointStore } from '../cluster/checkpoints.js';
import type { Membership } from '../cluster/membership.js';
import type { Assignment } from '../cluster/ring.js';
import type { FeedClient } from '../ingest/feed-client.js';
import type { RateLimitedLog } from '../ingest/rate-limited-log.js';
import { START_OF_STREAM } from '../ingest/stream-position.js';
import type { Logger } from '../log.js';
import type { OwnedSymbol, OwnedSymbolState } from './owned-symbol.js';
import type { OwnedSymbols } from './owned-symbols.js';
import { SettledCheckpoints } from './settled-checkpoints.js';

/** Symbols whose checkpoints, owners' passes and fences one warm-up round trip reads. */
const WARM_BATCH = 200;

export interface StandbysDeps {
  /** The worker's id: symbols it owns itself are neither stood in for nor kept retiring. */
  readonly id: string;
  /**
   * The set the shadows are kept in, empty at first. It shares its de-duplication window with
   * `owned` (see `OwnedSymbols`): a shadow adopted as owned, or standing in, keeps the trades it
   * saw.
   */
  readonly shadows: OwnedSymbols;
  /** The worker's owned symbols, which promoted shadows join. */
  readonly owned: OwnedSymbols;
  /** Also read for the owners' completed checkpoint passes: a settled checkpoint needs two more. */
  readonly checkpoints: CheckpointStore;
  readonly feed: Pick<FeedClient, 'isConfirmed'>;
  readonly membership: Pick<Membership, 'assignment' | 'leaseValid' | 'silentMembers'>;
  /** The aggregate of a checkpoint; `null` without one, or when it is corrupt (counted, logged). */
  readonly loadAggregate: (symbol: string, record: CheckpointRecord | null) => SymbolAggregate | null;
  readonly log: Logger;
  /** The worker's rate-limited hand-over warnings. */
  readonly handoverLog: RateLimitedLog;
}

export interface StandbysOptions {
  /** The worker's `--replicas`: below 2 nothing is followed and nobody stood in for. */
  readonly replicas: number;
  /** The ring's lease (ms). */
  readonly leaseMs: number;
  /** The bound on each side of a planned hand-over (ms). */
  readonly handoverTimeoutMs: number;
}

export class Standbys {
  /** Standby shadows that became the owned aggregate when their owner left the ring. */
  promotions = 0;
  /** Shadow aggregates of the symbols this worker follows as a standby; never written. */
  private readonly shadows: OwnedSymbols;
  /** Which warming shadows' checkpoints are settled (see `SettledCheckpoints`). */
  private readonly settled: SettledCheckpoints;
  /** Live shadows no longer followed, kept until this time (see `retire`). */
  private readonly retiringUntil = new Map<string, number>();
  /**
   * Shadows a worker buffers for the symbols it expects to own at an epoch to come (`prepare`): it
   * is about to join, or a peer is about to drain itself. Not warmed from their owners' checkpoints,
   * since their buffers are what the worker takes over at that epoch (the next `retire` makes the
   * rest ordinary shadows, and releases those nobody follows).
   */
  private readonly prepared = new Set<string>();
  /** A warm-up is reading checkpoints: the next tick does not start another. */
  private warming = false;

  constructor(
    private readonly deps: StandbysDeps,
    private readonly options: StandbysOptions,
  ) {
    this.shadows = deps.shadows;
    this.settled = new SettledCheckpoints();
  }

  get size(): number {
    return this.shadows.size;
  }

  /** Buffered trades the shadows dropped from full buffers (see `OwnedSymbols.bufferOverflows`). */
  get bufferOverflows(): number {
    return this.shadows.bufferOverflows;
  }

  /** The shadowed symbols whose buffer overflowed since the last call; clears them. */
  takeOverflowed(): string[] {
    return this.shadows.takeOverflowed();
  }

  /** How many shadows are in `state` (a walk over all of them: for reports, not the trade path). */
  countIn(state: OwnedSymbolState): number {
    return this.shadows.countIn(state);
  }

  /** Where the shadow of `symbol` stands, `undefined` without one. */
  stateOf(symbol: string): OwnedSymbolState | undefined {
    return this.shadows.get(symbol)?.state;
  }

  /** The shadowed symbols, sorted. */
  names(): string[] {
    return this.shadows.names();
  }

  /**
   * The per-trade path: applies or buffers a trade of a shadowed symbol and says so; any other
   * trade is the caller's.
   */
  ingest(trade: Trade): boolean {
    if (this.shadows.size === 0 || !this.shadows.has(trade.symbol)) return false;
    this.shadows.ingest(trade);
    return true;
  }

  /** Starts a shadow of `symbol` (if it has none): trades are buffered until it warms. */
  acquire(symbol: string): void {
    this.shadows.acquire(symbol);
  }

  /**
   * A symbol handed over from here (or stood in for) goes on as a live shadow: its stream never
   * stopped, so it is warm at once.
   */
  adoptLive(symbol: string, owned: OwnedSymbol): void {
    owned.state = 'live';
    this.shadows.adopt(symbol, owned);
  }

  /**
   * The shadows of `symbols` (those whose subscription a dropped feed connection interrupted) start
   * over, buffering, and warm from the next checkpoint. The others saw every trade and stay as they are.
   */
  restart(symbols: Iterable<string>): void {
    for (const symbol of symbols) {
      if (!this.shadows.has(symbol)) continue;
      this.shadows.restart(symbol);
      // A checkpoint seen unchanged since before the gap says nothing about the new subscription.
      this.settled.forget(symbol);
    }
  }

  /** Buffers `symbol` ahead of an epoch expected to give it to this worker (see `prepared`). */
  prepare(symbol: string): void {
    this.shadows.acquire(symbol);
    this.prepared.add(symbol);
  }

  /**
   * Releases those of `symbols` still prepared: the epoch they were prepared for did not come. Returns
   * how many were released: the caller unsubscribes them.
   */
  unprepare(symbols: readonly string[]): number {
    let released = 0;
    for (const symbol of symbols) {
      if (!this.prepared.has(symbol)) continue;
      this.release(symbol);
      released++;
    }
    return released;
  }

  /** Drops every shadow. */
  clear(): void {
    this.shadows.clear();
    this.prepared.clear();
    this.settled.clear();
    this.retiringUntil.clear();
  }

  /** The symbols this worker follows as a standby at `assignment` (none with one replica). */
  followedAt(assignment: Assignment): Set<string> {
    if (this.options.replicas < 2) return new Set();
    return new Set(assignment.standbySymbolsOf(this.deps.id));
  }

  /**
   * Gained symbols whose owner left the ring (crashed, or lost its lease) and whose shadow here is
   * live become owned as they are: the shadow saw every trade, so nothing since the owner's last
   * checkpoint is lost. They are still claimed at the new epoch with the rest, which fences off the
   * old owner should it come back. A shadow still warming becomes owned with its buffer, which goes
   * live on the owner's last checkpoint like any gained symbol: only the trades between that
   * checkpoint and the shadow's subscription are lost, not everything since the checkpoint.
   */
  promote(assignment: Assignment, gained: readonly string[], previous: Assignment | undefined): void {
    if (this.shadows.size === 0) return;
    const live = new Set(assignment.record.members.map((m) => m.id));
    let promoted = 0;
    let warming = 0;
    for (const symbol of gained) {
      const before = previous?.ownerOf(symbol);
      if (before !== undefined && live.has(before)) continue;
      const shadow = this.shadows.get(symbol);
      if (shadow === undefined || shadow.state === 'leaving') continue;
      this.release(symbol);
      this.deps.owned.adopt(symbol, shadow);
      if (shadow.state === 'live') promoted++;
      else warming++;
    }
    this.promotions += promoted;
    if (promoted > 0 || warming > 0)
      this.deps.log.info({ epoch: assignment.epoch, promoted, warming }, 'standbys promoted');
  }

  /**
   * Symbols with a live shadow here (followed or retiring) that move at this epoch between two
   * other workers. This worker stands in for the previous owner in the hand-over: its shadow saw
   * every trade that owner applied, so when the owner left without handing over (crashed, or reaped
   * while paused), or is still in the ring but gone silent, the shadow's final checkpoint keeps the
   * move exact. Maps each stand-in to whether its previous owner is still in the ring (then the
   * shadow is written only if that owner's own final checkpoint does not come in time).
   */
  standInsAt(assignment: Assignment, previous: Assignment | undefined): Map<string, boolean> {
    const standIns = new Map<string, boolean>();
    if (this.options.replicas < 2 || !previous || this.shadows.size === 0) return standIns;
    const members = new Set(assignment.record.members.map((m) => m.id));
    for (const [symbol, shadow] of this.shadows.entries()) {
      const before = previous.ownerOf(symbol);
      const after = assignment.ownerOf(symbol);
      if (shadow.state !== 'live' || before === undefined || after === undefined) continue;
      if (before !== after && after !== this.deps.id) standIns.set(symbol, members.has(before));
    }
    return standIns;
  }

  /**
   * A live shadow this worker no longer follows is kept, still applied, for a lease and a hand-over
   * timeout while its owner stays the same: the new standby cannot warm from an owner that is
   * already dead (its checkpoints stopped), so until the ring has had time to reap that owner this
   * shadow is the only copy that can stand in for it. Others are released.
   */
  retire(assignment: Assignment, previous: Assignment | undefined, followed: ReadonlySet<string>): void {
    const now = performance.now();
    const retireMs = this.options.leaseMs + this.options.handoverTimeoutMs;
    this.prepared.clear();
    for (const [symbol, shadow] of [...this.shadows.entries()]) {
      if (followed.has(symbol)) {
        this.retiringUntil.delete(symbol);
        continue;
      }
      const owner = assignment.ownerOf(symbol);
      const keep =
        shadow.state === 'live' &&
        owner !== undefined &&
        owner !== this.deps.id &&
        owner === previous?.ownerOf(symbol) &&
        now < (this.retiringUntil.get(symbol) ?? now + retireMs);
      if (keep) this.retiringUntil.set(symbol, this.retiringUntil.get(symbol) ?? now + retireMs);
      else this.release(symbol);
    }
  }

  /** Stops following a symbol; a shadow acquired again later starts settling afresh. */
  release(symbol: string): OwnedSymbol | undefined {
    this.retiringUntil.delete(symbol);
    this.prepared.delete(symbol);
    this.settled.forget(symbol);
    return this.shadows.release(symbol);
  }

  /**
   * Releases retiring shadows whose time is up (on the checkpoint timer), except those whose owner
   * stopped renewing its lease: dead or frozen but not reaped yet (its lease may be longer than this
   * worker's, or the ring slow to reap it), it still needs this shadow to stand in for it. Those are
   * kept up to two more leases. Returns how many were released: the caller unsubscribes them.
   */
  async expireRetired(): Promise<number> {
    const due = [...this.retiringUntil].filter(([, until]) => performance.now() >= until);
    if (due.length === 0) return 0;
    const assignment = this.deps.membership.assignment;
    const ownerOf = (symbol: string): string => assignment?.ownerOf(symbol) ?? '';
    let silent = new Set<string>();
    try {
      silent = await this.deps.membership.silentMembers([...new Set(due.map(([symbol]) => ownerOf(symbol)))]);
    } catch (err) {
      this.deps.handoverLog.warn(
        'retire',
        { err },
        "owners' leases unreadable; retiring shadows by time alone",
      );
    }
    const now = performance.now();
    const graceMs = 2 * this.options.leaseMs;
    let expired = 0;
    for (const [symbol, until] of due) {
      // Moved on meanwhile (followed again, standing in, or released by a rebalance).
      if (this.retiringUntil.get(symbol) !== until) continue;
      if (silent.has(ownerOf(symbol)) && now < until + graceMs) continue;
      this.release(symbol);
      expired++;
    }
    return expired;
  }

  /**
   * Standby shadows still loading try the owner's latest checkpoints: each goes live once a
   * checkpoint meets its buffer exactly (see `OwnedSymbols.warm`).
   */
  async warm(): Promise<void> {
    const { membership, checkpoints, feed } = this.deps;
    if (this.shadows.size === 0 || !membership.leaseValid || this.warming) return;
    this.warming = true;
    try {
      const assignment = membership.assignment;
      const loading = [...this.shadows.entries()]
        .filter(([symbol, s]) => s.state === 'loading' && !this.prepared.has(symbol))
        .map(([symbol]) => symbol);
      for (let i = 0; i < loading.length; i += WARM_BATCH) {
        const batch = loading.slice(i, i + WARM_BATCH);
        const owners = batch.map((symbol) => assignment?.ownerOf(symbol) ?? '');
        const [records, passes, fences] = await Promise.all([
          checkpoints.readMany(batch),
          checkpoints.passes(owners),
          checkpoints.fences(batch),
        ]);
        batch.forEach((symbol, j) => {
          const record = records[j] ?? null;
          const settled = this.settled.observe(symbol, {
            record,
            owner: owners[j] ?? '',
            passes: passes[j] ?? null,
            fence: fences[j] ?? null,
            confirmed: feed.isConfirmed(symbol),
          });
          const position = record ? checkpointPosition(record) : START_OF_STREAM;
          if (this.shadows.warm(symbol, this.deps.loadAggregate(symbol, record), position, settled))
            this.settled.forget(symbol);
        });
      }
    } catch (err) {
      this.deps.handoverLog.warn('standby', { err }, 'standby checkpoints unreadable; retrying');
    } finally {
      this.warming = false;
    }
  }
}
