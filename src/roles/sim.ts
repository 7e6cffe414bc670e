/**
 * `tickring sim`: the market simulator as a process.
 */
import { z } from 'zod';
import type { SimMarketProfile } from '../../feeds/adapter.js';
import { FEED_NAMES, getFeed } from '../../feeds/index.js';
import { isValidSymbol, SYMBOL_RULE } from '../../feeds/symbol.js';
import { defineOption, type OptionValues } from '../config/option-spec.js';
import {
  intSchema,
  logOptions,
  numberSchema,
  portSchema,
  simMarketOptions,
  splitList,
} from '../config/options.js';
import { createLogger } from '../log.js';
import { FAULT_NAMES, parseFaultSchedule, type FaultSchedule } from '../sim/faults.js';
import { startSimulator } from '../sim/simulator.js';
import { generateSymbols } from '../sim/universe.js';
import { onShutdown } from './lifecycle.js';
import { readSymbolsFile } from './symbols-input.js';

/** `--symbols`: a count of generated symbols, or a list. */
const symbolsArgSchema = z.preprocess(
  (value) => (typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value),
  z.union([
    z.number().int().min(1).max(100_000),
    z.preprocess(
      (value) => (typeof value === 'string' ? splitList(value) : value),
      z.array(z.string().refine(isValidSymbol, { message: `a symbol is ${SYMBOL_RULE}` })).min(1),
    ),
  ]),
);

export const SIM_OPTIONS = {
  ...logOptions,
  protocol: defineOption({
    flag: '--protocol <name>',
    env: ['TICKRING_SIM_PROTOCOL'],
    description: 'provider protocol to speak',
    form: FEED_NAMES.join(' | '),
    schema: z.string().refine((name) => FEED_NAMES.includes(name), { message: 'unknown protocol' }),
    default: 'polygon',
  }),
  host: defineOption({
    flag: '--host <host>',
    env: ['TICKRING_SIM_HOST'],
    description: 'interface to listen on',
    form: 'a host name or IP address',
    schema: z.string().min(1),
    default: '127.0.0.1',
  }),
  port: defineOption({
    flag: '--port <port>',
    env: ['TICKRING_SIM_PORT'],
    description: 'port to listen on (0: any free port)',
    form: 'an integer from 0 to 65535',
    schema: portSchema,
    default: 9001,
  }),
  symbols: defineOption<number | string[]>({
    flag: '--symbols <count|list>',
    env: ['TICKRING_SIM_SYMBOLS'],
    description: 'how many symbols to trade (well-known tickers first), or a comma-separated list',
    form: 'an integer from 1 to 100000, or a list such as AAPL,MSFT',
    schema: symbolsArgSchema,
    default: 200,
  }),
  symbolsFile: defineOption({
    flag: '--symbols-file <path>',
    env: ['TICKRING_SIM_SYMBOLS_FILE'],
    description: 'file of symbols to trade instead of --symbols',
    form: 'a readable file path',
    schema: z.string().optional(),
  }),
  ...simMarketOptions,
  skew: defineOption({
    flag: '--skew <s>',
    env: ['TICKRING_SIM_SKEW'],
    description: 'Zipf exponent of per-symbol trade rates (0: uniform)',
    form: 'a number from 0 to 5',
    schema: numberSchema(0, 5),
    default: 1,
  }),
  batch: defineOption({
    flag: '--batch <n>',
    env: ['TICKRING_SIM_BATCH'],
    description: 'most trades in one frame',
    form: 'an integer from 1 to 100000',
    schema: intSchema(1, 100_000),
    default: 50,
  }),
  key: defineOption({
    flag: '--key <key>',
    env: ['TICKRING_SIM_KEY'],
    description: 'API key clients must present (default: any non-empty key)',
    form: 'text',
    schema: z.string(),
    default: '',
    secret: true,
  }),
  connectionsPerKey: defineOption({
    flag: '--connections-per-key <n>',
    env: ['TICKRING_SIM_CONNECTIONS_PER_KEY'],
    description:
      'connections one key may hold, enforced as the provider does (Polygon evicts the older, Alpaca and Finnhub refuse the newer); 0: no limit',
    form: 'an integer from 0 to 1000',
    schema: intSchema(0, 1_000),
    default: 0,
  }),
  faults: defineOption<FaultSchedule[]>({
    flag: '--faults <schedule>',
    env: ['TICKRING_SIM_FAULTS'],
    description: `faults applied on a timer (also on demand: POST /sim/fault/<name>?count=N); names: ${FAULT_NAMES.join(', ')}`,
    form: 'comma-separated name[:count]@period, e.g. drop@30s,duplicate:5@2s,malformed:3@1000ms',
    schema: z.preprocess(
      (value) => (typeof value === 'string' ? value : ''),
      z.string().transform((text, ctx) => {
        try {
          return parseFaultSchedule(text);
        } catch (err: unknown) {
          ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
          return z.NEVER;
        }
      }),
    ),
    default: [],
  }),
  paused: defineOption({
    flag: '--paused',
    env: ['TICKRING_SIM_PAUSED'],
    description: 'start with the market paused (POST /sim/resume starts it)',
    form: 'true or false',
    schema: z.preprocess((v) => v === true || v === 'true' || v === '1', z.boolean()),
    default: false,
  }),
} as const;

export type SimConfig = OptionValues<typeof SIM_OPTIONS>;

/** The symbols to trade: a file, a list, or a count of generated ones shaped for the protocol's market. */
export function simSymbols(
  config: Pick<SimConfig, 'symbols' | 'symbolsFile'>,
  profile?: SimMarketProfile,
): string[] {
  if (config.symbolsFile) return readSymbolsFile(config.symbolsFile);
  return typeof config.symbols === 'number'
    ? generateSymbols(config.symbols, profile)
    : [...new Set(config.symbols)];
}

export async function runSim(config: SimConfig): Promise<void> {
  const log = createLogger({ role: 'sim', level: config.logLevel });
  const protocol = getFeed(config.protocol);
  if (!protocol) throw new Error(`unknown protocol ${config.protocol}`);
  const symbols = simSymbols(config, protocol.server.market);
  const sim = await startSimulator({
    protocol,
    symbols,
    host: config.host,
    port: config.port,
    rate: config.rate,
    seed: config.seed,
    skew: config.skew,
    maxTradesPerFrame: config.batch,
    key: config.key,
    paused: config.paused,
    connectionsPerKey: config.connectionsPerKey,
    faults: config.faults,
    logger: log,
  });
  onShutdown(log, () => sim.close());
  log.info(
    {
      protocol: protocol.name,
      url: sim.wsUrl,
      control: `${sim.httpUrl}/sim/stats`,
      symbols: symbols.length,
      rate: config.rate,
      faults: config.faults.map((f) => `${f.fault}:${f.count}@${f.everyMs}ms`).join(',') || undefined,
    },
    'simulator listening',
  );
}
