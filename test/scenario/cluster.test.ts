/**
 * The walking skeleton end to end: Redis-backed worker processes against the simulator. Every symbol
 * has exactly one owner, each worker subscribes to exactly its own symbols, and each symbol's trades
 * and volume match what the simulator sent, also after a fourth worker joins and after one leaves on
 * SIGTERM. Trades are emitted while membership is stable, so the planned hand-overs (final
 * checkpoint, claim at the new epoch) must carry every aggregate across exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { polygon } from '../../feeds/polygon.js';
import { Assignment } from '../../src/cluster/ring.js';
import { readRingRecord } from '../../src/cluster/membership.js';
import { addSymbols } from '../../src/cluster/universe.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { testCluster, type TestCluster } from '../support/redis.js';
import { eventually, getJson, startWorker, stopAll, type WorkerProcess } from '../support/workers.js';

interface SymbolAnswer {
  symbol: string;
  owner: string;
  epoch: number;
  trades: number;
  volume: number;
  vwap: number | null;
  last: { price: number; size: number; time: string } | null;
}
interface Summary {
  symbol: string;
  owner: string | null;
  trades: number;
}
interface ClusterAnswer {
  epoch: number;
  members: { id: string; address: string; symbols: number }[];
}

const SYMBOLS = generateSymbols(60);

describe('a tickring cluster of worker processes', () => {
  let env: TestCluster;
  let sim: RunningSimulator;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    env = await testCluster('e2e');
    sim = await startSimulator({ protocol: polygon, symbols: SYMBOLS, rate: 0, seed: 42 });
    await addSymbols(env.redis, env.keys, SYMBOLS);
  });

  afterAll(async () => {
    await stopAll(workers);
    await sim.close();
    await env.cleanup();
  });

  function launch(id: string): WorkerProcess {
    const worker = startWorker(id, { prefix: env.prefix, cluster: env.cluster, feedUrl: sim.wsUrl });
    workers.push(worker);
    return worker;
  }

  /** Waits until every live worker acts on the ring's epoch and subscribes to exactly its symbols. */
  async function converged(ids: readonly string[]): Promise<Assignment> {
    return eventually(`${ids.join(',')} to converge`, async () => {
      const record = await readRingRecord(env.redis, env.keys);
      if (record.members.map((m) => m.id).join(',') !== [...ids].sort().join(',')) {
        throw new Error(`members are ${record.members.map((m) => m.id).join(',')}`);
      }
      const assignment = new Assignment(record, SYMBOLS);
      for (const member of record.members) {
        const { body } = await getJson<ClusterAnswer>(`${member.address}/v1/cluster`);
        if (body.epoch !== record.epoch)
          throw new Error(`${member.id} acts on ${body.epoch}, ring is at ${record.epoch}`);
        const ready = await fetch(`${member.address}/readyz`);
        if (ready.status !== 200) throw new Error(`${member.id} not ready: ${await ready.text()}`);
      }
      const connections = sim.stats().connections.filter((c) => c.authenticated);
      for (const id of ids) {
        const mine = connections.filter((c) => c.userAgent.endsWith(`worker/${id}`));
        if (mine.length !== 1) throw new Error(`${id} has ${mine.length} feed connections`);
        if ([...mine[0]!.subscriptions].sort().join(',') !== assignment.symbolsOf(id).join(',')) {
          throw new Error(
            `${id} subscribes to ${mine[0]!.subscriptions.length}, owns ${assignment.symbolsOf(id).length}`,
          );
        }
      }
      return assignment;
    });
  }

  /** Emits trades, then waits until every symbol's trades and volume match the simulator's truth. */
  async function emitAndMatch(count: number, assignment: Assignment): Promise<void> {
    sim.emit(count);
    const truth = sim.stats().symbols;
    const address = assignment.record.members[0]!.address;
    await eventually('aggregates to match the simulator', async () => {
      const { body } = await getJson<{ symbols: Summary[] }>(`${address}/v1/symbols?limit=1000`);
      const counts = new Map(body.symbols.map((s) => [s.symbol, s.trades]));
      return SYMBOLS.every((s) => counts.get(s) === (truth[s]?.trades ?? 0)) ? true : undefined;
    });
    // Ask every symbol through a worker chosen round-robin, so most answers are forwarded.
    const members = assignment.record.members;
    for (const [i, symbol] of SYMBOLS.entries()) {
      const via = members[i % members.length]!.address;
      const { status, body } = await getJson<SymbolAnswer>(`${via}/v1/symbols/${symbol}`);
      expect(status).toBe(200);
      expect(body.owner).toBe(assignment.ownerOf(symbol));
      expect(body.epoch).toBe(assignment.epoch);
      expect(body.trades).toBe(truth[symbol]?.trades ?? 0);
      expect(body.volume).toBe(truth[symbol]?.volume ?? 0);
    }
  }

  /** What a worker stopped on SIGTERM logged of its drain notice: peers told, and those that answered. */
  function drainNoticeOf(worker: WorkerProcess): { peers: number; ready: number } | undefined {
    const line = worker.output.find((l) => l.includes('peers subscribed to what they gain'));
    if (line === undefined) return undefined;
    const { peers, ready } = JSON.parse(line) as { peers: number; ready: number };
    return { peers, ready };
  }

  function expectExactlyOneOwner(assignment: Assignment, ids: readonly string[]): void {
    const owners = new Map<string, string[]>();
    for (const connection of sim.stats().connections) {
      for (const symbol of connection.subscriptions)
        owners.set(symbol, [...(owners.get(symbol) ?? []), connection.userAgent]);
    }
    for (const symbol of SYMBOLS) expect(owners.get(symbol), symbol).toHaveLength(1);
    const total = ids.reduce((sum, id) => sum + assignment.symbolsOf(id).length, 0);
    expect(total).toBe(SYMBOLS.length);
  }

  it('splits the symbols over three workers and aggregates exactly what was sent', async () => {
    for (const id of ['w1', 'w2', 'w3']) launch(id);
    const assignment = await converged(['w1', 'w2', 'w3']);
    expectExactlyOneOwner(assignment, ['w1', 'w2', 'w3']);
    for (const id of ['w1', 'w2', 'w3']) expect(assignment.symbolsOf(id).length).toBeGreaterThan(0);
    await emitAndMatch(3_000, assignment);
  });

  it('hands symbols to a fourth worker that joins, keeping every aggregate', async () => {
    launch('w4');
    const assignment = await converged(['w1', 'w2', 'w3', 'w4']);
    expectExactlyOneOwner(assignment, ['w1', 'w2', 'w3', 'w4']);
    expect(assignment.symbolsOf('w4').length).toBeGreaterThan(0);
    await emitAndMatch(2_000, assignment);
  });

  it('hands symbols over when a worker stops on SIGTERM, keeping every aggregate', async () => {
    const leaving = workers.find((w) => w.id === 'w2')!;
    leaving.child.kill('SIGTERM');
    expect(await leaving.exited).toBe(0);
    expect(leaving.output.join('\n')).toContain('left the ring');
    // Its drain was announced, and every peer answered (on a Redis Cluster too: test/ha).
    expect(drainNoticeOf(leaving)).toEqual({ peers: 3, ready: 3 });
    const assignment = await converged(['w1', 'w3', 'w4']);
    expectExactlyOneOwner(assignment, ['w1', 'w3', 'w4']);
    await emitAndMatch(2_000, assignment);
  });

  it('answers 404 for an unknown symbol and 400 for a malformed one, as JSON errors', async () => {
    const record = await readRingRecord(env.redis, env.keys);
    const address = record.members[0]!.address;
    const unknown = await getJson<{ error: { code: string } }>(`${address}/v1/symbols/NOPE123`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
    const malformed = await getJson<{ error: { code: string } }>(
      `${address}/v1/symbols/${encodeURIComponent('a$b')}`,
    );
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('bad_request');
  });

  it('stops the whole cluster at once: no drain waits for a stopping peer, and every aggregate survives', async () => {
    const running = workers.filter((w) => w.child.exitCode === null);
    expect(running.map((w) => w.id).sort()).toEqual(['w1', 'w3', 'w4']);
    for (const worker of running) worker.child.kill('SIGTERM');
    for (const worker of running) expect(await worker.exited).toBe(0);
    // Each announced its drain; a peer stopping itself answers at once rather than not at all
    // (before, every worker waited out its notice's bound, about a second).
    for (const worker of running) {
      const notice = drainNoticeOf(worker);
      if (notice === undefined) continue; // drained by the others' epochs before announcing its own
      expect(notice.ready, worker.id).toBe(notice.peers);
    }
    launch('w5');
    const assignment = await converged(['w5']);
    await emitAndMatch(500, assignment);
  });
});
