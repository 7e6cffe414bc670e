/**
 * The chaos run's own redis-server on a free port, keeping nothing on disk (`--save ""
 * --appendonly no`), so the schedule can kill it and start it again on the same port: it comes back
 * empty, and the workers must rebuild the ring and the universe themselves.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { findOnPath, freePort } from '../../src/roles/embedded-redis.js';
import { until } from '../support/processes.js';

export class ChaosRedis {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'tickring-chaos-redis-'));
  private readonly binary: string;
  port = 0;
  restarts = 0;

  constructor() {
    const binary = findOnPath('redis-server');
    if (!binary) throw new Error('redis-server is not on the PATH: the chaos run starts its own');
    this.binary = binary;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    const child = spawn(
      this.binary,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore', cwd: this.dir },
    );
    this.child = child;
    const probe = new Redis(this.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => undefined);
    try {
      await until(
        `redis-server on port ${this.port}`,
        async () => {
          if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
          try {
            await probe.connect();
            await probe.ping();
            return true;
          } catch {
            probe.disconnect();
            return undefined;
          }
        },
        10_000,
        20,
      );
    } finally {
      probe.disconnect();
    }
  }

  /** SIGKILL: everything the server held is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async close(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
