/**
 * The API across worker processes against the simulator: any worker answers any symbol (asking a
 * non-owner forwards to the owner), bars reach Redis and come back from any worker, the listing
 * pages over every member, the stream carries other owners' updates, admin writes change the
 * universe, and while an owner is being killed (SIGKILL) every answer is either the checkpoint marked
 * `stale: true` with its age, or 503 for a symbol that has none; once the ring moves on the new owner
 * answers again, with nothing lost that was checkpointed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { polygon } from '../../feeds/polygon.js';
import { parseCheckpointRecord } from '../../src/cluster/checkpoints.js';
import { readRingRecord } from '../../src/cluster/membership.js';
import { Assignment } from '../../src/cluster/ring.js';
import { addSymbols } from '../../src/cluster/universe.js';
import { barKey } from '../../src/redis/keys.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { readEvents } from '../integration/http-sse-client.js';
import { testCluster, type TestCluster } from '../support/redis.js';
import { eventually, getJson, startWorker, stopAll, type WorkerProcess } from '../support/workers.js';

const TOKEN = 'scenario-admin-token-0123456789';
const TRADED = generateSymbols(24);
/** In the universe but never traded by the simulator: no checkpoint is ever written for them. */
const QUIET = Array.from({ length: 12 }, (_, i) => `QUIET${i}`);
const UNIVERSE = [...TRADED, ...QUIET];

interface Answer {
  symbol: string;
  owner: string | null;
  epoch: number;
  answeredBy: string;
  forwardedTo?: string;
  stale: boolean;
  ageMs: number;
  trades: number;
  volume: number;
  error?: { code: string };
}
interface BarsAnswer extends Answer {
  interval: string;
  bars: { start: string; trades: number; volume: number; complete: boolean }[];
}
interface ListAnswer {
  symbols: { symbol: string; owner: string | null; trades: number | null }[];
  nextCursor: string | null;
}

describe('the API across worker processes', () => {
  let env: TestCluster;
  let sim: RunningSimulator;
  const workers: WorkerProcess[] = [];
  let assignment: Assignment;

  const address = (id: string): string => {
    const member = assignment.record.members.find((m) => m.id === id);
    if (!member) throw new Error(`${id} is not a member`);
    return member.address;
  };
  const nonOwner = (symbol: string): string =>
    assignment.record.members.find((m) => m.id !== assignment.ownerOf(symbol))?.address ?? '';
  const truth = () => sim.stats().symbols;

  async function converged(ids: readonly string[]): Promise<Assignment> {
    return eventually(`${ids.join(',')} to converge`, async () => {
      const record = await readRingRecord(env.redis, env.keys);
      if (record.members.map((m) => m.id).join(',') !== [...ids].sort().join(','))
        throw new Error(`members are ${record.members.map((m) => m.id).join(',')}`);
      const universe = await env.redis.smembers(env.keys.symbols);
      for (const member of record.members) {
        const ready = await getJson<{ ready: boolean; epoch: number; reasons: string[] }>(
          `${member.address}/readyz`,
        );
        if (!ready.body.ready || ready.body.epoch !== record.epoch)
          throw new Error(
            `${member.id}: ${ready.body.reasons.join('; ')} at ${ready.body.epoch}/${record.epoch}`,
          );
      }
      return new Assignment(record, universe);
    });
  }

  /** Emits trades and waits until every owner has applied them all. */
  async function emitAndSettle(count: number): Promise<void> {
    sim.emit(count);
    const expected = truth();
    await eventually('every trade to be aggregated', async () => {
      for (const symbol of TRADED) {
        const owner = assignment.ownerOf(symbol) ?? '';
        const { body } = await getJson<Answer>(`${address(owner)}/v1/symbols/${symbol}`);
        if (body.trades !== (expected[symbol]?.trades ?? 0)) return undefined;
      }
      return true;
    });
  }

  beforeAll(async () => {
    env = await testCluster('api');
    sim = await startSimulator({ protocol: polygon, symbols: TRADED, rate: 0, seed: 7 });
    await addSymbols(env.redis, env.keys, UNIVERSE);
    for (const id of ['w1', 'w2', 'w3']) {
      workers.push(
        startWorker(id, {
          prefix: env.prefix,
          cluster: env.cluster,
          feedUrl: sim.wsUrl,
          extraArgs: ['--admin-token', TOKEN],
        }),
      );
    }
    assignment = await converged(['w1', 'w2', 'w3']);
    await emitAndSettle(3_000);
  });

  afterAll(async () => {
    await stopAll(workers);
    await sim.close();
    await env.cleanup();
  });

  it('answers every symbol from a non-owner, forwarded to the owner, equal to what was sent', async () => {
    const expected = truth();
    for (const symbol of TRADED) {
      const { status, body } = await getJson<Answer>(`${nonOwner(symbol)}/v1/symbols/${symbol}`);
      expect(status).toBe(200);
      expect(body.owner).toBe(assignment.ownerOf(symbol));
      expect(body.forwardedTo).toBe(body.owner);
      expect(body.answeredBy).not.toBe(body.owner);
      expect(body.epoch).toBe(assignment.epoch);
      expect(body.stale).toBe(false);
      expect(body.trades).toBe(expected[symbol]?.trades);
      expect(body.volume).toBe(expected[symbol]?.volume);
    }
  });

  it('pages through the listing from any worker with every owner’s counts', async () => {
    const expected = truth();
    const seen: ListAnswer['symbols'] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? '' : `&cursor=${cursor}`;
      const { status, body } = await getJson<ListAnswer>(`${address('w2')}/v1/symbols?limit=7${query}`);
      expect(status).toBe(200);
      seen.push(...body.symbols);
      cursor = body.nextCursor;
    } while (cursor !== null);
    expect(seen.map((s) => s.symbol)).toEqual([...UNIVERSE].sort());
    for (const entry of seen) {
      expect(entry.owner).toBe(assignment.ownerOf(entry.symbol));
      expect(entry.trades).toBe(expected[entry.symbol]?.trades ?? 0);
    }
    const { body } = await getJson<ListAnswer>(`${address('w1')}/v1/symbols?owner=w3&limit=1000`);
    expect(body.symbols.map((s) => s.symbol)).toEqual(assignment.symbolsOf('w3'));
  });

  it('writes completed bars to Redis and answers their history from any worker', async () => {
    // A second batch at least a second later, so the first batch's 1 s bars complete.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await emitAndSettle(1_000);
    const expected = truth();
    const busiest =
      [...TRADED].sort((a, b) => (expected[b]?.trades ?? 0) - (expected[a]?.trades ?? 0))[0] ?? '';
    // The first second's bar completes after the close grace (1 s) and reaches Redis with a checkpoint.
    await eventually('completed 1 s bars in Redis', async () =>
      (await env.redis.zcard(barKey(env.keys, busiest, 1_000))) >= 1 ? true : undefined,
    );
    for (const interval of ['1s', '1m']) {
      const { status, body } = await getJson<BarsAnswer>(
        `${nonOwner(busiest)}/v1/symbols/${busiest}/bars?interval=${interval}&limit=1000`,
      );
      expect(status).toBe(200);
      expect(body).toMatchObject({ interval, stale: false, forwardedTo: assignment.ownerOf(busiest) });
      // Every trade is in exactly one bar of each interval.
      expect(body.bars.reduce((sum, bar) => sum + bar.trades, 0)).toBe(expected[busiest]?.trades);
      const starts = body.bars.map((bar) => Date.parse(bar.start));
      expect([...starts].sort((a, b) => a - b)).toEqual(starts);
    }
    const first = await getJson<BarsAnswer>(
      `${address('w1')}/v1/symbols/${busiest}/bars?interval=1s&limit=1`,
    );
    expect(first.body.bars).toHaveLength(1);
    const bad = await getJson<{ error: { code: string; param: string } }>(
      `${address('w1')}/v1/symbols/${busiest}/bars?interval=2s`,
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('interval');
  });

  it('streams other owners’ updates to a client of any worker', async () => {
    const remote = TRADED.filter((s) => assignment.ownerOf(s) !== 'w1').slice(0, 5);
    let emitted = false;
    let target = new Map<string, number>();
    const { status, events } = await readEvents(
      `${address('w1')}/v1/stream?symbols=${remote.join(',')}`,
      (seen) => {
        if (!emitted && seen.length >= remote.length) {
          emitted = true;
          sim.emit(500);
          target = new Map(remote.map((s) => [s, truth()[s]?.trades ?? 0]));
        }
        if (!emitted) return false;
        const latest = new Map<string, number>();
        for (const event of seen) latest.set(event.data.symbol, event.data.trades);
        return remote.every((s) => latest.get(s) === target.get(s));
      },
      10_000,
    );
    expect(status).toBe(200);
    const latest = new Map(events.map((e) => [e.data.symbol, e.data]));
    for (const symbol of remote) {
      expect(latest.get(symbol)?.trades).toBe(truth()[symbol]?.trades);
      expect(latest.get(symbol)?.forwardedTo).toBe(assignment.ownerOf(symbol));
    }
    await emitAndSettle(0);
  });

  it('adds and removes symbols through the admin API, only with the token', async () => {
    const url = `${address('w3')}/v1/symbols`;
    const denied = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"symbols":["NEWSYM"]}',
    });
    expect(denied.status).toBe(401);
    const added = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: '{"symbols":["NEWSYM"]}',
    });
    expect(added.status).toBe(200);
    expect(await added.json()).toMatchObject({ added: 1 });
    assignment = await converged(['w1', 'w2', 'w3']);
    expect(assignment.ownerOf('NEWSYM')).toBeDefined();
    const answer = await eventually('NEWSYM to be answered', async () => {
      const { status, body } = await getJson<Answer>(`${nonOwner('NEWSYM')}/v1/symbols/NEWSYM`);
      return status === 200 && !body.stale ? body : undefined;
    });
    expect(answer).toMatchObject({ symbol: 'NEWSYM', trades: 0, owner: assignment.ownerOf('NEWSYM') });
    const removed = await fetch(`${url}/NEWSYM`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(removed.status).toBe(200);
    assignment = await converged(['w1', 'w2', 'w3']);
    expect((await getJson(`${address('w1')}/v1/symbols/NEWSYM`)).status).toBe(404);
    for (const worker of workers) expect(worker.output.join('\n')).not.toContain(TOKEN);
  });

  it('exposes the issue’s metrics in Prometheus format, without per-symbol labels', async () => {
    const response = await fetch(`${address('w1')}/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    const value = (series: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? NaN : Number(line.slice(series.length + 1));
    };
    expect(value('tickring_trades_ingested_total')).toBeGreaterThan(0);
    expect(value('tickring_ingest_lag_seconds_count')).toBeGreaterThan(0);
    expect(value('tickring_checkpoint_seconds_count')).toBeGreaterThan(0);
    expect(value('tickring_rebalance_seconds_count')).toBeGreaterThan(0);
    expect(value('tickring_handover_seconds_count{direction="in"}')).toBeGreaterThan(0);
    expect(value('tickring_bars_written_total')).toBeGreaterThan(0);
    expect(value('tickring_symbols_owned')).toBe(assignment.symbolsOf('w1').length);
    expect(value('tickring_epoch')).toBe(assignment.epoch);
    expect(text).toMatch(
      /tickring_http_request_seconds_count\{route="\/v1\/symbols\/\{symbol\}",status="200"\} [1-9]/,
    );
    expect(text).toContain('tickring_redis_errors_total');
    expect(text).toContain('tickring_feed_reconnects_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
    for (const symbol of UNIVERSE) expect(text).not.toContain(`"${symbol}"`);
  });

  it('answers from the checkpoint, marked stale, while the owner is being killed; 503 without one', async () => {
    const victim = 'w2';
    const expected = truth();
    const owned = TRADED.filter((s) => assignment.ownerOf(s) === victim && (expected[s]?.trades ?? 0) > 0);
    const quiet = QUIET.filter((s) => assignment.ownerOf(s) === victim);
    expect(owned.length).toBeGreaterThan(0);
    expect(quiet.length).toBeGreaterThan(0);
    const symbol = owned[0] ?? '';
    const quietSymbol = quiet[0] ?? '';
    // Wait for the periodic checkpoint to hold every trade, so nothing is lost by the kill.
    await eventually('the checkpoint to hold every trade', async () => {
      const raw = await env.redis.hgetBuffer(env.keys.checkpoints, symbol);
      const aggregate = raw === null ? null : parseCheckpointRecord(raw, symbol).aggregate;
      const trades = (aggregate as { session: { trades: number } } | null)?.session.trades;
      return trades === expected[symbol]?.trades ? true : undefined;
    });
    const killed = workers.find((w) => w.id === victim);
    killed?.child.kill('SIGKILL');
    await killed?.exited;

    const survivors = ['w1', 'w3'].map(address);
    let staleAnswers = 0;
    let quiet503 = 0;
    const deadline = Date.now() + 10_000;
    // Until another worker owns the symbol, every answer is the checkpoint marked stale.
    for (let i = 0; Date.now() < deadline; i++) {
      const via = survivors[i % 2] ?? '';
      const { status, body } = await getJson<Answer>(`${via}/v1/symbols/${symbol}`);
      expect(status).toBe(200);
      expect(body.trades).toBe(expected[symbol]?.trades);
      if (!body.stale) break;
      staleAnswers++;
      expect(body.ageMs).toBeGreaterThanOrEqual(0);
      expect(body.forwardedTo).toBeUndefined();
      const bars = await getJson<BarsAnswer>(`${via}/v1/symbols/${symbol}/bars?interval=1m`);
      expect(bars.status).toBe(200);
      if (bars.body.stale)
        expect(bars.body.bars.reduce((sum, bar) => sum + bar.trades, 0)).toBe(expected[symbol]?.trades);
      const none = await getJson<Answer>(`${via}/v1/symbols/${quietSymbol}`);
      if (none.status === 503) {
        quiet503++;
        expect(none.body.error?.code).toBe('unavailable');
      } else {
        expect(none.status).toBe(200); // a new owner took it over already
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(staleAnswers).toBeGreaterThan(0);
    expect(quiet503).toBeGreaterThan(0);

    assignment = await converged(['w1', 'w3']);
    const after = await getJson<Answer>(`${address('w1')}/v1/symbols/${symbol}`);
    expect(after.body).toMatchObject({
      stale: false,
      owner: assignment.ownerOf(symbol),
      trades: expected[symbol]?.trades,
    });
  });
});
