/**
 * A tickring worker as a child process of the built CLI, its JSON log lines collected, its HTTP
 * address read from its `worker starting` line (it listens on a free port).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, until } from './processes.js';

export interface LogLine {
  readonly time: number;
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface WorkerProcess {
  readonly id: string;
  readonly child: ChildProcess;
  readonly logs: LogLine[];
  readonly exited: Promise<void>;
  /** `http://127.0.0.1:PORT`, once the worker has said it. */
  address(): Promise<string>;
}

export interface WorkerSpec {
  readonly id: string;
  readonly redisUrl: string;
  readonly prefix: string;
  readonly feedUrl: string;
  readonly cluster?: string;
  /** Default `info`: the address and the `epoch changed` lines are logged at info. */
  readonly logLevel?: string;
  /** Further worker flags, e.g. `['--settle-ms', '0']`. */
  readonly args?: readonly string[];
  /** Flags for node itself, e.g. `['--cpu-prof']`. */
  readonly nodeArgs?: readonly string[];
  /** Echo warnings and errors the worker logs to this process's stderr. Default true. */
  readonly echoWarnings?: boolean;
  /** Echo every line it logs instead (for tracing a run). */
  readonly echoAll?: boolean;
}

export function startWorker(spec: WorkerSpec): WorkerProcess {
  const child = spawn(
    process.execPath,
    [
      ...(spec.nodeArgs ?? []),
      CLI,
      'worker',
      '--worker-id',
      spec.id,
      '--redis',
      spec.redisUrl,
      '--key-prefix',
      spec.prefix,
      '--cluster',
      spec.cluster ?? 'bench',
      '--feed-url',
      spec.feedUrl,
      '--http-port',
      '0',
      '--log-level',
      spec.logLevel ?? 'info',
      ...(spec.args ?? []),
    ],
    { env: { ...process.env, TICKRING_FEED_KEY: 'bench' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs: LogLine[] = [];
  const echo = spec.echoWarnings ?? true;
  let buffer = '';
  const collect = (chunk: Buffer): void => {
    buffer += chunk.toString('utf8');
    let end;
    while ((end = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      let line: LogLine | undefined;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        if (text.trim() !== '') process.stderr.write(`[${spec.id}] ${text}\n`);
        continue;
      }
      logs.push(line);
      if (spec.echoAll === true || (echo && line.level >= 40))
        process.stderr.write(`[${spec.id}] ${spec.echoAll === true ? text : text.slice(0, 600)}\n`);
    }
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let address: Promise<string> | undefined;
  return {
    id: spec.id,
    child,
    logs,
    exited,
    address() {
      address ??= until(
        `${spec.id}'s address`,
        () => {
          if (child.exitCode !== null) throw new Error(`${spec.id} exited with ${child.exitCode}`);
          const http = logs.find((l) => l.msg === 'worker starting')?.['http'];
          return typeof http === 'string' ? http : undefined;
        },
        30_000,
      );
      return address;
    },
  };
}

/** Stops a worker: SIGTERM (graceful, leaves the ring) or SIGKILL (a crash). */
export async function stopWorker(worker: WorkerProcess, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  worker.child.kill(signal);
  await worker.exited;
}

export async function waitReady(address: string, timeoutMs = 30_000): Promise<void> {
  await until(
    `${address} to be ready`,
    async () => ((await fetch(`${address}/readyz`).catch(() => undefined))?.ok ? true : undefined),
    timeoutMs,
    50,
  );
}

/** Warnings and errors logged by workers, counted by message: "checkpoint failed; will retry x3, ...". */
export function warningSummary(workers: readonly WorkerProcess[], since = 0): string {
  const counts = new Map<string, number>();
  for (const worker of workers)
    for (const line of worker.logs)
      if (line.level >= 40 && line.time >= since) counts.set(line.msg, (counts.get(line.msg) ?? 0) + 1);
  return [...counts].map(([msg, n]) => `"${msg}" x${n}`).join(', ') || 'none';
}
