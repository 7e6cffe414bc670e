/**
 * Hand-over signals in Redis: each new owner's are its own, so a later epoch's owner of a symbol
 * never hides the signal of the owner an old owner is handing over to at an earlier epoch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HandoverSignals } from '../../src/cluster/handover-signals.js';
import { handoverKey } from '../../src/redis/keys.js';
import { testCluster, type TestCluster } from '../support/redis.js';

describe('hand-over signals in Redis', () => {
  let env: TestCluster;

  beforeAll(async () => {
    env = await testCluster('signals');
  });

  afterAll(async () => {
    await env.cleanup();
  });

  it("reads each symbol's signal as its new owner wrote it, whatever others wrote since", async () => {
    const first = (key: string, timeMs: number) => ({ key, seq: null, timeMs, atTime: 1 });
    const w2 = new HandoverSignals(env.redis, env.keys, 'w2');
    const w3 = new HandoverSignals(env.redis, env.keys, 'w3');
    // w2 owns AAPL at epoch 5; at epoch 6 it moves on to w3, which subscribed earlier and says so after.
    await w2.announce(5, new Map([['AAPL', { first: first('AAPL|2', 200), confirmedForMs: 40 }]]));
    await w2.announce(5, new Map([['MSFT', { first: undefined }]]));
    await w3.announce(6, new Map([['AAPL', { first: first('AAPL|1', 100) }]]));

    const owners: Record<string, string> = { AAPL: 'w2', MSFT: 'w2', IBM: 'w3' };
    expect(await w2.read(['AAPL', 'NVDA', 'MSFT', 'IBM'], (symbol) => owners[symbol])).toEqual([
      { epoch: 5, first: first('AAPL|2', 200), confirmedForMs: 40 },
      undefined, // no new owner
      { epoch: 5, first: undefined },
      undefined, // w3 announced no IBM
    ]);
    expect(await w2.read(['AAPL'], () => 'w3')).toEqual([{ epoch: 6, first: first('AAPL|1', 100) }]);

    // A worker's signals expire once it stops announcing: those of workers gone do not pile up.
    const ttl = await env.redis.pttl(handoverKey(env.keys, 'w3'));
    expect(ttl).toBeGreaterThan(60_000);
  });
});
