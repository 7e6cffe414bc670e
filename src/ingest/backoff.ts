/**
 * Exponential back-off with full jitter (delay drawn uniformly from 0 to the capped exponential), so
 * many workers dropped at once do not reconnect in lock-step.
 */
export interface BackoffOptions {
  /** First ceiling (ms). Default 250. */
  readonly baseMs: number;
  /** Largest ceiling (ms). Default 30 000. */
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF_OPTIONS: BackoffOptions = { baseMs: 250, maxMs: 30_000 };

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly options: BackoffOptions = DEFAULT_BACKOFF_OPTIONS,
    private readonly random: () => number = Math.random,
  ) {}

  /** The next delay; grows with each call until `reset`. `floorMs` raises it for "go away" replies. */
  next(floorMs = 0): number {
    const ceiling = Math.min(this.options.maxMs, this.options.baseMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.max(floorMs, Math.floor(this.random() * ceiling));
  }

  reset(): void {
    this.attempt = 0;
  }
}
