/**
 * `tickring status`: the ring as Redis holds it: epoch, members with their state, lease age (time
 * since the last renewal) and time left, address, symbols owned and trades/s, pins, and a warning
 * for anything unhealthy.
 *
 * Trades/s comes from each member's `/metrics` (`tickring_trades_ingested_total`) read twice,
 * `--sample-ms` apart; it costs two small HTTP requests per member, and `--sample-ms 0` skips it.
 */
import type { RedisClient as Redis } from '../redis/client.js';
import { z } from 'zod';
import { parseMemberInfo, type MemberInfo } from '../cluster/member-info.js';
import { readRingRecord } from '../cluster/membership.js';
import { Assignment } from '../cluster/ring.js';
import { defineOption, type OptionValues } from '../config/option-spec.js';
import { intSchema, redisOptions } from '../config/options.js';
import { redactRedisUrl, withRedis } from '../redis/connection.js';
import { clusterKeys, type ClusterKeys } from '../redis/keys.js';

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
  sampleMs: defineOption({
    flag: '--sample-ms <ms>',
    env: [],
    description: "how long to watch each member's trade counter for trades/s (0: skip, no HTTP requests)",
    form: 'an integer from 0 to 60000',
    schema: intSchema(0, 60_000),
    default: 1_000,
  }),
} as const;

export type StatusConfig = OptionValues<typeof STATUS_OPTIONS>;

export type MemberState = 'active' | 'draining' | 'joining';

export interface MemberStatus {
  readonly id: string;
  readonly state: MemberState;
  readonly address: string;
  readonly weight: number;
  readonly symbols: number;
  /** Time since the lease was last renewed (ms); null when unknown. */
  readonly leaseAgeMs: number | null;
  /** Time until the lease lapses (ms, negative once lapsed); null when the member holds none. */
  readonly leaseLeftMs: number | null;
  /** Trades applied per second, from its `/metrics`; null when not sampled or unreachable. */
  readonly tradesPerSecond: number | null;
}

export interface ClusterStatus {
  readonly epoch: number;
  readonly changedAt: number;
  readonly reason: string;
  readonly symbols: number;
  readonly members: readonly MemberStatus[];
  readonly pins: Readonly<Record<string, string>>;
  readonly warnings: readonly string[];
}

async function tradesIngested(address: string): Promise<number | null> {
  if (!address) return null;
  try {
    const response = await fetch(`${address}/metrics`, { signal: AbortSignal.timeout(1_000) });
    if (!response.ok) return null;
    const match = /^tickring_trades_ingested_total(?:\{[^}]*\})? (\S+)$/m.exec(await response.text());
    return match?.[1] === undefined ? null : Number(match[1]);
  } catch {
    return null;
  }
}

/** Trades/s per address, from two reads of the counter `sampleMs` apart (null: unreachable). */
async function sampleRates(
  addresses: readonly string[],
  sampleMs: number,
): Promise<Map<string, number | null>> {
  const rates = new Map<string, number | null>();
  if (sampleMs === 0) return rates;
  const first = await Promise.all(
    addresses.map(async (a) => [a, await tradesIngested(a), performance.now()] as const),
  );
  await new Promise((resolve) => setTimeout(resolve, sampleMs));
  await Promise.all(
    first.map(async ([address, before, at]) => {
      const after = await tradesIngested(address);
      const seconds = (performance.now() - at) / 1000;
      rates.set(address, before === null || after === null ? null : Math.max(0, (after - before) / seconds));
    }),
  );
  return rates;
}

export async function collectStatus(redis: Redis, keys: ClusterKeys, sampleMs = 0): Promise<ClusterStatus> {
  const [record, symbols, leases, joining, infos, time] = await Promise.all([
    readRingRecord(redis, keys),
    redis.smembers(keys.symbols),
    redis.zrange(keys.leases, 0, -1, 'WITHSCORES'),
    redis.zrange(keys.joining, 0, -1, 'WITHSCORES'),
    redis.hgetall(keys.members),
    redis.time(),
  ]);
  const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
  const deadlines = pairs(leases);
  const joiningSince = pairs(joining);
  const assignment = new Assignment(record, symbols);
  const warnings: string[] = [];

  const rows: Omit<MemberStatus, 'tradesPerSecond'>[] = [];
  const lease = (id: string, info: MemberInfo): Pick<MemberStatus, 'leaseAgeMs' | 'leaseLeftMs'> => {
    const deadline = deadlines.get(id);
    if (deadline === undefined) return { leaseAgeMs: null, leaseLeftMs: null };
    const leaseLeftMs = deadline - now;
    return { leaseLeftMs, leaseAgeMs: info.leaseMs === undefined ? null : info.leaseMs - leaseLeftMs };
  };
  for (const member of record.members) {
    const info = parseMemberInfo(infos[member.id]);
    const state: MemberState = member.draining === true ? 'draining' : 'active';
    const row = {
      id: member.id,
      state,
      address: member.address,
      weight: member.weight,
      symbols: assignment.symbolCount(member.id),
      ...lease(member.id, info),
    };
    rows.push(row);
    if (row.leaseLeftMs === null)
      warnings.push(`${member.id}: on the ring but holds no lease; it will be reaped`);
    else if (row.leaseLeftMs < 0) warnings.push(`${member.id}: lease lapsed; it will be reaped`);
    if (state === 'draining')
      warnings.push(`${member.id}: draining; it leaves once it has handed its symbols over`);
  }
  for (const [id, since] of joiningSince) {
    const info = parseMemberInfo(infos[id]);
    rows.push({
      id,
      state: 'joining',
      address: info.address,
      weight: info.weight,
      symbols: 0,
      ...lease(id, info),
    });
    const waited = now - since;
    if (waited > 30_000)
      warnings.push(`${id}: waiting to join for ${Math.round(waited / 1000)} s; are joins still coming?`);
  }
  if (rows.filter((r) => r.state === 'active').length === 0 && symbols.length > 0)
    warnings.push(`no active workers: none of the ${symbols.length} symbols is being ingested`);
  for (const [symbol, id] of Object.entries(record.pins)) {
    if (!record.members.some((m) => m.id === id && m.draining !== true))
      warnings.push(`pin ${symbol} -> ${id}: that worker is not an active member; the ring places it`);
  }

  const rates = await sampleRates(
    rows.map((r) => r.address).filter((a) => a !== ''),
    sampleMs,
  );
  const members = rows.map((row) => {
    const tradesPerSecond = rates.get(row.address) ?? null;
    if (sampleMs > 0 && row.address !== '' && tradesPerSecond === null)
      warnings.push(`${row.id}: no answer from ${row.address}/metrics`);
    return { ...row, tradesPerSecond };
  });
  return {
    epoch: record.epoch,
    changedAt: record.changedAt,
    reason: record.reason,
    symbols: symbols.length,
    members,
    pins: record.pins,
    warnings,
  };
}

function pairs(flat: readonly string[]): Map<string, number> {
  const map = new Map<string, number>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(flat[i] ?? '', Number(flat[i + 1]));
  return map;
}

export function readStatus(
  config: Pick<StatusConfig, 'redisUrl' | 'cluster' | 'keyPrefix'> & { sampleMs?: number },
): Promise<ClusterStatus> {
  return withRedis(config.redisUrl, 'tickring:status', (redis) =>
    collectStatus(redis, clusterKeys(config.keyPrefix, config.cluster), config.sampleMs ?? 0),
  );
}

function seconds(ms: number | null): string {
  return ms === null ? '-' : `${(ms / 1000).toFixed(1)} s`;
}

export function formatStatus(status: ClusterStatus, redisUrl: string): string {
  const lines = [
    `redis    ${redactRedisUrl(redisUrl)}`,
    `epoch    ${status.epoch}  (${status.reason || 'no change yet'})`,
    `symbols  ${status.symbols}`,
    '',
    'member'.padEnd(20) +
      'state'.padEnd(10) +
      'symbols'.padStart(8) +
      'trades/s'.padStart(10) +
      'renewed'.padStart(10) +
      'lease left'.padStart(12) +
      '  address',
    ...status.members.map(
      (m) =>
        m.id.padEnd(20) +
        m.state.padEnd(10) +
        String(m.symbols).padStart(8) +
        (m.tradesPerSecond === null ? '-' : m.tradesPerSecond.toFixed(0)).padStart(10) +
        (m.leaseAgeMs === null ? '-' : `${seconds(m.leaseAgeMs)} ago`).padStart(10) +
        seconds(m.leaseLeftMs).padStart(12) +
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
