/**
 * The claims of one take-over, run one batch at a time while the take-over goes on waiting for the
 * rest: symbols added while a batch runs form the next one, so a slow claim does not turn into a
 * queue of small ones. Each symbol is claimed once, however often it is added. The first batch that
 * fails stops the queue: the symbols added after it are not claimed, and `done()` rejects with its
 * error (a lost lease, say), as a single claim of every symbol would have.
 */
export interface GoLiveResult {
  /**
   * Symbols whose checkpoint position was not found in their buffer, the whole buffer applied, where
   * that may double trades (not after a quiet final, where it is exact).
   */
  readonly replayedAll: number;
  /** Symbols already fenced at a newer epoch: not claimed, the take-over continues there. */
  readonly newer: readonly string[];
}

export class GoLiveQueue {
  private readonly seen = new Set<string>();
  private next: string[] = [];
  private running: Promise<void> | undefined;
  private failure: { readonly err: unknown } | undefined;
  private replayedAll = 0;
  private readonly newer: string[] = [];

  constructor(private readonly claim: (symbols: readonly string[]) => Promise<GoLiveResult>) {}

  add(symbols: Iterable<string>): void {
    for (const symbol of symbols) {
      if (this.seen.has(symbol)) continue;
      this.seen.add(symbol);
      this.next.push(symbol);
    }
    if (this.next.length > 0 && this.running === undefined) this.running = this.drain();
  }

  /** Resolves once every symbol added so far was claimed (or rejects with the first failure). */
  async done(): Promise<GoLiveResult> {
    while (this.running !== undefined) await this.running;
    if (this.failure !== undefined) throw this.failure.err;
    return { replayedAll: this.replayedAll, newer: this.newer };
  }

  private async drain(): Promise<void> {
    // Never finishes synchronously: `add` assigns `running` after this returns, so ending before that
    // would leave a finished promise in `running` for good. It also lets one tick's adds share a batch.
    await Promise.resolve();
    while (this.next.length > 0 && this.failure === undefined) {
      const batch = this.next;
      this.next = [];
      try {
        const result = await this.claim(batch);
        this.replayedAll += result.replayedAll;
        this.newer.push(...result.newer);
      } catch (err) {
        this.failure = { err };
      }
    }
    this.running = undefined;
  }
}
