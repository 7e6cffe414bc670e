/**
 * The symbol universe, stored in Redis. Changing it bumps the epoch like a membership change, so
 * every worker recomputes its share the same way.
 */
import type { Redis } from 'ioredis';
import { ringScriptKeys, type ClusterKeys } from '../redis/keys.js';
import { DEFAULT_VNODES } from './ring.js';

/** Symbols per script call: keeps one call's argument list and run time small. */
const SYMBOLS_PER_CALL = 1_000;

async function change(
  redis: Redis,
  keys: ClusterKeys,
  op: 'add' | 'rm',
  symbols: readonly string[],
  vnodes: number,
): Promise<{ epoch: number; changed: number }> {
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
