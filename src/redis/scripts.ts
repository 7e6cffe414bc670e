/**
 * The Lua scripts, loaded from `lua/<name>-<numKeys>.lua`, registered once per connection with
 * ioredis `defineCommand` (which falls back from EVALSHA to EVAL by itself), and called through the
 * typed wrappers below. A script that refuses answers a negative code; `scriptError` maps it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Redis, Result } from 'ioredis';
import { TickringError } from '../errors.js';

type ScriptArg = string | number;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tickringJoin(...args: ScriptArg[]): Result<number[], Context>;
    tickringHeartbeat(...args: ScriptArg[]): Result<number[], Context>;
    tickringLeave(...args: ScriptArg[]): Result<number[], Context>;
    tickringSetSymbols(...args: ScriptArg[]): Result<number[], Context>;
    tickringCheckpoint(...args: ScriptArg[]): Result<(number | string)[], Context>;
    tickringClaim(...args: ScriptArg[]): Result<(number | string | null)[], Context>;
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
};

interface LoadedScript {
  readonly command: string;
  readonly numberOfKeys: number;
  readonly lua: string;
}

function loadScripts(): LoadedScript[] {
  const files = readdirSync(LUA_DIR);
  const scripts: LoadedScript[] = [];
  for (const file of files) {
    const match = /^([a-z-]+)-(\d+)\.lua$/.exec(file);
    if (!match?.[1] || !match[2]) continue;
    const command = COMMANDS[match[1]];
    if (!command) throw new Error(`lua/${file} has no command name in scripts.ts`);
    const source = readFileSync(new URL(file, LUA_DIR), 'utf8');
    const lua = source.replace(INCLUDE, (_, name: string) =>
      readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8'),
    );
    scripts.push({ command, numberOfKeys: Number(match[2]), lua });
  }
  return scripts;
}

let loaded: LoadedScript[] | undefined;

/** Registers every script on a connection; call once per connection before using the wrappers. */
export function registerScripts(redis: Redis): void {
  loaded ??= loadScripts();
  for (const script of loaded) {
    redis.defineCommand(script.command, { numberOfKeys: script.numberOfKeys, lua: script.lua });
  }
}

/** Script refusal codes, answered as the first element of the reply. */
export const SCRIPT_CODES = { LEASE_LOST: -1 } as const;

export function scriptError(code: number, context: string): TickringError {
  if (code === SCRIPT_CODES.LEASE_LOST) {
    return new TickringError('TICKRING_ERR_LEASE_LOST', `${context}: the lease had lapsed`);
  }
  return new TickringError('TICKRING_ERR_UNKNOWN_SCRIPT_CODE', `${context}: script answered code ${code}`);
}
