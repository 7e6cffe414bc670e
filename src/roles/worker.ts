/**
 * `tickring worker`: reads its config, makes the logger, wires Redis, the worker and the HTTP API,
 * and turns signals into a graceful close.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { RedisClient as Redis } from '../redis/client.js';
import type { FeedAdapter } from '../../feeds/adapter.js';
import { getFeed } from '../../feeds/index.js';
import { relayAdapter } from '../../feeds/relay.js';
import { addSymbols } from '../cluster/universe.js';
import { buildApp } from '../http/app.js';
import type { FeedClientOptions } from '../ingest/feed-client.js';
import { createLogger, type Logger } from '../log.js';
import { connectRedis, createRedis, redactRedisUrl } from '../redis/connection.js';
import { clusterKeys, type ClusterKeys } from '../redis/keys.js';
import { checkKeyTypes } from '../redis/key-types.js';
import { readActiveRelay } from '../relay/relay-lease.js';
import { VERSION } from '../version.js';
import { Worker } from '../worker/worker.js';
import { RedisErrorCounts, workerMetrics, workerView } from '../worker/worker-view.js';
import { WorkerStats } from '../worker/worker-stats.js';
import { closeAll, onShutdown } from './lifecycle.js';
import { collectSymbols } from './symbols-input.js';
import type { WorkerConfig } from './worker-options.js';

function generatedId(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9_.-]/g, '')
      .slice(0, 40) || 'worker';
  return `${host}-${randomBytes(3).toString('hex')}`;
}

export async function runWorker(config: WorkerConfig): Promise<void> {
  const id = config.workerId ?? generatedId();
  const log = createLogger({ role: 'worker', level: config.logLevel, bindings: { workerId: id } });
  const symbols = collectSymbols(config.symbols, config.symbolsFile);
  const keys = clusterKeys(config.keyPrefix, config.cluster);
  const redis = createRedis({ url: config.redisUrl, name: `tickring:worker:${id}:cmd`, logger: log });
  const subscriber = createRedis({
    url: config.redisUrl,
    name: `tickring:worker:${id}:sub`,
    subscriber: true,
    logger: log,
  });
  await connectRedis(redis, config.redisUrl);
  await checkKeyTypes(redis, keys);
  await connectRedis(subscriber, config.redisUrl);
  const membershipRedis = createRedis({
    url: config.redisUrl,
    name: `tickring:worker:${id}:lease`,
    logger: log,
  });
  await connectRedis(membershipRedis, config.redisUrl);
  const feed = await resolveFeed(config, redis, keys, log);
  const adapter = feed.adapter;

  const worker = new Worker(
    { redis, subscriber, membershipRedis, keys, logger: log },
    {
      id,
      address: '',
      feed: adapter,
      conditionsFeed: feed.conditionsFeed,
      feedUrl: config.feedUrl ?? adapter.defaultUrl,
      credentials: { key: config.feedKey ?? '', secret: config.feedSecret ?? '' },
      checkpointMs: config.checkpointMs,
      handoverTimeoutMs: config.handoverTimeoutMs,
      replicas: config.replicas,
      feedClient: {
        silenceMs: config.feedSilenceMs,
        connectionLimitBackoffMs: config.feedLimitBackoffMs,
        ...feed.feedClient,
      },
      barStore: { cap: config.barHistory },
      barWriteMs: config.barWriteMs,
      version: VERSION,
      membership: {
        weight: config.weight,
        leaseMs: config.leaseMs,
        heartbeatMs: config.heartbeatMs,
        pollMs: config.pollMs,
        vnodes: config.vnodes,
        settleMs: config.settleMs,
        settleMaxMs: config.settleMaxMs,
        staticMembership: config.staticMembership,
        seedSymbols: symbols,
      },
    },
  );
  const redisErrors = new RedisErrorCounts();
  redis.on('error', () => redisErrors.add('connection'));
  const stats = new WorkerStats(worker, { feedName: adapter.name, replicas: config.replicas }).start();
  const metrics = workerMetrics(worker, redisErrors, stats);
  const view = workerView(worker, { redis, keys, vnodes: config.vnodes }, redisErrors, stats);
  const server = buildApp(
    { view, metrics, logger: log.child({ component: 'http' }) },
    { adminToken: config.adminToken },
  );
  // Listen before joining: the advertised address must answer once others can route to it.
  const address = await new Promise<AddressInfo>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.httpPort, config.httpHost, () => resolve(server.address() as AddressInfo));
  });
  const advertised = config.advertiseUrl ?? `http://${advertisedHost(config.httpHost)}:${address.port}`;
  worker.membership.address = advertised;
  // The drain comes first, with the HTTP API still answering for the symbols being handed over;
  // the hard exit leaves room for both hand-over timeouts.
  onShutdown(
    log,
    () =>
      closeAll([
        () => worker.close(),
        () => {
          server.close();
          server.closeAllConnections();
        },
        () => stats.stop(),
        () => redis.quit(),
        () => subscriber.quit(),
        () => membershipRedis.quit(),
      ]),
    2 * config.handoverTimeoutMs + 6_000,
  );

  if (symbols.length > 0) {
    const { changed } = await addSymbols(redis, keys, symbols, config.vnodes);
    log.info({ given: symbols.length, added: changed }, 'symbols added to the universe');
  }
  log.info(
    { redis: redactRedisUrl(config.redisUrl), cluster: config.cluster, feed: adapter.name, http: advertised },
    'worker starting',
  );
  // `tickring drain`: every symbol is handed over; close as on SIGTERM, which leaves the ring.
  worker.once('drained', () => process.kill(process.pid, 'SIGTERM'));
  await worker.start();
  log.info({ epoch: worker.actingEpoch, owned: worker.owned.size, http: advertised }, 'worker ready');
}

interface ResolvedFeed {
  readonly adapter: FeedAdapter;
  readonly conditionsFeed: string;
  readonly feedClient: Partial<FeedClientOptions>;
}

/**
 * The feed adapter and client settings. Behind a relay (`--feed relay`) the worker applies the
 * upstream provider's sale conditions, finds the active relay in Redis before every connection
 * attempt unless `--feed-url` names one, and retries quickly: the relay is ours, and after a failover
 * every moment counts (the new relay keeps trades for workers reconnecting only for `--replay-ms`).
 */
async function resolveFeed(
  config: WorkerConfig,
  redis: Redis,
  keys: ClusterKeys,
  log: Logger,
): Promise<ResolvedFeed> {
  const adapter = getFeed(config.feed);
  if (!adapter) throw new Error(`unknown feed ${config.feed}`);
  if (adapter.name !== 'relay') return { adapter, conditionsFeed: adapter.name, feedClient: {} };
  let upstream = config.upstreamFeed;
  if (upstream === undefined) {
    upstream = (await readActiveRelay(redis, keys))?.feed;
    if (upstream === undefined) {
      upstream = 'polygon';
      log.warn('no --upstream-feed and no active relay in Redis yet: assuming polygon sale conditions');
    }
  }
  const feedClient: Partial<FeedClientOptions> = {
    backoff: { baseMs: 100, maxMs: 2_000 },
    ...(config.feedUrl === undefined
      ? {
          resolveUrl: async () => {
            const active = await readActiveRelay(redis, keys);
            if (active === undefined) throw new Error('no active relay published in Redis');
            return active.address;
          },
        }
      : {}),
  };
  return { adapter: relayAdapter(getFeed(upstream)), conditionsFeed: upstream, feedClient };
}

function advertisedHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return hostname();
  return host.includes(':') ? `[${host}]` : host;
}
