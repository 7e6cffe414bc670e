/**
 * Worker processes of the built CLI with full control of their command line and environment: inside a
 * network namespace (`prefix`), with secrets in the environment, or with no worker id at all.
 */
import { spawn } from 'node:child_process';
import { CLI, type WorkerProcess } from '../support/workers.js';

export function spawnWorker(
  id: string,
  args: readonly string[],
  prefix: readonly string[] = [],
  env: Readonly<Record<string, string>> = { TICKRING_FEED_KEY: 'test-key' },
): WorkerProcess {
  const command = [...prefix, process.execPath, CLI, 'worker', ...(id ? ['--worker-id', id] : []), ...args];
  const child = spawn(command[0] ?? 'node', command.slice(1), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const collect = (chunk: Buffer): void => {
    output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { id, child, output, exited };
}

/** Runs the CLI to its end (e.g. `--help`, or a worker that must refuse to start). */
export async function runCli(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  timeoutMs = 15_000,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, output };
}
