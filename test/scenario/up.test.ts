/**
 * `npm start` (`tickring up`): the embedded default starts Redis, the simulator and workers, prints
 * where to look, answers queries, and stops everything within 5 s of SIGINT or SIGTERM, leaving no
 * process behind. Without Redis it says exactly what to do.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePortRange } from '../support/ports.js';
import { CLI, eventually, getJson } from '../support/workers.js';

/** Pids of every process descended from `pid`, read from `ps`. */
function descendants(pid: number): number[] {
  const table = spawnSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' }).stdout;
  const children = new Map<number, number[]>();
  for (const line of table.trim().split('\n')) {
    const [child, parent] = line.trim().split(/\s+/).map(Number);
    if (child === undefined || parent === undefined) continue;
    children.set(parent, [...(children.get(parent) ?? []), child]);
  }
  const found: number[] = [];
  const visit = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      found.push(c);
      visit(c);
    }
  };
  visit(pid);
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function runUp(signal: NodeJS.Signals, relay = false): Promise<void> {
  // Consecutive free ports for the three workers and, with --relay, the two relays after them.
  const base = await freePortRange(5);
  const env: NodeJS.ProcessEnv = { ...process.env, TICKRING_LOG_LEVEL: 'warn' };
  delete env['REDIS_URL'];
  delete env['TICKRING_REDIS_URL'];
  const up = spawn(
    process.execPath,
    [
      CLI,
      'up',
      '--http-port',
      String(base),
      '--symbols',
      '50',
      '--rate',
      '500',
      ...(relay ? ['--relay'] : []),
    ],
    {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  up.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  up.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
  try {
    await eventually(
      'the banner',
      () => (output.includes('Ctrl-C stops everything') ? true : undefined),
      30_000,
    );
    for (let i = 0; i < 3; i++) expect(output).toContain(`http://127.0.0.1:${base + i}`);
    expect(output).toContain('embedded, nothing kept on disk');
    const cluster = await getJson<{ members: { id: string; symbols: number }[] }>(
      `http://127.0.0.1:${base}/v1/cluster`,
    );
    expect(cluster.body.members.map((m) => m.id)).toEqual(['w1', 'w2', 'w3']);
    expect(cluster.body.members.reduce((sum, m) => sum + m.symbols, 0)).toBe(50);
    const aapl = await eventually('AAPL to have trades', async () => {
      const { body } = await getJson<{ trades: number; owner: string }>(
        `http://127.0.0.1:${base + 1}/v1/symbols/AAPL`,
      );
      return body.trades > 0 ? body : undefined;
    });
    expect(['w1', 'w2', 'w3']).toContain(aapl.owner);
    if (relay) {
      // Two relays on the ports after the workers': one active, one standing by.
      const states = await Promise.all(
        [3, 4].map(async (i) => (await fetch(`http://127.0.0.1:${base + i}/readyz`)).status),
      );
      expect(states.sort()).toEqual([200, 503]);
    }

    const spawned = descendants(up.pid!);
    expect(spawned.length).toBeGreaterThanOrEqual(4); // redis-server and three workers
    const started = Date.now();
    up.kill(signal);
    expect(await exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000);
    await eventually(
      'every child to be gone',
      () => (spawned.every((pid) => !alive(pid)) ? true : undefined),
      2_000,
    );
  } finally {
    if (up.exitCode === null) up.kill('SIGKILL');
  }
}

describe('tickring up', () => {
  it('runs end to end and stops everything on SIGINT in under 5 s', async () => {
    await runUp('SIGINT');
  }, 60_000);

  it('stops everything on SIGTERM too', async () => {
    await runUp('SIGTERM');
  }, 60_000);

  it('--relay: workers behind one active relay and a standby, all stopped on SIGINT', async () => {
    await runUp('SIGINT', true);
  }, 60_000);

  it('explains how to get Redis when there is neither REDIS_URL nor a redis-server binary', () => {
    // Node is started by its full path; the PATH holds nothing, so no redis-server is found.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: mkdtempSync(join(tmpdir(), 'tickring-empty-path-')),
    };
    delete env['REDIS_URL'];
    delete env['TICKRING_REDIS_URL'];
    const result = spawnSync(process.execPath, [CLI, 'up'], { env, encoding: 'utf8', timeout: 15_000 });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('no redis-server binary is on the PATH');
    expect(result.stderr).toContain('REDIS_URL=redis://');
    expect(result.stderr).toContain('docker compose up');
  });
});
