/**
 * The ring-change channel. Every script that rewrites the ring record publishes the new epoch with
 * both PUBLISH and SPUBLISH (`ring-lib.lua`): a single server or a Sentinel-managed primary is
 * listened to with SUBSCRIBE; a Redis Cluster with SSUBSCRIBE (sharded pub/sub, Redis 7), which
 * reaches only the node that owns the cluster's hash slot instead of every node. Either way it is a
 * wake-up call: workers also re-read the ring on a timer.
 */
import { Cluster } from 'ioredis';
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
  if (sharded) await subscriber.ssubscribe(channel);
  else await subscriber.subscribe(channel);
}
