/**
 * Counts the trades a feed skipped, where the provider numbers each symbol's trades one by one
 * (Binance `t`, Coinbase `trade_id`). No live feed replays what was missed, so a gap is data lost for
 * good: it is counted and logged, never hidden. The tracker keeps the highest number seen per symbol;
 * a repeat or an older number (a duplicate, a replayed `last_match`) is neither a gap nor a new high.
 */
export class GapTracker {
  private readonly last = new Map<string, number>();
  /** Gaps seen: jumps of more than one. */
  gaps = 0;
  /** Trades skipped over all gaps. */
  missed = 0;

  /** Records trade number `n` of `symbol`; returns how many trades were skipped before it (0 for none). */
  observe(symbol: string, n: number): number {
    const last = this.last.get(symbol);
    if (last !== undefined && n <= last) return 0;
    this.last.set(symbol, n);
    if (last === undefined || n === last + 1) return 0;
    const skipped = n - last - 1;
    this.gaps++;
    this.missed += skipped;
    return skipped;
  }

  /** Forgets a symbol no longer subscribed: when it comes back, what happened in between is not a gap. */
  forget(symbol: string): void {
    this.last.delete(symbol);
  }

  get symbols(): number {
    return this.last.size;
  }
}
