import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/ingest/backoff.js';

describe('Backoff', () => {
  it('draws from 0 to a ceiling that doubles up to the cap (full jitter)', () => {
    const top = new Backoff({ baseMs: 100, maxMs: 1_000 }, () => 0.999_999);
    expect([1, 2, 3, 4, 5, 6].map(() => top.next())).toEqual([99, 199, 399, 799, 999, 999]);
    const bottom = new Backoff({ baseMs: 100, maxMs: 1_000 }, () => 0);
    expect(bottom.next()).toBe(0);
  });

  it('never waits less than the floor a "connection limit" asks for, and starts over after reset', () => {
    const backoff = new Backoff({ baseMs: 100, maxMs: 1_000 }, () => 0.5);
    expect(backoff.next(30_000)).toBe(30_000);
    expect(backoff.next()).toBe(100);
    backoff.reset();
    expect(backoff.next()).toBe(50);
  });
});
