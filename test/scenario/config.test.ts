/**
 * Configuration is validated once at start: a bad value stops the process with exit code 2 and every
 * problem listed, each naming the flag and the valid form; secrets never appear in the output.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI } from '../support/workers.js';

function run(
  args: string[],
  env: Record<string, string> = {},
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 15_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('tickring configuration', () => {
  it('lists every bad worker option at once with the valid form', () => {
    const result = run(
      ['worker', '--http-port', 'abc', '--lease-ms', '10', '--feed', 'nasdaq', '--symbols', 'AAPL,$$$'],
      {
        TICKRING_CHECKPOINT_MS: '-5',
      },
    );
    expect(result.status).toBe(2);
    for (const expected of [
      '--http-port',
      'an integer from 0 to 65535',
      '--lease-ms',
      '--feed',
      'polygon | ',
      '--symbols',
      '--checkpoint-ms / TICKRING_CHECKPOINT_MS from TICKRING_CHECKPOINT_MS',
    ]) {
      expect(result.stderr).toContain(expected);
    }
  });

  it('checks options against each other', () => {
    const result = run(['worker', '--lease-ms', '1000', '--heartbeat-ms', '500']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('the lease must last at least three heartbeats');
  });

  it('takes PORT and REDIS_URL from the environment', () => {
    const result = run(['worker', '--lease-ms', '10'], { PORT: 'x', REDIS_URL: 'http://nope' });
    expect(result.stderr).toContain('--http-port / TICKRING_HTTP_PORT from PORT');
    expect(result.stderr).toContain('--redis / TICKRING_REDIS_URL from REDIS_URL');
  });

  it('never prints a secret, even an invalid one', () => {
    const result = run(['sim', '--port', '-1'], { TICKRING_SIM_KEY: 'sekrit-key-123' });
    expect(result.status).toBe(2);
    expect(result.stderr + result.stdout).not.toContain('sekrit-key-123');
  });

  it('shows every default in --help', () => {
    const help = run(['worker', '--help']).stdout;
    expect(help).toContain('(default: 8080)');
    expect(help).toContain('(default: 5000)');
    expect(help).toContain('TICKRING_FEED_KEY');
    for (const role of ['up', 'worker', 'sim', 'status']) expect(run(['--help']).stdout).toContain(role);
  });

  it('fails clearly when Redis is unreachable', () => {
    const result = run(['status', '--redis', 'redis://127.0.0.1:1']);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('cannot reach Redis at redis://127.0.0.1:1');
  });
});
