/**
 * When a standby may trust its owner's checkpoint without finding the checkpoint's position in the
 * shadow's buffer: the checkpoint is "settled".
 *
 * Settled: the same checkpoint for two whole checkpoint periods since the shadow's subscription was
 * confirmed, written by the symbol's current owner since it took the symbol (at or after the
 * symbol's fence), while that owner renewed its lease. A live owner checkpoints every trade it
 * applied within a period, so one applied just before the subscription would have changed it. A dead
 * owner's checkpoint stays the same too, but its trades since are nowhere: hence the lease. One
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
  /** That owner's lease deadline in Redis (ZSCORE), `null` without a lease. */
  readonly lease: string | number | null;
  /** The epoch the symbol was last claimed or handed over at, `null` if never. */
  readonly fence: number | null;
  /** Whether the provider confirmed this worker's subscription to the symbol. */
  readonly confirmed: boolean;
  /** Monotonic time of the observation (ms). */
  readonly now: number;
}

export class SettledCheckpoints {
  /** Per symbol: the checkpoint first seen since the subscription was confirmed, the lease then, when. */
  private readonly seen = new Map<string, { checkpoint: string; lease: number | null; since: number }>();

  constructor(private readonly periodMs: number) {}

  /** Records one observation and says whether the symbol's checkpoint is settled. */
  observe(symbol: string, o: CheckpointObservation): boolean {
    const checkpoint = o.record ? `${o.record.epoch}:${o.record.writtenAt}` : '';
    const lease = o.lease === null ? null : Number(o.lease);
    const before = this.seen.get(symbol);
    if (!o.confirmed) {
      this.seen.delete(symbol);
      return false;
    }
    if (before?.checkpoint !== checkpoint) {
      this.seen.set(symbol, { checkpoint, lease, since: o.now });
      return false;
    }
    const byOwner =
      o.fence !== null && (o.record === null || (o.record.owner === o.owner && o.record.epoch >= o.fence));
    return (
      byOwner &&
      o.now - before.since >= 2 * this.periodMs &&
      lease !== null &&
      before.lease !== null &&
      lease > before.lease
    );
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
