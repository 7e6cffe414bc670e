/**
 * The symbol universe, stored in Redis. Changing it bumps the epoch like a membership change, so
 * every worker recomputes its share the same way. Symbols are checked before anything is written:
 * one malformed symbol rejects the whole change, naming it.
 */
import type { RedisClient as Redis } from '../redis/client.js';
import { isValidSymbol, SYMBOL_RULE } from '../../feeds/symbol.js';
import { TickringError } from '../errors.js';
import { ringScriptKeys, type ClusterKeys } from '../redis/keys.js';
import { DEFAULT_VNODES } from './ring.js';

/** Throws a `TICKRING_ERR_CONFIG` error naming the first few malformed symbols. */
export function assertValidSymbols(symbols: readonly string[]): void {
  const bad = symbols.filter((symbol) => !isValidSymbol(symbol));
  if (bad.length === 0) return;
  const shown = bad
    .slice(0, 5)
    .map((symbol) => JSON.stringify(symbol.slice(0, 40)))
    .join(', ');
  throw new TickringError(
    'TICKRING_ERR_CONFIG',
    `invalid symbol${bad.length > 1 ? 's' : ''} ${shown}${bad.length > 5 ? ` and ${bad.length - 5} more` : ''}: a symbol is ${SYMBOL_RULE}`,
  );
}

/** Symbols per script call: keeps one call's argument list and run time small. */
const SYMBOLS_PER_CALL = 1_000;

async function change(
  redis: Redis,
  keys: ClusterKeys,
  op: 'add' | 'rm',
  symbols: readonly string[],
  vnodes: number,
): Promise<{ epoch: number; changed: number }> {
  assertValidSymbols(symbols);
  let epoch = 0;
  let changed = 0;
  for (let i = 0; i < symbols.length; i += SYMBOLS_PER_CALL) {
    const part = symbols.slice(i, i + SYMBOLS_PER_CALL);
    const [newEpoch, count] = await redis.tickringSetSymbols(
      ...ringScriptKeys(keys),
      keys.symbols,
      op,
      vnodes,
      ...part,
    );
    epoch = newEpoch ?? epoch;
    changed += count ?? 0;
  }
  return { epoch, changed };
}

export function addSymbols(
  redis: Redis,
  keys: ClusterKeys,
  symbols: readonly string[],
  vnodes = DEFAULT_VNODES,
): Promise<{ epoch: number; changed: number }> {
  return change(redis, keys, 'add', symbols, vnodes);
}

export function removeSymbols(
  redis: Redis,
  keys: ClusterKeys,
  symbols: readonly string[],
  vnodes = DEFAULT_VNODES,
): Promise<{ epoch: number; changed: number }> {
  return change(redis, keys, 'rm', symbols, vnodes);
}

export async function listSymbols(redis: Redis, keys: ClusterKeys): Promise<string[]> {
  return (await redis.smembers(keys.symbols)).sort();
}
