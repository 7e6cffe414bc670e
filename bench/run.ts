/**
 * Runs the benchmark scenarios and writes bench/RESULTS.md with the figures, the baseline each was
 * measured against in the same run, the command, the goals and the machine.
 *
 *   npm run build && npm run bench
 * Environment: BENCH_ONLY (comma-separated scenario keys, e.g. "ingest,rebalance"; default all),
 * BENCH_RESULTS (output file; default bench/RESULTS.md), and each scenario's own variables (see its
 * file header; a variable set here applies to every scenario that reads it, so scale one scenario
 * by running its file alone).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { snapshotDist } from './support/processes.js';
import { chaosSection } from './chaos/results-section.js';

interface Scenario {
  readonly key: string;
  readonly title: string;
  readonly command: string;
  run(): Promise<string>;
}

// A copy of dist/ for the whole run: the scenarios are imported after it, so they all use it.
const cli = snapshotDist();

const SCENARIOS: Scenario[] = [
  {
    key: 'ingest',
    title: '1. Ingest ceiling vs tickring',
    command: 'node --import tsx bench/ingest-ceiling.ts',
    async run() {
      const m = await import('./ingest-ceiling.js');
      return m.formatIngest(await m.run());
    },
  },
  {
    key: 'scale',
    title: '2. Scale-out',
    command: 'node --import tsx bench/scale-out.ts',
    async run() {
      const m = await import('./scale-out.js');
      return m.formatScaleOut(await m.run());
    },
  },
  {
    key: 'rebalance',
    title: '3. Rebalance',
    command: 'node --import tsx bench/rebalance.ts',
    async run() {
      const m = await import('./rebalance.js');
      return m.formatRebalance(await m.runRebalance(m.rebalanceOptions()));
    },
  },
  {
    key: 'query',
    title: '4. Query API',
    command: 'node --import tsx bench/query-api.ts',
    async run() {
      const m = await import('./query-api.js');
      return m.formatQueryApi(await m.run());
    },
  },
  {
    key: 'redis',
    title: '5. Redis cost',
    command: 'node --import tsx bench/redis-cost.ts',
    async run() {
      const m = await import('./redis-cost.js');
      return m.formatRedisCost(await m.run());
    },
  },
  {
    key: 'memory',
    title: '6. Memory',
    command: 'node --import tsx bench/memory.ts',
    async run() {
      const m = await import('./memory.js');
      return m.formatMemory(await m.run());
    },
  },
  {
    key: 'handover',
    title: '7. Hand-over exactness at speed',
    command: 'node --import tsx bench/handover-speed.ts',
    async run() {
      const m = await import('./handover-speed.js');
      return m.formatHandoverSpeed(await m.run());
    },
  },
  {
    key: 'relay',
    title: '8. Relay: added latency and throughput ceiling',
    command: 'node --import tsx bench/relay.ts',
    async run() {
      const m = await import('./relay.js');
      return m.formatRelay(await m.run());
    },
  },
  {
    key: 'standby',
    title: '9. Standby replicas: what --replicas 2 costs',
    command: 'node --import tsx bench/standby-cost.ts',
    async run() {
      const m = await import('./standby-cost.js');
      return m.formatStandbyCost(await m.run());
    },
  },
  {
    key: 'ring',
    title: 'Appendix: ring balance (in-process, no workers)',
    command: 'node --import tsx bench/ring-balance.ts',
    async run() {
      const m = await import('./ring-balance.js');
      return m.formatResults(m.balance(), m.buildTimes());
    },
  },
];

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return (
    `${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node.js ${process.version}, ` +
    `${process.platform} ${release()}`
  );
}

function load(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
}

/** A section's verdict lines: those that state a goal and whether it was met. */
function goalLines(body: string): string[] {
  return body.split('\n').filter((line) => /^Goals?\b/.test(line) && /\bmet\b/.test(line));
}

/** The "Profile findings" section of bench/README.md, so RESULTS.md carries it too. */
function profileFindings(): string {
  let readme: string;
  try {
    readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
  } catch {
    return 'See bench/README.md.';
  }
  const start = readme.indexOf('## Profile findings');
  if (start < 0) return 'See bench/README.md.';
  const end = readme.indexOf('\n## ', start + 1);
  return readme
    .slice(start, end < 0 ? undefined : end)
    .replace(/^## Profile findings\n/, '')
    .trim();
}

const only = process.env['BENCH_ONLY']?.split(',').map((s) => s.trim());
const chosen = SCENARIOS.filter((s) => !only || only.includes(s.key));
const startedAt = new Date();
const commit = git(['rev-parse', '--short', 'HEAD']);
const dirty = git(['status', '--porcelain']).split('\n').filter(Boolean).length;
const sections: string[] = [];
const timings: string[] = [];
const verdicts: string[] = [];
for (const scenario of chosen) {
  console.log(`\n== ${scenario.title} (${scenario.command}) ==`);
  const loadBefore = load();
  const began = performance.now();
  let body: string;
  try {
    body = await scenario.run();
  } catch (err) {
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    console.error(message);
    body = `**Failed in this run:**\n\n\`\`\`\n${message.slice(0, 2_000)}\n\`\`\``;
  }
  const seconds = (performance.now() - began) / 1000;
  console.log(body);
  timings.push(`${scenario.key} ${seconds.toFixed(0)} s`);
  for (const line of goalLines(body)) verdicts.push(`- ${scenario.title}: ${line}`);
  sections.push(
    [
      `## ${scenario.title}`,
      '',
      body,
      '',
      `_Took ${seconds.toFixed(0)} s; load average (1 / 5 / 15 min) before: ${loadBefore}, after: ${load()}._`,
      '',
    ].join('\n'),
  );
}

const lines = [
  '# Benchmark results',
  '',
  `Measured ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine()}; commit ${commit}` +
    `${dirty > 0 ? ` with ${dirty} uncommitted file(s) in the checkout` : ''}, the build copied to \`${cli.replace(/^.*\/node_modules\//, 'node_modules/')}\`` +
    ' for the run.',
  '',
  'Regenerate with `npm run build && npm run bench` (all scenarios, about 15 minutes), or run one scenario',
  'alone with the command in its section (its file header lists the environment variables that scale it).',
  'Every figure has its baseline measured in the same run. This machine is shared with other work: the',
  '"machine busy" and "other load" columns and the load averages say how much else ran, and the per-core',
  'figures are the ones that hold still when it does. Earlier full runs, with the notes of what changed',
  'between them and why, are kept in `bench/history/`.',
  '',
  `Scenario times: ${timings.join(', ')}.`,
  '',
  '## Goals at a glance',
  '',
  'Each goal of the sections below, as its section decided it in this run:',
  '',
  ...(verdicts.length > 0 ? verdicts : ['- (no scenario with a goal ran)']),
  '',
  ...sections,
  '## Profile findings',
  '',
  profileFindings(),
  '',
];
const out = process.env['BENCH_RESULTS'] ?? fileURLToPath(new URL('./RESULTS.md', import.meta.url));
// The chaos run writes its own section (`npm run chaos -- --write-results`): keep it.
const chaos = existsSync(out) ? chaosSection(readFileSync(out, 'utf8')) : undefined;
if (chaos) lines.push(chaos, '');
writeFileSync(out, lines.join('\n'));
console.log(`\nwrote ${out}`);
