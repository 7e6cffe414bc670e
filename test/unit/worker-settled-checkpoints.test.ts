/**
 * The rule by which a standby trusts its owner's checkpoint without placing it in its buffer: the
 * same checkpoint, seen since the subscription was confirmed, while the owner completed two more
 * checkpoint passes, written by the current owner since it took the symbol.
 */
import { describe, expect, it } from 'vitest';
import { SettledCheckpoints, type CheckpointObservation } from '../../src/worker/settled-checkpoints.js';

const OWN = { owner: 'w1', epoch: 7, writtenAt: 1_000 };

/** Observations of one symbol, the owner completing `passStep` checkpoint passes between each. */
function ticks(overrides: Partial<CheckpointObservation> = {}, count = 3, passStep = 1): boolean[] {
  const settled = new SettledCheckpoints();
  const answers: boolean[] = [];
  for (let i = 0; i < count; i++) {
    answers.push(
      settled.observe('AAPL', {
        record: OWN,
        owner: 'w1',
        passes: 40 + i * passStep,
        fence: 7,
        confirmed: true,
        ...overrides,
      }),
    );
  }
  return answers;
}

describe('SettledCheckpoints', () => {
  it("settles on the owner's own checkpoint, unchanged while the owner completed two more passes", () => {
    expect(ticks()).toEqual([false, false, true]);
    expect(ticks({}, 2, 2)).toEqual([false, true]);
  });

  it('does not settle while the owner completes no passes (dead or frozen), or nobody knows its passes', () => {
    expect(ticks({}, 4, 0)).toEqual([false, false, false, false]);
    expect(ticks({ passes: null }, 4)).toEqual([false, false, false, false]);
  });

  it('does not settle between a frozen owner resuming and its next checkpoint', () => {
    // The owner froze with a trade from before the subscription in its socket. Its lease renewals
    // resume before its next pass does: only passes count, and the pass after resuming writes the
    // trade, which changes the checkpoint and starts the count over.
    const settled = new SettledCheckpoints();
    const at = (passes: number, writtenAt = OWN.writtenAt): boolean =>
      settled.observe('AAPL', {
        record: { ...OWN, writtenAt },
        owner: 'w1',
        passes,
        fence: 7,
        confirmed: true,
      });
    expect(at(40)).toBe(false); // subscribed while the owner was frozen
    expect(at(40)).toBe(false); // still frozen
    expect(at(41)).toBe(false); // resumed: the overdue pass ran before the socket was read
    expect(at(42, 9_000)).toBe(false); // the next pass wrote the trade
    expect(at(43, 9_000)).toBe(false);
    expect(at(44, 9_000)).toBe(true);
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
    const settled = new SettledCheckpoints();
    const at = (passes: number, o: Partial<CheckpointObservation> = {}): boolean =>
      settled.observe('AAPL', { record: OWN, owner: 'w1', passes, fence: 7, confirmed: true, ...o });
    const written = { record: { ...OWN, writtenAt: 1_600 } };
    expect(at(1)).toBe(false);
    expect(at(2, written)).toBe(false); // a trade was written
    expect(at(3, written)).toBe(false); // one pass only
    expect(at(4, written)).toBe(true);
    expect(at(5, { confirmed: false })).toBe(false);
    expect(at(6)).toBe(false);
    settled.forget('AAPL');
    expect(at(7)).toBe(false);
    expect(at(9)).toBe(true);
  });

  it('starts every symbol over when cleared: a reconnect gives no checkpoint seen before it a head start', () => {
    const settled = new SettledCheckpoints();
    const at = (symbol: string, passes: number): boolean =>
      settled.observe(symbol, { record: OWN, owner: 'w1', passes, fence: 7, confirmed: true });
    expect(at('AAPL', 1)).toBe(false);
    expect(at('MSFT', 1)).toBe(false);
    settled.clear();
    // Without the clear, both would settle here (the same checkpoint two passes on).
    expect(at('AAPL', 3)).toBe(false);
    expect(at('MSFT', 3)).toBe(false);
    expect(at('AAPL', 5)).toBe(true);
  });
});
