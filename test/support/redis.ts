/**
 * Test access to the shared Redis on 127.0.0.1:6379. Every test gets its own key prefix and deletes
 * its keys afterwards; nothing here ever flushes the server. `TICKRING_TEST_REDIS_URL` points the
 * tests elsewhere, in any form tickring accepts (`npm run test:ha` runs the end-to-end scenario on a
 * Redis Cluster that way).
 */
import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import type { RedisClient } from '../../src/redis/client.js';
import { createRedis } from '../../src/redis/connection.js';
import { clusterKeys, type ClusterKeys } from '../../src/redis/keys.js';
import { registerScripts } from '../../src/redis/scripts.js';

export const REDIS_URL = process.env['TICKRING_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export interface TestCluster {
  readonly prefix: string;
  readonly cluster: string;
  readonly keys: ClusterKeys;
  readonly redis: RedisClient;
  cleanup(): Promise<void>;
}

export function uniquePrefix(label: string): string {
  return `t-${label}-${randomBytes(4).toString('hex')}`;
}

export function testRedis(): Redis {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  registerScripts(redis);
  return redis;
}

/** A client for `REDIS_URL` whatever its form (a Cluster client for `redis+cluster://`). */
export function testRedisClient(): RedisClient {
  if (/^rediss?:\/\//.test(REDIS_URL)) return testRedis();
  return createRedis({ url: REDIS_URL, name: 'tickring:test' });
}

/** Deletes every key matching `pattern` (on each primary of a Cluster). */
async function unlinkMatching(redis: RedisClient, pattern: string): Promise<void> {
  const servers = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const server of servers) {
    const stream = server.scanStream({ match: pattern, count: 1000 });
    // One key at a time on a Cluster: keys of different prefixes live in different slots.
    for await (const batch of stream as AsyncIterable<string[]>)
      for (const key of batch) await redis.unlink(key);
  }
}

export async function testCluster(label: string): Promise<TestCluster> {
  const prefix = uniquePrefix(label);
  const cluster = 'test';
  const redis = testRedisClient();
  await redis.ping();
  return {
    prefix,
    cluster,
    keys: clusterKeys(prefix, cluster),
    redis,
    async cleanup() {
      await unlinkMatching(redis, `{${prefix}:*`);
      redis.disconnect();
    },
  };
}
