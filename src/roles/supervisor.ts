/**
 * Keeps worker processes running for `tickring up`: starts each, restarts one that dies with
 * growing back-off, and stops them all gracefully (SIGTERM, then SIGKILL past a deadline).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../log.js';

export interface WorkerSpec {
  readonly id: string;
  /** The `tickring` role to run. Default `worker`. */
  readonly role?: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

interface Supervised {
  readonly spec: WorkerSpec;
  child: ChildProcess | undefined;
  restarts: number;
  restartTimer: NodeJS.Timeout | undefined;
  exited: Promise<void>;
}

const MAX_RESTART_DELAY_MS = 30_000;

export class Supervisor {
  private readonly workers = new Map<string, Supervised>();
  private stopping = false;

  constructor(
    private readonly cliPath: string,
    private readonly log: Logger,
  ) {}

  start(spec: WorkerSpec): void {
    const entry: Supervised = {
      spec,
      child: undefined,
      restarts: 0,
      restartTimer: undefined,
      exited: Promise.resolve(),
    };
    this.workers.set(spec.id, entry);
    this.launch(entry);
  }

  private launch(entry: Supervised): void {
    const child = spawn(process.execPath, [this.cliPath, entry.spec.role ?? 'worker', ...entry.spec.args], {
      env: { ...process.env, ...entry.spec.env },
      // IPC lets a worker notice this process is gone and stop, so none is left behind.
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    entry.child = child;
    const startedAt = Date.now();
    entry.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        entry.child = undefined;
        resolve();
        if (this.stopping) return;
        // A worker that ran a while before dying gets a fresh back-off.
        if (Date.now() - startedAt > 60_000) entry.restarts = 0;
        const delay = Math.min(MAX_RESTART_DELAY_MS, 500 * 2 ** entry.restarts);
        entry.restarts++;
        this.log.warn(
          { workerId: entry.spec.id, code, signal, restartInMs: delay },
          'worker exited; restarting',
        );
        entry.restartTimer = setTimeout(() => this.launch(entry), delay);
      });
    });
  }

  pids(): number[] {
    return [...this.workers.values()].flatMap((entry) => (entry.child?.pid ? [entry.child.pid] : []));
  }

  /** SIGTERM every worker; SIGKILL whichever is still running after `graceMs`. */
  async stopAll(graceMs: number): Promise<void> {
    this.stopping = true;
    const entries = [...this.workers.values()];
    for (const entry of entries) {
      clearTimeout(entry.restartTimer);
      entry.child?.kill('SIGTERM');
    }
    const killTimer = setTimeout(() => {
      for (const entry of entries) entry.child?.kill('SIGKILL');
    }, graceMs);
    await Promise.all(entries.map((entry) => entry.exited));
    clearTimeout(killTimer);
  }
}
