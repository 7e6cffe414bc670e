/**
 * Worker processes for scenario tests: the built CLI (`dist/src/cli.js`, made by `npm run build`,
 * which `npm test` runs first), each a real child process against real Redis and a real feed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RingRecord } from '../../src/cluster/ring-record.js';
import { REDIS_URL } from './redis.js';

export const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

export interface WorkerProcess {
  readonly id: string;
  readonly child: ChildProcess;
  /** Everything the worker logged (JSON lines). */
  readonly output: string[];
  readonly exited: Promise<number | null>;
}

/** Fast settings so scenarios settle in well under a second. */
export const FAST_TIMINGS = [
  '--lease-ms',
  '1500',
  '--heartbeat-ms',
  '250',
  '--poll-ms',
  '250',
  '--checkpoint-ms',
  '200',
];

export function startWorker(
  id: string,
  options: {
    prefix: string;
    cluster: string;
    /** `''`: no --feed-url (a worker behind a relay finds it in Redis). */
    feedUrl: string;
    feed?: string;
    extraArgs?: readonly string[];
  },
): WorkerProcess {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'worker',
      '--worker-id',
      id,
      '--redis',
      REDIS_URL,
      '--key-prefix',
      options.prefix,
      '--cluster',
      options.cluster,
      '--feed',
      options.feed ?? 'polygon',
      ...(options.feedUrl === '' ? [] : ['--feed-url', options.feedUrl]),
      '--http-port',
      '0',
      '--log-level',
      // `debug` to trace a failing scenario's hand-overs stage by stage.
      process.env['TICKRING_TEST_LOG_LEVEL'] ?? 'info',
      ...FAST_TIMINGS,
      ...(options.extraArgs ?? []),
    ],
    { env: { ...process.env, TICKRING_FEED_KEY: 'test-key' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output: string[] = [];
  const collect = (chunk: Buffer): void => {
    output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { id, child, output, exited };
}

export async function stopAll(workers: readonly WorkerProcess[]): Promise<void> {
  for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
  await Promise.all(workers.map((worker) => worker.exited));
}

export { eventually } from './eventually.js';

/** GETs JSON; the caller states the shape it expects (the test then asserts on it). */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the shape
export async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, body: (await response.json()) as T };
}

/** The epoch a worker acts on, as its `/v1/cluster` says. */
export async function actingEpoch(address: string): Promise<number> {
  return (await getJson<{ epoch: number }>(`${address}/v1/cluster`)).body.epoch;
}

/** Whether every member of `record` acts on its epoch. */
export async function everyMemberActsOn(record: RingRecord): Promise<boolean> {
  for (const member of record.members) if ((await actingEpoch(member.address)) !== record.epoch) return false;
  return true;
}

/**
 * Whether every member of `record` is ready (`/readyz`): acting on an epoch is not enough for a
 * worker that just joined, which stays `starting` until its first hand-over ends, and meanwhile
 * answers a peer's drain notice with nothing prepared.
 */
export async function everyMemberReady(record: RingRecord): Promise<boolean> {
  for (const member of record.members) {
    const response = await fetch(`${member.address}/readyz`, { signal: AbortSignal.timeout(5_000) });
    await response.body?.cancel();
    if (response.status !== 200) return false;
  }
  return true;
}
