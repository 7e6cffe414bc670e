/**
 * `tickring relay`: one upstream connection per feed and API key, fanned out to every worker (see
 * `relay/relay.ts` and docs/relay-protocol.md). Options, wiring and a graceful close.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { z } from 'zod';
import { FEED_NAMES, getFeed } from '../../feeds/index.js';
import { RELAY_PATH } from '../../feeds/relay.js';
import { defineOption, type OptionValues } from '../config/option-spec.js';
import {
  httpHostOption,
  intSchema,
  logOptions,
  portSchema,
  redisOptions,
  WORKER_ID_PATTERN,
  wsUrlSchema,
} from '../config/options.js';
import { DEFAULT_FEED_CLIENT_OPTIONS } from '../ingest/feed-client.js';
import { createLogger } from '../log.js';
import { connectRedis, createRedis, redactRedisUrl } from '../redis/connection.js';
import { clusterKeys } from '../redis/keys.js';
import { DEFAULT_RELAY_HUB_OPTIONS } from '../relay/relay-hub.js';
import { DEFAULT_RELAY_OPTIONS, Relay } from '../relay/relay.js';
import { VERSION } from '../version.js';
import { closeAll, onShutdown } from './lifecycle.js';

/** Providers a relay can sit in front of: every feed but the relay itself. */
const UPSTREAM_FEEDS = FEED_NAMES.filter((name) => name !== 'relay');

export const RELAY_OPTIONS = {
  ...redisOptions,
  ...logOptions,
  relayId: defineOption({
    flag: '--relay-id <id>',
    env: ['TICKRING_RELAY_ID'],
    description: 'this relay’s id in the lease (default: generated)',
    form: '1-64 characters: letters, digits, _ . -, starting with a letter or digit',
    schema: z.string().regex(WORKER_ID_PATTERN).optional(),
  }),
  feed: defineOption({
    flag: '--feed <name>',
    env: ['TICKRING_FEED'],
    description: 'the upstream market-data provider',
    form: UPSTREAM_FEEDS.join(' | '),
    schema: z.string().refine((name) => UPSTREAM_FEEDS.includes(name), { message: 'unknown upstream feed' }),
    default: 'polygon',
  }),
  feedUrl: defineOption({
    flag: '--feed-url <url>',
    env: ['TICKRING_FEED_URL'],
    description: "upstream WebSocket URL (default: the provider's production URL)",
    form: 'a ws:// or wss:// URL',
    schema: wsUrlSchema.optional(),
  }),
  feedKey: defineOption({
    flag: '--feed-key <key>',
    env: ['TICKRING_FEED_KEY'],
    description:
      'upstream API key; relays with the same feed and key elect one active relay (prefer the environment variable); never logged',
    form: 'text',
    schema: z.string().optional(),
    secret: true,
  }),
  feedSecret: defineOption({
    flag: '--feed-secret <secret>',
    env: ['TICKRING_FEED_SECRET'],
    description: 'upstream API secret (Alpaca); never logged',
    form: 'text',
    schema: z.string().optional(),
    secret: true,
  }),
  httpHost: {
    ...httpHostOption,
    description: 'interface the relay listens on (workers, /healthz, /metrics)',
  },
  httpPort: defineOption({
    flag: '--http-port <port>',
    env: ['TICKRING_HTTP_PORT', 'PORT'],
    description: `port for workers (ws://host:port${RELAY_PATH}) and /healthz, /readyz, /metrics (0: any free port)`,
    form: 'an integer from 0 to 65535',
    schema: portSchema,
    default: 9100,
  }),
  advertiseUrl: defineOption({
    flag: '--advertise-url <url>',
    env: ['TICKRING_ADVERTISE_URL'],
    description: `URL workers connect to, published in Redis (default: ws://<http-host>:<port>${RELAY_PATH})`,
    form: 'a ws:// or wss:// URL',
    schema: wsUrlSchema.optional(),
  }),
  leaseMs: defineOption({
    flag: '--lease-ms <ms>',
    env: ['TICKRING_LEASE_MS'],
    description:
      'relay lease length: a standby takes over at most about this long after the active relay dies',
    form: 'an integer from 300 to 600000',
    schema: intSchema(300, 600_000),
    default: DEFAULT_RELAY_OPTIONS.leaseMs,
  }),
  renewMs: defineOption({
    flag: '--renew-ms <ms>',
    env: ['TICKRING_RENEW_MS'],
    description: 'lease renewal (and standby acquisition) period; at most a third of the lease',
    form: 'an integer from 50 to 200000',
    schema: intSchema(50, 200_000),
    default: DEFAULT_RELAY_OPTIONS.renewMs,
  }),
  replayMs: defineOption({
    flag: '--replay-ms <ms>',
    env: ['TICKRING_REPLAY_MS'],
    description:
      'after a takeover, keep forwarded trades this long for workers still reconnecting, and keep the previous relay’s symbols subscribed',
    form: 'an integer from 0 to 600000',
    schema: intSchema(0, 600_000),
    default: DEFAULT_RELAY_OPTIONS.replayMs,
  }),
  maxQueuedTrades: defineOption({
    flag: '--max-queued-trades <n>',
    env: ['TICKRING_MAX_QUEUED_TRADES'],
    description: 'trades queued for one slow worker before it is disconnected (the others are not slowed)',
    form: 'an integer from 100 to 100000000',
    schema: intSchema(100, 100_000_000),
    default: DEFAULT_RELAY_HUB_OPTIONS.maxQueuedTrades,
  }),
  feedSilenceMs: defineOption({
    flag: '--feed-silence-ms <ms>',
    env: ['TICKRING_FEED_SILENCE_MS'],
    description: 'replace an upstream connection that sent no frame and no pong for this long',
    form: 'an integer from 500 to 600000',
    schema: intSchema(500, 600_000),
    default: DEFAULT_FEED_CLIENT_OPTIONS.silenceMs,
  }),
  feedLimitBackoffMs: defineOption({
    flag: '--feed-limit-backoff-ms <ms>',
    env: ['TICKRING_FEED_LIMIT_BACKOFF_MS'],
    description: 'least wait before reconnecting upstream after a "connection limit" answer',
    form: 'an integer from 0 to 600000',
    schema: intSchema(0, 600_000),
    default: DEFAULT_FEED_CLIENT_OPTIONS.connectionLimitBackoffMs,
  }),
} as const;

export type RelayConfig = OptionValues<typeof RELAY_OPTIONS>;

export function relayCrossChecks(config: RelayConfig): string[] {
  if (config.renewMs * 3 <= config.leaseMs) return [];
  return [
    `--renew-ms ${config.renewMs} with --lease-ms ${config.leaseMs}: the lease must last at least three renewals`,
  ];
}

function advertisedHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return hostname();
  return host.includes(':') ? `[${host}]` : host;
}

export async function runRelay(config: RelayConfig): Promise<void> {
  const id = config.relayId ?? `relay-${randomBytes(3).toString('hex')}`;
  const log = createLogger({ role: 'relay', level: config.logLevel, bindings: { relayId: id } });
  const upstream = getFeed(config.feed);
  if (!upstream) throw new Error(`unknown feed ${config.feed}`);
  const keys = clusterKeys(config.keyPrefix, config.cluster);
  const redis = createRedis({ url: config.redisUrl, name: `tickring:relay:${id}:cmd`, logger: log });
  const leaseRedis = createRedis({ url: config.redisUrl, name: `tickring:relay:${id}:lease`, logger: log });
  await connectRedis(redis, config.redisUrl);
  await connectRedis(leaseRedis, config.redisUrl);

  const relay = new Relay(
    { redis, leaseRedis, keys, logger: log },
    {
      id,
      upstream,
      upstreamUrl: config.feedUrl ?? upstream.defaultUrl,
      credentials: { key: config.feedKey ?? '', secret: config.feedSecret ?? '' },
      address: '',
      leaseMs: config.leaseMs,
      renewMs: config.renewMs,
      replayMs: config.replayMs,
      hub: { maxQueuedTrades: config.maxQueuedTrades },
      feedClient: { silenceMs: config.feedSilenceMs, connectionLimitBackoffMs: config.feedLimitBackoffMs },
      version: VERSION,
    },
  );
  const server = createServer((req, res) => relay.handleRequest(req, res));
  server.on('upgrade', (req, socket, head: Buffer) => relay.handleUpgrade(req, socket, head));
  const address = await new Promise<AddressInfo>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.httpPort, config.httpHost, () => resolve(server.address() as AddressInfo));
  });
  const advertised =
    config.advertiseUrl ?? `ws://${advertisedHost(config.httpHost)}:${address.port}${RELAY_PATH}`;
  onShutdown(log, () =>
    closeAll([
      // Upstream first, then the lease: a standby takes over at once, and never beside us.
      () => relay.close(),
      () => {
        server.close();
        server.closeAllConnections();
      },
      () => redis.quit(),
      () => leaseRedis.quit(),
    ]),
  );
  log.info(
    {
      redis: redactRedisUrl(config.redisUrl),
      cluster: config.cluster,
      feed: upstream.name,
      workers: advertised,
      http: `http://${advertisedHost(config.httpHost)}:${address.port}`,
    },
    'relay listening',
  );
  relay.start(advertised);
}
