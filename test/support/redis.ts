/**
 * Test access to the shared Redis on 127.0.0.1:6379. Every test gets its own key prefix and deletes
 * its keys afterwards; nothing here ever flushes the server.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { clusterKeys, type ClusterKeys } from '../../src/redis/keys.js';
import { registerScripts } from '../../src/redis/scripts.js';

export const REDIS_URL = process.env['TICKRING_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export interface TestCluster {
  readonly prefix: string;
  readonly cluster: string;
  readonly keys: ClusterKeys;
  readonly redis: Redis;
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

export async function testCluster(label: string): Promise<TestCluster> {
  const prefix = uniquePrefix(label);
  const cluster = 'test';
  const redis = testRedis();
  await redis.ping();
  return {
    prefix,
    cluster,
    keys: clusterKeys(prefix, cluster),
    redis,
    async cleanup() {
      const stream = redis.scanStream({ match: `{${prefix}:*`, count: 1000 });
      for await (const batch of stream as AsyncIterable<string[]>)
        if (batch.length > 0) await redis.unlink(...batch);
      redis.disconnect();
    },
  };
}
