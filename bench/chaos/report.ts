/**
 * The chaos run's report as Markdown: what was sent and aggregated, lost and duplicated, events by
 * kind, hand-over / failover / Redis recovery times, and where the errors were.
 */
import { ATTRIBUTION_CLASSES, fromUnits, type Account } from './accounting.js';
import type { ChaosEvent, ChaosReport, RecordedKind } from './chaos.js';
import { chaosCommand } from './options.js';
import { int, percentile, table } from '../support/stats.js';

const KINDS: readonly RecordedKind[] = [
  'join',
  'leave',
  'drain',
  'kill',
  'restart',
  'stop',
  'rejoin',
  'redis-restart',
];

const CLASS_WORDS = {
  'redis-restart': 'a Redis restart (its own segment)',
  'every-copy-down': 'a SIGKILL or reaped SIGSTOP with no warm standby (still warming, or down too)',
  kill: 'a SIGKILL',
  stop: 'a SIGSTOP',
  planned: 'planned changes only (join, leave, drain, restart, rejoin)',
  none: 'no event',
} as const;

/** The five largest errors, or every one (to trace a run with `CHAOS_DEBUG`). */
function errorLine(worst: Account['worst'], every: boolean): string {
  if (worst.length === 0) return 'Every symbol matched exactly.';
  const shown = every ? worst : worst.slice(0, 5);
  const listed = shown.map((w) => `${w.symbol} expected ${w.expected}, held ${w.held} (${w.touched})`);
  return `${every ? 'Every error' : 'Largest errors'}: ${listed.join('; ')}.`;
}

function ms(value: number): string {
  return Number.isFinite(value) ? `${Math.round(value)}` : 'n/a';
}

function timingRow(name: string, values: readonly number[], timeouts: number): string[] {
  return [
    name,
    String(values.length),
    ms(percentile(values, 50)),
    ms(percentile(values, 99)),
    ms(values.length ? Math.max(...values) : NaN),
    String(timeouts),
  ];
}

export function formatChaos(report: ChaosReport, command = chaosCommand(report.options)): string {
  const a = report.account;
  const o = report.options;
  const handovers = report.events.flatMap((e) => (e.handoverMs !== undefined ? [e.handoverMs] : []));
  const failovers = report.events.flatMap((e) => (e.failoverMs !== undefined ? [e.failoverMs] : []));
  const recoveries = report.events.flatMap((e) => (e.recoveryMs !== undefined ? [e.recoveryMs] : []));
  const kinds = KINDS.filter((k) => report.events.some((e) => e.kind === k));
  const stops = report.events.filter((e) => e.kind === 'stop');
  const reaped = stops.filter((e) => e.note.includes('reaped') && !e.note.includes('before')).length;
  const lines = [
    `${o.workers} workers (kept within ${o.minWorkers}..${o.maxWorkers}; ${report.workerProcesses} worker processes in all), ` +
      `${o.symbols.toLocaleString('en-US')} ${o.feed} symbols at ${int(o.rate)} trades/s asked (${int(report.rateAchieved)} achieved), ` +
      `${o.durationMs / 1000} s of events every ${o.minGapMs / 1000}-${o.maxGapMs / 1000} s (seed ${o.seed}), ` +
      `lease ${o.leaseMs} ms, heartbeat ${o.heartbeatMs} ms, poll ${o.pollMs} ms, checkpoint ${o.checkpointMs} ms` +
      `${o.replicas !== undefined ? `, --replicas ${o.replicas}` : ''}${o.workerArgs.length ? `, worker flags \`${o.workerArgs.join(' ')}\`` : ''}. ` +
      `Trade ids: ${report.tradeIds ? 'yes (de-duplicated by id)' : 'no (nothing to de-duplicate by)'}. Run took ${Math.round(report.totalMs / 1000)} s.`,
    `Command: \`${command}\`.`,
    ...(report.settleProblem
      ? ['', `**The cluster did not settle at the end:** ${report.settleProblem}.`]
      : []),
    '',
    table(
      [
        'trades sent',
        'held when Redis was killed (erased)',
        'aggregated',
        'lost',
        'duplicated',
        'symbols with loss',
        'symbols with duplicates',
        'unanswered symbols',
      ],
      [
        [
          int(report.sent),
          int(report.forgotten),
          int(a.aggregated),
          int(a.lost),
          int(a.duplicated),
          String(a.symbolsWithLoss.length),
          String(a.symbolsWithDuplicates.length),
          String(a.unanswered.length),
        ],
      ],
    ),
    '',
    `Volume: expected ${fromUnits(a.volumeExpected, a.volumeDecimals)}, aggregated ${fromUnits(a.volumeAggregated, a.volumeDecimals)}, ` +
      `lost ${fromUnits(a.volumeLost, a.volumeDecimals)}, duplicated ${fromUnits(a.volumeDuplicated, a.volumeDecimals)} ` +
      `(exact decimals; ${a.volumeOnlyMismatches} symbols with the right count but another volume). ` +
      (a.carriedAcrossRestart > 0
        ? `${a.carriedAcrossRestart} symbols kept their aggregate across a Redis restart (compared from what they held). `
        : '') +
      `Each Redis restart cuts the run into accounting segments (${a.segments} here), each compared on its own: ` +
      `what the cluster held when Redis was killed is erased with it by design (this Redis keeps nothing on disk) and is not counted as lost; ` +
      `"aggregated" sums what each segment added, so lost and duplicated are the segments' own errors (aggregated = sent - lost + duplicated).`,
    '',
    table(
      ['event', 'count', 'symbols moved or owned', 'timed out or noted'],
      kinds.map((k) => {
        const events = report.events.filter((e) => e.kind === k);
        const noted = events.filter((e) => /timed out|never|did not|exited|no new epoch/.test(e.note)).length;
        return [k, String(events.length), int(events.reduce((s, e) => s + e.moved, 0)), String(noted)];
      }),
    ),
    '',
    stops.length > 0
      ? `SIGSTOPs: ${reaped} of ${stops.length} lasted long enough for the ring to reap the worker.`
      : '',
    '',
    table(
      ['time (ms)', 'n', 'p50', 'p99', 'max', 'timed out'],
      [
        timingRow('hand-over (epoch change to moved symbols live)', handovers, report.timeouts.handover),
        timingRow('failover (signal to symbols live elsewhere)', failovers, report.timeouts.failover),
        timingRow('Redis recovery (Redis back to all symbols live)', recoveries, report.timeouts.recovery),
      ],
    ),
    '',
    'Where the errors were: each symbol counted once per accounting segment, under the worst event that touched it in that segment.',
    '',
    table(
      ['touched by', 'symbols', 'with loss', 'lost', 'with duplicates', 'duplicated'],
      ATTRIBUTION_CLASSES.map((c) => {
        const x = a.byClass[c];
        return [
          CLASS_WORDS[c],
          int(x.symbols),
          int(x.symbolsWithLoss),
          int(x.lost),
          int(x.symbolsWithDuplicates),
          int(x.duplicated),
        ];
      }),
    ),
    '',
    errorLine(a.worst, process.env['CHAOS_DEBUG'] !== undefined),
    '',
    (() => {
      const h = report.handoverAllowance;
      const errors = a.byClass.planned.lost + a.byClass.planned.duplicated;
      return (
        `Allowance for a provider without trade ids (docs/chaos.md): the planned hand-overs of this run allow ${int(h.bound)} trades ` +
        `lost or duplicated (owners acting up to ${h.windowMs} ms apart, ${h.framesPerSecond} subscription frames/s); ` +
        `symbols touched only by planned changes were off by ${int(errors)}${report.tradeIds ? ' (a provider with ids is allowed 0)' : ''}.`
      );
    })(),
    '',
    `Simulator slow-consumer drops: ${report.slowConsumerDrops}. Worker warnings: ${report.warnings}.`,
  ];
  return lines.filter((line, i, all) => !(line === '' && all[i - 1] === '')).join('\n');
}

/** One line for an event: `+12.3s kill w2: 40 symbols (epoch 9), failover 2100 ms`. */
export function describeEvent(e: ChaosEvent): string {
  const figures = [
    e.handoverMs !== undefined ? `hand-over ${Math.round(e.handoverMs)} ms` : '',
    e.failoverMs !== undefined ? `failover ${Math.round(e.failoverMs)} ms` : '',
    e.recoveryMs !== undefined ? `recovery ${Math.round(e.recoveryMs)} ms` : '',
  ].filter(Boolean);
  return (
    `+${(e.at / 1000).toFixed(1)}s ${e.kind}${e.worker ? ` ${e.worker}` : ''}: ${e.moved} symbols` +
    (e.epoch !== undefined ? ` (epoch ${e.epoch})` : '') +
    (figures.length ? `, ${figures.join(', ')}` : '') +
    (e.note ? `; ${e.note}` : '')
  );
}

/** One line per event, in the order they started. */
export function formatEvents(report: ChaosReport): string {
  return [...report.events]
    .sort((x, y) => x.at - y.at)
    .map(describeEvent)
    .join('\n');
}
