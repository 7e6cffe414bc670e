/**
 * The Lua scripts, loaded from `lua/<name>-<numKeys>.lua` (`-n.lua`: variadic, the caller passes the
 * key count as the first argument), registered once per connection with
 * ioredis `defineCommand` (which falls back from EVALSHA to EVAL by itself), and called through the
 * typed wrappers below. A script that refuses answers a negative code; `scriptError` maps it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Result } from 'ioredis';
import type { RedisClient } from './client.js';
import { TickringError } from '../errors.js';

/** Buffers go to Redis as they are (checkpoint records held off the V8 heap). */
type ScriptArg = string | number | Buffer;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tickringJoin(...args: ScriptArg[]): Result<number[], Context>;
    tickringHeartbeat(...args: ScriptArg[]): Result<(number | string)[], Context>;
    tickringLeave(...args: ScriptArg[]): Result<number[], Context>;
    tickringSetSymbols(...args: ScriptArg[]): Result<number[], Context>;
    tickringCheckpoint(...args: ScriptArg[]): Result<(number | string)[], Context>;
    tickringClaim(...args: ScriptArg[]): Result<(number | string | null)[], Context>;
    /** `tickringClaim` with the checkpoints as bytes (packed aggregates are binary). */
    tickringClaimBuffer(...args: ScriptArg[]): Result<(number | Buffer | null)[], Context>;
    tickringPin(...args: ScriptArg[]): Result<number[], Context>;
    tickringDrain(...args: ScriptArg[]): Result<number[], Context>;
    tickringRelayLease(...args: ScriptArg[]): Result<number[], Context>;
    /** `numKeys, ...keys, ...args` (variadic, see `lua/write-bars-n.lua`). */
    tickringWriteBars(...args: ScriptArg[]): Result<number, Context>;
  }
}

const LUA_DIR = new URL('./lua/', import.meta.url);
const INCLUDE = /^--@include ([a-z-]+)$/m;

/** Script file name (without `-N.lua`) → ioredis command name. */
const COMMANDS: Readonly<Record<string, string>> = {
  join: 'tickringJoin',
  heartbeat: 'tickringHeartbeat',
  leave: 'tickringLeave',
  'set-symbols': 'tickringSetSymbols',
  checkpoint: 'tickringCheckpoint',
  claim: 'tickringClaim',
  pin: 'tickringPin',
  drain: 'tickringDrain',
  'relay-lease': 'tickringRelayLease',
  'write-bars': 'tickringWriteBars',
};

interface LoadedScript {
  readonly command: string;
  /** `undefined`: variadic. */
  readonly numberOfKeys: number | undefined;
  readonly lua: string;
}

function loadScripts(): LoadedScript[] {
  const files = readdirSync(LUA_DIR);
  const scripts: LoadedScript[] = [];
  for (const file of files) {
    const match = /^([a-z-]+)-(\d+|n)\.lua$/.exec(file);
    if (!match?.[1] || !match[2]) continue;
    const command = COMMANDS[match[1]];
    if (!command) throw new Error(`lua/${file} has no command name in scripts.ts`);
    // Two files for one script (say join-5.lua left in dist/ by an older build) would register
    // whichever came last: refuse instead of guessing.
    const twin = scripts.find((script) => script.command === command);
    if (twin) throw new Error(`lua/${file}: another file also defines ${command}; remove the stale one`);
    const source = readFileSync(new URL(file, LUA_DIR), 'utf8');
    const lua = source.replace(INCLUDE, (_, name: string) =>
      readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8'),
    );
    scripts.push({ command, numberOfKeys: match[2] === 'n' ? undefined : Number(match[2]), lua });
  }
  return scripts;
}

let loaded: LoadedScript[] | undefined;

/** Registers every script on a connection; call once per connection before using the wrappers. */
export function registerScripts(redis: RedisClient): void {
  loaded ??= loadScripts();
  for (const script of loaded) {
    const { numberOfKeys, lua } = script;
    redis.defineCommand(script.command, numberOfKeys === undefined ? { lua } : { numberOfKeys, lua });
  }
}

/** Script refusal codes, answered as the first element of the reply. */
export const SCRIPT_CODES = {
  LEASE_LOST: -1,
  /** The member id holds no live lease, or is not active (joining or draining) where that matters. */
  NOT_MEMBER: -2,
  /** The symbol is not in the universe. */
  UNKNOWN_SYMBOL: -3,
  /** The only active member cannot be drained: nobody could take its symbols. */
  LAST_MEMBER: -4,
} as const;

/** Maps a refusal code to a typed error; `context` says what was attempted, in an operator's words. */
export function scriptError(code: number, context: string): TickringError {
  switch (code) {
    case SCRIPT_CODES.LEASE_LOST:
      return new TickringError('TICKRING_ERR_LEASE_LOST', `${context}: the lease had lapsed`);
    case SCRIPT_CODES.NOT_MEMBER:
      return new TickringError(
        'TICKRING_ERR_NOT_MEMBER',
        `${context}: no such active worker in the ring (see tickring status)`,
      );
    case SCRIPT_CODES.UNKNOWN_SYMBOL:
      // A dedicated code would be clearer; until errors.ts has one, this is an input problem.
      return new TickringError(
        'TICKRING_ERR_CONFIG',
        `${context}: the symbol is not in the universe (see tickring symbols ls)`,
      );
    case SCRIPT_CODES.LAST_MEMBER:
      return new TickringError(
        'TICKRING_ERR_CONFIG',
        `${context}: it is the only active worker, nobody could take its symbols; start another worker first or stop this one`,
      );
    default:
      return new TickringError(
        'TICKRING_ERR_UNKNOWN_SCRIPT_CODE',
        `${context}: script answered code ${code}`,
      );
  }
}
