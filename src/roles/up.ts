/**
 * `tickring up`: the embedded default. Uses REDIS_URL or spawns its own redis-server, starts the
 * simulator and N worker processes, prints where to look, and stops everything on Ctrl-C.
 */
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { polygon } from '../../feeds/polygon.js';
import { readDesiredWorkers, reportAppliedWorkers, requestWorkers } from '../cluster/scale-request.js';
import { addSymbols } from '../cluster/universe.js';
import { defineOption, type OptionValues } from '../config/option-spec.js';
import {
  httpHostOption,
  intSchema,
  logOptions,
  portSchema,
  redisOptions,
  simMarketOptions,
} from '../config/options.js';
import { TickringError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { connectRedis, createRedis, redactRedisUrl } from '../redis/connection.js';
import type { RedisClient } from '../redis/client.js';
import { clusterKeys, type ClusterKeys } from '../redis/keys.js';
import { startSimulator } from '../sim/simulator.js';
import { generateSymbols } from '../sim/universe.js';
import { findOnPath, NO_REDIS_HELP, startEmbeddedRedis, type EmbeddedRedis } from './embedded-redis.js';
import { closeAll, onShutdown } from './lifecycle.js';
import { Supervisor, type WorkerSpec } from './supervisor.js';
import { WorkerPool } from './worker-pool.js';

export const UP_OPTIONS = {
  ...redisOptions,
  redisUrl: defineOption({
    ...redisOptions.redisUrl,
    description: 'Redis URL (default: spawn a private redis-server on a free port, nothing on disk)',
    schema: redisOptions.redisUrl.schema.optional(),
    default: undefined,
  }),
  ...logOptions,
  workers: defineOption({
    flag: '--workers <n>',
    env: ['TICKRING_WORKERS'],
    description: 'worker processes to run',
    form: 'an integer from 1 to 64',
    schema: intSchema(1, 64),
    default: 3,
  }),
  httpHost: { ...httpHostOption, description: 'interface the workers listen on' },
  httpPort: defineOption({
    flag: '--http-port <port>',
    env: ['TICKRING_HTTP_PORT', 'PORT'],
    description: "first worker's HTTP port; the others take the next ones",
    form: 'an integer from 1 to 65535',
    schema: portSchema.refine((port) => port > 0, 'must not be 0'),
    default: 8080,
  }),
  symbols: defineOption({
    flag: '--symbols <count>',
    env: ['TICKRING_UP_SYMBOLS'],
    description: 'symbols the simulated market trades (well-known tickers first)',
    form: 'an integer from 1 to 100000',
    schema: intSchema(1, 100_000),
    default: 200,
  }),
  ...simMarketOptions,
  relay: defineOption({
    flag: '--relay',
    env: ['TICKRING_UP_RELAY'],
    description:
      'one upstream connection for all workers: two relays (one active, one standby) hold it, workers connect to the active one; the simulator allows one connection per key',
    form: 'a flag (environment: true or false)',
    schema: z.preprocess(
      (value) => (value === 'true' ? true : value === 'false' ? false : value),
      z.boolean(),
    ),
    default: false,
  }),
} as const;

export type UpConfig = OptionValues<typeof UP_OPTIONS>;

const DEMO_KEY = 'tickring-demo-key';
const STOP_GRACE_MS = 3_000;
const WATCH_MS = 1_000;

/** Worker `w<index>`: the index-th HTTP port, the simulator as its feed. */
function workerSpec(config: UpConfig, index: number, redisUrl: string, feedUrl: string): WorkerSpec {
  const id = `w${index}`;
  return {
    id,
    args: [
      '--worker-id',
      id,
      '--http-host',
      config.httpHost,
      '--http-port',
      String(config.httpPort + index - 1),
      // Behind a relay, workers find the active one in Redis and follow it through a failover.
      ...(config.relay
        ? ['--feed', 'relay', '--upstream-feed', 'polygon']
        : ['--feed', 'polygon', '--feed-url', feedUrl]),
    ],
    env: {
      TICKRING_REDIS_URL: redisUrl,
      TICKRING_CLUSTER: config.cluster,
      TICKRING_KEY_PREFIX: config.keyPrefix,
      TICKRING_LOG_LEVEL: config.logLevel,
      TICKRING_FEED_KEY: DEMO_KEY,
    },
  };
}

/** Every second: apply the desired count `tickring scale` wrote, then record it as applied. */
function watchDesiredWorkers(
  redis: RedisClient,
  keys: ClusterKeys,
  pool: WorkerPool,
  log: Logger,
): NodeJS.Timeout {
  let busy = false;
  return setInterval(() => {
    if (busy) return;
    busy = true;
    void (async () => {
      const desired = await readDesiredWorkers(redis, keys);
      if (desired !== undefined && desired >= 1 && desired !== pool.size) {
        log.info({ from: pool.size, to: desired }, 'desired worker count changed');
        await pool.scaleTo(desired);
        await reportAppliedWorkers(redis, keys, pool.size);
      }
    })()
      .catch((err: unknown) => log.warn({ err }, 'could not apply the desired worker count'))
      .finally(() => {
        busy = false;
      });
  }, WATCH_MS);
}

async function resolveRedis(
  config: UpConfig,
  log: Logger,
): Promise<{ url: string; embedded?: EmbeddedRedis }> {
  if (config.redisUrl) return { url: config.redisUrl };
  const binary = findOnPath('redis-server');
  if (!binary) throw new TickringError('TICKRING_ERR_NO_REDIS_SERVER', NO_REDIS_HELP);
  const embedded = await startEmbeddedRedis(binary);
  log.info({ url: embedded.url }, 'embedded redis-server started');
  return { url: embedded.url, embedded };
}

async function waitReady(url: string, deadlineMs: number): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      if (response.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

/** `--relay`: two relays on the ports after the workers'; the lease makes one of them active. */
function startRelays(
  supervisor: Supervisor,
  config: UpConfig,
  redisUrl: string,
  simUrl: string,
): { id: string; http: string }[] {
  const relays: { id: string; http: string }[] = [];
  for (let i = 0; i < 2; i++) {
    const id = `r${i + 1}`;
    const port = config.httpPort + config.workers + i;
    relays.push({ id, http: `http://${config.httpHost}:${port}` });
    supervisor.start({
      id,
      role: 'relay',
      args: ['--relay-id', id, '--http-host', config.httpHost, '--http-port', String(port)],
      env: {
        TICKRING_REDIS_URL: redisUrl,
        TICKRING_CLUSTER: config.cluster,
        TICKRING_KEY_PREFIX: config.keyPrefix,
        TICKRING_LOG_LEVEL: config.logLevel,
        TICKRING_FEED: 'polygon',
        TICKRING_FEED_URL: simUrl,
        TICKRING_FEED_KEY: DEMO_KEY,
      },
    });
  }
  return relays;
}

export async function runUp(config: UpConfig): Promise<void> {
  const log = createLogger({ role: 'up', level: config.logLevel });
  const { url: redisUrl, embedded } = await resolveRedis(config, log);
  const symbols = generateSymbols(config.symbols);
  const sim = await startSimulator({
    protocol: polygon,
    symbols,
    rate: config.rate,
    seed: config.seed,
    // Behind relays the simulator enforces Polygon's rule: a second connection evicts the first.
    connectionsPerKey: config.relay ? 1 : 0,
    logger: log,
  });
  const keys = clusterKeys(config.keyPrefix, config.cluster);
  const redis = createRedis({ url: redisUrl, name: 'tickring:up', logger: log });
  const supervisor = new Supervisor(fileURLToPath(new URL('../cli.js', import.meta.url)), log);
  let stopWatching = (): void => undefined;
  onShutdown(
    log,
    () =>
      closeAll([
        () => stopWatching(),
        () => supervisor.stopAll(STOP_GRACE_MS),
        () => sim.close(),
        () => redis.quit(),
        () => embedded?.stop(),
      ]),
    STOP_GRACE_MS + 1_500,
  );
  await connectRedis(redis, redisUrl);
  await addSymbols(redis, keys, symbols);

  const relays = config.relay ? startRelays(supervisor, config, redisUrl, sim.wsUrl) : [];
  const pool = new WorkerPool(supervisor, redis, keys, log, {
    spec: (index) => workerSpec(config, index, redisUrl, sim.wsUrl),
  });
  // `--workers` is the count from now on; `tickring scale N` changes it while this runs. Watching
  // starts at once, so `tickring scale` sees this process even while the first workers start.
  await requestWorkers(redis, keys, config.workers);
  const watcher = watchDesiredWorkers(redis, keys, pool, log);
  stopWatching = () => {
    pool.close();
    clearInterval(watcher);
  };
  await pool.scaleTo(config.workers);
  await reportAppliedWorkers(redis, keys, pool.size);
  const addresses = pool.ids.map((_, i) => `http://${config.httpHost}:${config.httpPort + i}`);
  const ready = await Promise.all(addresses.map((address) => waitReady(address, 30_000)));
  const first = addresses[0] ?? '';
  const lines = [
    '',
    `tickring is running: ${config.workers} workers, a simulated Polygon feed of ${symbols.length} symbols at ${config.rate} trades/s,`,
    `Redis at ${redactRedisUrl(redisUrl)}${embedded ? ' (embedded, nothing kept on disk)' : ''}.`,
    '',
    ...addresses.map((address, i) => `  worker w${i + 1}  ${address}${ready[i] ? '' : '  (not ready yet)'}`),
    ...relays.map((relay) => `  relay ${relay.id}   ${relay.http}  (one active, the other standing by)`),
    `  simulator  ${sim.wsUrl}  (stats: ${sim.httpUrl}/sim/stats)`,
    '',
    `Dashboard: ${first}/  (every worker serves it)`,
    '',
    'Try:',
    `  curl ${first}/v1/cluster                 # epoch, members and how many symbols each owns`,
    `  curl ${first}/v1/symbols/AAPL            # any worker answers for any symbol`,
    `  curl ${addresses.at(-1) ?? first}/v1/symbols`,
    `  curl ${first}/metrics`,
    `  npx tickring status --redis ${redactRedisUrl(redisUrl)}`,
    `  npx tickring scale 5 --redis ${redactRedisUrl(redisUrl)}   # 5 workers; scaling down drains`,
    '',
    'Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
}
