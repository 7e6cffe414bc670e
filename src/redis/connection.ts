/**
 * Redis connections. A process opens one connection for commands and one for subscribing (a
 * subscribed connection can issue no other command). Commands fail fast instead of queueing for
 * ever, so a worker notices Redis is gone in time to stop before its lease can have lapsed.
 *
 * The URL picks the topology (see `url.ts`): one server, a Sentinel-managed primary (ioredis asks
 * the Sentinels where the primary is and follows failovers), or a Redis Cluster (every tickring key
 * of a cluster shares one hash tag, so each script runs on the one node owning that slot).
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { TickringError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RedisClient } from './client.js';
import { registerScripts } from './scripts.js';
import { parseRedisUrl, redactRedisUrl } from './url.js';

export { redactRedisUrl } from './url.js';

export type { RedisClient } from './client.js';

export interface RedisConnectionOptions {
  /** Any form `parseRedisUrl` accepts. */
  readonly url: string;
  /** Shown by `CLIENT LIST`, e.g. `tickring:worker:w1:cmd`; tests use it to `CLIENT KILL` one. */
  readonly name: string;
  /** How long one command may wait for an answer (ms). Default 2000. */
  readonly commandTimeoutMs?: number;
  /**
   * The connection will only subscribe. On a Cluster it then uses sharded pub/sub: one connection
   * to the node that owns the channel's slot, instead of a broadcast to every node.
   */
  readonly subscriber?: boolean;
  readonly logger?: Logger;
}

const MAX_RECONNECT_DELAY_MS = 2_000;

/** Reconnect quickly at first, then every two seconds; never give up: Redis coming back is the normal end of an outage. */
function reconnectDelay(attempt: number): number {
  return Math.min(50 * 2 ** attempt, MAX_RECONNECT_DELAY_MS);
}

/**
 * A write answered READONLY reached a replica: a failover demoted the server this connection talks
 * to. Reconnect (to the new primary, through Sentinel or DNS) instead of failing until a timeout;
 * the command itself fails and its caller retries as after any Redis error.
 */
function reconnectOnReadonly(err: Error): boolean {
  return err.message.startsWith('READONLY');
}

function nodeOptions(options: RedisConnectionOptions): RedisOptions {
  return {
    connectionName: options.name,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs ?? 2_000,
    retryStrategy: reconnectDelay,
    reconnectOnError: reconnectOnReadonly,
  };
}

function createClient(options: RedisConnectionOptions): RedisClient {
  const target = parseRedisUrl(options.url);
  const base = nodeOptions(options);
  switch (target.kind) {
    case 'standalone':
      return new Redis(target.url, base);
    case 'sentinel':
      return new Redis({
        ...base,
        sentinels: target.sentinels.map((node) => ({ ...node })),
        name: target.primaryName,
        role: 'master',
        db: target.db,
        username: target.username,
        password: target.password,
        sentinelUsername: target.sentinelUsername,
        sentinelPassword: target.sentinelPassword,
        // Sentinel announces a failover on +switch-master: move at once, not at the next error.
        failoverDetector: true,
        sentinelRetryStrategy: reconnectDelay,
        ...(target.tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
      });
    case 'cluster': {
      const clusterOptions: ClusterOptions = {
        lazyConnect: true,
        clusterRetryStrategy: reconnectDelay,
        // A failover moves slots; ioredis re-reads the slot map on MOVED and retries there.
        retryDelayOnFailover: 200,
        retryDelayOnClusterDown: 200,
        shardedSubscribers: options.subscriber === true,
        redisOptions: {
          ...base,
          username: target.username,
          password: target.password,
          ...(target.tls ? { tls: {} } : {}),
        },
      };
      return new Cluster(
        target.nodes.map((node) => ({ ...node })),
        clusterOptions,
      );
    }
  }
}

export function createRedis(options: RedisConnectionOptions): RedisClient {
  const redis = createClient(options);
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

/** How long connecting may take before it counts as a failure. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Connects, failing with a clear message when Redis does not answer within `timeoutMs`: refused,
 * unreachable, every Sentinel down (ioredis would retry them for ever), or no Cluster node answering.
 */
export async function connectRedis(
  redis: RedisClient,
  url: string,
  timeoutMs = CONNECT_TIMEOUT_MS,
): Promise<void> {
  // ioredis rejects `connect()` with a bare "Connection is closed" or "Failed to refresh slots
  // cache"; the socket errors (a Cluster reports them per node) say why. A socket-level one (with a
  // code such as ECONNREFUSED) is the most telling.
  let socketError: Error | undefined;
  let giveUp: (err: Error) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => (giveUp = reject));
  const onError = (err: Error & { code?: unknown }): void => {
    if (!socketError || (err.code !== undefined && (socketError as { code?: unknown }).code === undefined))
      socketError = err;
    // ioredis tried every Sentinel and would start over for ever: that is the answer.
    if (err.message.startsWith('All sentinels are unreachable')) giveUp(err);
  };
  redis.on('error', onError);
  redis.on('node error', onError);
  const timer = setTimeout(() => giveUp(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
  try {
    const attempt = (async () => {
      await redis.connect();
      await redis.ping();
    })();
    // Given up on, the attempt still rejects later (the connection is closed below).
    attempt.catch(() => undefined);
    await Promise.race([attempt, failed]);
  } catch (err) {
    redis.disconnect();
    let reason = (socketError?.message ?? (err as Error).message).replace(/ Retrying from scratch.*$/, '');
    // ioredis keeps a Cluster node's socket error to itself.
    if (redis instanceof Cluster) reason = `no Cluster node answered (${reason})`;
    throw new TickringError(
      'TICKRING_ERR_REDIS_UNAVAILABLE',
      `cannot reach Redis at ${redactRedisUrl(url)}: ${reason}`,
      { cause: socketError ?? err },
    );
  } finally {
    clearTimeout(timer);
    redis.off('error', onError);
    redis.off('node error', onError);
  }
}

/**
 * For one-shot commands (`tickring status`, `drain`, `pin`...): connects, runs `fn`, disconnects,
 * failing with `TICKRING_ERR_REDIS_UNAVAILABLE` and the reason when Redis cannot be reached.
 */
export async function withRedis<T>(
  url: string,
  name: string,
  fn: (redis: RedisClient) => Promise<T>,
): Promise<T> {
  const redis = createRedis({ url, name });
  try {
    await connectRedis(redis, url);
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}
