/**
 * Operator commands that change the cluster through Redis: `tickring symbols add|rm|ls`,
 * `tickring pin <symbol> <worker>`, `tickring pin-hot --rates-file <file>` (pins planned from a rate
 * snapshot), `tickring unpin <symbol>` and `tickring drain <worker>`. Each change goes through one
 * Lua script that rewrites the ring record and bumps the epoch atomically; workers pick it up like
 * any membership change. Each command connects, acts, prints one line and exits; an unreachable
 * Redis is reported with its URL and the reason.
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import type { RedisClient as Redis } from '../redis/client.js';
import { z } from 'zod';
import { readRingRecord } from '../cluster/membership.js';
import { parseRatesSnapshot, planHotPins } from '../cluster/hot-pins.js';
import { sampleTradeRates } from './rate-sample.js';
import { drainMemberAhead, pinSymbol, unpinSymbol } from '../cluster/placement-admin.js';
import { Assignment } from '../cluster/ring.js';
import { addSymbols, assertValidSymbols, listSymbols, removeSymbols } from '../cluster/universe.js';
import {
  addOptions,
  defineOption,
  resolveOptions,
  type OptionSpecs,
  type OptionValues,
} from '../config/option-spec.js';
import { intSchema, numberSchema, redisOptions } from '../config/options.js';
import { TickringError } from '../errors.js';
import { withRedis } from '../redis/connection.js';
import { clusterKeys, type ClusterKeys } from '../redis/keys.js';
import { readSymbolsFile } from './symbols-input.js';

const jsonOption = {
  json: defineOption({
    flag: '--json',
    env: [],
    description: 'print JSON',
    form: 'a flag',
    schema: z.boolean(),
    default: false,
  }),
} as const;

const symbolsChangeOptions = {
  ...redisOptions,
  file: defineOption({
    flag: '--file <path>',
    env: [],
    description: 'also take the symbols of this file (comma or newline separated, # comments)',
    form: 'a readable file path',
    schema: z.string().optional(),
  }),
} as const;

const drainOptions = {
  ...redisOptions,
  waitMs: defineOption({
    flag: '--wait-ms <ms>',
    env: [],
    description:
      'how long to wait for the worker to hand over and leave (0: return once the drain is recorded)',
    form: 'an integer from 0 to 600000',
    schema: intSchema(0, 600_000),
    default: 30_000,
  }),
} as const;

const pinHotOptions = {
  ...redisOptions,
  ratesFile: defineOption({
    flag: '--rates-file <path>',
    env: [],
    description:
      'JSON object of symbol -> trades/s (bare or under "rates") to plan from (default: measure the running cluster)',
    form: 'a readable file path',
    schema: z.string().optional(),
  }),
  sampleMs: defineOption({
    flag: '--sample-ms <ms>',
    env: [],
    description: "without --rates-file: how long to measure each symbol's trade rate through a worker's API",
    form: 'an integer from 500 to 600000',
    schema: intSchema(500, 600_000),
    default: 10_000,
  }),
  apply: defineOption({
    flag: '--apply',
    env: [],
    description: 'apply the plan (without it, only print it)',
    form: 'a flag',
    schema: z.boolean(),
    default: false,
  }),
  target: defineOption({
    flag: '--target <ratio>',
    env: [],
    description: 'max/mean trade load per worker to aim for',
    form: 'a number from 1 to 100',
    schema: numberSchema(1, 100),
    default: 1.25,
  }),
  maxMoves: defineOption({
    flag: '--max-moves <n>',
    env: [],
    description: 'most symbols to move in this call (each pin change is one epoch today)',
    form: 'an integer from 0 to 100000',
    schema: intSchema(0, 100_000),
    default: 64,
  }),
  maxPins: defineOption({
    flag: '--max-pins <n>',
    env: [],
    description: 'most pins to hold in all',
    form: 'an integer from 0 to 100000',
    schema: intSchema(0, 100_000),
    default: 1024,
  }),
  ...jsonOption,
} as const;

type Run<S extends OptionSpecs> = (
  config: OptionValues<S>,
  args: readonly string[],
  redis: Redis,
  keys: ClusterKeys,
) => Promise<string>;

/** Wires one command: options resolved like every role's, Redis opened, one line printed. */
export function adminAction<S extends OptionSpecs>(
  command: Command,
  specs: S,
  name: string,
  run: Run<S>,
  fail: (err: unknown) => never,
): void {
  addOptions(command, specs);
  command.action(async (...received: unknown[]) => {
    try {
      const cmd = received.at(-1) as Command;
      const args = cmd.args;
      const config = resolveOptions(specs, cmd.opts(), process.env);
      const { redisUrl, keyPrefix, cluster } = config as unknown as OptionValues<typeof redisOptions>;
      const out = await withRedis(redisUrl, `tickring:${name}`, (redis) =>
        run(config, args, redis, clusterKeys(keyPrefix, cluster)),
      );
      process.stdout.write(out.endsWith('\n') ? out : `${out}\n`);
    } catch (err) {
      fail(err);
    }
  });
}

function symbolsGiven(args: readonly string[], file: string | undefined): string[] {
  const given = [
    ...args.flatMap((arg) => arg.split(',')).filter((s) => s !== ''),
    ...(file ? readSymbolsFile(file) : []),
  ];
  assertValidSymbols(given);
  return [...new Set(given)];
}

async function waitForLeave(
  redis: Redis,
  keys: ClusterKeys,
  id: string,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await redis.zscore(keys.leases, id)) === null) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

export function registerAdminCommands(program: Command, fail: (err: unknown) => never): void {
  const symbols = program.command('symbols').description('list or change the symbol universe');
  adminAction(
    symbols
      .command('add')
      .description('add symbols to the universe; each moves to its owner at the next epoch')
      .argument('[symbols...]', 'symbols, space or comma separated'),
    symbolsChangeOptions,
    'symbols',
    async (config, args, redis, keys) => {
      const list = symbolsGiven(args, config.file);
      if (list.length === 0)
        throw new TickringError('TICKRING_ERR_CONFIG', 'no symbols given: name them, or pass --file');
      const { epoch, changed } = await addSymbols(redis, keys, list);
      return `added ${changed} of ${list.length} symbols${changed > 0 ? `; epoch ${epoch}` : ' (all were there)'}`;
    },
    fail,
  );
  adminAction(
    symbols
      .command('rm')
      .description('remove symbols from the universe (and their pins); their owners stop ingesting them')
      .argument('[symbols...]', 'symbols, space or comma separated'),
    symbolsChangeOptions,
    'symbols',
    async (config, args, redis, keys) => {
      const list = symbolsGiven(args, config.file);
      if (list.length === 0)
        throw new TickringError('TICKRING_ERR_CONFIG', 'no symbols given: name them, or pass --file');
      const { epoch, changed } = await removeSymbols(redis, keys, list);
      return `removed ${changed} of ${list.length} symbols${changed > 0 ? `; epoch ${epoch}` : ' (none were there)'}`;
    },
    fail,
  );
  adminAction(
    symbols.command('ls').description('list the universe with each symbol’s owner at the current epoch'),
    { ...redisOptions, ...jsonOption },
    'symbols',
    async (config, _args, redis, keys) => {
      const [record, list] = await Promise.all([readRingRecord(redis, keys), listSymbols(redis, keys)]);
      const assignment = new Assignment(record, list);
      const rows = list.map((symbol) => ({
        symbol,
        owner: assignment.ownerOf(symbol) ?? null,
        pinned: record.pins[symbol] !== undefined,
      }));
      if (config.json) return JSON.stringify({ epoch: record.epoch, symbols: rows }, null, 2);
      const lines = rows.map((r) => `${r.symbol.padEnd(34)}${r.owner ?? '-'}${r.pinned ? '  (pinned)' : ''}`);
      return [...lines, `${list.length} symbols at epoch ${record.epoch}`].join('\n');
    },
    fail,
  );

  adminAction(
    program
      .command('pin')
      .description('place a symbol on a chosen worker, overriding the ring (for hot symbols)')
      .argument('<symbol>')
      .argument('<worker>', 'an active worker id (see tickring status)'),
    redisOptions,
    'pin',
    async (_config, [symbol = '', worker = ''], redis, keys) => {
      const { epoch, changed } = await pinSymbol(redis, keys, symbol, worker);
      return changed
        ? `pinned ${symbol} to ${worker}; epoch ${epoch}`
        : `${symbol} was already pinned to ${worker}`;
    },
    fail,
  );
  adminAction(
    program
      .command('pin-hot')
      .description(
        'plan pins for the hottest symbols from a rate snapshot (hysteresis on the pins in force)',
      ),
    pinHotOptions,
    'pin',
    async (config, _args, redis, keys) => {
      const [record, universe] = await Promise.all([readRingRecord(redis, keys), listSymbols(redis, keys)]);
      const address = record.members.find((member) => member.address !== '')?.address;
      if (!config.ratesFile && !address)
        throw new Error('no live worker to measure trade rates through; give --rates-file');
      const rates = config.ratesFile
        ? parseRatesSnapshot(readFileSync(config.ratesFile, 'utf8'))
        : await sampleTradeRates(address ?? '', config.sampleMs);
      const ring = new Assignment({ ...record, pins: {} }, universe);
      const plan = planHotPins(rates, record.members, ring, {
        target: config.target,
        maxMoves: config.maxMoves,
        maxPins: config.maxPins,
        currentPins: record.pins,
      });
      if (config.apply) {
        // One script call (and epoch) per change until a batch pin script exists.
        for (const symbol of plan.unpin) await unpinSymbol(redis, keys, symbol);
        for (const [symbol, worker] of plan.pin) await pinSymbol(redis, keys, symbol, worker);
      }
      if (config.json)
        return JSON.stringify({ epoch: record.epoch, applied: config.apply, ...plan }, null, 2);
      const verb = config.apply ? 'applied' : 'planned (dry run; --apply to apply)';
      return [
        ...plan.pin.map(([symbol, worker]) => `pin ${symbol.padEnd(30)}${worker}`),
        ...plan.unpin.map((symbol) => `unpin ${symbol}`),
        `${verb}: ${plan.pin.length} pins, ${plan.unpin.length} unpins, ${plan.movedSymbols} symbols moved; ` +
          `max/mean ${plan.currentMaxOverMean.toFixed(2)} now, ${plan.predictedMaxOverMean.toFixed(2)} after ` +
          `(ring alone ${plan.ringMaxOverMean.toFixed(2)}, best ${plan.bestPossible.toFixed(2)})` +
          (plan.capped ? '; capped, run again to continue' : ''),
      ].join('\n');
    },
    fail,
  );
  adminAction(
    program.command('unpin').description('let the ring place a pinned symbol again').argument('<symbol>'),
    redisOptions,
    'pin',
    async (_config, [symbol = ''], redis, keys) => {
      const { epoch, changed } = await unpinSymbol(redis, keys, symbol);
      return changed ? `unpinned ${symbol}; epoch ${epoch}` : `${symbol} was not pinned`;
    },
    fail,
  );

  adminAction(
    program
      .command('drain')
      .description("move a worker's symbols to the others through planned hand-overs, then let it leave")
      .argument('<worker>', 'the worker id (see tickring status)'),
    drainOptions,
    'drain',
    async (config, [worker = ''], redis, keys) => {
      const before = await readRingRecord(redis, keys);
      const { epoch, changed, notice } = await drainMemberAhead(redis, keys, worker);
      const ahead = `${notice.ready} of ${notice.peers} other workers subscribed to its symbols first`;
      const head = changed
        ? `draining ${worker} at epoch ${epoch} (was epoch ${before.epoch}; ${ahead})`
        : `${worker} was already draining`;
      if (config.waitMs === 0) return head;
      process.stdout.write(`${head}; waiting for it to hand over and leave...\n`);
      if (await waitForLeave(redis, keys, worker, config.waitMs)) return `${worker} left the ring`;
      process.exitCode = 1;
      return `${worker} is still a member after ${config.waitMs / 1000} s: check its logs (is it running a version that knows drain?)`;
    },
    fail,
  );
}
