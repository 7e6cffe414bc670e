/**
 * Membership against a real Redis: leases, batched joins, static rejoin, reaping, drain, pins, the
 * polling safety net under pub/sub, the epoch floor after Redis lost its data, and self-fencing.
 * Each test runs `Membership` objects in this process with their own key prefix.
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Membership, readRingRecord, type MembershipOptions } from '../../src/cluster/membership.js';
import type { RingRecord } from '../../src/cluster/ring-record.js';
import { drainMember, noticeDrain, pinSymbol, unpinSymbol } from '../../src/cluster/placement-admin.js';
import { placementCounts, type Assignment } from '../../src/cluster/ring.js';
import { addSymbols, listSymbols, removeSymbols } from '../../src/cluster/universe.js';
import { TickringError } from '../../src/errors.js';
import { allKeys, ringScriptKeys } from '../../src/redis/keys.js';
import { registerScripts } from '../../src/redis/scripts.js';
import { REDIS_URL, testCluster, type TestCluster } from '../support/redis.js';
import { eventually } from '../support/workers.js';

const silent = pino({ level: 'silent' });
const FAST: Partial<MembershipOptions> = {
  leaseMs: 900,
  heartbeatMs: 100,
  pollMs: 100,
  settleMs: 0,
  settleMaxMs: 0,
};

describe('membership in Redis', () => {
  let env: TestCluster;
  const opened: Redis[] = [];
  const members: Membership[] = [];

  beforeEach(async () => {
    env = await testCluster('membership');
    await addSymbols(env.redis, env.keys, ['AAPL', 'MSFT', 'IBM', 'ORCL', 'TSLA', 'NVDA']);
  });

  afterEach(async () => {
    for (const member of members.splice(0)) member.close();
    for (const redis of opened.splice(0)) redis.disconnect();
    await env.cleanup();
  });

  function connection(): Redis {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    registerScripts(redis);
    redis.on('error', () => undefined);
    opened.push(redis);
    return redis;
  }

  function member(
    id: string,
    options: Partial<MembershipOptions> = {},
    subscriber = connection(),
  ): Membership {
    const m = new Membership(
      connection(),
      subscriber,
      env.keys,
      { ...FAST, ...options, id, address: `http://${id}` },
      silent,
    );
    members.push(m);
    return m;
  }

  async function ringIds(): Promise<string> {
    const record = await readRingRecord(env.redis, env.keys);
    return record.members.map((m) => m.id).join(',');
  }

  it('admits members that join together in one epoch once joins stop for the settle window', async () => {
    const before = (await readRingRecord(env.redis, env.keys)).epoch;
    const settle = { settleMs: 300, settleMaxMs: 3_000 };
    const all = ['m1', 'm2', 'm3', 'm4'].map((id) => member(id, settle));
    for (const m of all) {
      await m.start();
      expect(m.waiting).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await ringIds()).toBe('');
    await eventually('all four admitted', async () =>
      (await ringIds()) === 'm1,m2,m3,m4' ? true : undefined,
    );
    const record = await readRingRecord(env.redis, env.keys);
    expect(record.epoch).toBe(before + 1);
    expect(record.reason).toContain('join m1,m2,m3,m4');
    await eventually('every member acts on it', () =>
      all.every((m) => m.epoch === record.epoch && !m.waiting) ? true : undefined,
    );
  });

  it('bounds the wait by settleMaxMs while joins keep coming', async () => {
    const settle = { settleMs: 400, settleMaxMs: 600 };
    const started = Date.now();
    for (let i = 0; i < 12; i++) {
      await member(`k${i}`, settle).start();
      await new Promise((resolve) => setTimeout(resolve, 100));
      if ((await ringIds()) !== '') break;
    }
    const admittedAfter = Date.now() - started;
    expect(await ringIds()).not.toBe('');
    expect(admittedAfter).toBeLessThan(1_500);
  });

  it('lets a member with the same id and info rejoin without an epoch change (static membership)', async () => {
    const first = member('s1', { staticMembership: true });
    await first.start();
    await member('s2').start();
    await eventually('both on the ring', async () => ((await ringIds()) === 's1,s2' ? true : undefined));
    const epoch = (await readRingRecord(env.redis, env.keys)).epoch;
    await first.leave();
    first.close();
    const again = member('s1', { staticMembership: true });
    await again.start();
    expect(again.waiting).toBe(false);
    expect(again.epoch).toBe(epoch);
    expect((await readRingRecord(env.redis, env.keys)).epoch).toBe(epoch);
    // A new address is a change of the ring.
    await again.leave();
    again.close();
    const moved = new Membership(
      connection(),
      connection(),
      env.keys,
      { ...FAST, staticMembership: true, id: 's1', address: 'http://s1-moved' },
      silent,
    );
    members.push(moved);
    await moved.start();
    const record = await readRingRecord(env.redis, env.keys);
    expect(record.epoch).toBe(epoch + 1);
    expect(record.reason).toContain('member s1 changed');
  });

  it('reaps a member whose lease lapsed and moves only its symbols', async () => {
    const a = member('r1');
    const b = member('r2');
    await a.start();
    await b.start();
    // Both in the record and in r2's own view: r2 may still act on a ring without r1 for a moment.
    await eventually('both on the ring', async () =>
      (await ringIds()) === 'r1,r2' && b.assignment?.record.members.length === 2 ? true : undefined,
    );
    const before = b.assignment!;
    a.close(); // stops heartbeats without leaving, like a crash
    const after = await eventually<Assignment>('r1 reaped', () =>
      b.assignment && b.assignment.record.members.length === 1 ? b.assignment : undefined,
    );
    expect(after.record.reason).toContain('reaped r1');
    for (const symbol of before.symbolsOf('r2')) expect(after.ownerOf(symbol)).toBe('r2');
    expect(after.symbolsOf('r2')).toHaveLength(6);
  });

  it('reaps a silent member the moment its lease lapses, not at the next heartbeat', async () => {
    // Heartbeats 700 ms out of phase: without reaping on time, the survivor's next heartbeat after
    // the victim's deadline comes about 700 ms late.
    const slow = { leaseMs: 3_000, heartbeatMs: 1_000 };
    const victim = member('v1', slow);
    const survivor = member('v2', slow);
    await victim.start();
    await new Promise((resolve) => setTimeout(resolve, 700));
    await survivor.start();
    victim.close(); // stops heartbeats without leaving, like a crash
    const deadline = victim.leaseDeadline;
    const reaped = await eventually<RingRecord>(
      'v1 reaped',
      async () => {
        const record = await readRingRecord(env.redis, env.keys);
        return record.reason.includes('reaped v1') ? record : undefined;
      },
      6_000,
    );
    expect(reaped.changedAt - deadline).toBeGreaterThanOrEqual(0);
    expect(reaped.changedAt - deadline).toBeLessThan(150);
  });

  it('builds the ring of a worker about to join from its notice, so the epoch finds it built', async () => {
    const first = member('p1');
    await first.start();
    await eventually('p1 on its ring', () =>
      first.assignment?.record.members.length === 1 ? true : undefined,
    );
    const joiner = member('p2');
    const before = { ...placementCounts };
    await joiner.noticeJoin();
    await eventually(
      'the ring with p2 built ahead',
      () => (placementCounts.computed > before.computed ? true : undefined),
      3_000,
      10,
    );
    const built = placementCounts.computed;
    await joiner.start();
    await eventually('p1 acts on the ring with p2', () =>
      first.assignment?.record.members.length === 2 ? true : undefined,
    );
    // Neither p1 nor the joiner (same process, same cache) computed it again at the epoch.
    expect(placementCounts.computed).toBe(built);
    expect(placementCounts.reused).toBeGreaterThan(before.reused);
  });

  /** Two members, started, each acting on the ring of both. */
  async function pair(first: string, second: string): Promise<[Membership, Membership]> {
    const both: [Membership, Membership] = [member(first), member(second)];
    for (const m of both) await m.start();
    await eventually('both on both rings', () =>
      both.every((m) => m.assignment?.record.members.length === 2) ? true : undefined,
    );
    return both;
  }

  it('builds the ring without a member whose lease is about to lapse, so the reap finds it built', async () => {
    const [victim, survivor] = await pair('c1', 'c2');
    const before = { ...placementCounts };
    let atReap: typeof placementCounts | undefined;
    survivor.on('assignment', (assignment: Assignment) => {
      if (assignment.record.reason.includes('reaped c1')) atReap = { ...placementCounts };
    });
    victim.close(); // stops heartbeats without leaving, like a crash
    const counts = await eventually('c2 acts on the ring without c1', () => atReap, 3_000, 10);
    // One build of that ring, before the epoch (the survivor saw the lease about to lapse), which
    // the epoch then reused; built at the epoch instead, nothing would have been reused.
    expect(counts.computed).toBe(before.computed + 1);
    expect(counts.reused).toBeGreaterThan(before.reused);
  });

  it('hands a drain notice on with the ring its drain will give, and waits for the answer', async () => {
    await addSymbols(env.redis, env.keys, ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'META', 'TSLA', 'AMD']);
    const [leaver, peer] = await pair('l1', 'l2');
    // l2 answers as a worker does once subscribed (`Worker.prepareForLeave`).
    const notices: [string, Assignment][] = [];
    peer.on('leaveNotice', (id, drained) => {
      notices.push([id, drained]);
      void peer.noticeLeaveReady(id);
    });
    const notice = await noticeDrain(env.redis, env.keys, 'l1', 5_000);
    expect(notice).toMatchObject({ peers: 1, ready: 1, unanswered: [] });
    expect(notice.ms).toBeLessThan(5_000);
    const [id, drained] = notices[0]!;
    expect(id).toBe('l1');
    // The ring a drain of l1 gives: l1 owns nothing, l2 everything, as the drain epoch will say.
    const universe = peer.assignment!.universe;
    expect(drained.symbolsOf('l1')).toEqual([]);
    expect(drained.symbolsOf('l2')).toHaveLength(universe.length);
    expect(leaver.assignment!.symbolsOf('l1').length).toBeGreaterThan(0);
    await drainMember(env.redis, env.keys, 'l1');
    const epoch = await eventually('l2 on the drain epoch', () =>
      peer.assignment?.isDraining('l1') === true ? peer.assignment : undefined,
    );
    for (const symbol of universe) expect(epoch.ownerOf(symbol)).toBe(drained.ownerOf(symbol));
    // A member draining already is told nothing, and nobody answers for it.
    expect(await noticeDrain(env.redis, env.keys, 'l1', 300)).toEqual({
      peers: 0,
      ready: 0,
      unanswered: [],
      ms: 0,
    });
    await env.redis.publish(env.keys.leaveNotices, '{"leaving":"l1"}');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(notices).toHaveLength(1);
  });

  it('tells a member that stopped renewing its lease from one that renewed since a mark', async () => {
    const [watcher] = await pair('v1', 'v2');
    const frozen = member('v3');
    await frozen.start();
    // Stops renewing, as a frozen process does; its lease runs on until the ring reaps it.
    frozen.close();
    await new Promise((resolve) => setTimeout(resolve, 100)); // a renewal on its way lands first
    const mark = watcher.renewalMark();
    const states = await eventually('v2 to renew and v3 to fall silent', async () => {
      const { silent, renewedSince } = await watcher.leaseStates(['v2', 'v3'], mark);
      return renewedSince.has('v2') && silent.has('v3') ? { silent, renewedSince } : undefined;
    });
    expect([...states.silent]).toEqual(['v3']);
    expect([...states.renewedSince]).toEqual(['v2']);
    expect(await watcher.silentMembers(['v2', 'v3'])).toEqual(new Set(['v3']));
  });

  it('waits for the answers only as long as its bound: a peer that never answers costs that much', async () => {
    await pair('s1', 's2');
    const notice = await noticeDrain(env.redis, env.keys, 's1', 300);
    expect(notice).toMatchObject({ peers: 1, ready: 0, unanswered: ['s2'] });
    expect(notice.ms).toBeGreaterThanOrEqual(290);
    expect(notice.ms).toBeLessThan(2_000);
  });

  it('ignores malformed leave notices and answers meant for another member', async () => {
    const first = member('r1');
    await first.start();
    await eventually('r1 on its ring', () =>
      first.assignment?.record.members.length === 1 ? true : undefined,
    );
    const heard: unknown[] = [];
    first.on('leaveNotice', (id) => heard.push(id));
    for (const notice of [
      'not json',
      '{"leaving":""}',
      '{"leaving":"r9"}',
      '{"leaving":"r1"}',
      '{"ready":"r2","for":"r3"}',
      '{"ready":"r2"}',
      '{"leaving":"r1","extra":1}',
    ])
      await env.redis.publish(env.keys.leaveNotices, notice);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(heard).toEqual([]);
    expect(first.status).toBe('member');
  });

  it('ignores malformed join notices and notices of members already on the ring', async () => {
    const first = member('q1');
    await first.start();
    await eventually('q1 on its ring', () =>
      first.assignment?.record.members.length === 1 ? true : undefined,
    );
    const before = placementCounts.computed;
    for (const notice of [
      'not json',
      '{"id":"","weight":1}',
      '{"id":"q9","weight":0.5}',
      '{"id":"q1","weight":1}',
    ])
      await env.redis.publish(env.keys.joinNotices, notice);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(placementCounts.computed).toBe(before);
    expect(first.status).toBe('member');
  });

  it('converges through the poll when pub/sub delivers nothing', async () => {
    const deaf = connection();
    const quiet = member('p1', {}, deaf);
    await quiet.start();
    // No subscription: from now on this member hears of new epochs only by polling.
    await deaf.unsubscribe();
    const changedAt = Date.now();
    const { epoch } = await addSymbols(env.redis, env.keys, ['AMZN']);
    await eventually('the poll to find the new epoch', () => (quiet.epoch === epoch ? true : undefined));
    expect(Date.now() - changedAt).toBeLessThan(100 + 150);
    expect(quiet.assignment!.ownerOf('AMZN')).toBe('p1');
  });

  it('fences a member that cannot reach Redis before its lease can lapse, then rejoins', async () => {
    const commands = connection();
    const m = new Membership(commands, connection(), env.keys, { ...FAST, id: 'f1', address: 'x' }, silent);
    members.push(m);
    await m.start();
    const fenced = new Promise<number>((resolve) => m.once('fenced', () => resolve(performance.now())));
    // Cut the command connection: every heartbeat fails from now on.
    commands.disconnect();
    const fencedAt = await fenced;
    const [seconds, micros] = await env.redis.time();
    const redisNow = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    expect(m.leaseValid).toBe(false);
    // By its own clock, 90 % into the lease counted from the last renewal it sent...
    expect(fencedAt - m.lastRenewedAt).toBeGreaterThanOrEqual(900 * 0.9 - 5);
    expect(fencedAt - m.lastRenewedAt).toBeLessThan(900);
    // ...so before Redis could have expired the lease.
    expect(redisNow).toBeLessThan(m.leaseDeadline);
    await commands.connect();
    await eventually('rejoined', () => (m.leaseValid ? true : undefined), 5_000);
  });

  it('keeps epochs going up after Redis lost the ring, and puts the seed symbols back', async () => {
    const m = member('e1', { seedSymbols: ['AAPL', 'MSFT'] });
    await m.start();
    await eventually('on the ring', async () => ((await ringIds()) === 'e1' ? true : undefined));
    const before = m.highestEpoch;
    // What a Redis restarted empty looks like for this cluster.
    await env.redis.del(...allKeys(env.keys));
    await eventually('rejoined and on the ring again', async () =>
      (await ringIds()) === 'e1' && m.leaseValid ? true : undefined,
    );
    const record = await readRingRecord(env.redis, env.keys);
    expect(record.epoch).toBeGreaterThan(before);
    expect(await listSymbols(env.redis, env.keys)).toEqual(['AAPL', 'MSFT']);
    await eventually('acts on the new ring', () => (m.assignment?.size === 2 ? true : undefined));
  });

  it('drains a member: off the ring but listed as draining, then gone when it leaves', async () => {
    const a = member('d1');
    const b = member('d2');
    await a.start();
    await b.start();
    await eventually('both on the ring', async () => ((await ringIds()) === 'd1,d2' ? true : undefined));
    const { changed } = await drainMember(env.redis, env.keys, 'd1');
    expect(changed).toBe(true);
    const drained = await eventually<Assignment>('d1 sees the drain', () =>
      a.assignment?.isDraining('d1') ? a.assignment : undefined,
    );
    expect(a.drained).toBe(true);
    expect(drained.symbolsOf('d1')).toEqual([]);
    expect(drained.symbolsOf('d2')).toHaveLength(6);
    await expect(drainMember(env.redis, env.keys, 'd2')).rejects.toThrow(/only active worker/);
    await expect(drainMember(env.redis, env.keys, 'nobody')).rejects.toMatchObject({
      code: 'TICKRING_ERR_NOT_MEMBER',
    });
    await a.leave();
    expect(await ringIds()).toBe('d2');
  });

  it('pins and unpins through the script, refusing unknown symbols and members', async () => {
    const a = member('q1');
    const b = member('q2');
    await a.start();
    await b.start();
    await eventually('both on the ring', async () => ((await ringIds()) === 'q1,q2' ? true : undefined));
    const owner = b.assignment!.ownerOf('AAPL')!;
    const other = owner === 'q1' ? 'q2' : 'q1';
    const pinned = await pinSymbol(env.redis, env.keys, 'AAPL', other);
    expect(pinned.changed).toBe(true);
    expect((await readRingRecord(env.redis, env.keys)).pins).toEqual({ AAPL: other });
    await eventually('pin applied', () => (b.assignment?.ownerOf('AAPL') === other ? true : undefined));
    expect((await pinSymbol(env.redis, env.keys, 'AAPL', other)).changed).toBe(false);
    await expect(pinSymbol(env.redis, env.keys, 'NOPE', other)).rejects.toThrow(/not in the universe/);
    await expect(pinSymbol(env.redis, env.keys, 'AAPL', 'q9')).rejects.toBeInstanceOf(TickringError);
    await expect(pinSymbol(env.redis, env.keys, 'a$b', other)).rejects.toThrow(/invalid symbol/);
    expect((await unpinSymbol(env.redis, env.keys, 'AAPL')).changed).toBe(true);
    await eventually('unpinned', () => (b.assignment?.ownerOf('AAPL') === owner ? true : undefined));
    // Removing a symbol drops its pin with it.
    await pinSymbol(env.redis, env.keys, 'IBM', 'q1');
    await removeSymbols(env.redis, env.keys, ['IBM']);
    expect((await readRingRecord(env.redis, env.keys)).pins).toEqual({});
  });

  it('reads the universe again only at an epoch that changed it', async () => {
    const a = member('u1');
    await a.start();
    await eventually('on the ring', () =>
      a.assignment?.record.members.length === 1 ? a.assignment : undefined,
    );
    const seeded = (await readRingRecord(env.redis, env.keys)).universe;
    expect(seeded).toBeDefined();
    // Written by hand, around set-symbols: no epoch says the universe changed, so it is not read.
    await env.redis.sadd(env.keys.symbols, 'AMD');
    await pinSymbol(env.redis, env.keys, 'AAPL', 'u1');
    const pinned = await eventually('the pin acted on', () =>
      a.assignment?.record.reason.startsWith('pin') === true ? a.assignment : undefined,
    );
    expect(pinned.record.universe).toBe(seeded);
    expect([...pinned.symbols()]).not.toContain('AMD');
    // An epoch of set-symbols names itself as the universe's: read again, the hand-written one too.
    const { epoch } = await addSymbols(env.redis, env.keys, ['INTC']);
    const added = await eventually('the new universe acted on', () =>
      a.assignment?.epoch === epoch ? a.assignment : undefined,
    );
    expect(added.record.universe).toBe(epoch);
    expect([...added.symbols()]).toEqual(expect.arrayContaining(['AMD', 'INTC', 'AAPL']));
  });

  it('rejects malformed symbols before writing anything', async () => {
    await expect(addSymbols(env.redis, env.keys, ['OK', 'bad sym'])).rejects.toThrow(
      /invalid symbol "bad sym"/,
    );
    expect(await listSymbols(env.redis, env.keys)).not.toContain('OK');
  });

  it('passes the ring keys in the order ring-lib expects', () => {
    const keys = ringScriptKeys(env.keys);
    expect(keys).toEqual([
      env.keys.leases,
      env.keys.members,
      env.keys.ring,
      env.keys.pins,
      env.keys.events,
      env.keys.joining,
      env.keys.draining,
    ]);
  });
});
