/**
 * The one client type the rest of tickring codes against: a connection to one server (also a
 * Sentinel-managed primary) or to a Redis Cluster. Both expose the same commands and the scripts
 * `scripts.ts` registers; only pub/sub differs (see `events.ts`).
 */
import type { Cluster, Redis } from 'ioredis';

export type RedisClient = Redis | Cluster;
