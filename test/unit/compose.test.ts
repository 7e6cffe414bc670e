/**
 * No Docker engine runs where the tests run, so docker-compose.yml, the Dockerfile and .dockerignore are
 * checked here instead: the compose file against the Compose specification's JSON schema, every tickring
 * command and variable against the roles' own option specs (the CLI would reject anything else at
 * start), the wiring between services (URLs, ports, the symbol universe), and the image's build and
 * runtime stages. The image's HEALTHCHECK command is run for real against a local HTTP server.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFeed } from '../../feeds/index.js';
import { addOptions, resolveOptions, type OptionSpecs } from '../../src/config/option-spec.js';
import { relayCrossChecks, RELAY_OPTIONS, type RelayConfig } from '../../src/roles/relay.js';
import { simSymbols, SIM_OPTIONS, type SimConfig } from '../../src/roles/sim.js';
import { STATUS_OPTIONS } from '../../src/roles/status.js';
import { collectSymbols, readSymbolsFile } from '../../src/roles/symbols-input.js';
import { UP_OPTIONS } from '../../src/roles/up.js';
import { WORKER_OPTIONS, workerCrossChecks, type WorkerConfig } from '../../src/roles/worker-options.js';
import { generateSymbols } from '../../src/sim/universe.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

/** The roles `tickring <role>` accepts, as src/cli.ts registers them. */
const ROLES: Readonly<Record<string, { specs: OptionSpecs; crossChecks?: (config: never) => string[] }>> = {
  up: { specs: UP_OPTIONS },
  worker: { specs: WORKER_OPTIONS, crossChecks: workerCrossChecks },
  sim: { specs: SIM_OPTIONS },
  status: { specs: STATUS_OPTIONS },
  relay: { specs: RELAY_OPTIONS, crossChecks: relayCrossChecks },
};

/** Variables that configure tickring; any of these in a service's environment must be read by its role. */
const TICKRING_VARIABLE = /^(TICKRING_\w+|REDIS_URL|PORT)$/;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = Record<string, Json>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function object(value: unknown, what: string): JsonObject {
  if (!isObject(value)) throw new Error(`${what} is not a mapping`);
  return value;
}

// ---- Compose interpolation ---------------------------------------------------------------------------

/**
 * Compose's variable interpolation (`$$`, `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
 * `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}`), applied to every string as Compose does
 * before validating. A variable that is unset with no default is an error here: the demo must start with
 * no .env file.
 */
function interpolate(text: string, env: Readonly<Record<string, string | undefined>>): string {
  return text.replace(
    /\$(?:(\$)|\{([A-Za-z_]\w*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_]\w*)|(.|$))/g,
    (
      _match,
      dollar: string | undefined,
      braced: string | undefined,
      operator: string | undefined,
      operand: string | undefined,
      bare: string | undefined,
      invalid: string | undefined,
    ) => {
      if (dollar !== undefined) return '$';
      if (invalid !== undefined) throw new Error(`invalid interpolation in ${JSON.stringify(text)}`);
      const name = braced ?? bare ?? '';
      const value = env[name];
      const unsetOrEmpty = operator?.startsWith(':')
        ? value === undefined || value === ''
        : value === undefined;
      switch (operator?.replace(':', '')) {
        case '-':
          return unsetOrEmpty ? (operand ?? '') : (value ?? '');
        case '?':
          if (unsetOrEmpty) throw new Error(`\${${name}} is required: ${operand ?? ''}`);
          return value ?? '';
        case '+':
          return unsetOrEmpty ? '' : (operand ?? '');
        default:
          if (value === undefined) throw new Error(`\${${name}} is unset and has no default`);
          return value;
      }
    },
  );
}

function interpolateAll(value: Json, env: Readonly<Record<string, string | undefined>>): Json {
  if (typeof value === 'string') return interpolate(value, env);
  if (Array.isArray(value)) return value.map((item) => interpolateAll(item, env));
  if (isObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolateAll(item, env)]));
  }
  return value;
}

function loadCompose(env: Readonly<Record<string, string | undefined>> = {}): JsonObject {
  return object(interpolateAll(parseYaml(read('docker-compose.yml')) as Json, env), 'docker-compose.yml');
}

// ---- Compose specification schema ---------------------------------------------------------------------

/**
 * The Compose specification's JSON schema (draft-07), as the dclint package ships it. Its `$schema` names
 * the draft by an https URL without the trailing `#`, which Ajv does not map to its bundled draft-07
 * meta-schema, so that one key is dropped.
 */
function composeSchemaValidator(): ValidateFunction {
  const dclint = dirname(createRequire(import.meta.url).resolve('dclint/package.json'));
  const schema = JSON.parse(
    readFileSync(join(dclint, 'schemas', 'compose.schema.json'), 'utf8'),
  ) as JsonObject;
  expect(schema['title']).toBe('Compose Specification');
  expect(schema['$schema']).toMatch(/draft-07/);
  delete schema['$schema'];
  // Not strict: the specification uses union types (`"type": ["boolean", "string"]`), which are valid
  // JSON Schema that Ajv's strict mode merely discourages.
  const ajv = new Ajv({ allErrors: true, strict: false });
  return ajv.compile(schema);
}

function schemaErrors(validate: ValidateFunction, doc: unknown): string[] {
  if (validate(doc)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}`);
}

// ---- Services ------------------------------------------------------------------------------------------

function services(compose: JsonObject): Record<string, JsonObject> {
  const all = object(compose['services'], 'services');
  return Object.fromEntries(Object.entries(all).map(([name, s]) => [name, object(s, `service ${name}`)]));
}

/** Services built from this repository's Dockerfile, i.e. running `tickring`. */
function tickringServices(compose: JsonObject): Record<string, JsonObject> {
  return Object.fromEntries(
    Object.entries(services(compose)).filter(([, service]) => {
      const build = service['build'];
      const context = isObject(build) ? build['context'] : build;
      return context === '.' || context === './';
    }),
  );
}

/** A service's environment in either Compose form; `KEY` alone (pass-through from the shell) is unset. */
function environment(service: JsonObject): Record<string, string | undefined> {
  const env = service['environment'];
  if (env === undefined || env === null) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        if (typeof entry !== 'string') throw new Error(`environment entry ${JSON.stringify(entry)}`);
        const text = entry;
        const eq = text.indexOf('=');
        return eq < 0 ? [text, undefined] : [text.slice(0, eq), text.slice(eq + 1)];
      }),
    );
  }
  return Object.fromEntries(
    Object.entries(object(env, 'environment')).map(([key, value]) => [
      key,
      value === null ? undefined : String(value as string | number | boolean),
    ]),
  );
}

/** The command a tickring service runs: its own, or the image's CMD. */
function commandOf(service: JsonObject, dockerfile: Dockerfile): string[] {
  const command = service['command'];
  if (command === undefined || command === null) return jsonForm(instruction(finalStage(dockerfile), 'CMD'));
  if (!Array.isArray(command)) throw new Error('write tickring commands in exec (list) form');
  return command.map(String);
}

/** Every `--flag` of the role's option specs, e.g. `--http-port`. */
function knownFlags(specs: OptionSpecs): Set<string> {
  return new Set(
    Object.values(specs).map((spec) => spec.flag.split(/[ ,]+/).find((p) => p.startsWith('--')) ?? spec.flag),
  );
}

/** Parses a role's argv exactly as the CLI does (commander with the role's specs), failing on errors. */
function parseFlags(specs: OptionSpecs, args: readonly string[]): Record<string, unknown> {
  const command = new Command('role')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  addOptions(command, specs);
  command.action(() => undefined);
  command.parse([...args], { from: 'user' });
  return command.opts();
}

/** The role, flags and resolved configuration of one tickring service, validated like `tickring <role>`. */
function resolveService(service: JsonObject, dockerfile: Dockerfile) {
  const [role = '', ...args] = commandOf(service, dockerfile);
  const definition = ROLES[role];
  if (!definition) throw new Error(`unknown role ${JSON.stringify(role)}`);
  const env = environment(service);
  const config = resolveOptions(
    definition.specs,
    parseFlags(definition.specs, args),
    env,
    definition.crossChecks as ((config: unknown) => string[]) | undefined,
  );
  return { role, args, env, definition, config: config as Readonly<Record<string, unknown>> };
}

/** Whether a Compose `ports` entry pins a host port (which only one replica can bind). */
function fixesHostPort(entry: Json): boolean {
  if (typeof entry === 'number') return false; // a bare container port: the host port is random
  if (typeof entry === 'string') {
    // [[host_ip:]host_port:]container_port[/protocol], host_ip possibly a bracketed IPv6 address
    const withoutProtocol = entry.replace(/\/\w+$/, '').replace(/^\[[^\]]*\]:/, 'ip:');
    const parts = withoutProtocol.split(':');
    if (parts.length === 1) return false;
    const hostPort = parts.length === 2 ? parts[0] : parts[parts.length - 2];
    return hostPort !== undefined && hostPort !== '';
  }
  if (isObject(entry)) return entry['published'] !== undefined && entry['published'] !== '';
  throw new Error(`unexpected ports entry ${JSON.stringify(entry)}`);
}

/** The container port of a Compose `ports` entry. */
function targetPort(entry: Json): number {
  if (isObject(entry)) return Number(entry['target']);
  if (typeof entry === 'number') return entry;
  if (typeof entry === 'string')
    return Number(
      entry
        .replace(/\/\w+$/, '')
        .split(':')
        .at(-1),
    );
  throw new Error(`unexpected ports entry ${JSON.stringify(entry)}`);
}

// ---- Dockerfile ----------------------------------------------------------------------------------------

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}
interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}
type Dockerfile = readonly Stage[];

function parseDockerfile(text: string): Dockerfile {
  const logical = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const stages: { from: string; name: string | undefined; instructions: Instruction[] }[] = [];
  for (const line of logical) {
    const match = /^(\w+)\s+(.*)$/.exec(line);
    if (!match) throw new Error(`unparsed Dockerfile line: ${line}`);
    const keyword = (match[1] ?? '').toUpperCase();
    const args = (match[2] ?? '').trim();
    if (keyword === 'FROM') {
      const [from = '', as, name] = args.split(/\s+/);
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (!stage) throw new Error(`${keyword} before FROM`);
    stage.instructions.push({ keyword, args });
  }
  return stages;
}

function finalStage(dockerfile: Dockerfile): Stage {
  const stage = dockerfile[dockerfile.length - 1];
  if (!stage) throw new Error('Dockerfile has no stage');
  return stage;
}

function instructions(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((i) => i.keyword === keyword);
}

/** The last instruction of a kind in a stage (the one in force), e.g. USER or CMD. */
function instruction(stage: Stage, keyword: string): Instruction {
  const found = instructions(stage, keyword).at(-1);
  if (!found) throw new Error(`no ${keyword} in stage ${stage.name ?? stage.from}`);
  return found;
}

function jsonForm(i: Instruction): string[] {
  const start = i.args.indexOf('[');
  return JSON.parse(i.args.slice(start)) as string[];
}

/** COPY sources taken from the build context (not `--from` another stage). */
function contextCopies(dockerfile: Dockerfile): string[] {
  return dockerfile.flatMap((stage) =>
    instructions(stage, 'COPY')
      .filter((i) => !/--from=/.test(i.args))
      .flatMap((i) => {
        const parts = i.args.split(/\s+/).filter((part) => !part.startsWith('--'));
        return parts.slice(0, -1);
      }),
  );
}

/** Whether a context path is excluded by .dockerignore (root-relative patterns, `*` within a segment). */
function dockerIgnored(path: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) => {
    const regex = new RegExp(
      `^${pattern
        .replace(/^\/|\/$/g, '')
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')}(/|$)`,
    );
    return regex.test(path.replace(/^\.\//, ''));
  });
}

function runNode(script: string, env: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['-e', script],
      { env: { ...process.env, ...env }, timeout: 10_000 },
      (err) => {
        resolve(err ? (typeof err.code === 'number' ? err.code : 1) : 0);
      },
    );
  });
}

// ---- Tests ---------------------------------------------------------------------------------------------

const dockerfile = parseDockerfile(read('Dockerfile'));

describe('docker-compose.yml against the Compose specification', () => {
  const validate = composeSchemaValidator();

  it('is valid after interpolation with an empty environment and with overrides', () => {
    expect(schemaErrors(validate, loadCompose())).toEqual([]);
    expect(schemaErrors(validate, loadCompose({ TICKRING_FEED_KEY: 'k' }))).toEqual([]);
  });

  it('has no obsolete `version:` key', () => {
    expect(loadCompose()).not.toHaveProperty('version');
  });

  it('rejects documents the specification forbids, so the check above can fail', () => {
    const compose = loadCompose();
    const worker = services(compose)['worker'];
    expect(worker).toBeDefined();
    const broken = structuredClone(compose);
    object(object(broken['services'], 'services')['worker'], 'worker')['comand'] = ['worker'];
    expect(schemaErrors(validate, broken).join('\n')).toMatch(/additional properties/);
    const badDepends = structuredClone(compose);
    object(object(badDepends['services'], 'services')['worker'], 'worker')['depends_on'] = {
      redis: { condition: 'service_ready' },
    };
    expect(schemaErrors(validate, badDepends)).not.toEqual([]);
  });

  it('interpolates as Compose does', () => {
    expect(interpolate('${A:-x}', {})).toBe('x');
    expect(interpolate('${A:-x}', { A: '' })).toBe('x');
    expect(interpolate('${A-x}', { A: '' })).toBe('');
    expect(interpolate('$A and $${A} and ${A:+set}', { A: 'v' })).toBe('v and ${A} and set');
    expect(() => interpolate('${A}', {})).toThrow(/unset/);
    expect(() => interpolate('${A:?needed}', {})).toThrow(/needed/);
    expect(() => interpolate('cost: 5$', {})).toThrow(/invalid interpolation/);
  });
});

describe('tickring services use only real roles, flags and variables', () => {
  const compose = loadCompose();
  const tickring = tickringServices(compose);

  it('finds the tickring services', () => {
    expect(Object.keys(tickring).sort()).toEqual(['relay', 'relay-worker', 'sim', 'worker']);
  });

  it.each(Object.entries(tickring))('%s: every flag is one its role defines', (_name, service) => {
    const [role = '', ...args] = commandOf(service, dockerfile);
    const definition = ROLES[role];
    expect(definition, `role ${role}`).toBeDefined();
    const flags = knownFlags(definition?.specs ?? {});
    const given = args.filter((arg) => arg.startsWith('-')).map((arg) => arg.split('=')[0] ?? arg);
    expect(given.filter((flag) => !flags.has(flag))).toEqual([]);
  });

  it.each(Object.entries(tickring))('%s: every tickring variable is one its role reads', (_name, service) => {
    const [role = ''] = commandOf(service, dockerfile);
    const read = new Set(Object.values(ROLES[role]?.specs ?? {}).flatMap((spec) => spec.env));
    const unknown = Object.keys(environment(service)).filter(
      (key) => TICKRING_VARIABLE.test(key) && !read.has(key),
    );
    expect(unknown).toEqual([]);
  });

  it.each(Object.entries(tickring))('%s: flags and variables parse and validate', (_name, service) => {
    expect(() => resolveService(service, dockerfile)).not.toThrow();
  });

  it('would catch an unknown flag, an unread variable and a bad value', () => {
    const worker = tickring['worker'];
    if (!worker) throw new Error('no worker service');
    expect(() => resolveService({ ...worker, command: ['worker', '--http-prot', '1'] }, dockerfile)).toThrow(
      /unknown option/,
    );
    expect(() => resolveService({ ...worker, command: ['wroker'] }, dockerfile)).toThrow(/unknown role/);
    const badPort = { ...worker, environment: { ...environment(worker), TICKRING_HTTP_PORT: '80800' } };
    expect(() => resolveService(badPort, dockerfile)).toThrow(/TICKRING_HTTP_PORT/);
    const known = new Set(Object.values(WORKER_OPTIONS).flatMap((spec) => spec.env));
    expect(known.has('TICKRING_HTTP_PORTS')).toBe(false);
  });
});

describe('the services are wired to each other', () => {
  const compose = loadCompose();
  const all = services(compose);
  // Resolved before the tests rather than while collecting them, so that an invalid service fails these
  // tests with its problems listed instead of failing the whole file.
  let worker: ReturnType<typeof resolveService>;
  let sim: ReturnType<typeof resolveService>;
  let workerConfig: WorkerConfig;
  let simConfig: SimConfig;
  beforeAll(() => {
    worker = resolveService(all['worker'] ?? {}, dockerfile);
    sim = resolveService(all['sim'] ?? {}, dockerfile);
    workerConfig = worker.config as unknown as WorkerConfig;
    simConfig = sim.config as unknown as SimConfig;
  });

  it('the worker runs the worker role by default (the image CMD) or explicitly', () => {
    expect(worker.role).toBe('worker');
    expect(sim.role).toBe('sim');
  });

  it('workers reach Redis and the simulator by their service names', () => {
    const redisUrl = new URL(workerConfig.redisUrl);
    expect(all[redisUrl.hostname]?.['image']).toMatch(/^redis:7/);
    expect(redisUrl.port).toBe('6379');

    const feedUrl = new URL(workerConfig.feedUrl ?? '');
    expect(feedUrl.hostname).toBe('sim');
    expect(Number(feedUrl.port)).toBe(simConfig.port);
    expect(workerConfig.feed).toBe(simConfig.protocol);
    expect(simConfig.host).toBe('0.0.0.0');
    const protocol = getFeed(simConfig.protocol);
    expect(protocol?.server.accepts(feedUrl)).toBe(true);
    // The simulator takes any non-empty key unless it is given one to require.
    expect(workerConfig.feedKey).toBeTruthy();
    expect(simConfig.key === '' || simConfig.key === workerConfig.feedKey).toBe(true);
  });

  it('workers add exactly the symbols the simulator trades to the universe', () => {
    const file = workerConfig.symbolsFile ?? '';
    // The image's WORKDIR is /app and the file is copied there from the repository.
    const workdir = instruction(finalStage(dockerfile), 'WORKDIR').args;
    expect(file.startsWith(`${workdir}/`)).toBe(true);
    const inRepo = file.slice(workdir.length + 1);
    expect(contextCopies(dockerfile)).toContain(inRepo);
    expect(collectSymbols(workerConfig.symbols, join(ROOT, inRepo))).toEqual(simSymbols(simConfig));
  });

  it('every worker replica advertises its own reachable address', () => {
    const service = all['worker'] ?? {};
    // 0.0.0.0 makes the default advertise URL use the container hostname, unique per replica.
    expect(workerConfig.httpHost).toBe('0.0.0.0');
    expect(workerConfig.advertiseUrl).toBeUndefined();
    expect(workerConfig.workerId).toBeUndefined();
    expect(service['hostname']).toBeUndefined();
    expect(service['container_name']).toBeUndefined();
  });

  it('worker depends on a healthy Redis and a started simulator', () => {
    const depends = object(all['worker']?.['depends_on'], 'worker depends_on');
    expect(depends['redis']).toEqual({ condition: 'service_healthy' });
    expect(depends['sim']).toEqual({ condition: 'service_started' });
    expect(object(all['redis']?.['healthcheck'], 'redis healthcheck')['test']).toEqual([
      'CMD',
      'redis-cli',
      'ping',
    ]);
  });

  it('Redis never evicts ring keys and keeps nothing on disk', () => {
    const command = (all['redis']?.['command'] as string[]).join(' ');
    expect(command).toMatch(/--maxmemory-policy noeviction/);
    expect(command).toMatch(/--save {2}/);
    expect(command).toMatch(/--appendonly no/);
  });

  it('no worker port mapping fixes a host port, so `--scale worker=N` cannot clash', () => {
    const ports = (all['worker']?.['ports'] ?? []) as Json[];
    expect(ports.filter(fixesHostPort)).toEqual([]);
    for (const entry of ports) {
      expect(targetPort(entry)).toBe(workerConfig.httpPort);
    }
  });

  it('recognises the port mappings that would clash', () => {
    expect(['8080', '127.0.0.1::8080', 8080, { target: 8080 }, '8080/tcp'].some(fixesHostPort)).toBe(false);
    for (const entry of [
      '8080:8080',
      '127.0.0.1:8080:8080',
      '[::1]:8080:8080/tcp',
      { target: 1, published: 8080 },
    ]) {
      expect(fixesHostPort(entry), JSON.stringify(entry)).toBe(true);
    }
  });

  it('relays reach the simulator; workers behind them find the active relay in Redis', () => {
    const relay = resolveService(all['relay'] ?? {}, dockerfile);
    const relayed = resolveService(all['relay-worker'] ?? {}, dockerfile);
    expect(relay.role).toBe('relay');
    expect(relayed.role).toBe('worker');
    const relayConfig = relay.config as unknown as RelayConfig;
    const relayedConfig = relayed.config as unknown as WorkerConfig;
    const feedUrl = new URL(relayConfig.feedUrl ?? '');
    expect(feedUrl.hostname).toBe('sim');
    expect(getFeed(simConfig.protocol)?.server.accepts(feedUrl)).toBe(true);
    expect(relayConfig.feed).toBe(simConfig.protocol);
    expect(relayConfig.feedKey).toBeTruthy();
    // Each replica publishes its own container hostname; workers read it from the same cluster.
    expect(relayConfig.httpHost).toBe('0.0.0.0');
    expect(relayConfig.advertiseUrl).toBeUndefined();
    expect(relayedConfig.feed).toBe('relay');
    expect(relayedConfig.feedUrl).toBeUndefined();
    expect(relayedConfig.upstreamFeed).toBe(relayConfig.feed);
    expect(relayedConfig.cluster).toBe(relayConfig.cluster);
    expect(relayedConfig.redisUrl).toBe(relayConfig.redisUrl);
    for (const name of ['relay', 'relay-worker']) expect(all[name]?.['profiles']).toEqual(['relay']);
  });

  it('Prometheus scrapes every worker replica through the `worker` DNS name', () => {
    const prometheus = all['prometheus'] ?? {};
    expect(prometheus['profiles']).toEqual(['monitoring']);
    const mount = ((prometheus['volumes'] ?? []) as string[]).find((v) => v.endsWith('/prometheus.yml:ro'));
    expect(mount?.split(':')[0]).toBe('./docker/prometheus.yml');
    const config = object(parseYaml(read('docker/prometheus.yml')), 'prometheus.yml');
    const jobs = config['scrape_configs'] as JsonObject[];
    const sd = jobs.flatMap((job) => (job['dns_sd_configs'] ?? []) as JsonObject[]);
    expect(sd).toContainEqual(
      expect.objectContaining({ names: ['worker'], type: 'A', port: workerConfig.httpPort }),
    );
    expect(jobs.every((job) => (job['metrics_path'] ?? '/metrics') === '/metrics')).toBe(true);
  });
});

describe('docker/symbols.txt', () => {
  it('is generateSymbols(200), the universe of `tickring sim --symbols 200`', () => {
    expect(readSymbolsFile(join(ROOT, 'docker/symbols.txt'))).toEqual(generateSymbols(200));
  });
});

describe('Dockerfile', () => {
  const build = dockerfile.find((stage) => stage.name === 'build');
  const runtime = finalStage(dockerfile);
  const runs = (stage: Stage | undefined): string[] =>
    (stage ? instructions(stage, 'RUN') : []).map((i) => i.args);

  it('builds with the dev dependencies on node 20', () => {
    expect(build?.from).toBe('node:20-bookworm-slim');
    expect(runs(build).some((run) => /\bnpm ci\b/.test(run))).toBe(true);
    expect(runs(build).some((run) => /\bnpm run build\b/.test(run))).toBe(true);
    // Everything the build compiles (tsconfig.build.json include) and runs (scripts/) is copied in.
    const include = (JSON.parse(read('tsconfig.build.json')) as { include: string[] }).include;
    const copied = contextCopies([build ?? runtime]).map((path) => path.replace(/^\.\//, ''));
    for (const path of [...include, 'tsconfig.json', 'tsconfig.build.json', 'scripts', 'package-lock.json']) {
      expect(copied, path).toContain(path);
    }
  });

  it('runs on node 20 with production dependencies only, without lifecycle scripts', () => {
    expect(runtime.name).not.toBe('build');
    expect(runtime.from).toBe('node:20-bookworm-slim');
    const installs = runs(runtime).filter((run) => /\bnpm (ci|install|i)\b/.test(run));
    expect(installs.length).toBeGreaterThan(0);
    for (const install of installs) {
      expect(install).toMatch(/--omit=dev/);
      // `prepare` builds the package, which the runtime stage has neither sources nor TypeScript for.
      expect(install).toMatch(/--ignore-scripts/);
    }
    expect(instructions(runtime, 'COPY').map((i) => i.args)).toContain('--from=build /app/dist ./dist');
  });

  it('runs as the non-root node user', () => {
    const user = instruction(runtime, 'USER').args;
    expect(user).toBe('node');
    expect(user.split(':')[0]).not.toMatch(/^(root|0)$/);
    // Nothing after USER switches back.
    const last = runtime.instructions.map((i) => i.keyword).lastIndexOf('USER');
    expect(runtime.instructions.slice(last + 1).some((i) => i.keyword === 'USER')).toBe(false);
  });

  it('starts the CLI, as the worker role unless told otherwise', () => {
    const entrypoint = jsonForm(instruction(runtime, 'ENTRYPOINT'));
    expect(entrypoint).toEqual(['node', 'dist/src/cli.js']);
    // tsc (rootDir ".", outDir "dist") compiles src/cli.ts to dist/src/cli.js.
    expect(existsSync(join(ROOT, (entrypoint[1] ?? '').replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(
      true,
    );
    expect(jsonForm(instruction(runtime, 'CMD'))).toEqual(['worker']);
  });

  it('copies only files that exist and that .dockerignore does not exclude', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    for (const pattern of ['node_modules', 'dist', '.git', 'coverage', 'test-artifacts', '.clinic']) {
      expect(ignored).toContain(pattern);
    }
    expect(dockerIgnored('dist/src/cli.js', ignored)).toBe(true);
    expect(dockerIgnored('debug.log', ignored)).toBe(true);
    for (const source of contextCopies(dockerfile)) {
      expect(existsSync(join(ROOT, source)), source).toBe(true);
      expect(dockerIgnored(source, ignored), source).toBe(false);
    }
  });

  describe('HEALTHCHECK', () => {
    let server: Server;
    let port: number;
    let status = 200;
    const script = (): string => {
      const { args } = instruction(runtime, 'HEALTHCHECK');
      // `HEALTHCHECK [--option=value ...] CMD ["node", "-e", "<script>"]`: exec form, no shell in between.
      expect(args).toMatch(/^(--\S+\s+)*CMD \[/);
      const command = jsonForm({ keyword: 'CMD', args: args.slice(args.indexOf('CMD')) });
      expect(command.slice(0, 2)).toEqual(['node', '-e']);
      return command[2] ?? '';
    };

    beforeAll(async () => {
      server = createServer((req, res) => {
        res.statusCode = req.url === '/healthz' ? status : 404;
        res.end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('passes when /healthz on TICKRING_HTTP_PORT answers 200', async () => {
      status = 200;
      expect(await runNode(script(), { TICKRING_HTTP_PORT: String(port) })).toBe(0);
    });

    it('fails when /healthz answers an error or nothing listens', async () => {
      status = 503;
      expect(await runNode(script(), { TICKRING_HTTP_PORT: String(port) })).toBe(1);
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const freePort = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      expect(await runNode(script(), { TICKRING_HTTP_PORT: String(freePort) })).toBe(1);
    });
  });
});
