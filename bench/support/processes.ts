/**
 * Child processes for benchmarks: TypeScript helpers run through tsx, workers and the simulator from
 * the built CLI (`npm run build` first), and the waiting and reading around them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DIST = fileURLToPath(new URL('../../dist', import.meta.url));
/** Under node_modules, so the copy still resolves the project's dependencies. */
const SNAPSHOT = fileURLToPath(new URL('../../node_modules/.cache/tickring-bench/dist', import.meta.url));

/** The built CLI the benchmarks run: `dist/src/cli.js`, or the snapshot `snapshotDist` made. */
export const CLI = process.env['TICKRING_BENCH_CLI'] ?? `${DIST}/src/cli.js`;

/**
 * Copies dist/ aside and points every scenario imported afterwards at the copy (through
 * TICKRING_BENCH_CLI), so a rebuild of dist/ during a long run (it starts by emptying dist/) neither
 * breaks a scenario half-way nor mixes two builds in one RESULTS.md.
 */
export function snapshotDist(): string {
  if (!existsSync(`${DIST}/src/cli.js`))
    throw new Error('dist/src/cli.js is missing: run `npm run build` first');
  rmSync(SNAPSHOT, { recursive: true, force: true });
  cpSync(DIST, SNAPSHOT, { recursive: true });
  process.env['TICKRING_BENCH_CLI'] = `${SNAPSHOT}/src/cli.js`;
  return process.env['TICKRING_BENCH_CLI'];
}

/** Runs a TypeScript file through tsx; `file` is relative to bench/support/. */
export function runTs(file: string, args: readonly string[]): ChildProcess {
  return spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL(file, import.meta.url)), ...args],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
}

/** Resolves with the first line the process prints. */
export function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const end = buffer.indexOf('\n');
      if (end >= 0) resolve(buffer.slice(0, end));
    });
    child.once('exit', (code) => reject(new Error(`process exited with ${code} before printing`)));
  });
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `intervalMs` until it returns something other than undefined. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
  intervalMs = 10,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Reads one unlabelled metric's value from a Prometheus text exposition. */
export async function readCounter(baseUrl: string, name: string): Promise<number> {
  return (await readMetrics(baseUrl, [name])).get(name) ?? NaN;
}

/** Reads several unlabelled metrics in one scrape. */
export async function readMetrics(baseUrl: string, names: readonly string[]): Promise<Map<string, number>> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const space = line.indexOf(' ');
    if (space > 0 && names.includes(line.slice(0, space)))
      values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** GETs or POSTs JSON; the caller names the shape it expects. */
export async function json<T>(url: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000), ...init });
  if (!response.ok)
    throw new Error(`${init.method ?? 'GET'} ${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}
