/**
 * What kind of value each of a cluster's keys holds. A key of another kind (another program wrote it,
 * or two clusters share a prefix) would make every script that touches it fail with a bare WRONGTYPE;
 * checked once at start, it is named in one clear error instead.
 */
import type { RedisClient as Redis } from './client.js';
import { TickringError } from '../errors.js';
import type { ClusterKeys } from './keys.js';

type RedisType = 'string' | 'hash' | 'set' | 'zset';

export const KEY_TYPES: Readonly<
  Record<keyof Omit<ClusterKeys, 'events' | 'joinNotices' | 'leaveNotices' | 'bars' | 'handover'>, RedisType>
> = {
  leases: 'zset',
  members: 'hash',
  ring: 'string',
  pins: 'hash',
  joining: 'zset',
  draining: 'set',
  symbols: 'set',
  checkpointEpochs: 'hash',
  checkpoints: 'hash',
  holders: 'hash',
  checkpointPasses: 'hash',
  standIns: 'hash',
  relay: 'string',
  scale: 'hash',
};

/** Throws `TICKRING_ERR_CORRUPT_STATE` naming every key that holds the wrong kind of value. */
export async function checkKeyTypes(redis: Redis, keys: ClusterKeys): Promise<void> {
  const names = Object.keys(KEY_TYPES) as (keyof typeof KEY_TYPES)[];
  const pipeline = redis.pipeline();
  for (const name of names) pipeline.type(keys[name]);
  const replies = (await pipeline.exec()) ?? [];
  const wrong: string[] = [];
  names.forEach((name, i) => {
    const found = replies[i]?.[1];
    if (typeof found === 'string' && found !== 'none' && found !== KEY_TYPES[name])
      wrong.push(`${keys[name]} holds a ${found}, tickring keeps a ${KEY_TYPES[name]} there`);
  });
  if (wrong.length > 0) {
    throw new TickringError(
      'TICKRING_ERR_CORRUPT_STATE',
      `Redis keys of this cluster hold values tickring did not write: ${wrong.join('; ')}. ` +
        'Another program or another cluster uses this key prefix: inspect the keys, then delete them or ' +
        'choose another --key-prefix or --cluster',
    );
  }
}
