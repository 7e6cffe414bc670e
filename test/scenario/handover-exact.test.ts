/**
 * Planned hand-overs under flow: the simulator keeps sending while workers join, drain and leave on
 * SIGTERM, and afterwards every symbol's trade count and volume equal what the simulator sent. With
 * trade ids (Polygon) and sequence numbers (Binance), the old owner applies each symbol until the new
 * owner's stream overlaps its own, so no trade is lost and none is counted twice.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { binance } from '../../feeds/binance.js';
import { finnhub } from '../../feeds/finnhub.js';
import { polygon } from '../../feeds/polygon.js';
import { readRingRecord } from '../../src/cluster/membership.js';
import { drainMember } from '../../src/cluster/placement-admin.js';
import { withDraining, type RingRecord } from '../../src/cluster/ring-record.js';
import { Assignment } from '../../src/cluster/ring.js';
import { addSymbols } from '../../src/cluster/universe.js';
import { startSimulator, type RunningSimulator, type SimulatorInput } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { REDIS_URL, testCluster, type TestCluster } from '../support/redis.js';
import {
  actingEpoch,
  CLI,
  eventually,
  everyMemberActsOn,
  everyMemberReady,
  getJson,
  startWorker,
  stopAll,
  type WorkerProcess,
} from '../support/workers.js';

interface Summary {
  symbol: string;
  trades: number;
}

/** Long enough that a loaded 2-core machine does not fence workers mid-test. */
const STEADY = ['--lease-ms', '6000', '--heartbeat-ms', '500', '--settle-ms', '0', '--settle-max-ms', '0'];

describe.each([
  { name: 'polygon (trade ids)', adapter: polygon, symbols: generateSymbols(80) },
  { name: 'finnhub (no ids: positions by time)', adapter: finnhub, symbols: generateSymbols(80) },
  {
    name: 'binance (sequence numbers)',
    adapter: binance,
    symbols: generateSymbols(80).map((base) => `${base}USDT`),
  },
])('planned hand-overs under flow: $name', ({ adapter, symbols }) => {
  const { workers, begin } = scenarioStoppedAfterEach();

  it('counts every trade once across joins, a drain and a graceful leave (Finnhub: see docs/handover.md)', async () => {
    const { cluster, feed } = await begin('handover', { protocol: adapter, symbols, rate: 600, seed: 7 });
    const launch = (id: string): WorkerProcess => {
      const worker = startWorker(id, {
        prefix: cluster.prefix,
        cluster: cluster.cluster,
        feedUrl: feed.wsUrl,
        feed: adapter.name,
        extraArgs: STEADY,
      });
      workers.push(worker);
      return worker;
    };
    const converged = (ids: readonly string[]): Promise<Assignment> =>
      eventually(
        `${ids.join(',')} to own every symbol`,
        async () => {
          const record = await readRingRecord(cluster.redis, cluster.keys);
          const members = record.members.filter((m) => m.draining !== true).map((m) => m.id);
          if (members.sort().join(',') !== [...ids].sort().join(',')) return undefined;
          return (await everyMemberActsOn(record)) && (await everyMemberReady(record))
            ? new Assignment(record, symbols)
            : undefined;
        },
        30_000,
      );

    launch('w1');
    launch('w2');
    await converged(['w1', 'w2']);
    // At start-up a symbol has no previous owner: it goes live at once and its subscribe frame
    // leaves at the provider's frame rate after (Finnhub: 20 a second, so 2-4 s for 80 symbols when
    // both workers start in one epoch). What the feed sends before then reaches nobody, and would
    // be counted here as a hand-over loss: 466 of 5,582 trades in one run. Flow starts once every
    // symbol is subscribed.
    await eventually('every symbol subscribed at the feed', () => {
      const subscribed = new Set(feed.stats().connections.flatMap((conn) => conn.subscriptions));
      return symbols.every((symbol) => subscribed.has(symbol)) ? true : undefined;
    });
    feed.resume();

    launch('w3');
    await converged(['w1', 'w2', 'w3']);
    await sleep(500);

    const drain = spawn(process.execPath, [
      CLI,
      'drain',
      'w1',
      '--redis',
      REDIS_URL,
      '--key-prefix',
      cluster.prefix,
      '--cluster',
      cluster.cluster,
    ]);
    const drainCode = await new Promise<number | null>((resolve) => drain.once('exit', resolve));
    expect(drainCode).toBe(0);
    expect(await workers[0]!.exited).toBe(0);
    // Told before the drain epoch, both peers subscribed to what they gain (`noticeDrain`). They
    // log it once the feed confirmed it, which for Finnhub's paced frames on a loaded machine can
    // come after the drain's 2 s bound, and so after w1 exited.
    for (const peer of workers.slice(1, 3)) {
      await eventually(`${peer.id} to subscribe ahead of the drain`, () =>
        peer.output.some((line) => line.includes('subscribed to what a draining peer hands over'))
          ? true
          : undefined,
      );
    }
    await converged(['w2', 'w3']);
    await sleep(500);

    launch('w4');
    await converged(['w2', 'w3', 'w4']);
    await sleep(500);

    workers[1]!.child.kill('SIGTERM');
    expect(await workers[1]!.exited).toBe(0);
    // Before draining itself, w2 had both peers subscribe to what they gain (`prepareForLeave`).
    const drainNotice = workers[1]!.output.find((line) =>
      line.includes('peers subscribed to what they gain'),
    );
    expect(drainNotice === undefined ? undefined : JSON.parse(drainNotice)).toMatchObject({
      peers: 2,
      ready: 2,
    });
    const assignment = await converged(['w3', 'w4']);
    await sleep(500);
    feed.pause();

    const truth = feed.stats().symbols;
    const sent = symbols.reduce((sum, s) => sum + (truth[s]?.trades ?? 0), 0);
    expect(sent).toBeGreaterThan(1_000);
    const address = assignment.record.members[0]!.address;
    const counted = await eventually(
      'every trade to be applied',
      async () => {
        const { body } = await getJson<{ symbols: Summary[] }>(`${address}/v1/symbols?limit=1000`);
        const total = body.symbols.reduce((sum, s) => sum + s.trades, 0);
        return total >= sent ? body.symbols : undefined;
      },
      10_000,
    ).catch(
      async () => (await getJson<{ symbols: Summary[] }>(`${address}/v1/symbols?limit=1000`)).body.symbols,
    );
    const bySymbol = new Map(counted.map((s) => [s.symbol, s]));
    // Volume too, from each symbol's own answer (the list carries counts only). Crypto sizes are
    // fractional: the simulator adds them naively, tickring with compensation, so allow rounding.
    const wrongVolume: string[] = [];
    for (const symbol of symbols) {
      const { body } = await getJson<{ volume: number }>(`${address}/v1/symbols/${symbol}`);
      const expected = truth[symbol]?.volume ?? 0;
      if (Math.abs(body.volume - expected) > 1e-9 * Math.max(1, expected)) wrongVolume.push(symbol);
    }
    const { lost, doubled } = miscounted(symbols, truth, (s) => bySymbol.get(s)?.trades ?? 0);
    // Symbols handed over at the old owner's timeout rather than once the two streams overlapped:
    // not asserted (a starved machine may reach the bound), but with trade ids, more than none here
    // says the old owner's lookup of the new owner's first trade (`hasReached`) missed.
    const timedOut = workers
      .flatMap((worker) => worker.output)
      .filter((line) => line.includes('new owner did not overlap in time'))
      .reduce((sum, line) => sum + ((JSON.parse(line) as { symbols?: number }).symbols ?? 0), 0);
    // The workers that joined a running cluster subscribed to what they expected to own before
    // joining (`Worker.prepareJoin`); Finnhub's pacing may leave some unconfirmed at the bound.
    const prepared = workers.slice(2).map((worker) => {
      const line = worker.output.find((l) => l.includes('subscribed to the expected symbols'));
      return line === undefined ? undefined : (JSON.parse(line) as { expected: number; confirmed: number });
    });
    console.log(
      `HANDOVER-FIGURE ${adapter.name} sent=${sent} lost=${lost} doubled=${doubled} timeouts=${timedOut} prepared=${JSON.stringify(prepared)}`,
    );
    for (const joiner of prepared) {
      expect(joiner?.expected).toBeGreaterThan(0);
      expect(joiner?.confirmed).toBeGreaterThan(0);
    }
    // The first two started together: whichever read the ring first found it empty, with nothing to
    // expect before the cluster settles.
    const preparedFirst = workers
      .slice(0, 2)
      .filter((w) => w.output.some((l) => l.includes('subscribed to the expected symbols')));
    expect(preparedFirst.length).toBeLessThan(2);
    if (lost > 0 || doubled > 0) printHandOverLogs(workers, symbols, truth, bySymbol);
    if (!adapter.hasTradeIds) {
      // Finnhub: positions by trade time; see docs/handover.md for what that can and cannot promise.
      expect(doubled).toBe(0);
      expect(lost).toBeLessThan(sent * 0.05);
      return;
    }
    expect({ sent, lost, doubled, wrongVolume }).toEqual({ sent, lost: 0, doubled: 0, wrongVolume: [] });
  }, 120_000);
});

describe('hand-overs a newer epoch interrupts', () => {
  const scenario = scenarioStoppedAfterEach();
  const { workers, begin } = scenario;

  it('calls off a hand-over out whose new owner died before taking over, as soon as the ring drops it', async () => {
    // w3 joins and is SIGKILLed: w1 and w2 would wait for it to overlap until their (long)
    // hand-over bound. Once the ring reaps w3 its symbols are theirs again; they must act on that
    // epoch then, owning on what they applied all along, and lose nothing. w3 never reaches the
    // feed, so it can never overlap them first (had it, they would hand over and its crash would
    // lose what it alone applied, as any owner's crash does without a standby).
    const symbols = generateSymbols(40);
    const { cluster, feed } = await begin('dead-new-owner', {
      protocol: polygon,
      symbols,
      rate: 600,
      seed: 3,
    });
    const start = (id: string, extra: readonly string[], feedUrl = feed.wsUrl): WorkerProcess => {
      const worker = startWorker(id, {
        prefix: cluster.prefix,
        cluster: cluster.cluster,
        feedUrl,
        extraArgs: [...STEADY, ...extra],
      });
      workers.push(worker);
      return worker;
    };
    const boundMs = 20_000;
    const old = ['--handover-timeout-ms', String(boundMs)];
    start('w1', old);
    start('w2', old);
    await ringOf(cluster, 2);
    feed.resume();
    await sleep(500);

    // A short lease: the ring reaps w3 about 1.5 s after the kill.
    const w3 = start('w3', ['--lease-ms', '1500', '--heartbeat-ms', '300'], 'ws://127.0.0.1:1/stocks');
    const joined = await eventually(
      'w3 on the ring',
      async () => {
        const record = await readRingRecord(cluster.redis, cluster.keys);
        return record.members.some((m) => m.id === 'w3') ? record : undefined;
      },
      30_000,
      5,
    );
    w3.child.kill('SIGKILL');
    const reaped = await eventually(
      'the ring to reap w3',
      async () => {
        const record = await readRingRecord(cluster.redis, cluster.keys);
        return record.epoch > joined.epoch && !record.members.some((m) => m.id === 'w3') ? record : undefined;
      },
      30_000,
    );
    const reapedAt = Date.now();
    await eventually(
      'w1 and w2 to act on the epoch that reaped w3',
      async () => ((await everyMemberActsOn(reaped)) ? true : undefined),
      30_000,
    );
    const actedMs = Date.now() - reapedAt;
    await sleep(500);
    feed.pause();

    expect(await settledCounts(reaped.members[0]!.address, symbols, feed)).toEqual({ lost: 0, doubled: 0 });
    // Not held up by the bound: waiting it out would take most of 20 s after the join.
    expect(actedMs).toBeLessThan(boundMs / 2);
    const oldOwners = workers
      .slice(0, 2)
      .flatMap((worker) => worker.output)
      .join('\n');
    expect(oldOwners).toContain('new owner will not take over at this epoch');
    expect(oldOwners).not.toContain('new owner did not overlap in time');
  }, 120_000);

  it('drains past a frozen peer only once the ring dropped it, so the leaver hands over exactly', async () => {
    // w3 freezes (SIGSTOP) with its lease still running, then w1 stops (SIGTERM). Draining at once
    // would give w3 some of w1's symbols, which it never takes: they would wait for w3's lease, then
    // move again from w1's final checkpoints, and what the feed sent meanwhile would be lost. w3
    // does not answer w1's drain notice and is silent in the leases: w1 waits until the ring drops
    // w3, then drains to w2 alone.
    const symbols = generateSymbols(60);
    const { cluster, feed } = await begin('frozen-peer', { protocol: polygon, symbols, rate: 500, seed: 23 });
    // The lease (6 s) outlasts the leaver's hand-over bound: without waiting for the ring, the
    // leaver would give up on w3's share and leave before the ring drops w3.
    workers.push(...startThree(cluster, feed, () => STEADY));
    const before = await ringOf(cluster, 3);
    feed.resume();
    await sleep(1_000);
    const [leaver, survivor, frozen] = workers as [WorkerProcess, WorkerProcess, WorkerProcess];
    frozen.child.kill('SIGSTOP');
    try {
      leaver.child.kill('SIGTERM');
      expect(await leaver.exited).toBe(0);
      expect(
        leaver.output.some((line) => line.includes('waiting for the ring to drop them')),
        `w1 did not wait for the ring to drop w3; its log:\n${leaver.output.join('\n')}`,
      ).toBe(true);
      const after = await eventually(
        'w2 alone on the ring',
        async () => {
          const record = await readRingRecord(cluster.redis, cluster.keys);
          const ids = record.members.map((m) => m.id).join(',');
          return ids === survivor.id && (await everyMemberActsOn(record)) ? record : undefined;
        },
        30_000,
      );
      await sleep(1_000);
      feed.pause();
      const handedOver = symbols.filter((s) => new Assignment(before, symbols).ownerOf(s) === leaver.id);
      expect(handedOver.length).toBeGreaterThan(0);
      const address = after.members[0]!.address;
      expect(await settledCounts(address, handedOver, feed)).toEqual({ lost: 0, doubled: 0 });
    } finally {
      frozen.child.kill('SIGCONT');
    }
  }, 120_000);

  it('loses no trade when an owner pauses for less than its lease', async () => {
    // A stop-the-world pause (a long collection, a throttled container): the feed's frames wait in
    // the socket meanwhile, and every one of them must be applied once the process runs again.
    const symbols = generateSymbols(40);
    const { cluster, feed } = await begin('paused-owner', {
      protocol: polygon,
      symbols,
      rate: 600,
      seed: 13,
    });
    for (const id of ['w1', 'w2']) {
      workers.push(
        startWorker(id, {
          prefix: cluster.prefix,
          cluster: cluster.cluster,
          feedUrl: feed.wsUrl,
          extraArgs: [...STEADY, '--replicas', '2'],
        }),
      );
    }
    const ring = await ringOf(cluster, 2);
    feed.resume();
    await sleep(1_000);
    const paused = workers[0]!.child;
    paused.kill('SIGSTOP');
    await sleep(1_500);
    paused.kill('SIGCONT');
    await sleep(1_500);
    feed.pause();
    expect(await settledCounts(ring.members[1]!.address, symbols, feed)).toEqual({ lost: 0, doubled: 0 });
    expect((await readRingRecord(cluster.redis, cluster.keys)).epoch).toBe(ring.epoch);
  }, 60_000);

  it('counts every trade once when the old owner skips the epoch the new owner acts on', async () => {
    // w3 joins while w1 is stopped: w3 acts on the join's epoch and waits for w1's final
    // checkpoints. A newer epoch (a symbol added) comes before w1 resumes, so w1 reads only that one
    // and hands over there. w3 must follow it to the newer epoch rather than give up on w1 and go
    // live from an older checkpoint, or from nothing once w1's newer final has fenced the symbol.
    const { cluster, feed, symbols, start, ringActedOn } = await frozenPeersScenario(
      scenario,
      'skipped-epoch',
      5,
    );
    const w1 = start('w1');
    start('w2');
    await eventually('w1 and w2 to act on one ring', () => ringActedOn(['w1', 'w2']), 30_000);
    feed.resume();
    await sleep(500);

    w1.child.kill('SIGSTOP');
    const w3 = start('w3');
    // w3 is on the ring and acts on its epoch (w1, stopped, cannot).
    const joined = await eventually(
      'w3 to act on the epoch that admits it',
      () => ringActedOn(['w1', 'w2', 'w3'], ['w3']),
      30_000,
    );
    await addSymbols(cluster.redis, cluster.keys, ['ZZNEW']);
    expect((await readRingRecord(cluster.redis, cluster.keys)).epoch).toBeGreaterThan(joined.epoch);
    w1.child.kill('SIGCONT');
    const final = await eventually(
      'every worker to act on the newest epoch',
      () => ringActedOn(['w1', 'w2', 'w3']),
      30_000,
    );
    await sleep(500);
    feed.pause();

    expect(await settledCounts(final.members[0]!.address, symbols, feed)).toEqual({ lost: 0, doubled: 0 });
    // The scenario happened: w3's take-over from w1 was carried to the newer epoch, not timed out.
    const w3Log = w3.output.join('\n');
    expect(w3Log).toContain('take-over continues at a newer epoch');
    expect(w3Log).not.toContain('previous owner did not hand over in time');
  }, 120_000);

  it('hands back what a joiner stopped during its first take-over claimed, before it leaves', async () => {
    // w3 joins while w1 is frozen, so its take-over of w1's symbols waits; it is stopped (SIGTERM)
    // meanwhile. w1 resumes and hands its symbols over to w3, which claims them and applies their
    // trades. w3 must then drain them back like any serving worker: leaving at once let w1 and w2
    // go live from the finals they wrote for w3, without what w3 applied since.
    const { feed, symbols, start, ringActedOn } = await frozenPeersScenario(scenario, 'stopped-joiner', 9);
    const w1 = start('w1');
    start('w2');
    const ring = await eventually('w1 and w2 to act on one ring', () => ringActedOn(['w1', 'w2']), 30_000);
    feed.resume();
    await sleep(500);

    w1.child.kill('SIGSTOP');
    const w3 = start('w3');
    await eventually(
      'w3 to act on the epoch that admits it',
      () => ringActedOn(['w1', 'w2', 'w3'], ['w3']),
      30_000,
    );
    w3.child.kill('SIGTERM');
    await sleep(200);
    w1.child.kill('SIGCONT');
    expect(await w3.exited).toBe(0);
    await eventually('w1 and w2 to act on the ring without w3', () => ringActedOn(['w1', 'w2']), 30_000);
    await sleep(500);
    feed.pause();

    expect(await settledCounts(ring.members[0]!.address, symbols, feed)).toEqual({ lost: 0, doubled: 0 });
    // The scenario happened: w3 claimed w1's symbols after it was told to stop, and drained them.
    const w3Log = w3.output.join('\n');
    expect(w3Log.indexOf('"shutting down"')).toBeLessThan(w3Log.indexOf('"worker ready"'));
    expect(w3Log).toContain('peers subscribed to what they gain; draining');
  }, 120_000);

  it('hands over at the newer epoch when the new owner skipped the older one and owns nothing there', async () => {
    // w2 and w3 freeze. w1 is drained (epoch E1: some of its symbols go to w3), then w3 (E2: they
    // go on to w2). w3 never announces them at E1: resumed, it acts on E2 only. For those, w1 must stop
    // waiting for w3 as soon as it learns of E2 and hand those symbols to w2 there, waiting for w2
    // to overlap (w2 resumes 6 s later). Waiting out its bound at E1 instead, it stopped
    // unoverlapped, and what the feed sent until w2 subscribed was lost.
    const { cluster, feed, ringActedOn, startFlowing } = await frozenPeersScenario(
      scenario,
      'skipped-new-owner',
      11,
      // Wide windows for a loaded machine: w2 resumes 2 s after w1's bound at E1 ended, and 2 s
      // before its bound and grace at E2 end.
      ['--handover-timeout-ms', '4000'],
    );
    const { w1, w2, w3, drained: moved } = await startFlowing('w3');

    w2.child.kill('SIGSTOP');
    w3.child.kill('SIGSTOP');
    await drainMember(cluster.redis, cluster.keys, 'w1');
    await sleep(200);
    await drainMember(cluster.redis, cluster.keys, 'w3');
    await sleep(6_000);
    w2.child.kill('SIGCONT');
    w3.child.kill('SIGCONT');
    const final = await eventually('w2 alone on the ring', () => ringActedOn(['w2']), 30_000);
    await sleep(500);
    feed.pause();

    // Only those: w1's symbols that went to w2 at E1 waited for w2, frozen, and were handed over at
    // the bound, as they are by design.
    expect(await settledCounts(final.members[0]!.address, moved, feed)).toEqual({ lost: 0, doubled: 0 });
    expect(w1.output.join('\n')).toContain('new owner will not take over at this epoch');
  }, 120_000);

  it('waits for the worker still applying a symbol the owner named by the ring never took', async () => {
    // w1 and w2 freeze (SIGSTOP). w1 is drained (its symbols go to w2 or w3), then w2 (all of them
    // go to w3). w3 acts on both epochs and waits for w2, the owner its last ring named, for the
    // symbols that went w1 -> w2 -> w3. But w2 never took them: resumed, it acts on the newest epoch
    // only, hands over its own symbols and leaves the ring. w1 still applies them (it reads what
    // the feed sent while it was frozen) and hands them to w3 once it acts on an epoch. w3 must
    // wait for those finals: going live from w1's last periodic checkpoint as soon as w2 left the
    // ring refused them, and lost what w1 applied since.
    const { cluster, feed, symbols, ringActedOn, epochOf, startFlowing } = await frozenPeersScenario(
      scenario,
      'holder-skipped',
      7,
    );
    // The symbols of the scenario: w1's that a drain of w1 gives to w2.
    const { w1, w2, w3, drained: chained } = await startFlowing('w2');

    w1.child.kill('SIGSTOP');
    w2.child.kill('SIGSTOP');
    // What the feed sends meanwhile reaches w1 alone, to apply once it resumes.
    await sleep(500);
    // w3 acts on each drain's epoch: on the second, its last ring names w2 as those symbols' owner.
    for (const id of ['w1', 'w2']) {
      const { epoch } = await drainMember(cluster.redis, cluster.keys, id);
      await eventually(
        `w3 to act on the epoch that drains ${id}`,
        async () => ((await epochOf('w3')) ?? 0) >= epoch || undefined,
        30_000,
      );
    }
    await sleep(300);
    w2.child.kill('SIGCONT');
    await eventually(
      'w2 to leave the ring, and w3 to act on that',
      () => ringActedOn(['w1', 'w3'], ['w3']),
      30_000,
    );
    await sleep(300);
    w1.child.kill('SIGCONT');
    const final = await eventually('w1 to leave the ring', () => ringActedOn(['w3']), 30_000);
    await sleep(500);
    feed.pause();

    expect(await settledCounts(final.members[0]!.address, symbols, feed)).toEqual({ lost: 0, doubled: 0 });
    // The scenario happened: w3 waited for w1 for exactly the symbols w2 never took.
    const waited = w3.output.find((line) => line.includes('owner named by the ring left without taking'));
    expect(waited === undefined ? undefined : JSON.parse(waited)).toMatchObject({
      symbols: chained.length,
      holders: ['w1'],
    });
  }, 120_000);
});

/**
 * A test's own cluster in Redis and its simulator, and the workers it starts: all stopped after each
 * test. `begin` starts the simulator paused, with its symbols already in the cluster's universe.
 */
function scenarioStoppedAfterEach(): {
  readonly workers: WorkerProcess[];
  begin: (
    label: string,
    simulator: SimulatorInput & { symbols: readonly string[] },
  ) => Promise<{ cluster: TestCluster; feed: RunningSimulator }>;
} {
  const workers: WorkerProcess[] = [];
  let env: TestCluster | undefined;
  let sim: RunningSimulator | undefined;
  afterEach(async () => {
    await stopAll(workers);
    workers.length = 0;
    await sim?.close();
    sim = undefined;
    await env?.cleanup();
    env = undefined;
  });
  return {
    workers,
    begin: async (label, simulator) => {
      const cluster = await testCluster(label);
      env = cluster;
      const feed = await startSimulator(simulator);
      sim = feed;
      feed.pause();
      await addSymbols(cluster.redis, cluster.keys, simulator.symbols);
      return { cluster, feed };
    },
  };
}

/**
 * A scenario whose workers are frozen or stopped for seconds: Polygon, 40 symbols at 600 trades/s,
 * and workers with a lease long enough to outlast a freeze on a loaded machine.
 */
async function frozenPeersScenario(
  { workers, begin }: ReturnType<typeof scenarioStoppedAfterEach>,
  label: string,
  seed: number,
  extraArgs: readonly string[] = [],
): Promise<{
  cluster: TestCluster;
  feed: RunningSimulator;
  symbols: string[];
  start: (id: string) => WorkerProcess;
  /** The ring if its members are `ids`, and those of `acting` (default: all) act on its epoch. */
  ringActedOn: (ids: readonly string[], acting?: readonly string[]) => Promise<RingRecord | undefined>;
  /** The epoch `id` acts on. */
  epochOf: (id: string) => Promise<number | undefined>;
  /**
   * Starts w1, w2 and w3 and, once all three act on one ring, lets the feed flow for 500 ms; returns
   * them with `drained`: w1's symbols that a drain of w1 gives to `to` (checked not to be none).
   */
  startFlowing: (to: string) => Promise<{
    w1: WorkerProcess;
    w2: WorkerProcess;
    w3: WorkerProcess;
    drained: string[];
  }>;
}> {
  const symbols = generateSymbols(40);
  const { cluster, feed } = await begin(label, { protocol: polygon, symbols, rate: 600, seed });
  const start = (id: string): WorkerProcess => {
    const worker = startWorker(id, {
      prefix: cluster.prefix,
      cluster: cluster.cluster,
      feedUrl: feed.wsUrl,
      extraArgs: [...STEADY, '--lease-ms', '15000', ...extraArgs],
    });
    workers.push(worker);
    return worker;
  };
  const epochOf = async (id: string): Promise<number | undefined> => {
    const record = await readRingRecord(cluster.redis, cluster.keys);
    const member = record.members.find((m) => m.id === id);
    return member === undefined ? undefined : actingEpoch(member.address);
  };
  const ringActedOn = async (
    ids: readonly string[],
    acting: readonly string[] = ids,
  ): Promise<RingRecord | undefined> => {
    const record = await readRingRecord(cluster.redis, cluster.keys);
    if (record.members.map((m) => m.id).join(',') !== ids.join(',')) return undefined;
    for (const member of record.members)
      if (acting.includes(member.id) && (await actingEpoch(member.address)) !== record.epoch)
        return undefined;
    return record;
  };
  const startFlowing = async (
    to: string,
  ): Promise<{ w1: WorkerProcess; w2: WorkerProcess; w3: WorkerProcess; drained: string[] }> => {
    const [w1, w2, w3] = ['w1', 'w2', 'w3'].map(start) as [WorkerProcess, WorkerProcess, WorkerProcess];
    const ring = await eventually(
      'w1, w2 and w3 to act on one ring',
      () => ringActedOn(['w1', 'w2', 'w3']),
      30_000,
    );
    const before = new Assignment(ring, symbols);
    const after = new Assignment(withDraining(ring, 'w1'), symbols);
    const drained = symbols.filter(
      (symbol) => before.ownerOf(symbol) === 'w1' && after.ownerOf(symbol) === to,
    );
    expect(drained.length).toBeGreaterThan(0);
    feed.resume();
    await sleep(500);
    return { w1, w2, w3, drained };
  };
  return { cluster, feed, symbols, start, ringActedOn, epochOf, startFlowing };
}

/** The ring once it has `members` members and every one of them acts on it. */
/** Workers w1, w2 and w3 of `cluster` on `feed`, each with the arguments `argsOf` gives it. */
function startThree(
  cluster: TestCluster,
  feed: RunningSimulator,
  argsOf: (id: string) => readonly string[],
): WorkerProcess[] {
  return ['w1', 'w2', 'w3'].map((id) =>
    startWorker(id, {
      prefix: cluster.prefix,
      cluster: cluster.cluster,
      feedUrl: feed.wsUrl,
      extraArgs: argsOf(id),
    }),
  );
}

async function ringOf(cluster: TestCluster, members: number): Promise<RingRecord> {
  return eventually(
    `${members} members acting on one ring`,
    async () => {
      const record = await readRingRecord(cluster.redis, cluster.keys);
      return record.members.length === members && (await everyMemberActsOn(record)) ? record : undefined;
    },
    30_000,
  );
}

/** Waits until the members of `ring` follow at least `symbols` shadows between them, none warming. */
async function everyStandbyWarm(ring: RingRecord, symbols: number): Promise<void> {
  await eventually(
    'every symbol to have a warm standby',
    async () => {
      const counts = await Promise.all(
        ring.members.map(async (m) => {
          const text = await (await fetch(`${m.address}/metrics`)).text();
          const read = (name: string): number =>
            Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
          return [read('tickring_standby_symbols'), read('tickring_standby_warming_symbols')] as const;
        }),
      );
      const shadows = counts.reduce((sum, [n]) => sum + n, 0);
      const warming = counts.reduce((sum, [, n]) => sum + n, 0);
      return shadows >= symbols && warming === 0 ? true : undefined;
    },
    30_000,
  );
}

/**
 * Lost and doubled trades over `symbols` once the paused simulator's trades are all applied (or
 * after 10 s), asking the member at `address` for the cluster-wide list, or for each symbol on its
 * own (`each`: when a frozen member could not answer its part of the list).
 */
async function settledCounts(
  address: string,
  symbols: readonly string[],
  feed: RunningSimulator,
  ask: 'list' | 'each' = 'list',
): Promise<{ lost: number; doubled: number }> {
  const truth = feed.stats().symbols;
  let counts = new Map<string, number>();
  const read = async (): Promise<Summary[]> =>
    ask === 'list'
      ? (await getJson<{ symbols: Summary[] }>(`${address}/v1/symbols?limit=1000`)).body.symbols
      : Promise.all(symbols.map(async (s) => (await getJson<Summary>(`${address}/v1/symbols/${s}`)).body));
  await eventually(
    'every trade received to be applied',
    async () => {
      counts = new Map((await read()).map((s) => [s.symbol, s.trades]));
      return symbols.every((s) => counts.get(s) === (truth[s]?.trades ?? 0)) ? true : undefined;
    },
    10_000,
  ).catch(() => undefined);
  return miscounted(symbols, truth, (s) => counts.get(s) ?? 0);
}

function miscounted(
  symbols: readonly string[],
  truth: Readonly<Record<string, { trades: number } | undefined>>,
  counted: (symbol: string) => number,
): { lost: number; doubled: number } {
  let lost = 0;
  let doubled = 0;
  for (const symbol of symbols) {
    const diff = counted(symbol) - (truth[symbol]?.trades ?? 0);
    if (diff < 0) lost -= diff;
    else doubled += diff;
  }
  return { lost, doubled };
}

/** Lines of a worker's log worth reading when a hand-over miscounted: warnings, and every move. */
const HAND_OVER_LOG = /"level":[4-6]0|epoch|hand|take-over|stand|final|quiet|overlap|fence/;

/**
 * For a run that lost or doubled trades: each miscounted symbol, then each worker's hand-over log,
 * so a failure in CI can be traced from its output alone (the worker processes are gone by then).
 */
function printHandOverLogs(
  workers: readonly WorkerProcess[],
  symbols: readonly string[],
  truth: Readonly<Record<string, { trades: number } | undefined>>,
  counted: ReadonlyMap<string, Summary>,
): void {
  const countOf = (symbol: string): number => counted.get(symbol)?.trades ?? 0;
  const sentOf = (symbol: string): number => truth[symbol]?.trades ?? 0;
  const wrong = symbols
    .filter((symbol) => countOf(symbol) !== sentOf(symbol))
    .map((symbol) => `${symbol} ${countOf(symbol)}/${sentOf(symbol)}`);
  console.log(`HANDOVER-MISCOUNTED (counted/sent) ${wrong.join(', ')}`);
  for (const worker of workers) {
    const lines = worker.output.filter((line) => HAND_OVER_LOG.test(line));
    console.log(`HANDOVER-LOG ${worker.id}: ${lines.length} lines\n${lines.slice(-150).join('\n')}`);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('standby replicas (--replicas 2)', () => {
  const { workers, begin } = scenarioStoppedAfterEach();

  it('loses no trade when an owner is SIGKILLed: its standby is promoted', async () => {
    const { lost, doubled, sent, promoted } = await killUnderFlow({ joinBeforeReap: false });
    expect(sent).toBeGreaterThan(1_000);
    expect({ lost, doubled }).toEqual({ lost: 0, doubled: 0 });
    expect(promoted).toBeGreaterThan(0);
  }, 120_000);

  it('loses no trade when an owner is SIGKILLed before its standby warmed: the buffer is kept', async () => {
    // No checkpoint was ever written, so the dead owner's trades exist only in the standbys'
    // buffers, which must become the owned symbols rather than start over at the reap.
    const { lost, doubled, sent } = await killUnderFlow({ joinBeforeReap: false, coldStandbys: true });
    expect(sent).toBeGreaterThan(1_000);
    expect({ lost, doubled }).toEqual({ lost: 0, doubled: 0 });
  }, 120_000);

  it('loses no trade when a worker joins before the killed owner is reaped: standbys stand in', async () => {
    // The join moves some of the dead owner's symbols to the joiner (which waits for a final
    // checkpoint the dead owner never writes) and changes the standby of others to a worker that
    // cannot warm from a dead owner: the previous standbys' shadows must stand in for it.
    const { lost, doubled, sent, standIns } = await killUnderFlow({ joinBeforeReap: true });
    expect(sent).toBeGreaterThan(1_000);
    expect({ lost, doubled }).toEqual({ lost: 0, doubled: 0 });
    expect(standIns).toBeGreaterThan(0);
  }, 120_000);

  it('goes on at the epoch that reaps a previous owner killed mid-hand-over, not after the bound', async () => {
    // As above, with a hand-over bound far longer than the lease: the joiner waits at the join's
    // epoch for finals the dead owner never writes, and the standbys standing in for it wait out
    // the bound for it to hand over itself. Once the ring reaps it, neither wait can end any
    // other way: both must go on at that epoch, well within the bound, and lose nothing.
    const { lost, doubled, standIns } = await killUnderFlow({
      joinBeforeReap: true,
      handoverTimeoutMs: 20_000,
    });
    expect({ lost, doubled }).toEqual({ lost: 0, doubled: 0 });
    expect(standIns).toBeGreaterThan(0);
  }, 120_000);

  it('stands in for an owner frozen before the ring reaps it, without waiting out the bound', async () => {
    // w1 freezes (SIGSTOP) and its lease outlasts the test, so the ring keeps it. w4 joins and takes
    // some of w1's symbols: w1 cannot hand them over, and their standbys must notice that w1 stopped
    // renewing its lease and write the finals from their shadows, long before the 20 s bound.
    const symbols = generateSymbols(60);
    const { cluster, feed } = await begin('frozen-owner', {
      protocol: polygon,
      symbols,
      rate: 500,
      seed: 17,
    });
    const start = (id: string, extra: readonly string[] = []): void => {
      workers.push(
        startWorker(id, {
          prefix: cluster.prefix,
          cluster: cluster.cluster,
          feedUrl: feed.wsUrl,
          extraArgs: [...STEADY, '--replicas', '2', '--handover-timeout-ms', '20000', ...extra],
        }),
      );
    };
    start('w1', ['--lease-ms', '60000', '--heartbeat-ms', '500']);
    for (const id of ['w2', 'w3']) start(id);
    const before = await ringOf(cluster, 3);
    feed.resume();
    await everyStandbyWarm(before, symbols.length);
    const frozen = workers[0]!.child;
    frozen.kill('SIGSTOP');
    try {
      start('w4');
      const joined = await eventually(
        'w4 to act on the ring beside the frozen w1',
        async () => {
          const record = await readRingRecord(cluster.redis, cluster.keys);
          const live = { ...record, members: record.members.filter((m) => m.id !== 'w1') };
          return record.members.length === 4 && (await everyMemberActsOn(live)) ? record : undefined;
        },
        30_000,
      );
      const was = new Assignment(before, symbols);
      const now = new Assignment(joined, symbols);
      const moved = symbols.filter((s) => was.ownerOf(s) === 'w1' && now.ownerOf(s) === 'w4');
      expect(moved.length).toBeGreaterThan(0);
      await sleep(4_000);
      feed.pause();
      const w4 = joined.members.find((m) => m.id === 'w4')!;
      expect(await settledCounts(w4.address, moved, feed, 'each')).toEqual({ lost: 0, doubled: 0 });
    } finally {
      frozen.kill('SIGCONT');
    }
  }, 120_000);

  it('keeps a draining standby until it stood in for an owner that died before the reap', async () => {
    // w1 dies, and the worker holding the warm shadows of most of its symbols is stopped (SIGTERM)
    // before the ring reaps w1: it drains, owning nothing, but its shadows are the only copies of
    // what w1 applied since its last checkpoint (the new standbys cannot warm from a dead owner). It
    // must stay until the reap and stand in for w1, not leave with them.
    const symbols = generateSymbols(60);
    const { cluster, feed } = await begin('draining-standby', {
      protocol: polygon,
      symbols,
      rate: 500,
      seed: 19,
    });
    // w1's lease outlasts the drain (its symbols' hand-overs to the dead w1 time out first).
    workers.push(
      ...startThree(cluster, feed, (id) => [
        ...STEADY,
        '--lease-ms',
        id === 'w1' ? '9000' : '4000',
        '--replicas',
        '2',
      ]),
    );
    const before = await ringOf(cluster, 3);
    feed.resume();
    await everyStandbyWarm(before, symbols.length);
    await sleep(1_000);
    const ring = new Assignment(before, symbols);
    const dying = symbols.filter((s) => ring.ownerOf(s) === 'w1');
    const byStandby = (id: string): string[] => dying.filter((s) => ring.standbyOf(s) === id);
    const leaver = byStandby('w2').length >= byStandby('w3').length ? 'w2' : 'w3';
    const covered = byStandby(leaver);
    expect(covered.length).toBeGreaterThan(0);
    workers[0]!.child.kill('SIGKILL');
    await workers[0]!.exited;
    const leaving = workers.find((w) => w.id === leaver)!;
    leaving.child.kill('SIGTERM');
    const stayer = before.members.find((m) => m.id !== 'w1' && m.id !== leaver)!;
    await eventually(
      'the ring to hold the one worker left',
      async () => {
        const record = await readRingRecord(cluster.redis, cluster.keys);
        return record.members.length === 1 && record.members[0]!.id === stayer.id ? true : undefined;
      },
      30_000,
    );
    await leaving.exited;
    await sleep(1_000);
    feed.pause();
    expect(await settledCounts(stayer.address, covered, feed, 'each')).toEqual({ lost: 0, doubled: 0 });
    expect(leaving.output.join('\n')).toContain('holding live shadows of silent owners');
  }, 120_000);

  async function killUnderFlow(options: {
    joinBeforeReap: boolean;
    coldStandbys?: boolean;
    /** Each side's hand-over bound; counts are taken within 12 s of the reap whatever it is. */
    handoverTimeoutMs?: number;
  }): Promise<{
    lost: number;
    doubled: number;
    sent: number;
    promoted: number;
    standIns: number;
  }> {
    const symbols = generateSymbols(60);
    const { cluster, feed } = await begin('standby', { protocol: polygon, symbols, rate: 500, seed: 11 });
    const start = (id: string): void => {
      workers.push(
        startWorker(id, {
          prefix: cluster.prefix,
          cluster: cluster.cluster,
          feedUrl: feed.wsUrl,
          // Cold: checkpoints (and so warm-ups) only once a minute, long after the kill.
          extraArgs: [
            ...STEADY,
            '--lease-ms',
            '3000',
            '--replicas',
            '2',
            ...(options.coldStandbys === true ? ['--checkpoint-ms', '60000'] : []),
            ...(options.handoverTimeoutMs === undefined
              ? []
              : ['--handover-timeout-ms', String(options.handoverTimeoutMs)]),
          ],
        }),
      );
    };
    const members = async (): Promise<string[]> =>
      (await readRingRecord(cluster.redis, cluster.keys)).members.map((m) => m.id).sort();
    // w1 first: it owns every symbol before handing some over, so the standbys of those it keeps
    // are new shadows, not a previous owner's kept aggregate (which would be warm at once).
    start('w1');
    await eventually('w1 in the ring', async () => ((await members()).length === 1 ? true : undefined));
    for (const id of ['w2', 'w3']) start(id);
    await eventually(
      'three members',
      async () => ((await members()).length === 3 ? true : undefined),
      30_000,
    );
    // Every symbol gets a standby shadow, warmed from its owner's checkpoints (every 200 ms).
    const metric = async (address: string, name: string): Promise<number> => {
      const text = await (await fetch(`${address}/metrics`)).text();
      return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    };
    const summed = async (name: string): Promise<number> => {
      const record = await readRingRecord(cluster.redis, cluster.keys);
      const values = await Promise.all(record.members.map((m) => metric(m.address, name)));
      return values.reduce((a, b) => a + b, 0);
    };
    if (options.coldStandbys === true) {
      // Every shadow subscribed before the first trade. Those of symbols handed over at start-up
      // are live (their old owner kept its aggregate), the rest are still cold when w1 dies, and
      // w1's own symbols are among them. (More shadows than symbols: some retire, see
      // `Standbys.retire`.)
      await eventually('every symbol to have a standby', async () =>
        (await summed('tickring_standby_symbols')) >= symbols.length ? true : undefined,
      );
      await sleep(500);
      feed.resume();
      await sleep(2_000);
      expect(await summed('tickring_standby_warming_symbols')).toBeGreaterThan(0);
    } else {
      feed.resume();
      // A loaded machine may take seconds to warm them all; a kill before that is the cold test.
      await eventually(
        'every symbol to have a warm standby',
        async () =>
          (await summed('tickring_standby_symbols')) >= symbols.length &&
          (await summed('tickring_standby_warming_symbols')) === 0
            ? true
            : undefined,
        30_000,
      );
      await sleep(1_000);
    }

    workers[0]!.child.kill('SIGKILL');
    await workers[0]!.exited;
    if (options.joinBeforeReap) {
      start('w4');
      await eventually(
        'the joiner in the ring beside the dead owner',
        async () => ((await members()).join(',') === 'w1,w2,w3,w4' ? true : undefined),
        20_000,
      );
    }
    const after = options.joinBeforeReap ? 'w2,w3,w4' : 'w2,w3';
    await eventually(
      'the killed worker to be reaped',
      async () => ((await members()).join(',') === after ? true : undefined),
      20_000,
    );
    await sleep(2_000);
    feed.pause();

    const truth = feed.stats().symbols;
    const survivors = (await readRingRecord(cluster.redis, cluster.keys)).members;
    let answers: Summary[] = [];
    await eventually(
      'every owner to have applied what it received',
      async () => {
        answers = (await getJson<{ symbols: Summary[] }>(`${survivors[0]!.address}/v1/symbols?limit=1000`))
          .body.symbols;
        return answers.every((a) => a.trades === (truth[a.symbol]?.trades ?? 0)) ? true : undefined;
      },
      10_000,
    ).catch(() => undefined);
    const bySymbol = new Map(answers.map((a) => [a.symbol, a.trades]));
    const sent = symbols.reduce((sum, s) => sum + (truth[s]?.trades ?? 0), 0);
    const { lost, doubled } = miscounted(symbols, truth, (s) => bySymbol.get(s) ?? 0);
    if (lost > 0 || doubled > 0) {
      // Which symbols, and what the workers warned about, is what a failure needs to be traced.
      const wrong = symbols
        .map((s) => `${s}:${truth[s]?.trades ?? 0}/${bySymbol.get(s) ?? 0}`)
        .filter((entry) => !/:(\d+)\/\1$/.test(entry));
      console.log(`STANDBY-WRONG ${wrong.join(' ')}`);
      for (const worker of workers) {
        for (const line of worker.output.filter((l) => /"level":(40|50)|standb|stand.in|promot/i.test(l))) {
          console.log(`${worker.id} ${line}`);
        }
      }
    }
    return {
      lost,
      doubled,
      sent,
      promoted: await summed('tickring_standby_promotions_total'),
      standIns: await summed('tickring_standby_stand_ins_total'),
    };
  }
});
