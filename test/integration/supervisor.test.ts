/**
 * The supervisor behind `tickring up` and `tickring scale`, with real child processes: a small
 * script stands in for the CLI (it records each start in a file, then exits or waits as told). A
 * worker that keeps dying is restarted with growing back-off; a retired worker's exit is its last;
 * `stop` ends one worker gracefully.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { Supervisor } from '../../src/roles/supervisor.js';
import { eventually } from '../support/workers.js';

const dir = mkdtempSync(join(tmpdir(), 'tickring-supervisor-'));
const script = join(dir, 'fake-cli.mjs');
// argv: <script> worker <starts-file> <exit|wait>
writeFileSync(
  script,
  [
    "import { appendFileSync } from 'node:fs';",
    'const [, , , file, mode] = process.argv;',
    'appendFileSync(file, `${Date.now()}\\n`);',
    "if (mode === 'exit') process.exit(1);",
    "process.on('SIGTERM', () => process.exit(0));",
    'setInterval(() => undefined, 1000);',
  ].join('\n'),
);
appendFileSync(script, '\n');

function starts(file: string): number[] {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

describe('the worker supervisor', () => {
  const supervisor = new Supervisor(script, createLogger({ role: 'test', level: 'silent', pretty: false }));

  afterEach(async () => {
    await supervisor.stopAll(2_000);
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('restarts a worker that keeps dying, waiting longer each time', async () => {
    const file = join(dir, 'crashing');
    supervisor.start({ id: 'w1', args: [file, 'exit'], env: {} });
    const times = await eventually(
      'four starts',
      () => (starts(file).length >= 4 ? starts(file) : undefined),
      20_000,
    );
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // Back-off of 0.5 s, 1 s, 2 s (plus process start-up).
    expect(gaps[0]).toBeGreaterThanOrEqual(500);
    expect(gaps[1]).toBeGreaterThanOrEqual(1_000);
    expect(gaps[2]).toBeGreaterThanOrEqual(2_000);
  });

  it('does not restart a retired worker once it exits', async () => {
    const file = join(dir, 'retired');
    supervisor.start({ id: 'w2', args: [file, 'wait'], env: {} });
    await eventually('started', () => (starts(file).length === 1 ? true : undefined));
    const [pid] = supervisor.pids();
    const retired = supervisor.retire('w2');
    // A drained worker ends itself; here, a SIGTERM from outside stands in for that.
    process.kill(pid!, 'SIGTERM');
    await retired;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(starts(file)).toHaveLength(1);
    expect(supervisor.pids()).toEqual([]);
  });

  it('stops one worker and leaves the others running', async () => {
    supervisor.start({ id: 'a', args: [join(dir, 'a'), 'wait'], env: {} });
    supervisor.start({ id: 'b', args: [join(dir, 'b'), 'wait'], env: {} });
    await eventually('both started', () =>
      starts(join(dir, 'a')).length === 1 && starts(join(dir, 'b')).length === 1 ? true : undefined,
    );
    await supervisor.stop('a', 2_000);
    expect(supervisor.pids()).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(starts(join(dir, 'a'))).toHaveLength(1);
  });
});
