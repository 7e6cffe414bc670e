/**
 * The simulator's options, their defaults and their checks. Defaults are merged by spread; every
 * problem is reported at once, each naming the option and the rule.
 */
import type { FeedAdapter } from '../../feeds/adapter.js';
import { isValidSymbol, SYMBOL_RULE } from '../../feeds/symbol.js';
import { TickringError } from '../errors.js';
import type { Logger } from '../log.js';
import type { FaultSchedule } from './faults.js';

export interface SimulatorOptions {
  /** The provider whose protocol the simulator speaks (its adapter's `server` half). Required. */
  protocol: FeedAdapter;
  /** Interface to listen on. Default `'127.0.0.1'`. */
  host: string;
  /** Port to listen on; 0 picks a free one. Default 0. */
  port: number;
  /** The universe the market trades (see `generateSymbols`). Required, at least one, no duplicates. */
  symbols: readonly string[];
  /** Trades per second over all symbols; 0 emits only on demand (`emit`). Default 0. */
  rate: number;
  /** Same seed, same trades in the same order (timestamps aside). Default 1. */
  seed: number;
  /** Zipf exponent of per-symbol rates; 0 is uniform. Default 1. */
  skew: number;
  /** How often the rate timer emits a batch, in milliseconds. Default 10. */
  tickMs: number;
  /** Most trades in one frame to one connection. Default 50. */
  maxTradesPerFrame: number;
  /** The key clients must present; `''` accepts any non-empty key. Default `''`. */
  key: string;
  /** Start with the rate timer stopped. Default false. */
  paused: boolean;
  /** A connection whose unsent bytes pass this is terminated as a slow consumer. Default 64 MiB. */
  maxBufferedBytes: number;
  /**
   * Connections one key may hold, as providers that allow one per key enforce it (Polygon evicts the
   * older connection, Alpaca and Finnhub refuse the newer); 0 for no limit. Protocols without keys
   * (Binance, Coinbase) ignore it. Default 0.
   */
  connectionsPerKey: number;
  /** Faults applied on a timer, e.g. from `--faults drop@30s`. Default none. */
  faults: readonly FaultSchedule[];
  /** Parent logger; a silent one when absent. */
  logger?: Logger;
}

export const DEFAULT_SIMULATOR_OPTIONS = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  rate: 0,
  seed: 1,
  skew: 1,
  tickMs: 10,
  maxTradesPerFrame: 50,
  key: '',
  paused: false,
  maxBufferedBytes: 64 * 1024 * 1024,
  connectionsPerKey: 0,
  faults: [],
} satisfies Omit<SimulatorOptions, 'protocol' | 'symbols' | 'logger'>);

/** What `startSimulator` takes: `protocol` and `symbols`, and any other option to override. */
export type SimulatorInput = Pick<SimulatorOptions, 'protocol' | 'symbols'> &
  Partial<Omit<SimulatorOptions, 'protocol' | 'symbols'>>;

function isIntegerIn(value: number, min: number, max: number): boolean {
  return Number.isSafeInteger(value) && value >= min && value <= max;
}

/** Merges defaults and checks every option; throws one `TICKRING_ERR_CONFIG` listing all problems. */
export function validateSimulatorOptions(input: SimulatorInput): SimulatorOptions {
  const options: SimulatorOptions = { ...DEFAULT_SIMULATOR_OPTIONS, ...input };
  const problems: string[] = [];
  if (!isIntegerIn(options.port, 0, 65_535))
    problems.push(`port must be an integer from 0 to 65535, got ${options.port}`);
  if (!Number.isFinite(options.rate) || options.rate < 0)
    problems.push(`rate must be a number >= 0, got ${options.rate}`);
  if (!Number.isFinite(options.seed)) problems.push(`seed must be a finite number, got ${options.seed}`);
  if (!Number.isFinite(options.skew) || options.skew < 0)
    problems.push(`skew must be a number >= 0, got ${options.skew}`);
  if (!isIntegerIn(options.tickMs, 1, 60_000)) {
    problems.push(`tickMs must be an integer from 1 to 60000, got ${options.tickMs}`);
  }
  if (!isIntegerIn(options.maxTradesPerFrame, 1, 1_000_000)) {
    problems.push(`maxTradesPerFrame must be an integer from 1 to 1000000, got ${options.maxTradesPerFrame}`);
  }
  if (!(options.maxBufferedBytes > 0)) {
    problems.push(`maxBufferedBytes must be a number > 0, got ${options.maxBufferedBytes}`);
  }
  if (!isIntegerIn(options.connectionsPerKey, 0, 1_000)) {
    problems.push(`connectionsPerKey must be an integer from 0 to 1000, got ${options.connectionsPerKey}`);
  }
  if (options.symbols.length === 0) problems.push('symbols must hold at least one symbol');
  const seen = new Set<string>();
  for (const symbol of options.symbols) {
    if (!isValidSymbol(symbol)) problems.push(`symbols: "${symbol.slice(0, 40)}" is invalid: ${SYMBOL_RULE}`);
    else if (seen.has(symbol)) problems.push(`symbols: "${symbol}" appears more than once`);
    seen.add(symbol);
    if (problems.length > 20) break;
  }
  if (problems.length > 0) {
    throw new TickringError('TICKRING_ERR_CONFIG', `invalid simulator options: ${problems.join('; ')}`);
  }
  return options;
}
