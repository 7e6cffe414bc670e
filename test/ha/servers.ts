/**
 * Real Redis topologies for the HA tests, started from the `redis-server` binary on free loopback
 * ports, each server in its own temporary directory (nothing else on disk), all stopped by `stop()`:
 *
 * - a primary, one replica and three Sentinels watching them as `mymaster`;
 * - a Redis Cluster of three primaries (no replicas), created with `redis-cli --cluster create`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { eventually } from '../support/eventually.js';

const run = promisify(execFile);

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port whose cluster bus port (port + 10000) is free too. */
async function freePortPair(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await portFree(port)) && (await portFree(port + 10_000))) return port;
  }
}

/** One redis-server (or Sentinel) process in its own temporary directory. */
export class RedisProcess {
  private child: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'tickring-ha-'));

  constructor(
    readonly port: number,
    private readonly args: readonly string[],
    private readonly config?: string,
  ) {}

  async start(): Promise<this> {
    const args = [...this.args];
    if (this.config !== undefined) {
      // Sentinel rewrites its config file: it must be a file of its own.
      const file = join(this.dir, 'server.conf');
      writeFileSync(file, this.config);
      args.unshift(file);
    }
    const child = spawn(
      'redis-server',
      [...args, '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir],
      { stdio: 'ignore', cwd: this.dir },
    );
    this.child = child;
    const probe = this.client();
    try {
      await eventually(
        `redis-server on ${this.port}`,
        async () => {
          if (child.exitCode !== null) throw new Error(`redis-server exited ${child.exitCode}`);
          await probe.ping();
          return true;
        },
        15_000,
        50,
      );
    } finally {
      probe.disconnect();
    }
    return this;
  }

  /** A plain client of this one server (no scripts, no reconnect). */
  client(): Redis {
    const redis = new Redis(this.port, '127.0.0.1', {
      lazyConnect: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 100,
    });
    redis.on('error', () => undefined);
    return redis;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const NO_DISK = ['--save', '', '--appendonly', 'no'];

export interface SentinelGroup {
  readonly name: string;
  readonly url: string;
  readonly primary: RedisProcess;
  readonly replica: RedisProcess;
  readonly sentinels: readonly RedisProcess[];
  /** The port of the server the Sentinels name as primary now. */
  primaryPort(): Promise<number>;
  stop(): Promise<void>;
}

/** A primary, a replica of it and three Sentinels agreeing on both, ready for a failover. */
export async function startSentinelGroup(name = 'mymaster'): Promise<SentinelGroup> {
  const started: RedisProcess[] = [];
  try {
    const primary = await new RedisProcess(await freePortPair(), NO_DISK).start();
    started.push(primary);
    const replica = await new RedisProcess(await freePortPair(), [
      ...NO_DISK,
      '--replicaof',
      '127.0.0.1',
      String(primary.port),
    ]).start();
    started.push(replica);
    const sentinels: RedisProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const config = [
        `sentinel monitor ${name} 127.0.0.1 ${primary.port} 2`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 5000`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n');
      const sentinel = await new RedisProcess(await freePortPair(), ['--sentinel'], config).start();
      started.push(sentinel);
      sentinels.push(sentinel);
    }
    const ask = sentinels[0]!.client();
    const primaryPort = async (): Promise<number> =>
      Number(((await ask.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as string[])[1]);
    // Ready when the replica has synced and every Sentinel knows the replica and the two others.
    await eventually(
      'the Sentinels to see the replica and each other',
      async () => {
        for (const sentinel of sentinels) {
          const client = sentinel.client();
          try {
            const replicas = (await client.call('SENTINEL', 'REPLICAS', name)) as string[][];
            const peers = (await client.call('SENTINEL', 'SENTINELS', name)) as string[][];
            if (replicas.length !== 1 || peers.length !== 2) return undefined;
          } finally {
            client.disconnect();
          }
        }
        const client = replica.client();
        try {
          return /master_link_status:up/.test(await client.info('replication')) ? true : undefined;
        } finally {
          client.disconnect();
        }
      },
      30_000,
      200,
    );
    return {
      name,
      url: `redis+sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${name}`,
      primary,
      replica,
      sentinels,
      primaryPort,
      async stop() {
        ask.disconnect();
        await Promise.all(started.map((server) => server.stop()));
      },
    };
  } catch (err) {
    await Promise.all(started.map((server) => server.stop()));
    throw err;
  }
}

export interface RedisClusterGroup {
  readonly url: string;
  readonly nodes: readonly RedisProcess[];
  stop(): Promise<void>;
}

/** Three cluster-enabled primaries sharing the 16384 slots. */
export async function startRedisCluster(size = 3): Promise<RedisClusterGroup> {
  const nodes: RedisProcess[] = [];
  try {
    for (let i = 0; i < size; i++) {
      const node = await new RedisProcess(await freePortPair(), [
        ...NO_DISK,
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        '3000',
      ]).start();
      nodes.push(node);
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...nodes.map((node) => `127.0.0.1:${node.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    await eventually(
      'the cluster to be ok on every node',
      async () => {
        for (const node of nodes) {
          const client = node.client();
          try {
            const info = (await client.call('CLUSTER', 'INFO')) as string;
            if (!/cluster_state:ok/.test(info) || !info.includes(`cluster_known_nodes:${size}`))
              return undefined;
          } finally {
            client.disconnect();
          }
        }
        return true;
      },
      30_000,
      200,
    );
    return {
      url: `redis+cluster://${nodes.map((node) => `127.0.0.1:${node.port}`).join(',')}`,
      nodes,
      async stop() {
        await Promise.all(nodes.map((node) => node.stop()));
      },
    };
  } catch (err) {
    await Promise.all(nodes.map((node) => node.stop()));
    throw err;
  }
}
