/**
 * `tickring worker`: reads its config, makes the logger, wires Redis, the worker and the HTTP API,
 * and turns signals into a graceful close.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import { getFeed } from '../../feeds/index.js';
import { addSymbols } from '../cluster/universe.js';
import { buildApp } from '../http/app.js';
import { createLogger } from '../log.js';
import { connectRedis, createRedis, redactRedisUrl } from '../redis/connection.js';
import { clusterKeys } from '../redis/keys.js';
import { VERSION } from '../version.js';
import { Worker } from '../worker/worker.js';
import { RedisErrorCounts, workerMetrics, workerView } from '../worker/worker-view.js';
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
  const adapter = getFeed(config.feed);
  if (!adapter) throw new Error(`unknown feed ${config.feed}`);
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
  await connectRedis(subscriber, config.redisUrl);
  const membershipRedis = createRedis({
    url: config.redisUrl,
    name: `tickring:worker:${id}:lease`,
    logger: log,
  });
  await connectRedis(membershipRedis, config.redisUrl);

  const worker = new Worker(
    { redis, subscriber, membershipRedis, keys, logger: log },
    {
      id,
      address: '',
      feed: adapter,
      feedUrl: config.feedUrl ?? adapter.defaultUrl,
      credentials: { key: config.feedKey ?? '', secret: config.feedSecret ?? '' },
      checkpointMs: config.checkpointMs,
      feedClient: { silenceMs: config.feedSilenceMs, connectionLimitBackoffMs: config.feedLimitBackoffMs },
      barStore: { cap: config.barHistory },
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
  const metrics = workerMetrics(worker, redisErrors);
  const view = workerView(worker, { redis, keys, vnodes: config.vnodes }, redisErrors);
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
  onShutdown(log, () =>
    closeAll([
      () => {
        server.close();
        server.closeAllConnections();
      },
      () => worker.close(),
      () => redis.quit(),
      () => subscriber.quit(),
      () => membershipRedis.quit(),
    ]),
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

function advertisedHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return hostname();
  return host.includes(':') ? `[${host}]` : host;
}
