/**
 * Keeps worker processes running for `tickring up`: starts each, restarts one that dies with
 * growing back-off, retires one on request (no restart once it exits), and stops them all
 * gracefully (SIGTERM, then SIGKILL past a deadline).
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
  /** Set by `retire`: the next exit is the last. */
  retiring: boolean;
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
      retiring: false,
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
        if (entry.retiring) {
          this.workers.delete(entry.spec.id);
          this.log.info({ workerId: entry.spec.id, code, signal }, 'worker retired');
          return;
        }
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

  /**
   * Stops restarting worker `id`: its next exit (a drain ends with one) is its last. Resolves once it
   * has exited; at once when it is not running (say, waiting to be restarted).
   */
  retire(id: string): Promise<void> {
    const entry = this.workers.get(id);
    if (!entry) return Promise.resolve();
    entry.retiring = true;
    clearTimeout(entry.restartTimer);
    if (!entry.child) {
      this.workers.delete(id);
      return Promise.resolve();
    }
    return entry.exited;
  }

  /** SIGTERM to one worker (a graceful leave), SIGKILL if it still runs after `graceMs`. */
  async stop(id: string, graceMs: number): Promise<void> {
    const entry = this.workers.get(id);
    if (!entry) return;
    entry.retiring = true;
    clearTimeout(entry.restartTimer);
    entry.child?.kill('SIGTERM');
    const killTimer = setTimeout(() => entry.child?.kill('SIGKILL'), graceMs);
    await entry.exited;
    clearTimeout(killTimer);
    this.workers.delete(id);
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
