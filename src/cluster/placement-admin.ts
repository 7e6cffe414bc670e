/**
 * Operator changes to placement: pinning a symbol to a worker and draining a worker. Each goes
 * through one Lua script that changes the pins or the member's state, bumps the epoch and rewrites
 * the ring record in the same atomic step, exactly like a membership change.
 */
import { performance } from 'node:perf_hooks';
import { TickringError } from '../errors.js';
import type { RedisClient as Redis } from '../redis/client.js';
import { publishToChannel, subscribeToChannel, subscriberLike } from '../redis/events.js';
import { ringScriptKeys, type ClusterKeys } from '../redis/keys.js';
import { scriptError } from '../redis/scripts.js';
import { parseLeaveNotice } from './leave-notice.js';
import { readRingRecord } from './membership.js';
import { DEFAULT_VNODES } from './ring.js';
import { activeMembers } from './ring-record.js';
import { assertValidSymbols } from './universe.js';

export interface PlacementChange {
  /** The ring's epoch after the call (unchanged when nothing changed). */
  readonly epoch: number;
  readonly changed: boolean;
}

/** Pins `symbol` to active member `memberId`: `owner(symbol)` is that member while it is active. */
export async function pinSymbol(
  redis: Redis,
  keys: ClusterKeys,
  symbol: string,
  memberId: string,
  vnodes = DEFAULT_VNODES,
): Promise<PlacementChange> {
  assertValidSymbols([symbol]);
  const [code = 0, changed] = await redis.tickringPin(
    ...ringScriptKeys(keys),
    keys.symbols,
    'pin',
    symbol,
    memberId,
    vnodes,
  );
  if (code < 0) throw scriptError(code, `pin ${symbol} to ${memberId}`);
  return { epoch: code, changed: changed === 1 };
}

/** Removes a pin; the ring places the symbol again. */
export async function unpinSymbol(
  redis: Redis,
  keys: ClusterKeys,
  symbol: string,
  vnodes = DEFAULT_VNODES,
): Promise<PlacementChange> {
  assertValidSymbols([symbol]);
  const [code = 0, changed] = await redis.tickringPin(
    ...ringScriptKeys(keys),
    keys.symbols,
    'unpin',
    symbol,
    '',
    vnodes,
  );
  if (code < 0) throw scriptError(code, `unpin ${symbol}`);
  return { epoch: code, changed: changed === 1 };
}

/**
 * Marks a member draining: the ring is rewritten without it, its symbols move to the others through
 * planned hand-overs, and the member leaves once it has handed everything over.
 */
export async function drainMember(
  redis: Redis,
  keys: ClusterKeys,
  memberId: string,
  vnodes = DEFAULT_VNODES,
): Promise<PlacementChange> {
  const [code = 0, changed] = await redis.tickringDrain(...ringScriptKeys(keys), memberId, vnodes);
  if (code < 0) throw scriptError(code, `drain ${memberId}`);
  return { epoch: code, changed: changed === 1 };
}

/**
 * Whether `drainMember` refused because the member is the last active one (the script's only
 * refusal with `TICKRING_ERR_CONFIG`; the admin API answers it as `last_member`).
 */
export function isLastMemberRefusal(err: unknown): boolean {
  return err instanceof TickringError && err.code === 'TICKRING_ERR_CONFIG';
}

/**
 * How long a drain waits for the other members' answers to its notice, unless the caller knows
 * better (a worker draining itself adds the subscribe pacing of its own symbols).
 */
export const DRAIN_NOTICE_MS = 2_000;
/** How often a drain notice re-reads the ring for peers that left it while it waits. */
const RING_WATCH_MS = 50;

export interface DrainNotice {
  /** The other active members told, less those that left the ring before answering. */
  readonly peers: number;
  /** Of those, the ones that answered in time. */
  readonly ready: number;
  /** The ones that did not (busy, of an older version, or dead with their lease still running). */
  readonly unanswered: readonly string[];
  readonly ms: number;
}

/**
 * Make before break for a drain: says on the leave-notice channel that `memberId` is about to be
 * drained, so that every other active member subscribes now to the symbols it gains
 * (`Worker.prepareForLeave`), and waits until each answered, or `boundMs` passed. At the drain
 * epoch the old owner then finds the new owners' subscriptions confirmed long ago, and hands a
 * quiet symbol over at its first look. Never rejects: a member that does not answer (busy, or of an
 * older version), or a notice lost, only means its symbols move as without it.
 */
export async function noticeDrain(
  redis: Redis,
  keys: ClusterKeys,
  memberId: string,
  boundMs = DRAIN_NOTICE_MS,
): Promise<DrainNotice> {
  const started = performance.now();
  const waiting = new Set<string>();
  const answeredBy = new Set<string>();
  const subscriber = subscriberLike(redis);
  subscriber.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  let watch: NodeJS.Timeout | undefined;
  try {
    const active = activeMembers(await readRingRecord(redis, keys)).map((member) => member.id);
    // A member not active (absent, or draining already) has nothing to hand over ahead.
    if (!active.includes(memberId)) return { peers: 0, ready: 0, unanswered: [], ms: 0 };
    for (const id of active) if (id !== memberId) waiting.add(id);
    if (waiting.size === 0) return { peers: 0, ready: 0, unanswered: [], ms: 0 };
    const answered = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, boundMs);
      // A peer that leaves the ring meanwhile (stopping as well, its drain done first) gains
      // nothing from this drain and may have stopped listening: it is waited for no longer.
      watch = setInterval(() => {
        void readRingRecord(redis, keys)
          .then((record) => {
            const still = new Set(activeMembers(record).map((member) => member.id));
            for (const id of waiting) if (!still.has(id)) waiting.delete(id);
            if (waiting.size === 0) resolve();
          })
          .catch(() => undefined);
      }, RING_WATCH_MS);
      void subscribeToChannel(subscriber, keys.leaveNotices, (message) => {
        const notice = parseLeaveNotice(message);
        if (notice === undefined || !('ready' in notice) || notice.for !== memberId) return;
        if (waiting.delete(notice.ready)) answeredBy.add(notice.ready);
        if (waiting.size === 0) resolve();
      })
        .then(() => publishToChannel(redis, keys.leaveNotices, JSON.stringify({ leaving: memberId })))
        .catch(resolve);
    });
    await answered;
    const unanswered = [...waiting];
    return {
      peers: answeredBy.size + unanswered.length,
      ready: answeredBy.size,
      unanswered,
      ms: Math.round(performance.now() - started),
    };
  } catch {
    const unanswered = [...waiting];
    return { peers: unanswered.length, ready: 0, unanswered, ms: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
    clearInterval(watch);
    subscriber.disconnect();
  }
}

/**
 * `noticeDrain`, then `drainMember`: every drain, asked from outside the member (`tickring drain`,
 * the admin API, a scale-down) or by the member itself on SIGTERM, is made before break.
 */
export async function drainMemberAhead(
  redis: Redis,
  keys: ClusterKeys,
  memberId: string,
  vnodes = DEFAULT_VNODES,
  noticeMs = DRAIN_NOTICE_MS,
): Promise<PlacementChange & { notice: DrainNotice }> {
  const notice = await noticeDrain(redis, keys, memberId, noticeMs);
  return { ...(await drainMember(redis, keys, memberId, vnodes)), notice };
}
