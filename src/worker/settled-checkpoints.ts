/**
 * When a standby may trust its owner's checkpoint without finding the checkpoint's position in the
 * shadow's buffer: the checkpoint is "settled".
 *
 * Settled: the same checkpoint, seen since the shadow's subscription was confirmed, while its owner
 * completed two more periodic checkpoint passes, written by the symbol's current owner since it took
 * the symbol (at or after the symbol's fence). The second of those passes began after the first
 * sighting, so after the subscription: any trade the owner applied from before it (even one a frozen
 * owner read from its socket only on resuming) would have changed the checkpoint by then. A dead or
 * frozen owner completes no passes, and its trades since are nowhere: no settling then. Counting
 * the owner's lease renewals instead (as before) let a standby settle in the moment between a
 * frozen owner resuming and its next checkpoint, one trade short (found in a dense chaos run). One
 * written by a previous owner says nothing of what the new owner applied or buffered while taking
 * the symbol over: hence the fence. No checkpoint at all, once the symbol was claimed, is a symbol
 * that never traded.
 */
import type { CheckpointRecord } from '../cluster/checkpoints.js';

/** What one warm-up tick read of a symbol. */
export interface CheckpointObservation {
  /** The symbol's checkpoint, if any. */
  readonly record: Pick<CheckpointRecord, 'owner' | 'epoch' | 'writtenAt'> | null;
  /** The symbol's owner in this worker's ring. */
  readonly owner: string;
  /** How many periodic checkpoint passes that owner completed, `null` if unknown. */
  readonly passes: number | null;
  /** The epoch the symbol was last claimed or handed over at, `null` if never. */
  readonly fence: number | null;
  /** Whether the provider confirmed this worker's subscription to the symbol. */
  readonly confirmed: boolean;
}

/** Passes an owner completes, beyond the first sighting, before its unchanged checkpoint settles. */
const PASSES_TO_SETTLE = 2;

export class SettledCheckpoints {
  /** Per symbol: the checkpoint first seen since the subscription was confirmed, and the owner's passes then. */
  private readonly seen = new Map<string, { checkpoint: string; passes: number | null }>();

  /** Records one observation and says whether the symbol's checkpoint is settled. */
  observe(symbol: string, o: CheckpointObservation): boolean {
    const checkpoint = o.record ? `${o.record.owner}:${o.record.epoch}:${o.record.writtenAt}` : '';
    const before = this.seen.get(symbol);
    if (!o.confirmed) {
      this.seen.delete(symbol);
      return false;
    }
    if (before?.checkpoint !== checkpoint || before.passes === null) {
      this.seen.set(symbol, { checkpoint, passes: o.passes });
      return false;
    }
    const byOwner =
      o.fence !== null && (o.record === null || (o.record.owner === o.owner && o.record.epoch >= o.fence));
    return byOwner && o.passes !== null && o.passes >= before.passes + PASSES_TO_SETTLE;
  }

  /** Forgets a symbol (its shadow went live or was released). */
  forget(symbol: string): void {
    this.seen.delete(symbol);
  }

  /** Forgets every symbol: the shadows started over (the feed reconnected, or the worker was fenced). */
  clear(): void {
    this.seen.clear();
  }
}
