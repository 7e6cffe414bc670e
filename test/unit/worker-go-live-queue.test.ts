import { describe, expect, it } from 'vitest';
import { GoLiveQueue, type GoLiveResult } from '../../src/worker/go-live-queue.js';

/** A claim that resolves when told to, recording each batch it was given. */
function controlledClaim(): {
  batches: string[][];
  release: (result?: Partial<GoLiveResult>) => void;
  fail: (err: Error) => void;
  claim: (symbols: readonly string[]) => Promise<GoLiveResult>;
} {
  const batches: string[][] = [];
  const waiting: { resolve: (r: GoLiveResult) => void; reject: (e: Error) => void }[] = [];
  return {
    batches,
    release: (result = {}) => waiting.shift()?.resolve({ replayedAll: 0, newer: [], ...result }),
    fail: (err) => waiting.shift()?.reject(err),
    claim: (symbols) => {
      batches.push([...symbols]);
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
  };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('GoLiveQueue', () => {
  it('claims at once, then gathers what is added meanwhile into one next batch', async () => {
    const c = controlledClaim();
    const queue = new GoLiveQueue(c.claim);
    queue.add(['A', 'B']);
    queue.add(['C']);
    queue.add(['D']);
    await tick();
    expect(c.batches).toEqual([['A', 'B', 'C', 'D']]);
    c.release();
    await tick();
    queue.add(['E']);
    queue.add(['F']);
    await tick();
    expect(c.batches).toEqual([
      ['A', 'B', 'C', 'D'],
      ['E', 'F'],
    ]);
    c.release({ replayedAll: 1, newer: ['F'] });
    await expect(queue.done()).resolves.toEqual({ replayedAll: 1, newer: ['F'] });
  });

  it('claims each symbol once however often it is added', async () => {
    const c = controlledClaim();
    const queue = new GoLiveQueue(c.claim);
    queue.add(['A', 'B']);
    await tick();
    queue.add(['B', 'C', 'A']);
    c.release();
    await tick();
    c.release();
    await queue.done();
    expect(c.batches).toEqual([['A', 'B'], ['C']]);
  });

  it('waits for batches added while it waits, and sums their results', async () => {
    const c = controlledClaim();
    const queue = new GoLiveQueue(c.claim);
    queue.add(['A']);
    const done = queue.done();
    await tick();
    queue.add(['B']);
    c.release({ replayedAll: 2 });
    await tick();
    c.release({ replayedAll: 3, newer: ['B'] });
    await expect(done).resolves.toEqual({ replayedAll: 5, newer: ['B'] });
  });

  it('stops at the first failure, claims nothing after it, and rethrows it', async () => {
    const c = controlledClaim();
    const queue = new GoLiveQueue(c.claim);
    queue.add(['A']);
    await tick();
    queue.add(['B']);
    c.fail(new Error('lease lost'));
    await tick();
    queue.add(['C']);
    await expect(queue.done()).rejects.toThrow('lease lost');
    expect(c.batches).toEqual([['A']]);
  });

  it('resolves at once with nothing added', async () => {
    const queue = new GoLiveQueue(() => Promise.reject(new Error('never called')));
    queue.add([]);
    await expect(queue.done()).resolves.toEqual({ replayedAll: 0, newer: [] });
  });
});
