/**
 * The rule by which a standby trusts its owner's checkpoint without placing it in its buffer: the
 * same checkpoint for two periods after the subscription was confirmed, written by the current
 * owner since it took the symbol, while that owner kept renewing its lease.
 */
import { describe, expect, it } from 'vitest';
import { SettledCheckpoints, type CheckpointObservation } from '../../src/worker/settled-checkpoints.js';

const PERIOD = 500;
const OWN = { owner: 'w1', epoch: 7, writtenAt: 1_000 };

/** Observations of one symbol, one period apart, the owner renewing its lease each time. */
function ticks(overrides: Partial<CheckpointObservation> = {}, count = 3, leaseStep = 1_000): boolean[] {
  const settled = new SettledCheckpoints(PERIOD);
  const answers: boolean[] = [];
  for (let i = 0; i < count; i++) {
    answers.push(
      settled.observe('AAPL', {
        record: OWN,
        owner: 'w1',
        lease: 10_000 + i * leaseStep,
        fence: 7,
        confirmed: true,
        now: i * PERIOD,
        ...overrides,
      }),
    );
  }
  return answers;
}

describe('SettledCheckpoints', () => {
  it("settles on the owner's own checkpoint, unchanged for two periods while its lease is renewed", () => {
    expect(ticks()).toEqual([false, false, true]);
  });

  it('does not settle while the owner stopped renewing its lease (it may be dead)', () => {
    expect(ticks({}, 4, 0)).toEqual([false, false, false, false]);
    expect(ticks({ lease: null }, 4)).toEqual([false, false, false, false]);
  });

  it("does not settle on a previous owner's checkpoint, nor on one older than the fence", () => {
    expect(ticks({ owner: 'w2' }, 4)).toEqual([false, false, false, false]);
    expect(ticks({ fence: 8 }, 4)).toEqual([false, false, false, false]);
  });

  it('settles on no checkpoint at all only once the symbol was claimed (it never traded)', () => {
    expect(ticks({ record: null }, 3)).toEqual([false, false, true]);
    expect(ticks({ record: null, fence: null }, 4)).toEqual([false, false, false, false]);
  });

  it('starts over when the checkpoint changes, the subscription is not confirmed, or it is forgotten', () => {
    const settled = new SettledCheckpoints(PERIOD);
    const at = (now: number, lease: number, o: Partial<CheckpointObservation> = {}): boolean =>
      settled.observe('AAPL', { record: OWN, owner: 'w1', lease, fence: 7, confirmed: true, now, ...o });
    expect(at(0, 1)).toBe(false);
    expect(at(600, 2, { record: { ...OWN, writtenAt: 1_600 } })).toBe(false); // a trade was written
    expect(at(1_200, 3, { record: { ...OWN, writtenAt: 1_600 } })).toBe(false); // one period only
    expect(at(1_700, 4, { record: { ...OWN, writtenAt: 1_600 } })).toBe(true);
    expect(at(1_800, 5, { confirmed: false })).toBe(false);
    expect(at(1_900, 6)).toBe(false);
    settled.forget('AAPL');
    expect(at(3_000, 7)).toBe(false);
    expect(at(4_000, 8)).toBe(true);
  });

  it('starts every symbol over when cleared: a reconnect gives no checkpoint seen before it a head start', () => {
    const settled = new SettledCheckpoints(PERIOD);
    const at = (symbol: string, now: number, lease: number): boolean =>
      settled.observe(symbol, { record: OWN, owner: 'w1', lease, fence: 7, confirmed: true, now });
    expect(at('AAPL', 0, 1)).toBe(false);
    expect(at('MSFT', 0, 1)).toBe(false);
    settled.clear();
    // Without the clear, both would settle here (the same checkpoint two periods on).
    expect(at('AAPL', 1_000, 2)).toBe(false);
    expect(at('MSFT', 1_000, 2)).toBe(false);
    expect(at('AAPL', 2_000, 3)).toBe(true);
  });
});
