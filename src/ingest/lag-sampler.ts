/**
 * Samples the ingest lag (arrival minus trade time) of one trade in `every`: the per-trade cost is one
 * decrement, a sampled trade adds one `Date.now()`. It keeps the latest sample, the peak of the
 * current `windowMs`, and the newest `capacity` samples until a scrape drains them into the
 * histogram. One sampler per feed connection serves both the feed client's stats and the metrics.
 */
export class LagSampler {
  private countdown = 1;
  private readonly samples: Float64Array;
  private next = 0;
  private held = 0;
  private windowStart = 0;
  /** The latest sampled lag (ms). */
  lastMs = 0;
  /** The largest sampled lag in the current window (ms). */
  peakMs = 0;

  constructor(
    readonly every = 64,
    capacity = 4_096,
    readonly windowMs = 10_000,
  ) {
    this.samples = new Float64Array(capacity);
  }

  sample(tradeTimeMs: number): void {
    if (--this.countdown > 0) return;
    this.countdown = this.every;
    const now = Date.now();
    const lag = now - tradeTimeMs;
    this.lastMs = lag;
    if (now - this.windowStart > this.windowMs) {
      this.windowStart = now;
      this.peakMs = lag;
    } else if (lag > this.peakMs) {
      this.peakMs = lag;
    }
    this.samples[this.next] = lag;
    this.next = (this.next + 1) % this.samples.length;
    if (this.held < this.samples.length) this.held++;
  }

  /** Hands every held sample (ms) to `observe` and forgets them. */
  drain(observe: (lagMs: number) => void): void {
    const start = (this.next - this.held + this.samples.length) % this.samples.length;
    for (let i = 0; i < this.held; i++) observe(this.samples[(start + i) % this.samples.length] ?? 0);
    this.held = 0;
  }
}
