/**
 * The end-to-end scenario (`test/scenario/cluster.test.ts`, unchanged) on a Redis Cluster of three
 * primaries: workers, the test's own client and every script go through `redis+cluster://`, ring
 * changes travel over sharded pub/sub, and every aggregate must still match the simulator exactly.
 *
 * The servers start before the scenario is imported: the test support reads the Redis URL
 * (`TICKRING_TEST_REDIS_URL`) when it is first imported.
 */
import { afterAll, expect, it } from 'vitest';
import { startRedisCluster } from './servers.js';

const cluster = await startRedisCluster(3);
process.env['TICKRING_TEST_REDIS_URL'] = cluster.url;
afterAll(() => cluster.stop());

it('runs on a three-primary Redis Cluster', async () => {
  const { REDIS_URL } = await import('../support/redis.js');
  expect(REDIS_URL).toBe(cluster.url);
  expect(cluster.url).toMatch(/^redis\+cluster:\/\/(127\.0\.0\.1:\d+,){2}127\.0\.0\.1:\d+$/);
});

await import('../scenario/cluster.test.js');
