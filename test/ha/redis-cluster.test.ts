/**
 * The end-to-end scenario (`test/scenario/cluster.test.ts`, unchanged) on a Redis Cluster of three
 * primaries: workers, the test's own client and every script go through `redis+cluster://`, ring
 * changes travel over sharded pub/sub, and every aggregate must still match the simulator exactly.
 *
 * The servers start before the scenario is imported: the test support reads the Redis URL
 * (`TICKRING_TEST_REDIS_URL`) when it is first imported.
 */
import { Cluster } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { addSymbols } from '../../src/cluster/universe.js';
import { connectRedis, createRedis } from '../../src/redis/connection.js';
import { subscribeToChannel } from '../../src/redis/events.js';
import { allKeys, clusterKeys } from '../../src/redis/keys.js';
import { eventually } from '../support/eventually.js';
import { startRedisCluster } from './servers.js';

const cluster = await startRedisCluster(3);
process.env['TICKRING_TEST_REDIS_URL'] = cluster.url;
afterAll(() => cluster.stop());

it('runs on a three-primary Redis Cluster', async () => {
  const { REDIS_URL } = await import('../support/redis.js');
  expect(REDIS_URL).toBe(cluster.url);
  expect(cluster.url).toMatch(/^redis\+cluster:\/\/(127\.0\.0\.1:\d+,){2}127\.0\.0\.1:\d+$/);
});

it('announces ring changes over sharded pub/sub, on the node that owns the slot', async () => {
  const keys = clusterKeys(`t-pubsub-${process.pid}`, 'test');
  const commands = createRedis({ url: cluster.url, name: 'tickring:test:cmd' });
  const subscriber = createRedis({ url: cluster.url, name: 'tickring:test:sub', subscriber: true });
  try {
    await connectRedis(commands, cluster.url);
    await connectRedis(subscriber, cluster.url);
    expect(subscriber).toBeInstanceOf(Cluster);
    const heard: string[] = [];
    await subscribeToChannel(subscriber, keys.events, (message) => heard.push(message));
    // SSUBSCRIBE reached the one node owning the channel's slot, and only that node.
    const counts = await Promise.all(
      (commands as Cluster)
        .nodes('master')
        .map(
          async (node) => ((await node.call('PUBSUB', 'SHARDNUMSUB', keys.events)) as [string, number])[1],
        ),
    );
    expect(counts.sort()).toEqual([0, 0, 1]);
    const { epoch } = await addSymbols(commands, keys, ['AAPL', 'MSFT']);
    await eventually(
      'the epoch to be announced',
      () => Promise.resolve(heard.includes(String(epoch)) ? true : undefined),
      10_000,
      20,
    );
    await commands.del(...allKeys(keys));
  } finally {
    commands.disconnect();
    subscriber.disconnect();
  }
});

await import('../scenario/cluster.test.js');
