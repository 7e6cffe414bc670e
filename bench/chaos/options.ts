/**
 * The chaos run's options: every one a flag (`npm run chaos -- --duration-s 60`) and a `CHAOS_*`
 * environment variable (`CHAOS_DURATION_S=60`), flags winning. Unknown flags are refused; words after
 * `--` go to every worker unchanged (e.g. `-- --vnodes 64`).
 */
import { parseArgs } from 'node:util';
import { FEED_NAMES } from '../../feeds/index.js';

export const EVENT_KINDS = ['join', 'leave', 'drain', 'kill', 'stop', 'redis-restart'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export interface ChaosOptions {
  /** How long events are fired (ms); the settling and accounting afterwards come on top. */
  readonly durationMs: number;
  /** Workers at the start. */
  readonly workers: number;
  /** Fewest and most worker processes the schedule keeps running. */
  readonly minWorkers: number;
  readonly maxWorkers: number;
  /** Trades per second over all symbols. */
  readonly rate: number;
  readonly symbols: number;
  /** Zipf exponent of per-symbol rates (0: uniform). */
  readonly skew: number;
  /** Provider protocol the simulator speaks and the workers read. */
  readonly feed: string;
  /** Seed of the schedule (and of the simulator's market). */
  readonly seed: number;
  readonly events: readonly EventKind[];
  /** Gap between two events, drawn uniformly from [min, max] (ms). */
  readonly minGapMs: number;
  readonly maxGapMs: number;
  /** `--replicas N` passed to workers when set (standby replicas). */
  readonly replicas: number | undefined;
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  readonly pollMs: number;
  readonly checkpointMs: number;
  /** Further worker flags, passed through unchanged. */
  readonly workerArgs: readonly string[];
  /** Print each event as it happens. */
  readonly verbose: boolean;
  /** Replace the "Chaos" section of bench/RESULTS.md with this run's report. */
  readonly writeResults: boolean;
}

export const DEFAULT_CHAOS_OPTIONS: ChaosOptions = Object.freeze({
  durationMs: 60_000,
  workers: 4,
  minWorkers: 2,
  maxWorkers: 6,
  rate: 1_000,
  symbols: 200,
  skew: 1,
  feed: 'polygon',
  seed: 1,
  events: EVENT_KINDS,
  minGapMs: 1_500,
  maxGapMs: 4_000,
  replicas: undefined,
  leaseMs: 2_000,
  heartbeatMs: 500,
  pollMs: 500,
  checkpointMs: 500,
  workerArgs: [],
  verbose: true,
  writeResults: false,
});

/** Numeric options: flag name, env name, key, and the smallest value allowed. */
const NUMBERS = [
  ['duration-s', 'durationMs', 1, 1_000],
  ['workers', 'workers', 1, 1],
  ['min-workers', 'minWorkers', 1, 1],
  ['max-workers', 'maxWorkers', 1, 1],
  ['rate', 'rate', 0, 1],
  ['symbols', 'symbols', 1, 1],
  ['skew', 'skew', 0, 1],
  ['seed', 'seed', 0, 1],
  ['min-gap-ms', 'minGapMs', 50, 1],
  ['max-gap-ms', 'maxGapMs', 50, 1],
  ['replicas', 'replicas', 1, 1],
  ['lease-ms', 'leaseMs', 100, 1],
  ['heartbeat-ms', 'heartbeatMs', 50, 1],
  ['poll-ms', 'pollMs', 50, 1],
  ['checkpoint-ms', 'checkpointMs', 50, 1],
] as const satisfies readonly (readonly [string, keyof ChaosOptions, number, number])[];

export const CHAOS_USAGE = `npm run chaos -- [options] [-- worker flags]

  --duration-s <s>      seconds of events (CHAOS_DURATION_S; default 60)
  --workers <n>         workers at the start (CHAOS_WORKERS; 4)
  --min-workers <n>     fewest running workers the schedule keeps (CHAOS_MIN_WORKERS; 2)
  --max-workers <n>     most worker processes (CHAOS_MAX_WORKERS; 6)
  --rate <n>            trades/s over all symbols (CHAOS_RATE; 1000)
  --symbols <n>         symbols (CHAOS_SYMBOLS; 200)
  --skew <s>            Zipf exponent of per-symbol rates (CHAOS_SKEW; 1)
  --feed <name>         ${FEED_NAMES.join(' | ')} (CHAOS_FEED; polygon)
  --seed <n>            seed of the schedule and the market (CHAOS_SEED; 1)
  --events <list>       of ${EVENT_KINDS.join(',')} (CHAOS_EVENTS; all)
  --min-gap-ms <ms>     shortest gap between events (CHAOS_MIN_GAP_MS; 1500)
  --max-gap-ms <ms>     longest gap between events (CHAOS_MAX_GAP_MS; 4000)
  --replicas <n>        pass --replicas n to every worker (CHAOS_REPLICAS; unset)
  --lease-ms <ms>       worker lease (CHAOS_LEASE_MS; 2000)
  --heartbeat-ms <ms>   (CHAOS_HEARTBEAT_MS; 500)
  --poll-ms <ms>        (CHAOS_POLL_MS; 500)
  --checkpoint-ms <ms>  (CHAOS_CHECKPOINT_MS; 500)
  --quiet               print only the report (CHAOS_QUIET=1)
  --write-results       replace the "Chaos" section of bench/RESULTS.md with the report
  -h, --help`;

export class ChaosUsageError extends Error {}

/** Options from argv (without node and the script) and the environment; throws listing every problem. */
export function parseChaosOptions(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): ChaosOptions | 'help' {
  const dashes = argv.indexOf('--');
  const own = dashes >= 0 ? argv.slice(0, dashes) : [...argv];
  const workerArgs = dashes >= 0 ? argv.slice(dashes + 1) : [];
  const { values } = parseArgs({
    args: own,
    strict: true,
    allowPositionals: false,
    options: {
      ...Object.fromEntries(NUMBERS.map(([flag]) => [flag, { type: 'string' as const }])),
      feed: { type: 'string' },
      events: { type: 'string' },
      quiet: { type: 'boolean' },
      'write-results': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values['help']) return 'help';
  const problems: string[] = [];
  const given = values as Record<string, string | boolean | undefined>;
  const text = (flag: string): string | undefined => {
    const value = given[flag];
    if (typeof value === 'string') return value;
    return env[`CHAOS_${flag.toUpperCase().replaceAll('-', '_')}`];
  };
  const options: Record<string, unknown> = { ...DEFAULT_CHAOS_OPTIONS, workerArgs };
  for (const [flag, key, min, scale] of NUMBERS) {
    const raw = text(flag);
    if (raw === undefined || raw === '') continue;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min) problems.push(`--${flag} must be a number >= ${min}`);
    else options[key] = value * scale;
  }
  const feed = text('feed');
  if (feed !== undefined) {
    if (FEED_NAMES.includes(feed)) options['feed'] = feed;
    else problems.push(`--feed must be one of ${FEED_NAMES.join(', ')}`);
  }
  const events = text('events');
  if (events !== undefined) {
    const kinds = events
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean);
    const unknown = kinds.filter((k) => !(EVENT_KINDS as readonly string[]).includes(k));
    if (unknown.length > 0 || kinds.length === 0)
      problems.push(`--events takes a list of ${EVENT_KINDS.join(', ')}; got ${events}`);
    else options['events'] = [...new Set(kinds)];
  }
  options['verbose'] = !(values['quiet'] === true || env['CHAOS_QUIET'] === '1');
  options['writeResults'] = values['write-results'] === true;
  const result = options as unknown as ChaosOptions;
  problems.push(...chaosOptionProblems(result));
  if (problems.length > 0) throw new ChaosUsageError(problems.join('; '));
  return result;
}

export function chaosOptionProblems(o: ChaosOptions): string[] {
  const problems: string[] = [];
  if (o.minWorkers > o.maxWorkers) problems.push('--min-workers must not exceed --max-workers');
  if (o.workers < o.minWorkers || o.workers > o.maxWorkers)
    problems.push('--workers must lie within --min-workers and --max-workers');
  if (o.minGapMs > o.maxGapMs) problems.push('--min-gap-ms must not exceed --max-gap-ms');
  if (o.heartbeatMs >= o.leaseMs) problems.push('--heartbeat-ms must be below --lease-ms');
  return problems;
}

/** Fills in defaults for a programmatic caller (tests), checking the result. */
export function chaosOptions(overrides: Partial<ChaosOptions>): ChaosOptions {
  const options = { ...DEFAULT_CHAOS_OPTIONS, ...overrides };
  const problems = chaosOptionProblems(options);
  if (problems.length > 0) throw new ChaosUsageError(problems.join('; '));
  return options;
}

/** The flags that reproduce a run (for the report). */
export function chaosCommand(o: ChaosOptions): string {
  const flags = [
    `--duration-s ${o.durationMs / 1000}`,
    `--workers ${o.workers}`,
    `--min-workers ${o.minWorkers}`,
    `--max-workers ${o.maxWorkers}`,
    `--rate ${o.rate}`,
    `--symbols ${o.symbols}`,
    `--skew ${o.skew}`,
    `--feed ${o.feed}`,
    `--seed ${o.seed}`,
    `--events ${o.events.join(',')}`,
    `--min-gap-ms ${o.minGapMs}`,
    `--max-gap-ms ${o.maxGapMs}`,
    ...(o.replicas !== undefined ? [`--replicas ${o.replicas}`] : []),
    `--lease-ms ${o.leaseMs}`,
    `--heartbeat-ms ${o.heartbeatMs}`,
    `--poll-ms ${o.pollMs}`,
    `--checkpoint-ms ${o.checkpointMs}`,
  ];
  const pass = o.workerArgs.length > 0 ? ` -- ${o.workerArgs.join(' ')}` : '';
  return `npm run build && npm run chaos -- ${flags.join(' ')}${pass}`;
}
