/**
 * `tickring up` without a Redis URL spawns its own `redis-server` on a free port, keeping nothing on
 * disk, and stops it on exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';
import { TickringError } from '../errors.js';

export const NO_REDIS_HELP = [
  'tickring up needs Redis: REDIS_URL is not set and no redis-server binary is on the PATH.',
  'Fix it one of these ways:',
  '  - install Redis (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) and run npm start again;',
  '  - or point tickring at a running Redis: REDIS_URL=redis://host:6379 npm start;',
  '  - or run the whole stack in containers: docker compose up',
].join('\n');

export function findOnPath(binary: string, path = process.env['PATH'] ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface EmbeddedRedis {
  readonly url: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

export async function startEmbeddedRedis(binary: string): Promise<EmbeddedRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tickring-redis-'));
  const child = spawn(
    binary,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--loglevel',
      'warning',
    ],
    // Its own process group: a terminal's Ctrl-C must not stop Redis before the workers have written
    // their final checkpoints; `stop()` ends it after them.
    { stdio: ['ignore', 'ignore', 'inherit'], detached: true },
  );
  const url = `redis://127.0.0.1:${port}`;
  const state = { exited: false };
  const exitedPromise = new Promise<void>((resolve) =>
    child.once('exit', () => {
      state.exited = true;
      resolve();
    }),
  );
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch (err) {
      probe.disconnect();
      if (state.exited || Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new TickringError(
          'TICKRING_ERR_REDIS_UNAVAILABLE',
          `embedded redis-server did not start on port ${port}`,
          {
            cause: err,
          },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  probe.disconnect();
  return {
    url,
    process: child,
    async stop() {
      if (!state.exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
        await exitedPromise;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
