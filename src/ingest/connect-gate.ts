/**
 * Paces the connection attempts of one feed client where the provider limits them per IP (Binance:
 * 300 attempts per 5 minutes). A token bucket: a burst of `burst` attempts goes at once (a client
 * opening its few connections, or reconnecting them after one network blip), then one attempt per
 * `1 / perSecond` seconds. Each connection's own back-off still applies; the gate only ever adds to it,
 * so several connections dropped together cannot make a storm of attempts between them.
 */
export class ConnectGate {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(perSecond > 0)) throw new RangeError(`connect gate: perSecond must be > 0, got ${perSecond}`);
    if (!(burst >= 1)) throw new RangeError(`connect gate: burst must be >= 1, got ${burst}`);
    this.tokens = burst;
    this.refilledAt = now();
  }

  /**
   * Takes one attempt's slot and returns how long to wait before making it (ms, 0 for at once). Slots
   * are handed out in order of asking: a caller told to wait has its slot reserved already.
   */
  reserve(): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) * this.perSecond) / 1000);
    this.refilledAt = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.perSecond);
  }
}
