/**
 * A worker's membership in the ring: it joins with a lease, renews it by heartbeat, learns of new
 * epochs through pub/sub and a polling safety net, and fences itself before its lease can have
 * lapsed.
 *
 * Self-fencing uses only this process's monotonic clock: a heartbeat sent at local time T extends the
 * lease to (Redis time when it ran) + leaseMs, which is no earlier than T + leaseMs; so the lease is
 * surely valid until T + leaseMs, less a margin for clock-rate drift. When that moment passes
 * without a newer successful heartbeat, the worker stops ingesting and writing on its own, without
 * waiting to be told, and keeps trying to rejoin.
 *
 * Calm rebalancing: a new member holds a lease but waits (`joining`) until nobody else asked to join
 * for `settleMs`, or until the first of them waited `settleMaxMs`; then every joining member is
 * admitted in one epoch (Kafka's initial rebalance delay, applied to every burst of joins). Crashes
 * and leaves still change the ring at once. A member restarting with the same id and address before
 * its lease lapsed changes nothing (static membership); with `staticMembership` a stopping worker
 * keeps its place for that purpose instead of leaving.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { RedisClient as Redis } from '../redis/client.js';
import type { Logger } from '../log.js';
import { publishToChannel, subscribeToChannel } from '../redis/events.js';
import { ringScriptKeys, type ClusterKeys } from '../redis/keys.js';
import { LEAVE_NOTICE, type LeaveNotice } from './leave-notice.js';
import { encodeMemberInfo, parseMemberInfo } from './member-info.js';
import { SCRIPT_CODES } from '../redis/scripts.js';
import { Assignment } from './ring.js';
import { activeMembers, parseRingRecord, withDraining, withMember, type RingRecord } from './ring-record.js';
import { DEFAULT_VNODES } from './ring.js';

export interface MembershipOptions {
  /** Stable member id. */
  readonly id: string;
  /** Base URL of this member's HTTP API, stored in the ring record for forwarding. */
  readonly address: string;
  /** Integer weight. Default 1. */
  readonly weight: number;
  /** Lease length (ms). Default 5000: a crash is noticed in seconds, not Kafka's 45 s. */
  readonly leaseMs: number;
  /** Heartbeat period (ms). Default 1000: five chances to renew within one lease. */
  readonly heartbeatMs: number;
  /** Ring re-read period (ms), the safety net under pub/sub. Default 1000. */
  readonly pollMs: number;
  /** Virtual nodes per unit of weight. Default 500. */
  readonly vnodes: number;
  /**
   * Joins are admitted once nobody else asked to join for this long (ms). Default 1000: workers
   * started together by a deploy or `tickring up` arrive within a second of each other, and one
   * second more before a new worker takes load costs little. 0 admits every join at once.
   */
  readonly settleMs: number;
  /** Longest a joining member waits while joins keep coming (ms). Default 5000. */
  readonly settleMaxMs: number;
  /**
   * When stopping, keep this member's place in the ring until its lease lapses instead of leaving,
   * so a restart with the same id and address within the lease moves no symbol. Default false:
   * leave at once so the others take over without waiting for the lease.
   */
  readonly staticMembership: boolean;
  /**
   * Symbols to put back into the universe when the member joins a cluster without a ring record
   * (new, or a Redis that lost its data). Default none.
   */
  readonly seedSymbols: readonly string[];
}

export const DEFAULT_MEMBERSHIP_OPTIONS = {
  weight: 1,
  leaseMs: 5_000,
  heartbeatMs: 1_000,
  pollMs: 1_000,
  vnodes: DEFAULT_VNODES,
  settleMs: 1_000,
  settleMaxMs: 5_000,
  staticMembership: false,
  seedSymbols: [],
} as const satisfies Partial<MembershipOptions>;

/** Share of the lease kept back for clock-rate drift between this process and Redis. */
const DRIFT_MARGIN = 0.1;

export type MembershipStatus = 'starting' | 'member' | 'fenced' | 'leaving' | 'closed';

export interface MembershipEvents {
  /** A newer epoch was read; the assignment covers the whole symbol universe. */
  assignment: [Assignment];
  /** The lease can no longer be trusted: stop ingesting and writing now. */
  fenced: [string];
  /** The member holds a lease again. */
  rejoined: [];
  /**
   * Another member is about to be drained (`noticeDrain`): its id, and the assignment its drain
   * epoch will give, built now (which also puts that placement in the ring module's cache).
   */
  leaveNotice: [string, Assignment];
}

/** Checks the options' rules; each message names the option and the rule. */
export function membershipOptionProblems(options: MembershipOptions): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(options.weight) || options.weight < 1)
    problems.push(`weight ${options.weight}: must be an integer of at least 1`);
  if (options.heartbeatMs * 3 > options.leaseMs)
    problems.push(
      `heartbeatMs ${options.heartbeatMs}: the lease (${options.leaseMs}) must last three heartbeats`,
    );
  if (options.settleMaxMs < options.settleMs)
    problems.push(`settleMaxMs ${options.settleMaxMs}: must be at least settleMs (${options.settleMs})`);
  return problems;
}

/** What a worker about to join publishes on the join-notice channel (`noticeJoin`). */
const JOIN_NOTICE = z.object({ id: z.string().min(1), weight: z.number().int().min(1) });
type JoinNotice = z.infer<typeof JOIN_NOTICE>;

export class Membership extends EventEmitter<MembershipEvents> {
  status: MembershipStatus = 'starting';
  private readonly options: MembershipOptions;
  private current: Assignment | undefined;
  /** The universe as last read, and the epoch its record says it last changed at (`knowUniverse`). */
  private universe: { changedAt: number; symbols: readonly string[] } | undefined;
  private leaseValidUntil = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private fenceTimer: NodeJS.Timeout | undefined;
  private reapTimer: NodeJS.Timeout | undefined;
  /** The member and ring `prepareForReap` last built a ring for, so it builds each once. */
  private preparedReap: { id: string; ring: Assignment } | undefined;
  private heartbeatInFlight = false;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  /** Redis time (ms) of this member's current lease deadline, as the last renewal reported it. */
  leaseDeadline = 0;
  /** Base URL of this member's HTTP API; may be set until `start` (a port 0 listener learns it late). */
  address: string;
  /** True while this member holds a lease but waits to be admitted to the ring. */
  waiting = false;
  /** The highest epoch seen, kept across fences: a rejoin passes it so epochs never go back. */
  highestEpoch = 0;
  /** True once a ring record marked this member draining: it must leave even if static. */
  drained = false;
  /** `performance.now()` of the heartbeat or join that last renewed the lease, for status. */
  lastRenewedAt = 0;

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly keys: ClusterKeys,
    options: Pick<MembershipOptions, 'id' | 'address'> & Partial<MembershipOptions>,
    private readonly log: Logger,
  ) {
    super();
    this.options = { ...DEFAULT_MEMBERSHIP_OPTIONS, ...options };
    const problems = membershipOptionProblems(this.options);
    if (problems.length > 0) throw new Error(`membership options: ${problems.join('; ')}`);
    this.address = options.address;
  }

  get id(): string {
    return this.options.id;
  }

  get assignment(): Assignment | undefined {
    return this.current;
  }

  get epoch(): number {
    return this.current?.epoch ?? 0;
  }

  /**
   * The members of `ids` that stopped renewing their lease: the last renewal (lease deadline less
   * the lease) more than two of their heartbeats behind this member's own, or no lease at all. A
   * member that died or froze stops renewing at once, while the ring drops it only once its lease
   * runs out. One round trip.
   */
  async silentMembers(ids: readonly string[]): Promise<Set<string>> {
    return (await this.leaseStates(ids, Infinity)).silent;
  }

  /**
   * Now in Redis time, as this member reckons it from its last renewal (Redis stamped that one, and
   * this process timed it): a mark to pass to `leaseStates`, which then tells which others renewed
   * their lease after it. Off by the renewal's round trip at most.
   */
  renewalMark(): number {
    return this.leaseDeadline - this.options.leaseMs + (performance.now() - this.lastRenewedAt);
  }

  /**
   * Of `ids`: those `silentMembers` would name, and those that renewed their lease after `mark` (a
   * `renewalMark()`): alive since then. One round trip.
   */
  async leaseStates(
    ids: readonly string[],
    mark: number,
  ): Promise<{ silent: Set<string>; renewedSince: Set<string> }> {
    const silent = new Set<string>();
    const renewedSince = new Set<string>();
    if (ids.length === 0) return { silent, renewedSince };
    const [deadlines, infos] = await Promise.all([
      this.redis.zmscore(this.keys.leases, ...ids),
      this.redis.hmget(this.keys.members, ...ids),
    ]);
    const renewedHere = this.leaseDeadline - this.options.leaseMs;
    ids.forEach((id, i) => {
      const deadline = deadlines[i];
      if (deadline === null || deadline === undefined) {
        silent.add(id);
        return;
      }
      const { leaseMs, heartbeatMs } = parseMemberInfo(infos[i]);
      if (leaseMs === undefined) return;
      const renewedThere = Number(deadline) - leaseMs;
      if (renewedHere - renewedThere > 2 * (heartbeatMs ?? leaseMs / 3)) silent.add(id);
      if (renewedThere > mark) renewedSince.add(id);
    });
    return { silent, renewedSince };
  }

  /** True while this member may ingest and write shared state. */
  get leaseValid(): boolean {
    return this.status === 'member' && performance.now() < this.leaseValidUntil;
  }

  async start(): Promise<void> {
    // After any reconnect, pub/sub may have lost messages: re-read before acting.
    this.subscriber.on('ready', () => this.requestRefresh());
    this.redis.on('ready', () => this.requestRefresh());
    await subscribeToChannel(this.subscriber, this.keys.events, (message) => {
      const epoch = Number(message);
      if (!Number.isSafeInteger(epoch)) {
        this.log.warn({ message: message.slice(0, 40) }, 'malformed ring event ignored');
        return;
      }
      if (epoch > this.epoch) this.requestRefresh();
    });
    await subscribeToChannel(this.subscriber, this.keys.joinNotices, (message) => this.prepareFor(message));
    await subscribeToChannel(this.subscriber, this.keys.leaveNotices, (message) =>
      this.onLeaveNotice(message),
    );
    await this.join();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.options.heartbeatMs);
    this.pollTimer = setInterval(() => this.requestRefresh(), this.options.pollMs);
    this.requestRefresh();
    await this.refreshing;
  }

  private memberInfo(): string {
    return encodeMemberInfo({
      address: this.address,
      weight: this.options.weight,
      leaseMs: this.options.leaseMs,
      heartbeatMs: this.options.heartbeatMs,
    });
  }

  private async join(): Promise<void> {
    const sentAt = performance.now();
    const [epoch = 0, deadline = 0, changed, waiting] = await this.redis.tickringJoin(
      ...ringScriptKeys(this.keys),
      this.keys.symbols,
      this.options.id,
      this.options.leaseMs,
      this.memberInfo(),
      this.options.vnodes,
      this.options.settleMs,
      this.options.settleMaxMs,
      this.highestEpoch,
      ...this.options.seedSymbols,
    );
    this.renewed(sentAt, deadline);
    this.highestEpoch = Math.max(this.highestEpoch, epoch);
    this.waiting = waiting === 1;
    const wasFenced = this.status === 'fenced';
    this.status = 'member';
    // After a fence the worker dropped everything: hand it the ring again even at the same epoch.
    if (wasFenced) this.current = undefined;
    this.log.info(
      { epoch, leaseMs: this.options.leaseMs, ringChanged: changed === 1, waiting: this.waiting },
      `${wasFenced ? 'rejoined the ring' : 'joined the ring'}${this.waiting ? '; waiting for the cluster to settle' : ''}`,
    );
    if (wasFenced) this.emit('rejoined');
  }

  private renewed(sentAt: number, deadline: number): void {
    this.lastRenewedAt = sentAt;
    this.leaseDeadline = deadline;
    this.leaseValidUntil = sentAt + this.options.leaseMs * (1 - DRIFT_MARGIN);
    clearTimeout(this.fenceTimer);
    this.fenceTimer = setTimeout(
      () => this.fence('lease not renewed in time'),
      this.leaseValidUntil - performance.now(),
    );
  }

  private fence(reason: string): void {
    if (this.status !== 'member') return;
    this.status = 'fenced';
    this.log.warn({ reason }, 'fenced: stopped ingesting and writing until the lease is renewed');
    this.emit('fenced', reason);
  }

  private async heartbeat(): Promise<void> {
    if (this.heartbeatInFlight || this.status === 'leaving' || this.status === 'closed') return;
    this.heartbeatInFlight = true;
    const sentAt = performance.now();
    try {
      if (this.status === 'fenced') {
        await this.join();
        this.requestRefresh();
        return;
      }
      const reply = await this.redis.tickringHeartbeat(
        ...ringScriptKeys(this.keys),
        this.options.id,
        this.options.leaseMs,
        this.options.vnodes,
        this.options.settleMs,
        this.options.settleMaxMs,
        this.highestEpoch,
      );
      const [epoch = 0, deadline = 0, nextLapseMs = -1] = reply.slice(0, 3).map(Number);
      const nextId = String(reply[3] ?? '');
      if (epoch === SCRIPT_CODES.LEASE_LOST) {
        this.fence('lease lapsed in Redis');
        return;
      }
      // A fence may have struck while this heartbeat was in flight: its status stays fenced, and
      // the next heartbeat rejoins.
      this.renewed(sentAt, deadline);
      this.highestEpoch = Math.max(this.highestEpoch, epoch);
      if (epoch > this.epoch) this.requestRefresh();
      this.reapOnTime(nextLapseMs, nextId);
    } catch (err) {
      this.log.debug({ err }, 'heartbeat failed');
    } finally {
      this.heartbeatInFlight = false;
    }
  }

  /**
   * A lease that lapses before this member's next heartbeat belongs to a member that stopped renewing
   * (a live one renews every heartbeat, and a lease lasts at least three). Heartbeating again the
   * moment it lapses reaps that member then, rather than up to a heartbeat later: a crashed worker's
   * symbols are owned again that much sooner. Every survivor does it; the first reaps, the others
   * find nothing to reap.
   */
  private reapOnTime(nextLapseMs: number, lapsing: string): void {
    if (nextLapseMs < 0 || nextLapseMs >= this.options.heartbeatMs) return;
    clearTimeout(this.reapTimer);
    // The script reaps leases strictly before its `now`: one millisecond past the deadline.
    this.reapTimer = setTimeout(() => void this.heartbeat(), nextLapseMs + 1);
    this.prepareForReap(lapsing);
  }

  /**
   * Builds the ring without `lapsing`, a member about to be reaped (see `reapOnTime`), before its
   * epoch comes, as `prepareFor` does for a join: at 8,000 symbols and 8 workers every survivor
   * built it at the reap's epoch, all at once on 2 cores, which held the crash's take-over back by
   * 40-140 ms (`assignMs` of the ring read). Once per member and ring; a draining member has the
   * same placement as one removed, and a member not on the ring is ignored.
   */
  private prepareForReap(lapsing: string): void {
    const current = this.current;
    if (current === undefined || !activeMembers(current.record).some((member) => member.id === lapsing))
      return;
    if (this.preparedReap?.id === lapsing && this.preparedReap.ring === current) return;
    this.preparedReap = { id: lapsing, ring: current };
    this.buildAhead(current, withDraining(current.record, lapsing));
  }

  /**
   * Builds the placement of `record` (a ring the next epoch may bring) in a macrotask of its own, for
   * that epoch to find in the ring module's cache; skipped when a newer ring came meanwhile.
   */
  private buildAhead(current: Assignment, record: RingRecord): void {
    setImmediate(() => {
      if (this.current === current) new Assignment(record, current.universe);
    });
  }

  /**
   * Tells the others this worker is about to join, with the weight it joins with, so they can build
   * the ring with it added before the epoch comes (`prepareFor`). Never rejects: without it they
   * build that ring at the epoch, as they always could.
   */
  async noticeJoin(): Promise<void> {
    const notice: JoinNotice = { id: this.options.id, weight: this.options.weight };
    await this.publishNotice(this.keys.joinNotices, notice, 'join');
  }

  /** Publishes a notice; never rejects (a lost notice only costs the time it would have saved). */
  private async publishNotice(
    channel: string,
    notice: JoinNotice | LeaveNotice,
    what: string,
  ): Promise<void> {
    await publishToChannel(this.redis, channel, JSON.stringify(notice)).catch((err: unknown) =>
      this.log.debug({ err }, `${what} notice not published`),
    );
  }

  /**
   * A notice this member can act on, with the ring it has now; `undefined` before it has one, or
   * for a malformed notice (logged at debug).
   */
  private readNotice<T>(
    message: string,
    schema: z.ZodType<T>,
    what: string,
  ): { current: Assignment; notice: T } | undefined {
    const current = this.current;
    if (current === undefined || this.status !== 'member') return undefined;
    try {
      return { current, notice: schema.parse(JSON.parse(message)) };
    } catch {
      this.log.debug({ message: message.slice(0, 80) }, `malformed ${what} notice ignored`);
      return undefined;
    }
  }

  /**
   * Another worker is about to join: build the assignment of the ring with it added, now, off the
   * epoch's path. At the epoch the same ring and universe find that placement in the ring module's
   * cache: at 8,000 symbols and 8 workers, every worker building it at once, at the epoch, held the
   * old owners' hand-overs back by 150-290 ms. A notice that is malformed, names a member already
   * on the ring, or comes before this worker has a ring is ignored.
   */
  private prepareFor(message: string): void {
    const read = this.readNotice(message, JOIN_NOTICE, 'join');
    if (read === undefined) return;
    const { current, notice } = read;
    const { id, weight } = notice;
    if (current.record.members.some((member) => member.id === id)) return;
    // A macrotask of its own: the notice's handler returns at once, and the build runs after
    // whatever the socket delivered with it.
    this.buildAhead(current, withMember(current.record, { id, weight, address: '' }, this.options.vnodes));
  }

  /** Answers `leaver`'s notice: this worker has subscribed to what it gains from that drain. */
  async noticeLeaveReady(leaver: string): Promise<void> {
    await this.publishNotice(this.keys.leaveNotices, { ready: this.options.id, for: leaver }, 'leave');
  }

  /**
   * Another member about to be drained (`leaveNotice`, with the assignment of its drain epoch, built
   * in a macrotask of its own as in `prepareFor`). Answers, and notices that are malformed or name
   * this worker, a member not on the ring or one draining already, are ignored. The ring is the one
   * held when the build runs: a cluster stopped at once changes it between the two, and a notice
   * dropped then left its leaver waiting out its bound for an answer that never came.
   */
  private onLeaveNotice(message: string): void {
    const read = this.readNotice(message, LEAVE_NOTICE, 'leave');
    if (read === undefined) return;
    const { notice } = read;
    if (!('leaving' in notice) || notice.leaving === this.options.id) return;
    const id = notice.leaving;
    setImmediate(() => {
      const current = this.current;
      const leaver = current?.record.members.find((member) => member.id === id);
      // Gone or draining: its drain has begun, so it waits for no answer any more.
      if (current === undefined || leaver === undefined || leaver.draining === true) return;
      this.emit('leaveNotice', id, new Assignment(withDraining(current.record, id), current.universe));
    });
  }

  /** Coalesces refresh requests: at most one read runs, and one more follows if asked meanwhile. */
  requestRefresh(): void {
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = this.refresh()
      .catch((err: unknown) => this.log.warn({ err }, 'ring refresh failed'))
      .finally(() => {
        this.refreshing = undefined;
        if (this.refreshAgain) {
          this.refreshAgain = false;
          this.requestRefresh();
        }
      });
  }

  /** Re-reads the ring now and resolves once no read is pending. */
  async refreshNow(): Promise<void> {
    this.requestRefresh();
    while (this.refreshing) await this.refreshing;
  }

  private async refresh(): Promise<void> {
    if (this.status === 'closed') return;
    const started = performance.now();
    const record = await readRingRecord(this.redis, this.keys);
    if (this.current && record.epoch <= this.current.epoch) {
      this.noticeLostRecord(record, this.current.record);
      return;
    }
    // Only set-symbols changes the universe, and the record names the epoch it last did: a member
    // holding the universe of that epoch does not read it again. Every member acts on a new epoch
    // at the same moment, and reading the whole universe each time (SMEMBERS, 8,000 symbols at the
    // issue's size) had them all parse it at once on a busy machine. (A value written into the set
    // by hand, around set-symbols, is seen at the next change of the universe.)
    const known = this.universe;
    const symbols =
      known !== undefined && record.universe === known.changedAt
        ? known.symbols
        : await this.redis.smembers(this.keys.symbols);
    // Re-check: a newer record may have arrived while the symbols were read.
    if (this.current && record.epoch <= this.current.epoch) return;
    this.highestEpoch = Math.max(this.highestEpoch, record.epoch);
    const me = record.members.find((member) => member.id === this.options.id);
    if (me) this.waiting = false;
    if (me?.draining === true && !this.drained) {
      this.drained = true;
      this.log.info({ epoch: record.epoch }, 'drain requested: handing every symbol over, then leaving');
    }
    const read = performance.now();
    this.current = new Assignment(record, symbols);
    this.knowUniverse(record, this.current.universe);
    this.log.debug(
      {
        epoch: record.epoch,
        readMs: Math.round(read - started),
        assignMs: Math.round(performance.now() - read),
      },
      'ring read',
    );
    this.emit('assignment', this.current);
  }

  /**
   * The universe `record` was read with (its symbols read after it, so never older), kept for the
   * epochs that do not change it; the worker also passes what it read before joining, so that its
   * first epoch need not read it again.
   */
  knowUniverse(record: RingRecord, symbols: readonly string[]): void {
    this.universe = record.universe === undefined ? undefined : { changedAt: record.universe, symbols };
  }

  /**
   * Redis holds an older record than the one this member acts on, or a different one under the same
   * epoch: a failover promoted a replica that never received the latest ring change (replication is
   * asynchronous), and the new primary may even have written its own record under that epoch
   * number. Acting on it would break the rule that one epoch means one assignment, so instead the
   * next heartbeat asks for an epoch above both (`highestEpoch` is its floor); every member then
   * moves to that new record.
   */
  private noticeLostRecord(stored: RingRecord, acting: RingRecord): void {
    const lost =
      stored.epoch < acting.epoch || stored.changedAt !== acting.changedAt || stored.reason !== acting.reason;
    if (!lost || this.highestEpoch > acting.epoch) return;
    this.highestEpoch = acting.epoch + 1;
    this.log.warn(
      { acting: acting.epoch, stored: stored.epoch, storedReason: stored.reason },
      'Redis lost the ring record this worker acts on (a failover?); asking for a new epoch',
    );
  }

  /**
   * Leaves the ring at once so the others take over without waiting for the lease to lapse; with
   * `staticMembership` (and no drain requested) it only stops renewing, keeping its place for a
   * restart with the same id within the lease.
   */
  async leave(): Promise<void> {
    if (this.status === 'leaving' || this.status === 'closed') return;
    this.status = 'leaving';
    this.stopTimers();
    if (this.options.staticMembership && !this.drained) {
      this.log.info(
        { leaseDeadline: this.leaseDeadline },
        'stopped; keeping its place in the ring until the lease lapses (static membership)',
      );
      return;
    }
    try {
      await this.redis.tickringLeave(...ringScriptKeys(this.keys), this.options.id, this.options.vnodes);
      this.log.info('left the ring');
    } catch (err) {
      this.log.warn({ err }, 'could not leave the ring; the lease will lapse instead');
    }
  }

  private stopTimers(): void {
    clearInterval(this.heartbeatTimer);
    clearInterval(this.pollTimer);
    clearTimeout(this.fenceTimer);
    clearTimeout(this.reapTimer);
  }

  close(): void {
    this.stopTimers();
    this.status = 'closed';
    this.removeAllListeners();
  }
}

export async function readRingRecord(redis: Redis, keys: ClusterKeys): Promise<RingRecord> {
  return parseRingRecord(await redis.get(keys.ring));
}

export type { RingRecord };
