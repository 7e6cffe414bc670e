/**
 * The options every role shares, and the value forms they are checked against. Role-specific option
 * sets live with their role file and reuse these.
 */
import { z } from 'zod';
import { FEED_NAMES } from '../../feeds/index.js';
import { isValidSymbol, SYMBOL_RULE } from '../../feeds/symbol.js';
import { REDIS_URL_FORMS, redisUrlProblem } from '../redis/url.js';
import { defineOption } from './option-spec.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const WORKER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * A number written in decimal. `Number()` alone reads `' '` and `'\uFEFF'` as 0 and `'0x10'` as 16, so
 * a blank or mistyped variable would pass as a value nobody meant; such text is refused instead.
 */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const decimalNumber = z.preprocess(
  (value) => (typeof value === 'string' && DECIMAL.test(value) ? Number(value) : value),
  z.number({ message: 'not a decimal number' }),
);

export const portSchema = decimalNumber.pipe(z.number().int().min(0).max(65535));

export function intSchema(min: number, max: number): z.ZodType<number> {
  return decimalNumber.pipe(z.number().int().min(min).max(max));
}

export function numberSchema(min: number, max: number): z.ZodType<number> {
  return decimalNumber.pipe(z.number().min(min).max(max));
}

/** A comma-separated symbol list; empty means none. */
export const symbolListSchema = z.preprocess(
  (value) => (typeof value === 'string' ? splitList(value) : value),
  z.array(z.string().refine(isValidSymbol, { message: `a symbol is ${SYMBOL_RULE}` })),
);

export function splitList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

const redisUrlSchema = z.string().superRefine((url, context) => {
  const problem = redisUrlProblem(url);
  if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
});

export const wsUrlSchema = z
  .string()
  .refine((url) => /^wss?:\/\/[^\s]+$/.test(url), { message: 'not a ws:// or wss:// URL' });

export const redisOptions = {
  redisUrl: defineOption({
    flag: '--redis <url>',
    env: ['TICKRING_REDIS_URL', 'REDIS_URL'],
    description: 'Redis URL',
    form: REDIS_URL_FORMS,
    schema: redisUrlSchema,
    default: 'redis://127.0.0.1:6379',
  }),
  cluster: defineOption({
    flag: '--cluster <name>',
    env: ['TICKRING_CLUSTER'],
    description: 'cluster name; clusters with different names share a Redis without colliding',
    form: '1-64 characters: letters, digits, _ . -',
    schema: z.string().regex(NAME_PATTERN),
    default: 'default',
  }),
  keyPrefix: defineOption({
    flag: '--key-prefix <prefix>',
    env: ['TICKRING_KEY_PREFIX'],
    description: 'prefix of every Redis key and channel',
    form: '1-64 characters: letters, digits, _ . -',
    schema: z.string().regex(NAME_PATTERN),
    default: 'tickring',
  }),
} as const;

export const logOptions = {
  logLevel: defineOption<LogLevel>({
    flag: '--log-level <level>',
    env: ['TICKRING_LOG_LEVEL'],
    description: 'log level',
    form: LOG_LEVELS.join(' | '),
    schema: z.enum(LOG_LEVELS),
    default: 'info',
  }),
} as const;

export const feedNameOption = defineOption({
  flag: '--feed <name>',
  env: ['TICKRING_FEED'],
  description: 'market-data provider',
  form: FEED_NAMES.join(' | '),
  schema: z.string().refine((name) => FEED_NAMES.includes(name), { message: 'unknown feed' }),
  default: 'polygon',
});

export const httpHostOption = defineOption({
  flag: '--http-host <host>',
  env: ['TICKRING_HTTP_HOST'],
  description: 'interface the HTTP API listens on',
  form: 'a host name or IP address',
  schema: z.string().min(1),
  default: '127.0.0.1',
});

/** The simulated market's options that `up` passes through to its simulator. */
export const simMarketOptions = {
  rate: defineOption({
    flag: '--rate <trades-per-second>',
    env: ['TICKRING_SIM_RATE'],
    description: 'total trades per second over all symbols (0: only on demand, POST /sim/emit)',
    form: 'a number from 0 to 10000000',
    schema: numberSchema(0, 10_000_000),
    default: 1_000,
  }),
  seed: defineOption({
    flag: '--seed <n>',
    env: ['TICKRING_SIM_SEED'],
    description: 'same seed, same trades in the same order',
    form: 'an integer',
    schema: intSchema(-(2 ** 31), 2 ** 32),
    default: 1,
  }),
} as const;
