/**
 * Redis for a scenario: by default a private `redis-server` on a free port (no persistence), so
 * other tests sharing the machine's Redis neither slow the figures down nor show up in its command
 * counts; with BENCH_REDIS_URL set, that server instead, under a unique key prefix removed at the end.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { addSymbols } from '../../src/cluster/universe.js';
import { clusterKeys, type ClusterKeys } from '../../src/redis/keys.js';
import { registerScripts } from '../../src/redis/scripts.js';
import { findOnPath, startEmbeddedRedis, type EmbeddedRedis } from '../../src/roles/embedded-redis.js';

export interface BenchRedis {
  readonly url: string;
  /** The server's pid when it is ours (for its CPU), else undefined. */
  readonly pid: number | undefined;
  readonly prefix: string;
  readonly cluster: string;
  readonly keys: ClusterKeys;
  readonly redis: Redis;
  addUniverse(symbols: readonly string[]): Promise<void>;
  /** Calls per command since the last `CONFIG RESETSTAT` (INFO commandstats). */
  commandStats(): Promise<Map<string, number>>;
  /** Bytes Redis has read from clients (INFO stats `total_net_input_bytes`). */
  inputBytes(): Promise<number>;
  /** The longest command Redis ran (µs) since the last call, by SLOWLOG (commands over 1 ms are logged). */
  slowest(): Promise<{ micros: number; command: string }>;
  close(): Promise<void>;
}

/** `private`: always a private server, even with BENCH_REDIS_URL set (for command counts). */
export async function benchRedis(label: string, options: { private?: boolean } = {}): Promise<BenchRedis> {
  const shared = options.private ? undefined : process.env['BENCH_REDIS_URL'];
  let server: EmbeddedRedis | undefined;
  if (!shared) {
    const binary = findOnPath('redis-server');
    if (!binary) throw new Error('redis-server is not on the PATH; install it or set BENCH_REDIS_URL');
    server = await startEmbeddedRedis(binary);
  }
  const url = shared ?? server?.url ?? '';
  const prefix = `bench-${label}-${randomBytes(3).toString('hex')}`;
  const cluster = 'bench';
  const keys = clusterKeys(prefix, cluster);
  const redis = new Redis(url);
  registerScripts(redis);
  await redis.ping();
  if (!shared) await redis.config('SET', 'slowlog-log-slower-than', '1000');
  return {
    url,
    pid: server?.process.pid,
    prefix,
    cluster,
    keys,
    redis,
    async addUniverse(symbols) {
      await addSymbols(redis, keys, symbols);
    },
    async commandStats() {
      const text = await redis.info('commandstats');
      const stats = new Map<string, number>();
      for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
        stats.set(match[1] ?? '', Number(match[2]));
      return stats;
    },
    async slowest() {
      const entries = (await redis.call('SLOWLOG', 'GET', '128')) as [number, number, number, string[]][];
      await redis.call('SLOWLOG', 'RESET');
      let worst = { micros: 0, command: '' };
      for (const [, , micros, args] of entries)
        if (micros > worst.micros) worst = { micros, command: args.slice(0, 2).join(' ').slice(0, 60) };
      return worst;
    },
    async inputBytes() {
      return Number(/^total_net_input_bytes:(\d+)/m.exec(await redis.info('stats'))?.[1] ?? NaN);
    },
    async close() {
      if (shared) {
        const stream = redis.scanStream({ match: `{${prefix}:*`, count: 1000 });
        for await (const batch of stream as AsyncIterable<string[]>)
          if (batch.length > 0) await redis.unlink(...batch);
      }
      redis.disconnect();
      await server?.stop();
    },
  };
}
