/**
 * The relay topology with real processes: the simulator in "one connection per key" mode (Polygon's:
 * a second connection evicts the first), two `tickring relay` processes (one active, one standby)
 * and four `tickring worker --feed relay` processes that find the active relay in Redis.
 *
 * 1. Every worker gets exactly its own symbols' trades (none for symbols it does not own) and the
 *    aggregates match what the simulator sent.
 * 2. SIGKILL the active relay: the standby takes over within about one lease, the simulator never
 *    sees two connections for the key, and what the workers lost is exactly what the simulator sent
 *    while no relay was connected, symbol by symbol. Every worker is told which of its symbols had
 *    a gap.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { polygon } from '../../feeds/polygon.js';
import { readRingRecord } from '../../src/cluster/membership.js';
import { addSymbols } from '../../src/cluster/universe.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { REDIS_URL, testCluster, type TestCluster } from '../support/redis.js';
import { CLI, eventually, getJson, startWorker, stopAll, type WorkerProcess } from '../support/workers.js';

interface SymbolAnswer {
  symbol: string;
  owner: string | null;
  trades: number;
  volume: number;
}

interface RelayProcess {
  readonly id: string;
  readonly child: ChildProcess;
  readonly output: string[];
  readonly exited: Promise<number | null>;
}

interface RelayState {
  relay: string;
  state: string;
  upstream: string;
  workers: number;
  token: number;
}

const WORKERS = ['w1', 'w2', 'w3', 'w4'];
const LEASE_MS = 1_500;

function startRelay(id: string, env: TestCluster, feedUrl: string): RelayProcess {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'relay',
      '--relay-id',
      id,
      '--redis',
      REDIS_URL,
      '--key-prefix',
      env.prefix,
      '--cluster',
      env.cluster,
      '--feed',
      'polygon',
      '--feed-url',
      feedUrl,
      '--http-port',
      '0',
      '--lease-ms',
      String(LEASE_MS),
      '--renew-ms',
      '300',
      '--replay-ms',
      '20000',
      '--log-level',
      'info',
    ],
    { env: { ...process.env, TICKRING_FEED_KEY: 'test-key' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output: string[] = [];
  const collect = (chunk: Buffer): void => {
    output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { id, child, output, exited };
}

/** The relay's HTTP base URL, from its `relay listening` log line. */
async function httpOf(relay: RelayProcess): Promise<string> {
  return eventually(`${relay.id} to listen`, () => {
    for (const line of relay.output) {
      if (!line.includes('relay listening')) continue;
      const parsed = JSON.parse(line) as { http?: string };
      return parsed.http;
    }
    return undefined;
  });
}

async function stateOf(http: string): Promise<RelayState> {
  return (await getJson<RelayState>(`${http}/readyz`)).body;
}

async function metric(address: string, name: string): Promise<number> {
  const text = await (await fetch(`${address}/metrics`)).text();
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!match?.[1]) throw new Error(`no ${name} at ${address}`);
  return Number(match[1]);
}

describe('relay failover with real processes', () => {
  const symbols = generateSymbols(24);
  let env: TestCluster;
  let sim: RunningSimulator;
  const relays: RelayProcess[] = [];
  const http = new Map<string, string>();
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    env = await testCluster('relay-failover');
    sim = await startSimulator({ protocol: polygon, symbols, rate: 0, seed: 5, connectionsPerKey: 1 });
    await addSymbols(env.redis, env.keys, symbols);
    const first = startRelay('r1', env, sim.wsUrl);
    relays.push(first);
    http.set('r1', await httpOf(first));
    await eventually('r1 to be active', async () =>
      (await stateOf(http.get('r1') ?? '')).state === 'active' ? true : undefined,
    );
    const second = startRelay('r2', env, sim.wsUrl);
    relays.push(second);
    http.set('r2', await httpOf(second));
    for (const id of WORKERS) {
      workers.push(
        startWorker(id, {
          prefix: env.prefix,
          cluster: env.cluster,
          feed: 'relay',
          feedUrl: '',
          extraArgs: ['--upstream-feed', 'polygon'],
        }),
      );
    }
  }, 60_000);

  afterAll(async () => {
    await stopAll(workers);
    for (const relay of relays) if (relay.child.exitCode === null) relay.child.kill('SIGKILL');
    await Promise.all(relays.map((relay) => relay.exited));
    await sim.close();
    await env.cleanup();
  });

  async function addresses(): Promise<string[]> {
    const record = await readRingRecord(env.redis, env.keys);
    return record.members.map((member) => member.address);
  }

  /** Each symbol's count and volume, as any worker answers for it. */
  async function aggregates(): Promise<Map<string, SymbolAnswer>> {
    const [address = ''] = await addresses();
    const result = new Map<string, SymbolAnswer>();
    for (const symbol of symbols) {
      const { body } = await getJson<SymbolAnswer>(`${address}/v1/symbols/${encodeURIComponent(symbol)}`);
      result.set(symbol, body);
    }
    return result;
  }

  /** The relay as the dashboard's `/v1/workers` lists it. */
  async function dashboardRelay(): Promise<{
    holder: string;
    token: number;
    feed: string;
    usedBy: string[];
  }> {
    const [address = ''] = await addresses();
    const { body } = await getJson<{
      relay: { holder: string; token: number; feed: string; usedBy: string[] } | null;
    }>(`${address}/v1/workers`);
    if (!body.relay) throw new Error('no relay listed');
    return { ...body.relay, usedBy: [...body.relay.usedBy].sort() };
  }

  /** The simulator's one connection is subscribed to every symbol. */
  function upstreamHasAll(): boolean {
    const connections = sim.stats().connections;
    return connections.length === 1 && (connections[0]?.subscriptions.length ?? 0) === symbols.length;
  }

  it('gives every worker exactly its symbols, and aggregates match what was sent', async () => {
    await eventually(
      'four workers in the ring, each ready, all behind r1',
      async () => {
        const members = await addresses();
        if (members.length !== WORKERS.length) throw new Error(`${members.length} members`);
        for (const address of members) {
          if ((await fetch(`${address}/readyz`)).status !== 200) throw new Error(`${address} not ready`);
        }
        const r1 = await stateOf(http.get('r1') ?? '');
        if (r1.workers !== WORKERS.length) throw new Error(`r1 has ${r1.workers} workers`);
        return upstreamHasAll() ? true : undefined;
      },
      60_000,
      250,
    );
    // Ownership settled: wait until every worker holds its symbols live.
    await eventually('every symbol owned', async () => {
      const all = await aggregates();
      return [...all.values()].every((a) => a.owner !== null) ? true : undefined;
    });
    sim.emit(3_000);
    const truth = sim.stats().symbols;
    await eventually(
      'aggregates to match the simulator',
      async () => {
        const all = await aggregates();
        for (const symbol of symbols) {
          const mine = all.get(symbol);
          if (mine?.trades !== truth[symbol]?.trades)
            throw new Error(`${symbol}: ${mine?.trades} of ${truth[symbol]?.trades}`);
          if (mine?.volume !== truth[symbol]?.volume) throw new Error(`${symbol}: volume ${mine?.volume}`);
        }
        return true;
      },
      20_000,
      250,
    );
    // Nobody received a trade of a symbol it does not own.
    for (const address of await addresses()) {
      expect(await metric(address, 'tickring_unowned_dropped_total'), address).toBe(0);
    }
    expect(sim.stats().maxConnectionsPerKey).toBe(1);
    expect((await stateOf(http.get('r2') ?? '')).state).toBe('standby');
    // The dashboard lists the active relay apart, with every worker reading through it.
    expect(await dashboardRelay()).toMatchObject({
      holder: 'r1',
      token: 1,
      feed: 'polygon',
      usedBy: [...WORKERS].sort(),
    });
  }, 120_000);

  it('SIGKILL of the active relay: the standby takes over, never two connections, lost == sent while none was connected', async () => {
    const before = sim.stats();
    expect(before.totals.undelivered).toBe(0);
    const r1 = relays[0];
    if (!r1) throw new Error('no r1');
    const killedAt = Date.now();
    r1.child.kill('SIGKILL');
    await r1.exited;
    await eventually('the simulator to see the connection gone', () =>
      sim.stats().connections.length === 0 ? true : undefined,
    );
    // Sent while no relay is connected: nobody can hear these.
    sim.emit(1_000);
    const r2http = http.get('r2') ?? '';
    await eventually('r2 to take over', () => (upstreamHasAll() ? true : undefined), 20_000, 20);
    const takeoverMs = Date.now() - killedAt;
    // Sent the moment the new connection is subscribed, whether or not workers are back yet: the
    // relay keeps them for workers still reconnecting.
    sim.emit(2_000);
    const r2 = await stateOf(r2http);
    expect(r2).toMatchObject({ relay: 'r2', state: 'active', token: 2 });
    // About one lease after the kill (plus a renewal period and a loaded machine's slack).
    expect(takeoverMs).toBeLessThan(LEASE_MS * 4);

    const truth = sim.stats().symbols;
    const lostTotal = Object.values(truth).reduce((sum, s) => sum + s.undelivered, 0);
    expect(lostTotal).toBe(1_000);
    await eventually(
      'aggregates to match what was sent less what nobody could hear',
      async () => {
        const all = await aggregates();
        for (const symbol of symbols) {
          const mine = all.get(symbol);
          const want = (truth[symbol]?.trades ?? 0) - (truth[symbol]?.undelivered ?? 0);
          const wantVolume = (truth[symbol]?.volume ?? 0) - (truth[symbol]?.undeliveredVolume ?? 0);
          if (mine?.trades !== want) throw new Error(`${symbol}: ${mine?.trades} of ${want}`);
          if (mine.volume !== wantVolume)
            throw new Error(`${symbol}: volume ${mine.volume} of ${wantVolume}`);
        }
        return true;
      },
      30_000,
      250,
    );
    const after = sim.stats();
    expect(after.maxConnectionsPerKey).toBe(1);
    expect(after.maxOpenConnections).toBe(1);
    expect(after.faults.connectionLimits).toBe(0);

    // Every worker was told of the gap, once for each symbol it subscribed on r2.
    let gapSymbols = 0;
    for (const address of await addresses()) {
      gapSymbols += await metric(address, 'tickring_feed_relay_gap_symbols_total');
      expect(await metric(address, 'tickring_unowned_dropped_total'), address).toBe(0);
    }
    expect(gapSymbols).toBe(symbols.length);
    expect(await dashboardRelay()).toMatchObject({ holder: 'r2', token: 2, usedBy: [...WORKERS].sort() });
    const replayed = (await getJson<{ tradesReplayed: number }>(`${r2http}/readyz`)).body.tradesReplayed;
    process.stdout.write(
      `relay failover: standby active and subscribed ${takeoverMs} ms after SIGKILL; ${replayed} trades replayed to reconnecting workers\n`,
    );
  }, 120_000);
});
