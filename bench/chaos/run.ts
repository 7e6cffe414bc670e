/**
 * `npm run chaos`: the chaos harness from the command line (see docs/chaos.md). Prints each event as
 * it happens, then the report; exits 1 when trades were lost or duplicated (or symbols went
 * unanswered), so a script can tell, and 2 on bad options.
 *
 *   npm run build && npm run chaos -- --duration-s 120 --workers 5 --events join,leave,drain,kill,stop,redis-restart
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { runChaos } from './chaos.js';
import { CHAOS_USAGE, ChaosUsageError, parseChaosOptions } from './options.js';
import { formatChaos, formatEvents } from './report.js';
import { CHAOS_HEADING as HEADING, replaceChaosSection } from './results-section.js';

const RESULTS = fileURLToPath(new URL('../RESULTS.md', import.meta.url));

let options;
try {
  options = parseChaosOptions(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof ChaosUsageError) && !(err instanceof TypeError)) throw err;
  console.error(`${err.message}\n\n${CHAOS_USAGE}`);
  process.exit(2);
}
if (options === 'help') {
  console.log(CHAOS_USAGE);
  process.exit(0);
}
const verbose = options.verbose;
const report = await runChaos(options, (line) => {
  if (verbose) console.log(line);
});
const body = formatChaos(report);
console.log(`\n${body}`);
if (options.writeResults) {
  const machine = `${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${availableParallelism()} cores, Node.js ${process.version}`;
  const section = [
    HEADING,
    '',
    `Measured ${report.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine} (a machine shared with other work).`,
    `Load average (1 / 5 / 15 min) after the run: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' / ')}. ` + 'See docs/chaos.md for what the run does and how to read it.',
    '',
    body,
    '',
    'Events in the order they started:',
    '',
    '```text',
    formatEvents(report),
    '```',
    '',
  ].join('\n');
  writeFileSync(RESULTS, replaceChaosSection(readFileSync(RESULTS, 'utf8'), section));
  console.log(`\nwrote the Chaos section of ${RESULTS}`);
}
const a = report.account;
process.exitCode = a.lost > 0 || a.duplicated > 0 || a.unanswered.length > 0 ? 1 : 0;
