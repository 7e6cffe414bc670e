/**
 * A redis-server of the test's own, on a free port, keeping nothing on disk: optionally bound to more
 * addresses (a veth end for the partition test), with a password or an ACL user, with TLS only, or as
 * a replica. Never the shared Redis on 6379: these tests pause, kill and promote their server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { freePort } from '../../src/roles/embedded-redis.js';
import { registerScripts } from '../../src/redis/scripts.js';
import { eventually } from '../support/workers.js';

export interface RedisServerOptions {
  /** Addresses to listen on besides 127.0.0.1. */
  readonly bind?: readonly string[];
  /** `requirepass`: the default user's password. */
  readonly password?: string;
  /** An ACL user with every right on tickring's keys: `[name, password]`. */
  readonly aclUser?: readonly [string, string];
  /** TLS only (`--port 0`): the server's certificate files. */
  readonly tls?: { readonly cert: string; readonly key: string; readonly ca: string };
  /** `host:port` of the primary to replicate. */
  readonly replicaOf?: string;
}

export class RedisServer {
  private child: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'tickring-faults-redis-'));
  port = 0;

  constructor(private readonly options: RedisServerOptions = {}) {}

  /** The URL a client uses, credentials included when the server wants them. */
  url(host = '127.0.0.1'): string {
    const scheme = this.options.tls ? 'rediss' : 'redis';
    const auth = this.options.aclUser
      ? `${this.options.aclUser[0]}:${this.options.aclUser[1]}@`
      : this.options.password
        ? `:${this.options.password}@`
        : '';
    return `${scheme}://${auth}${host}:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    const o = this.options;
    const args = ['--bind', ['127.0.0.1', ...(o.bind ?? [])].join(' '), '--save', '', '--appendonly', 'no'];
    // DEBUG SLEEP freezes the server as a long fork or a stalled disk would.
    args.push('--enable-debug-command', 'local');
    // A replica syncs at once rather than after the default five-second wait for more replicas.
    args.push('--repl-diskless-sync-delay', '0');
    if (o.tls) {
      args.push('--port', '0', '--tls-port', String(this.port));
      args.push('--tls-cert-file', o.tls.cert, '--tls-key-file', o.tls.key, '--tls-ca-cert-file', o.tls.ca);
      args.push('--tls-auth-clients', 'no');
    } else {
      args.push('--port', String(this.port));
    }
    // The extra addresses are veth ends on this machine: let their clients in without a password.
    if ((o.bind ?? []).length > 0) args.push('--protected-mode', 'no');
    if (o.password) args.push('--requirepass', o.password);
    if (o.aclUser) {
      // The default user may do nothing: only the ACL user gets in.
      const file = join(this.dir, 'users.acl');
      writeFileSync(file, `user ${o.aclUser[0]} on >${o.aclUser[1]} ~* &* +@all\nuser default off\n`);
      args.push('--aclfile', file);
    }
    if (o.replicaOf) args.push('--replicaof', ...o.replicaOf.split(':'));
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: this.dir });
    this.child = child;
    // The server's own words, for the error when it refuses to start.
    let said = '';
    const listen = (chunk: Buffer): void => {
      said = (said + chunk.toString('utf8')).slice(-2_000);
    };
    child.stdout.on('data', listen);
    child.stderr.on('data', listen);
    await eventually(
      `redis-server on ${this.port}`,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`redis-server exited ${child.exitCode}: ${said}`);
        const probe = this.client({ lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
        try {
          await probe.connect();
          await probe.ping();
          return true;
        } finally {
          probe.disconnect();
        }
      },
      10_000,
      50,
    );
  }

  /** A client with the server's credentials (and the test CA for TLS), scripts registered. */
  client(extra: RedisOptions = {}): Redis {
    const redis = new Redis(this.url(), {
      maxRetriesPerRequest: 1,
      ...(this.options.tls ? { tls: { ca: readFileSync(this.options.tls.ca) } } : {}),
      ...extra,
    });
    redis.on('error', () => undefined);
    registerScripts(redis);
    return redis;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Kills the server at once (SIGKILL): everything it held is gone. */
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
