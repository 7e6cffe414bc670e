/**
 * Logs at most one line per key per period, with the count of lines suppressed since, so a flood
 * of bad frames cannot flood the log.
 */
import type { Logger } from '../log.js';

export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly periodMs: number,
  ) {}

  warn(key: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    const entry = this.last.get(key);
    if (entry && now - entry.at < this.periodMs) {
      entry.suppressed++;
      return;
    }
    this.log.warn({ ...fields, suppressed: entry?.suppressed ?? 0 }, message);
    this.last.set(key, { at: now, suppressed: 0 });
  }
}
