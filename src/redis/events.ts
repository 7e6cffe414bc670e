/**
 * The ring-change channel. Every script that rewrites the ring record publishes the new epoch with
 * both PUBLISH and SPUBLISH (`ring-lib.lua`): a single server or a Sentinel-managed primary is
 * listened to with SUBSCRIBE; a Redis Cluster with SSUBSCRIBE (sharded pub/sub, Redis 7), which
 * reaches only the node that owns the cluster's hash slot instead of every node. Either way it is a
 * wake-up call: workers also re-read the ring on a timer.
 */
import { once } from 'node:events';
import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './client.js';

/** Subscribes `subscriber` to `channel`, calling `onMessage` with each message published to it. */
export async function subscribeToChannel(
  subscriber: RedisClient,
  channel: string,
  onMessage: (message: string) => void,
): Promise<void> {
  const sharded = subscriber instanceof Cluster;
  subscriber.on(sharded ? 'smessage' : 'message', (from: string, message: string) => {
    if (from === channel) onMessage(message);
  });
  if (sharded) {
    await subscriber.ssubscribe(channel);
    return;
  }
  await connectionReady(subscriber);
  await subscriber.subscribe(channel);
}

/**
 * A new connection like `client`, to subscribe with. On a Redis Cluster it must be made for sharded
 * subscribers (as `createRedis` makes a subscriber): a plain duplicate of a command client sends
 * SSUBSCRIBE to whichever node it likes, not the one that owns the channel's slot, and hears
 * nothing, without an error.
 */
export function subscriberLike(client: RedisClient): RedisClient {
  return client instanceof Cluster ? client.duplicate([], { shardedSubscribers: true }) : client.duplicate();
}

/** Publishes `message` to `channel`: sharded (SPUBLISH) on a Redis Cluster, as the scripts do. */
export async function publishToChannel(client: RedisClient, channel: string, message: string): Promise<void> {
  if (client instanceof Cluster) await client.spublish(channel, message);
  else await client.publish(channel, message);
}

/**
 * Waits until `client` has passed its ready check. ioredis (5.8.2 and later, redis/ioredis#2037)
 * sends the SUBSCRIBE of a client still connecting before its ready check's INFO, which the server
 * then refuses in subscriber mode: the client reports an error and reconnects. Subscribing only once
 * ready avoids that. A client that closes for good instead lets SUBSCRIBE fail as it would have.
 */
async function connectionReady(client: Redis): Promise<void> {
  if (client.status === 'ready' || client.status === 'end') return;
  if (client.status === 'wait') {
    await client.connect();
    return;
  }
  const ac = new AbortController();
  try {
    await Promise.race([
      once(client, 'ready', { signal: ac.signal }),
      once(client, 'end', { signal: ac.signal }),
    ]);
  } finally {
    ac.abort();
  }
}
