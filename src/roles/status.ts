/**
 * `tickring status`: the ring as Redis holds it: epoch, members with lease time left, address and
 * symbols owned, pins, and a warning for anything unhealthy.
 */
import { z } from 'zod';
import { readRingRecord } from '../cluster/membership.js';
import { Assignment } from '../cluster/ring.js';
import { defineOption, type OptionValues } from '../config/option-spec.js';
import { redisOptions } from '../config/options.js';
import { connectRedis, createRedis, redactRedisUrl } from '../redis/connection.js';
import { clusterKeys } from '../redis/keys.js';

export const STATUS_OPTIONS = {
  ...redisOptions,
  json: defineOption({
    flag: '--json',
    env: [],
    description: 'print JSON instead of a table',
    form: 'a flag',
    schema: z.boolean(),
    default: false,
  }),
} as const;

export type StatusConfig = OptionValues<typeof STATUS_OPTIONS>;

export interface ClusterStatus {
  readonly epoch: number;
  readonly changedAt: number;
  readonly reason: string;
  readonly symbols: number;
  readonly members: readonly {
    id: string;
    address: string;
    weight: number;
    symbols: number;
    leaseLeftMs: number | null;
  }[];
  readonly pins: Readonly<Record<string, string>>;
  readonly warnings: readonly string[];
}

export async function readStatus(
  config: Pick<StatusConfig, 'redisUrl' | 'cluster' | 'keyPrefix'>,
): Promise<ClusterStatus> {
  const redis = createRedis({ url: config.redisUrl, name: 'tickring:status' });
  try {
    await connectRedis(redis, config.redisUrl);
    const keys = clusterKeys(config.keyPrefix, config.cluster);
    const [record, symbols, leases, time] = await Promise.all([
      readRingRecord(redis, keys),
      redis.smembers(keys.symbols),
      redis.zrange(keys.leases, 0, -1, 'WITHSCORES'),
      redis.time(),
    ]);
    const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
    const deadlines = new Map<string, number>();
    for (let i = 0; i + 1 < leases.length; i += 2) deadlines.set(leases[i] ?? '', Number(leases[i + 1]));
    const assignment = new Assignment(record, symbols);
    const warnings: string[] = [];
    if (record.members.length === 0) warnings.push('no live workers: no symbol is being ingested');
    const members = record.members.map((member) => {
      const deadline = deadlines.get(member.id);
      const leaseLeftMs = deadline === undefined ? null : deadline - now;
      if (leaseLeftMs === null || leaseLeftMs < 0)
        warnings.push(`${member.id}: lease lapsed; it will be reaped`);
      return { ...member, symbols: assignment.symbolCount(member.id), leaseLeftMs };
    });
    for (const [symbol, id] of Object.entries(record.pins)) {
      if (!deadlines.has(id))
        warnings.push(`pin ${symbol} -> ${id}: that worker is not a member; the ring places it`);
    }
    return {
      epoch: record.epoch,
      changedAt: record.changedAt,
      reason: record.reason,
      symbols: symbols.length,
      members,
      pins: record.pins,
      warnings,
    };
  } finally {
    redis.disconnect();
  }
}

export function formatStatus(status: ClusterStatus, redisUrl: string): string {
  const lines = [
    `redis    ${redactRedisUrl(redisUrl)}`,
    `epoch    ${status.epoch}  (${status.reason || 'no change yet'})`,
    `symbols  ${status.symbols}`,
    '',
    'member'.padEnd(24) + 'symbols'.padStart(8) + 'lease left'.padStart(12) + '  address',
    ...status.members.map(
      (m) =>
        m.id.padEnd(24) +
        String(m.symbols).padStart(8) +
        (m.leaseLeftMs === null ? '-' : `${(m.leaseLeftMs / 1000).toFixed(1)} s`).padStart(12) +
        `  ${m.address}`,
    ),
  ];
  const pins = Object.entries(status.pins);
  if (pins.length > 0) lines.push('', 'pins', ...pins.map(([symbol, id]) => `  ${symbol} -> ${id}`));
  if (status.warnings.length > 0) lines.push('', ...status.warnings.map((w) => `WARNING ${w}`));
  return `${lines.join('\n')}\n`;
}

export async function runStatus(config: StatusConfig): Promise<void> {
  const status = await readStatus(config);
  process.stdout.write(
    config.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status, config.redisUrl),
  );
}
