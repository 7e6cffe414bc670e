/**
 * End to end in each of the five protocols: two worker processes (`--feed <name> --feed-url <sim>`)
 * against the simulator speaking that protocol. Each worker subscribes to exactly the symbols it
 * owns, and every symbol's trade count and volume, asked over HTTP, match what the simulator sent:
 * exactly for stocks (whole shares), to 1e-9 relative for crypto (decimal sizes summed as floats).
 * The feed then drops; each worker resubscribes exactly its symbols and the aggregates match again,
 * less only what was sent while nobody could hear it (except on Coinbase, whose `last_match` replay
 * brings the latest missed trade of each product back). Alpaca also corrects and cancels.
 * (The drop in the middle of a running stream is `feed-worker-faults.test.ts`, in process.)
 *
 * What is guaranteed for Finnhub, which sends no trade ids: counts and volumes match as long as the
 * feed neither repeats nor loses a print. Identical prints are legitimate there, so nothing is
 * de-duplicated, a repeated frame counts twice, and a gap cannot be detected (no numbering).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FEEDS } from '../../feeds/index.js';
import { readRingRecord } from '../../src/cluster/membership.js';
import { addSymbols } from '../../src/cluster/universe.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { testCluster, type TestCluster } from '../support/redis.js';
import { eventually, getJson, startWorker, stopAll, type WorkerProcess } from '../support/workers.js';

interface SymbolAnswer {
  symbol: string;
  owner: string | null;
  trades: number;
  volume: number;
  stale: boolean;
}

type Counts = Map<string, { trades: number; volume: number }>;

const WORKERS = ['f1', 'f2'];

for (const adapter of Object.values(FEEDS)) {
  describe(`worker processes on ${adapter.name}`, () => {
    const symbols = generateSymbols(24, adapter.server.market);
    const crypto = adapter.server.market?.assetClass === 'crypto';
    let env: TestCluster;
    let sim: RunningSimulator;
    const workers: WorkerProcess[] = [];

    beforeAll(async () => {
      env = await testCluster(`feeds-${adapter.name}`);
      sim = await startSimulator({ protocol: adapter, symbols, rate: 0, seed: 21 });
      await addSymbols(env.redis, env.keys, symbols);
      for (const id of WORKERS) {
        workers.push(
          startWorker(id, {
            prefix: env.prefix,
            cluster: env.cluster,
            feed: adapter.name,
            feedUrl: sim.wsUrl,
            extraArgs: ['--feed-secret', 'test-secret'],
          }),
        );
      }
    });

    afterAll(async () => {
      await stopAll(workers);
      await sim.close();
      await env.cleanup();
    });

    /** Every worker is ready and holds one feed connection subscribed to exactly the symbols it owns. */
    async function converged(): Promise<Map<string, string>> {
      return eventually(`${adapter.name} workers to converge`, async () => {
        const record = await readRingRecord(env.redis, env.keys);
        if (record.members.length !== WORKERS.length) throw new Error(`${record.members.length} members`);
        for (const member of record.members) {
          const ready = await fetch(`${member.address}/readyz`);
          if (ready.status !== 200) throw new Error(`${member.id} not ready: ${await ready.text()}`);
        }
        const owners = new Map<string, string>();
        const address = record.members[0]?.address ?? '';
        for (const symbol of symbols) {
          const { body } = await getJson<SymbolAnswer>(`${address}/v1/symbols/${encodeURIComponent(symbol)}`);
          if (body.owner === null) throw new Error(`${symbol} has no owner`);
          owners.set(symbol, body.owner);
        }
        const connections = sim.stats().connections.filter((c) => c.authenticated);
        for (const id of WORKERS) {
          const mine = connections.filter((c) => c.userAgent.endsWith(`worker/${id}`));
          if (mine.length !== 1) throw new Error(`${id} has ${mine.length} feed connections`);
          const owned = symbols.filter((s) => owners.get(s) === id).sort();
          if (owned.length === 0) throw new Error(`${id} owns nothing`);
          const subscribed = [...(mine[0]?.subscriptions ?? [])].sort();
          if (subscribed.join() !== owned.join()) {
            throw new Error(`${id} subscribes to ${subscribed.length} symbols, owns ${owned.length}`);
          }
        }
        return owners;
      });
    }

    function truth(): Counts {
      return new Map(
        Object.entries(sim.stats().symbols).map(([s, v]) => [s, { trades: v.trades, volume: v.volume }]),
      );
    }

    /** Waits until every symbol, asked over HTTP, matches `expected`; then checks each closely. */
    async function matches(expected: Counts): Promise<void> {
      const record = await readRingRecord(env.redis, env.keys);
      const addresses = record.members.map((m) => m.address);
      const ask = async (symbol: string, i: number): Promise<SymbolAnswer> =>
        (
          await getJson<SymbolAnswer>(
            `${addresses[i % addresses.length]}/v1/symbols/${encodeURIComponent(symbol)}`,
          )
        ).body;
      await eventually(`${adapter.name} aggregates to match the simulator`, async () => {
        for (const [i, symbol] of symbols.entries()) {
          const answer = await ask(symbol, i);
          const want = expected.get(symbol);
          if (answer.trades !== want?.trades) {
            throw new Error(`${symbol}: ${answer.trades} trades, the simulator sent ${want?.trades}`);
          }
        }
        return true;
      });
      for (const [i, symbol] of symbols.entries()) {
        const answer = await ask(symbol, i);
        const want = expected.get(symbol) ?? { trades: -1, volume: -1 };
        expect(answer.stale, symbol).toBe(false);
        expect(answer.trades, symbol).toBe(want.trades);
        if (crypto)
          expect(Math.abs(answer.volume - want.volume), symbol).toBeLessThanOrEqual(1e-9 * want.volume);
        else expect(answer.volume, symbol).toBe(want.volume);
      }
    }

    it('splits the symbols, subscribes each worker to exactly its own, and aggregates exactly what was sent', async () => {
      const owners = await converged();
      expect(new Set(owners.values())).toEqual(new Set(WORKERS));
      sim.emit(3_000);
      await matches(truth());
    });

    if (adapter.server.amendments) {
      it('applies corrections and cancels to the aggregates', async () => {
        sim.emit(1_000);
        await matches(truth());
        expect(sim.fault('correction', 5)).toBe(5);
        expect(sim.fault('cancel', 5)).toBe(5);
        await matches(truth());
      });
    }

    it('after a drop, resubscribes exactly the owned symbols and misses only what nobody could hear', async () => {
      sim.emit(500);
      await matches(truth());
      const before = truth();
      expect(sim.fault('drop')).toBe(WORKERS.length);
      sim.emit(400); // sent while nobody is connected: lost for good, no feed replays it
      const lost = truth();
      const lostStats = sim.stats().symbols;
      await converged();
      sim.emit(1_000);
      const expected: Counts = new Map();
      for (const [symbol, end] of truth()) {
        const b = before.get(symbol) ?? { trades: 0, volume: 0 };
        const l = lost.get(symbol) ?? { trades: 0, volume: 0 };
        const heard = {
          trades: end.trades - (l.trades - b.trades),
          volume: end.volume - (l.volume - b.volume),
        };
        // Coinbase replays the latest match to a new subscriber: the last lost trade is heard after all.
        const missed = l.trades > b.trades;
        if (adapter.name === 'coinbase' && missed) {
          heard.trades += 1;
          heard.volume += lostStats[symbol]?.lastSize ?? 0;
        }
        expected.set(symbol, heard);
      }
      await matches(expected);
    });
  });
}
