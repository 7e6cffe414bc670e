/**
 * `tickring scale <workers>`: sets how many workers the `tickring up` process of this cluster runs,
 * from any machine that reaches Redis. It writes the count to Redis and waits until that process
 * reports it reached it: new workers on the ring, or the extra ones drained (every symbol handed
 * over) and gone. Without a `tickring up` watching the cluster it says so and fails: workers run by
 * docker compose or Kubernetes are scaled there (`docker compose up --scale worker=N`).
 */
import type { Command } from 'commander';
import { readRingRecord } from '../cluster/membership.js';
import { readScaleState, requestWorkers, WATCHER_STALE_MS } from '../cluster/scale-request.js';
import { defineOption } from '../config/option-spec.js';
import { intSchema, redisOptions } from '../config/options.js';
import { TickringError } from '../errors.js';
import { adminAction } from './admin.js';

export const MAX_WORKERS = 64;

export const SCALE_OPTIONS = {
  ...redisOptions,
  waitMs: defineOption({
    flag: '--wait-ms <ms>',
    env: [],
    description: 'how long to wait for the workers to start or drain (0: return once the count is recorded)',
    form: 'an integer from 0 to 600000',
    schema: intSchema(0, 600_000),
    default: 120_000,
  }),
} as const;

function parseCount(raw: string): number {
  const count = Number(raw);
  if (!/^\d+$/.test(raw) || count < 1 || count > MAX_WORKERS)
    throw new TickringError(
      'TICKRING_ERR_CONFIG',
      `workers "${raw}": must be an integer from 1 to ${MAX_WORKERS}`,
    );
  return count;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function registerScaleCommand(program: Command, fail: (err: unknown) => never): void {
  adminAction(
    program
      .command('scale')
      .description('set how many workers `tickring up` runs; scaling down drains the workers it stops')
      .argument('<workers>', `an integer from 1 to ${MAX_WORKERS}`),
    SCALE_OPTIONS,
    'scale',
    async (config, [raw = ''], redis, keys) => {
      const count = parseCount(raw);
      const before = await requestWorkers(redis, keys, count);
      const was = before.applied ?? before.desired;
      const head = `desired workers: ${count}${was === undefined ? '' : ` (was ${was})`}`;
      const seen = before.watcherSeenAgoMs;
      if (seen === undefined || seen > WATCHER_STALE_MS) {
        process.exitCode = 1;
        const last = seen === undefined ? 'never' : `last seen ${Math.round(seen / 1000)} s ago`;
        return (
          `${head}; but no tickring up runs cluster "${config.cluster}" (${last}). ` +
          'Start one (tickring up --redis <url> --workers N), or scale the deployment that runs the workers ' +
          '(docker compose up --scale worker=N).'
        );
      }
      if (config.waitMs === 0) return head;
      process.stdout.write(`${head}; waiting for tickring up to apply it...\n`);
      const deadline = Date.now() + config.waitMs;
      while (Date.now() < deadline) {
        const state = await readScaleState(redis, keys);
        if (state.desired !== count) return `superseded: desired workers is now ${state.desired ?? '-'}`;
        if (state.applied === count) {
          const record = await readRingRecord(redis, keys);
          const active = record.members.filter((member) => member.draining !== true).map((m) => m.id);
          return `running ${count} workers; the ring (epoch ${record.epoch}) has ${active.length} active: ${active.join(', ')}`;
        }
        await sleep(250);
      }
      process.exitCode = 1;
      return `not applied after ${config.waitMs / 1000} s: see the tickring up logs`;
    },
    fail,
  );
}
