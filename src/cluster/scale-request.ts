/**
 * The desired worker count of a cluster, kept in Redis so that `tickring scale N` works from any
 * machine that reaches Redis: it writes `desired`; the `tickring up` process running the cluster's
 * workers reads it every second, starts or drains workers until it runs that many, then records
 * `applied` and, on every look, `seenAt` (Redis time), so `tickring scale` can tell whether anyone
 * is watching.
 */
import type { RedisClient } from '../redis/client.js';
import type { ClusterKeys } from '../redis/keys.js';

export interface ScaleState {
  /** The count asked for; undefined before any `up` or `scale`. */
  readonly desired: number | undefined;
  /** The count the watching `up` process last reached. */
  readonly applied: number | undefined;
  /** Milliseconds since an `up` process last read `desired`; undefined when none ever did. */
  readonly watcherSeenAgoMs: number | undefined;
}

/** An `up` process that has not looked for this long is taken as gone. */
export const WATCHER_STALE_MS = 5_000;

async function redisNowMs(redis: RedisClient): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

function count(raw: string | null | undefined): number | undefined {
  const value = Number(raw);
  return raw && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

export async function readScaleState(redis: RedisClient, keys: ClusterKeys): Promise<ScaleState> {
  const [[desired, applied, seenAt], now] = await Promise.all([
    redis.hmget(keys.scale, 'desired', 'applied', 'seenAt'),
    redisNowMs(redis),
  ]);
  const seen = count(seenAt);
  return {
    desired: count(desired),
    applied: count(applied),
    watcherSeenAgoMs: seen === undefined ? undefined : Math.max(0, now - seen),
  };
}

/** Asks for `workers` workers; answers the state before the change. */
export async function requestWorkers(
  redis: RedisClient,
  keys: ClusterKeys,
  workers: number,
): Promise<ScaleState> {
  const before = await readScaleState(redis, keys);
  await redis.hset(keys.scale, 'desired', workers);
  return before;
}

/** For the watching `up` process: reads `desired` and records that it looked. */
export async function readDesiredWorkers(redis: RedisClient, keys: ClusterKeys): Promise<number | undefined> {
  await redis.hset(keys.scale, 'seenAt', await redisNowMs(redis));
  return count(await redis.hget(keys.scale, 'desired'));
}

/** For the watching `up` process: records the count it reached. */
export async function reportAppliedWorkers(
  redis: RedisClient,
  keys: ClusterKeys,
  workers: number,
): Promise<void> {
  await redis.hset(keys.scale, 'applied', workers);
}
