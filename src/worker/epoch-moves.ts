/**
 * The first step of acting on an epoch, make before break for data: gained symbols are subscribed
 * and buffered, lost ones stay subscribed and applied until the new owner's stream overlaps this
 * one's, and a stand-in's shadow becomes a leaving symbol so it is handed over like one. Shared by
 * `Worker.rebalance` and `bench/epoch-cost.ts`, which times it.
 */
import type { OwnedSymbols } from './owned-symbols.js';
import type { Standbys } from './standbys.js';

export interface EpochMoves {
  readonly gained: readonly string[];
  readonly lost: readonly string[];
  /** Symbols this worker stands in for (see `Standbys.standInsAt`). */
  readonly standIns: Iterable<string>;
  /** Gained symbols already loading here (a take-over resumed from an earlier epoch). */
  readonly resumed?: ReadonlySet<string> | ReadonlyMap<string, unknown>;
}

export function beginMoves(owned: OwnedSymbols, standbys: Standbys, moves: EpochMoves): void {
  for (const symbol of moves.gained) {
    if (moves.resumed?.has(symbol) === true) continue;
    // A shadow still buffering (a standby warming, or one prepared before joining) hands its
    // buffer on: it holds every trade since its subscription, so the streams overlap sooner.
    const shadow = standbys.release(symbol);
    if (shadow?.state === 'loading') owned.adopt(symbol, shadow);
    else owned.acquire(symbol);
  }
  for (const symbol of moves.lost) owned.beginLeaving(symbol);
  for (const symbol of moves.standIns) {
    const shadow = standbys.release(symbol);
    if (!shadow) continue;
    owned.adopt(symbol, shadow);
    owned.beginLeaving(symbol);
  }
}
