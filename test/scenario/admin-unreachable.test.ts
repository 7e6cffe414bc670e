/**
 * Every admin command works from any machine that reaches Redis, and says clearly when it cannot:
 * exit 1, one line naming the (password-redacted) URL and the reason, no stack trace, in seconds,
 * whatever the URL form. `tickring scale` without a `tickring up` watching the cluster says that too.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/roles/embedded-redis.js';
import { REDIS_URL, testCluster, type TestCluster } from '../support/redis.js';
import { CLI } from '../support/workers.js';

const run = promisify(execFile);

async function tickring(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const COMMANDS = [
  ['status'],
  ['symbols', 'ls'],
  ['symbols', 'add', 'AAPL'],
  ['symbols', 'rm', 'AAPL'],
  ['pin', 'AAPL', 'w1'],
  ['unpin', 'AAPL'],
  ['drain', 'w1'],
  ['scale', '3'],
];

describe('admin commands and an unreachable Redis', () => {
  let closed: number;

  beforeAll(async () => {
    closed = await freePort();
  });

  it('every command fails in seconds with the URL and the reason', async () => {
    const url = `redis://app:s3cret@127.0.0.1:${closed}`;
    const results = await Promise.all(COMMANDS.map((command) => tickring([...command, '--redis', url])));
    for (const [i, result] of results.entries()) {
      const what = COMMANDS[i]!.join(' ');
      expect(result.code, what).toBe(1);
      expect(result.stderr.trim(), what).toBe(
        `tickring: cannot reach Redis at redis://app:***@127.0.0.1:${closed}: connect ECONNREFUSED 127.0.0.1:${closed}`,
      );
    }
  });

  it('says so for Sentinel and Cluster URLs too', async () => {
    const [sentinel, cluster] = await Promise.all([
      tickring([
        'symbols',
        'ls',
        '--redis',
        `redis+sentinel://:pw@127.0.0.1:${closed}/mymaster?sentinelPassword=sp`,
      ]),
      tickring(['drain', 'w1', '--redis', `redis+cluster://127.0.0.1:${closed}`]),
    ]);
    expect(sentinel.code).toBe(1);
    expect(sentinel.stderr.trim()).toBe(
      `tickring: cannot reach Redis at redis+sentinel://:***@127.0.0.1:${closed}/mymaster?sentinelPassword=***: All sentinels are unreachable.`,
    );
    expect(cluster.code).toBe(1);
    expect(cluster.stderr).toMatch(
      /^tickring: cannot reach Redis at redis\+cluster:\/\/127\.0\.0\.1:\d+: no Cluster node answered/,
    );
  });

  it('refuses a malformed URL naming the accepted forms (exit 2)', async () => {
    const result = await tickring(['status', '--redis', 'redis+sentinel://127.0.0.1:26379']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('a Sentinel URL names its primary');
    expect(result.stderr).toContain('redis+cluster://');
  });
});

describe('tickring scale without tickring up', () => {
  let env: TestCluster;

  beforeAll(async () => {
    env = await testCluster('scale-alone');
  });

  afterAll(async () => {
    await env.cleanup();
  });

  it('records the count but says no tickring up applies it', async () => {
    const result = await tickring([
      'scale',
      '4',
      '--redis',
      REDIS_URL,
      '--key-prefix',
      env.prefix,
      '--cluster',
      env.cluster,
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      `desired workers: 4; but no tickring up runs cluster "${env.cluster}" (never)`,
    );
    expect(await env.redis.hget(env.keys.scale, 'desired')).toBe('4');
    const bad = await tickring(['scale', '0', '--redis', REDIS_URL, '--key-prefix', env.prefix]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe('tickring: workers "0": must be an integer from 1 to 64');
  });
});
