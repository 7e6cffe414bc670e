/**
 * Operator changes to placement: pinning a symbol to a worker and draining a worker. Each goes
 * through one Lua script that changes the pins or the member's state, bumps the epoch and rewrites
 * the ring record in the same atomic step, exactly like a membership change.
 */
import type { RedisClient as Redis } from '../redis/client.js';
import { ringScriptKeys, type ClusterKeys } from '../redis/keys.js';
import { scriptError } from '../redis/scripts.js';
import { DEFAULT_VNODES } from './ring.js';
import { assertValidSymbols } from './universe.js';

export interface PlacementChange {
  /** The ring's epoch after the call (unchanged when nothing changed). */
  readonly epoch: number;
  readonly changed: boolean;
}

/** Pins `symbol` to active member `memberId`: `owner(symbol)` is that member while it is active. */
export async function pinSymbol(
  redis: Redis,
  keys: ClusterKeys,
  symbol: string,
  memberId: string,
  vnodes = DEFAULT_VNODES,
): Promise<PlacementChange> {
  assertValidSymbols([symbol]);
  const [code = 0, changed] = await redis.tickringPin(
    ...ringScriptKeys(keys),
    keys.symbols,
    'pin',
    symbol,
    memberId,
    vnodes,
  );
  if (code < 0) throw scriptError(code, `pin ${symbol} to ${memberId}`);
  return { epoch: code, changed: changed === 1 };
}

/** Removes a pin; the ring places the symbol again. */
export async function unpinSymbol(
  redis: Redis,
  keys: ClusterKeys,
  symbol: string,
  vnodes = DEFAULT_VNODES,
): Promise<PlacementChange> {
  assertValidSymbols([symbol]);
  const [code = 0, changed] = await redis.tickringPin(
    ...ringScriptKeys(keys),
    keys.symbols,
    'unpin',
    symbol,
    '',
    vnodes,
  );
  if (code < 0) throw scriptError(code, `unpin ${symbol}`);
  return { epoch: code, changed: changed === 1 };
}

/**
 * Marks a member draining: the ring is rewritten without it, its symbols move to the others through
 * planned hand-overs, and the member leaves once it has handed everything over.
 */
export async function drainMember(
  redis: Redis,
  keys: ClusterKeys,
  memberId: string,
  vnodes = DEFAULT_VNODES,
): Promise<PlacementChange> {
  const [code = 0, changed] = await redis.tickringDrain(...ringScriptKeys(keys), memberId, vnodes);
  if (code < 0) throw scriptError(code, `drain ${memberId}`);
  return { epoch: code, changed: changed === 1 };
}
