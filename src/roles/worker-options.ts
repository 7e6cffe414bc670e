/**
 * `tickring worker` options. Defaults are justified where they are not obvious.
 */
import { z } from 'zod';
import { FEED_NAMES } from '../../feeds/index.js';
import { defineOption, type OptionValues } from '../config/option-spec.js';
import {
  feedNameOption,
  httpHostOption,
  intSchema,
  logOptions,
  portSchema,
  redisOptions,
  symbolListSchema,
  WORKER_ID_PATTERN,
  wsUrlSchema,
} from '../config/options.js';
import { DEFAULT_MEMBERSHIP_OPTIONS } from '../cluster/membership.js';
import { DEFAULT_VNODES } from '../cluster/ring.js';
import { DEFAULT_FEED_CLIENT_OPTIONS } from '../ingest/feed-client.js';
import { DEFAULT_WORKER_OPTIONS } from '../worker/worker.js';

const optionalText = z.string().optional();

export const WORKER_OPTIONS = {
  ...redisOptions,
  ...logOptions,
  workerId: defineOption({
    flag: '--worker-id <id>',
    env: ['TICKRING_WORKER_ID'],
    description:
      'stable member id; a worker restarting with the same id within its lease causes no rebalance (default: generated)',
    form: '1-64 characters: letters, digits, _ . -, starting with a letter or digit',
    schema: z.string().regex(WORKER_ID_PATTERN).optional(),
  }),
  feed: feedNameOption,
  feedUrl: defineOption({
    flag: '--feed-url <url>',
    env: ['TICKRING_FEED_URL'],
    description: "feed WebSocket URL (default: the provider's production URL)",
    form: 'a ws:// or wss:// URL',
    schema: wsUrlSchema.optional(),
  }),
  upstreamFeed: defineOption({
    flag: '--upstream-feed <name>',
    env: ['TICKRING_UPSTREAM_FEED'],
    description:
      'with --feed relay: the provider behind the relay, whose sale conditions apply (default: what the active relay publishes in Redis at start, else polygon)',
    form: FEED_NAMES.filter((name) => name !== 'relay').join(' | '),
    schema: z
      .string()
      .refine((name) => name !== 'relay' && FEED_NAMES.includes(name), { message: 'unknown upstream feed' })
      .optional(),
  }),
  feedKey: defineOption({
    flag: '--feed-key <key>',
    env: ['TICKRING_FEED_KEY'],
    description: 'feed API key (prefer the environment variable: flags show in `ps`); never logged',
    form: 'text',
    schema: optionalText,
    secret: true,
  }),
  feedSecret: defineOption({
    flag: '--feed-secret <secret>',
    env: ['TICKRING_FEED_SECRET'],
    description: 'feed API secret (Alpaca); never logged',
    form: 'text',
    schema: optionalText,
    secret: true,
  }),
  httpHost: httpHostOption,
  httpPort: defineOption({
    flag: '--http-port <port>',
    env: ['TICKRING_HTTP_PORT', 'PORT'],
    description: 'HTTP API port (0: any free port)',
    form: 'an integer from 0 to 65535',
    schema: portSchema,
    default: 8080,
  }),
  advertiseUrl: defineOption({
    flag: '--advertise-url <url>',
    env: ['TICKRING_ADVERTISE_URL'],
    description: 'base URL other workers use to reach this one (default: http://<http-host>:<port>)',
    form: 'an http:// URL',
    schema: z
      .string()
      .regex(/^https?:\/\/[^\s/]+$/, 'not an http:// base URL without a path')
      .optional(),
  }),
  adminToken: defineOption({
    flag: '--admin-token <token>',
    env: ['TICKRING_ADMIN_TOKEN'],
    description:
      'bearer token for admin writes (POST/DELETE /v1/symbols); unset turns them off. Prefer the environment variable: flags show in `ps`; never logged',
    form: 'at least 16 characters without spaces',
    schema: z
      .string()
      .regex(/^\S{16,}$/, 'shorter than 16 characters or contains spaces')
      .optional(),
    secret: true,
  }),
  barHistory: defineOption({
    flag: '--bar-history <n>',
    env: ['TICKRING_BAR_HISTORY'],
    description: 'completed bars kept in Redis per symbol and interval',
    form: 'an integer from 1 to 100000',
    schema: intSchema(1, 100_000),
    default: 1_000,
  }),
  barWriteMs: defineOption({
    flag: '--bar-write-ms <ms>',
    env: ['TICKRING_BAR_WRITE_MS'],
    description:
      'completed bars are written to Redis at most this often; until then checkpoints carry them and queries read them from memory (capped at half of what memory keeps: 5 s of 1 s bars)',
    form: 'an integer from 0 to 600000',
    schema: intSchema(0, 600_000),
    default: DEFAULT_WORKER_OPTIONS.barWriteMs,
  }),
  symbols: defineOption({
    flag: '--symbols <list>',
    env: ['TICKRING_SYMBOLS'],
    description: 'symbols to add to the universe at start, comma separated',
    form: 'a comma-separated list of symbols such as AAPL,MSFT,BRK.B',
    schema: symbolListSchema,
    default: [],
  }),
  symbolsFile: defineOption({
    flag: '--symbols-file <path>',
    env: ['TICKRING_SYMBOLS_FILE'],
    description: 'file of symbols to add to the universe at start (comma or newline separated)',
    form: 'a readable file path',
    schema: optionalText,
  }),
  weight: defineOption({
    flag: '--weight <n>',
    env: ['TICKRING_WEIGHT'],
    description: 'share of symbols relative to other workers, for unequal machines',
    form: 'an integer from 1 to 100',
    schema: intSchema(1, 100),
    default: 1,
  }),
  leaseMs: defineOption({
    flag: '--lease-ms <ms>',
    env: ['TICKRING_LEASE_MS'],
    description: "lease length: a crashed worker's symbols move after at most this long",
    form: 'an integer from 500 to 600000',
    schema: intSchema(500, 600_000),
    default: DEFAULT_MEMBERSHIP_OPTIONS.leaseMs,
  }),
  heartbeatMs: defineOption({
    flag: '--heartbeat-ms <ms>',
    env: ['TICKRING_HEARTBEAT_MS'],
    description: 'lease renewal period; at most a third of the lease',
    form: 'an integer from 50 to 200000',
    schema: intSchema(50, 200_000),
    default: DEFAULT_MEMBERSHIP_OPTIONS.heartbeatMs,
  }),
  pollMs: defineOption({
    flag: '--poll-ms <ms>',
    env: ['TICKRING_POLL_MS'],
    description: 'ring re-read period, the safety net under pub/sub',
    form: 'an integer from 50 to 600000',
    schema: intSchema(50, 600_000),
    default: DEFAULT_MEMBERSHIP_OPTIONS.pollMs,
  }),
  feedSilenceMs: defineOption({
    flag: '--feed-silence-ms <ms>',
    env: ['TICKRING_FEED_SILENCE_MS'],
    description: 'replace a feed connection that sent no frame and no pong for this long',
    form: 'an integer from 500 to 600000',
    schema: intSchema(500, 600_000),
    default: DEFAULT_FEED_CLIENT_OPTIONS.silenceMs,
  }),
  feedLimitBackoffMs: defineOption({
    flag: '--feed-limit-backoff-ms <ms>',
    env: ['TICKRING_FEED_LIMIT_BACKOFF_MS'],
    description:
      'least wait before reconnecting after a "connection limit" answer (Alpaca keeps refusing for ~90 s)',
    form: 'an integer from 0 to 600000',
    schema: intSchema(0, 600_000),
    default: DEFAULT_FEED_CLIENT_OPTIONS.connectionLimitBackoffMs,
  }),
  checkpointMs: defineOption({
    flag: '--checkpoint-ms <ms>',
    env: ['TICKRING_CHECKPOINT_MS'],
    description: 'checkpoint period for changed symbols; a crash loses at most this much without standbys',
    form: 'an integer from 50 to 600000',
    schema: intSchema(50, 600_000),
    default: 1_000,
  }),
  replicas: defineOption({
    flag: '--replicas <n>',
    env: ['TICKRING_REPLICAS'],
    description:
      'copies of each symbol: 2 also follows, as a standby, what this worker would own if the owner died, so a crash loses nothing (costs about twice the ingest)',
    form: '1 or 2',
    schema: intSchema(1, 2),
    default: DEFAULT_WORKER_OPTIONS.replicas,
  }),
  handoverTimeoutMs: defineOption({
    flag: '--handover-timeout-ms <ms>',
    env: ['TICKRING_HANDOVER_TIMEOUT_MS'],
    description:
      'bound on each side of a planned hand-over: past it the old owner stops and the new one loads what it finds',
    form: 'an integer from 100 to 60000',
    schema: intSchema(100, 60_000),
    default: DEFAULT_WORKER_OPTIONS.handoverTimeoutMs,
  }),
  vnodes: defineOption({
    flag: '--vnodes <n>',
    env: ['TICKRING_VNODES'],
    description: 'virtual nodes per unit of weight; fixed by the first worker of a cluster',
    form: 'an integer from 1 to 10000',
    schema: intSchema(1, 10_000),
    default: DEFAULT_VNODES,
  }),
  settleMs: defineOption({
    flag: '--settle-ms <ms>',
    env: ['TICKRING_SETTLE_MS'],
    description:
      'a joining worker is admitted once nobody else asked to join for this long, so workers started together cause one rebalance (0: at once)',
    form: 'an integer from 0 to 60000',
    schema: intSchema(0, 60_000),
    default: DEFAULT_MEMBERSHIP_OPTIONS.settleMs,
  }),
  settleMaxMs: defineOption({
    flag: '--settle-max-ms <ms>',
    env: ['TICKRING_SETTLE_MAX_MS'],
    description: 'longest a joining worker waits while joins keep coming',
    form: 'an integer from 0 to 600000, at least --settle-ms',
    schema: intSchema(0, 600_000),
    default: DEFAULT_MEMBERSHIP_OPTIONS.settleMaxMs,
  }),
  staticMembership: defineOption({
    flag: '--static-membership',
    env: ['TICKRING_STATIC_MEMBERSHIP'],
    description:
      "on stop, keep this worker's place until its lease lapses instead of leaving: a restart with the same --worker-id and address within --lease-ms moves no symbol",
    form: 'a flag (environment: true or false)',
    schema: z.preprocess(
      (value) => (value === 'true' ? true : value === 'false' ? false : value),
      z.boolean(),
    ),
    default: false,
  }),
} as const;

export type WorkerConfig = OptionValues<typeof WORKER_OPTIONS>;

export function workerCrossChecks(config: WorkerConfig): string[] {
  const problems: string[] = [];
  if (config.heartbeatMs * 3 > config.leaseMs) {
    problems.push(
      `--heartbeat-ms ${config.heartbeatMs} with --lease-ms ${config.leaseMs}: the lease must last at least three heartbeats`,
    );
  }
  if (config.settleMaxMs < config.settleMs) {
    problems.push(
      `--settle-max-ms ${config.settleMaxMs} with --settle-ms ${config.settleMs}: the longest wait must be at least the quiet window`,
    );
  }
  return problems;
}
