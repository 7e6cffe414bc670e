/**
 * Redis connections. A process opens one connection for commands and one for subscribing (a
 * subscribed connection can issue no other command). Commands fail fast instead of queueing for
 * ever, so a worker notices Redis is gone in time to stop before its lease can have lapsed.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { TickringError } from '../errors.js';
import type { Logger } from '../log.js';
import { registerScripts } from './scripts.js';

export interface RedisConnectionOptions {
  /** `redis://` or `rediss://` URL. */
  readonly url: string;
  /** Shown by `CLIENT LIST`, e.g. `tickring:worker:w1:cmd`; tests use it to `CLIENT KILL` one. */
  readonly name: string;
  /** How long one command may wait for an answer (ms). Default 2000. */
  readonly commandTimeoutMs?: number;
  readonly logger?: Logger;
}

const MAX_RECONNECT_DELAY_MS = 2_000;

export function createRedis(options: RedisConnectionOptions): Redis {
  const redisOptions: RedisOptions = {
    connectionName: options.name,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs ?? 2_000,
    // Reconnect quickly at first, then every two seconds; never give up: Redis coming back is the
    // normal end of an outage.
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, MAX_RECONNECT_DELAY_MS),
  };
  const redis = new Redis(options.url, redisOptions);
  registerScripts(redis);
  const log = options.logger;
  if (log) {
    let reported = false;
    redis.on('error', (err: Error) => {
      // ioredis repeats the same error on every reconnect attempt; one line per outage is enough.
      if (!reported) log.warn({ err, connection: options.name }, 'redis connection error');
      reported = true;
    });
    redis.on('ready', () => {
      if (reported) log.info({ connection: options.name }, 'redis connection restored');
      reported = false;
    });
  } else {
    redis.on('error', () => undefined);
  }
  return redis;
}

/** Connects, failing with a clear message when Redis does not answer. */
export async function connectRedis(redis: Redis, url: string): Promise<void> {
  // ioredis rejects `connect()` with a bare "Connection is closed"; the socket error says why.
  let socketError: Error | undefined;
  const onError = (err: Error): void => {
    socketError ??= err;
  };
  redis.on('error', onError);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    const reason = socketError?.message ?? (err as Error).message;
    throw new TickringError(
      'TICKRING_ERR_REDIS_UNAVAILABLE',
      `cannot reach Redis at ${redactRedisUrl(url)}: ${reason}`,
      { cause: socketError ?? err },
    );
  } finally {
    redis.off('error', onError);
  }
}

/** The URL with any password replaced, for logs and errors. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):([^@/]*)@/, '//$1:***@');
}

/**
 * For one-shot commands (`tickring status`, `drain`, `pin`...): connects, runs `fn`, disconnects,
 * failing with `TICKRING_ERR_REDIS_UNAVAILABLE` and the reason when Redis cannot be reached.
 */
export async function withRedis<T>(url: string, name: string, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = createRedis({ url, name });
  try {
    await connectRedis(redis, url);
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}
