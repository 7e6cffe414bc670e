/**
 * Redis over TLS with an ACL user, and Redis with a password, end to end with a worker process, and
 * secrets kept out of everything a worker shows. A throwaway CA and server certificate are made with
 * openssl in a temporary directory; the worker trusts the CA through Node's standard
 * `NODE_EXTRA_CA_CERTS` (see the README's operations notes).
 *
 * The secrets (Redis password, feed key, admin token) must appear in no log line, no error, no
 * metric, no API answer (`/v1/cluster`, `/readyz`, `/openapi.json`, an admin refusal) and no `--help`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finnhub } from '../../feeds/finnhub.js';
import { addSymbols } from '../../src/cluster/universe.js';
import { clusterKeys } from '../../src/redis/keys.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { uniquePrefix } from '../support/redis.js';
import { eventually, stopAll, type WorkerProcess } from '../support/workers.js';
import { faultFigure } from './figures.js';
import { runCli, spawnWorker } from './processes.js';
import { RedisServer } from './redis-server.js';

const REDIS_USER = 'tickring-app';
const REDIS_PASSWORD = 'redis-Pa55word-7f3a9c1e';
const FEED_KEY = 'feedkey-SECRET-0d2b8e44';
const ADMIN_TOKEN = 'admin-TOKEN-5c0ffee5c0ffee5c';
const SECRETS = [REDIS_PASSWORD, FEED_KEY, ADMIN_TOKEN];
const SYMBOLS = generateSymbols(6);

/** A CA and a server certificate for 127.0.0.1 and localhost, valid for a day. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const path = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'ignore' });
  };
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=tickring test CA',
    '-keyout',
    path('ca.key'),
    '-out',
    path('ca.pem'),
  );
  writeFileSync(path('san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    path('server.key'),
    '-out',
    path('server.csr'),
  );
  openssl(
    'x509',
    '-req',
    '-in',
    path('server.csr'),
    '-CA',
    path('ca.pem'),
    '-CAkey',
    path('ca.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    path('san.cnf'),
    '-out',
    path('server.pem'),
  );
  return { ca: path('ca.pem'), cert: path('server.pem'), key: path('server.key') };
}

function leaks(text: string): string[] {
  return SECRETS.filter((secret) => text.includes(secret));
}

describe('Redis TLS and AUTH, and secrets kept out of sight', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tickring-tls-'));
  let certs: { ca: string; cert: string; key: string };
  let tlsServer: RedisServer;
  let passwordServer: RedisServer;
  let sim: RunningSimulator;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    certs = makeCertificates(dir);
    tlsServer = new RedisServer({ tls: certs, aclUser: [REDIS_USER, REDIS_PASSWORD] });
    passwordServer = new RedisServer({ password: REDIS_PASSWORD });
    await Promise.all([tlsServer.start(), passwordServer.start()]);
    sim = await startSimulator({ protocol: finnhub, symbols: SYMBOLS, rate: 100, seed: 2 });
  });

  afterAll(async () => {
    await stopAll(workers);
    await sim.close();
    await tlsServer.close();
    await passwordServer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function workerArgs(redisUrl: string, prefix: string): string[] {
    return [
      '--redis',
      redisUrl,
      '--key-prefix',
      prefix,
      '--cluster',
      'test',
      '--feed',
      'finnhub',
      '--feed-url',
      sim.wsUrl,
      '--http-port',
      '0',
      '--lease-ms',
      '1500',
      '--heartbeat-ms',
      '250',
      '--poll-ms',
      '250',
      '--checkpoint-ms',
      '200',
      '--settle-ms',
      '0',
      '--log-level',
      'debug',
    ];
  }

  const secretEnv = { TICKRING_FEED_KEY: FEED_KEY, TICKRING_ADMIN_TOKEN: ADMIN_TOKEN };

  it('a worker runs against rediss:// with an ACL user, and leaks no secret anywhere', async () => {
    const prefix = uniquePrefix('tls');
    const admin = tlsServer.client();
    await addSymbols(admin, clusterKeys(prefix, 'test'), SYMBOLS);
    const url = tlsServer.url();
    expect(url.startsWith(`rediss://${REDIS_USER}:${REDIS_PASSWORD}@`)).toBe(true);
    const worker = spawnWorker('tls1', workerArgs(url, prefix), [], {
      ...secretEnv,
      NODE_EXTRA_CA_CERTS: certs.ca,
    });
    workers.push(worker);
    const base = await eventually(
      'the TLS worker ready',
      () => {
        const ready = worker.output.find((line) => line.includes('"worker ready"'));
        return ready ? (JSON.parse(ready) as { http: string }).http : undefined;
      },
      20_000,
    );
    // It ingests: the simulator sees it subscribed to every symbol, and Redis gets its checkpoints.
    await eventually(
      'subscribed to every symbol',
      () => {
        const subs = sim.stats().connections.flatMap((c) => c.subscriptions);
        return SYMBOLS.every((s) => subs.includes(s)) ? true : undefined;
      },
      15_000,
    );
    await eventually('checkpoints over TLS', async () =>
      (await admin.hlen(clusterKeys(prefix, 'test').checkpoints)) > 0 ? true : undefined,
    );
    // The server saw TLS clients of the ACL user only.
    const clients = (await admin.client('LIST')) as string;
    expect(clients).toContain(`user=${REDIS_USER}`);
    expect(clients).not.toContain('user=default');

    const answers: string[] = [];
    for (const path of ['/v1/cluster', '/readyz', '/healthz', '/metrics', '/openapi.json', '/v1/symbols']) {
      const response = await fetch(`${base}${path}`);
      answers.push(await response.text());
      expect(response.status, path).toBeLessThan(500);
    }
    for (const header of [
      `Bearer ${ADMIN_TOKEN.slice(0, -1)}x`,
      `Bearer ${ADMIN_TOKEN}${ADMIN_TOKEN}`,
      'Bearer x',
    ]) {
      const refused = await fetch(`${base}/v1/symbols`, {
        method: 'POST',
        headers: { authorization: header, 'content-type': 'application/json' },
        body: '{"symbols":["NEW1"]}',
      });
      expect(refused.status).toBe(401);
      answers.push(await refused.text());
    }
    const accepted = await fetch(`${base}/v1/symbols`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: '{"symbols":["NEW1"]}',
    });
    expect(accepted.status).toBe(200);
    answers.push(await accepted.text());
    worker.child.kill('SIGTERM');
    await worker.exited;
    const everything = [...answers, ...worker.output].join('\n');
    expect(leaks(everything)).toEqual([]);
    // The log does name the Redis it uses, with the password masked.
    expect(everything).toContain(`rediss://${REDIS_USER}:***@127.0.0.1:${tlsServer.port}`);
    faultFigure('security.tls-worker.log-lines-checked', worker.output.length);
    faultFigure('security.tls-worker.answers-checked', answers.length);
    admin.disconnect();
  });

  it('refuses to start, saying why and without the password, on a wrong password or an untrusted certificate', async () => {
    const prefix = uniquePrefix('tls-bad');
    const cases: [string, string, Record<string, string>, RegExp][] = [
      [
        'wrong password',
        tlsServer.url().replace(REDIS_PASSWORD, `${REDIS_PASSWORD}-wrong`),
        { NODE_EXTRA_CA_CERTS: certs.ca },
        /WRONGPASS|invalid username-password/i,
      ],
      ['untrusted certificate', tlsServer.url(), {}, /certificate/i],
      ['no password', passwordServer.url().replace(`:${REDIS_PASSWORD}@`, ''), {}, /NOAUTH|auth/i],
    ];
    for (const [what, url, env, reason] of cases) {
      const { code, output } = await runCli(['worker', '--worker-id', 'bad1', ...workerArgs(url, prefix)], {
        ...secretEnv,
        ...env,
      });
      expect(code, `${what}: ${output.slice(0, 300)}`).not.toBe(0);
      expect(output, what).toMatch(/cannot reach Redis/);
      expect(output, what).toMatch(reason);
      // Found by this test: ioredis puts the refused AUTH command, password included, on the error
      // it reports; the logger now redacts `err.command.args`.
      expect(leaks(output), what).toEqual([]);
    }
    faultFigure('security.redis-refusals-checked', cases.length);
  });

  it('a worker authenticates with requirepass over plain TCP (redis://:password@)', async () => {
    const prefix = uniquePrefix('auth');
    const admin = passwordServer.client();
    await addSymbols(admin, clusterKeys(prefix, 'test'), SYMBOLS);
    const worker = spawnWorker('auth1', workerArgs(passwordServer.url(), prefix), [], secretEnv);
    workers.push(worker);
    await eventually(
      'the password worker ready',
      () => (worker.output.some((line) => line.includes('"worker ready"')) ? true : undefined),
      20_000,
    );
    worker.child.kill('SIGTERM');
    await worker.exited;
    expect(leaks(worker.output.join('\n'))).toEqual([]);
    admin.disconnect();
  });

  it('shows no secret in --help, nor in a configuration error about a secret', async () => {
    const help = await runCli(['worker', '--help'], {
      ...secretEnv,
      TICKRING_REDIS_URL: passwordServer.url(),
    });
    expect(help.code).toBe(0);
    expect(leaks(help.output)).toEqual([]);
    const bad = await runCli(['worker', '--admin-token', 'tiny-tok'], { TICKRING_FEED_KEY: FEED_KEY });
    expect(bad.code).toBe(2);
    expect(bad.output).toContain('--admin-token');
    expect(bad.output).not.toContain('tiny-tok');
    expect(leaks(bad.output)).toEqual([]);
  });
});
