/**
 * The Redis URL forms tickring accepts, parsed into what ioredis needs. One string says everything,
 * so `REDIS_URL` alone points any role at a single server, a Sentinel-managed primary or a Cluster:
 *
 * - `redis://[[user]:password@]host[:port][/db]`, `rediss://...` (TLS): one server (ioredis parses it).
 * - `redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/primary-name[/db]`: the primary
 *   that the listed Sentinels name (port 26379 by default). `?sentinelPassword=...` (and
 *   `sentinelUsername`) when the Sentinels want their own credentials; the userinfo is the data
 *   nodes'. `rediss+sentinel://` speaks TLS to Sentinels and data nodes alike.
 * - `redis+cluster://[[user]:password@]host[:port][,host[:port]...]`: a Redis Cluster, reached through
 *   any of the listed nodes (port 6379 by default). `rediss+cluster://` for TLS.
 */
import { TickringError } from '../errors.js';

export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

interface Credentials {
  readonly username?: string;
  readonly password?: string;
}

export type RedisTarget =
  | { readonly kind: 'standalone'; readonly url: string }
  | (Credentials & {
      readonly kind: 'sentinel';
      readonly sentinels: readonly RedisNode[];
      readonly primaryName: string;
      readonly db: number;
      readonly tls: boolean;
      readonly sentinelUsername?: string;
      readonly sentinelPassword?: string;
    })
  | (Credentials & {
      readonly kind: 'cluster';
      readonly nodes: readonly RedisNode[];
      readonly tls: boolean;
    });

export const REDIS_URL_FORMS =
  'redis://[user:password@]host:port[/db], rediss://..., ' +
  'redis+sentinel://[user:password@]host:port[,host:port...]/primary-name[/db], ' +
  'redis+cluster://[user:password@]host:port[,host:port...] (rediss+... for TLS)';

const MULTI_HOST = /^(rediss?)\+(sentinel|cluster):\/\/(?:([^@/?#]*)@)?([^/?#]+)(\/[^?#]*)?(?:\?([^#]*))?$/;
const SENTINEL_QUERY = new Set(['sentinelUsername', 'sentinelPassword']);

function invalid(reason: string): TickringError {
  return new TickringError('TICKRING_ERR_CONFIG', `bad Redis URL: ${reason}; expected ${REDIS_URL_FORMS}`);
}

function decode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw invalid(`${what} is not valid percent-encoding`);
  }
}

function parseNodes(list: string, defaultPort: number): RedisNode[] {
  return list.split(',').map((entry) => {
    // `[v6]:port`, `[v6]`, `host:port` or `host`.
    const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+))(?::(\d{1,5}))?$/.exec(entry);
    const host = match?.[1] ?? match?.[2];
    const port = match?.[3] === undefined ? defaultPort : Number(match[3]);
    if (!host || port < 1 || port > 65535) throw invalid(`"${entry}" is not host[:port]`);
    return { host, port };
  });
}

function parseCredentials(userinfo: string | undefined): Credentials {
  if (userinfo === undefined || userinfo === '') return {};
  const colon = userinfo.indexOf(':');
  // Like redis://: `user:password`, `:password`, or a bare `password`.
  if (colon < 0) return { password: decode(userinfo, 'the password') };
  const username = decode(userinfo.slice(0, colon), 'the user name');
  const password = decode(userinfo.slice(colon + 1), 'the password');
  return { ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

function parseDb(text: string | undefined): number {
  if (text === undefined || text === '') return 0;
  if (!/^\d{1,2}$/.test(text)) throw invalid(`database "${text}" is not a number`);
  return Number(text);
}

/** Parses any accepted form; throws `TICKRING_ERR_CONFIG` naming what is wrong. */
export function parseRedisUrl(url: string): RedisTarget {
  if (/^rediss?:\/\/[^\s]+$/.test(url)) return { kind: 'standalone', url };
  const match = MULTI_HOST.exec(url);
  if (!match) throw invalid(/\s/.test(url) ? 'it contains white space' : 'unknown form');
  const [, scheme, kind, userinfo, hosts = '', path = '', query = ''] = match;
  const tls = scheme === 'rediss';
  const credentials = parseCredentials(userinfo);
  const params = new URLSearchParams(query);
  if (kind === 'cluster') {
    if (path !== '' && path !== '/') throw invalid('a Cluster URL has no path (Cluster has only database 0)');
    if ([...params.keys()].length > 0) throw invalid(`unknown parameter "${[...params.keys()][0]}"`);
    return { kind: 'cluster', nodes: parseNodes(hosts, 6379), tls, ...credentials };
  }
  const unknown = [...params.keys()].find((key) => !SENTINEL_QUERY.has(key));
  if (unknown !== undefined) throw invalid(`unknown parameter "${unknown}"`);
  const [, name = '', db, ...rest] = path.split('/');
  if (name === '') throw invalid('a Sentinel URL names its primary: redis+sentinel://host:26379/mymaster');
  if (rest.length > 0) throw invalid(`unexpected path after the database: "${path}"`);
  const sentinelUsername = params.get('sentinelUsername') ?? undefined;
  const sentinelPassword = params.get('sentinelPassword') ?? undefined;
  return {
    kind: 'sentinel',
    sentinels: parseNodes(hosts, 26379),
    primaryName: decode(name, 'the primary name'),
    db: parseDb(db),
    tls,
    ...credentials,
    ...(sentinelUsername ? { sentinelUsername } : {}),
    ...(sentinelPassword ? { sentinelPassword } : {}),
  };
}

/** Problems with a URL for option validation: empty when it is one of the accepted forms. */
export function redisUrlProblem(url: string): string | undefined {
  try {
    parseRedisUrl(url);
    return undefined;
  } catch (err) {
    return (err as Error).message.replace(/^bad Redis URL: /, '').replace(/; expected .*$/, '');
  }
}

/** The URL with passwords replaced, for logs and errors. */
export function redactRedisUrl(url: string): string {
  return (
    url
      .replace(/\/\/([^:@/]*):([^@/]*)@/, '//$1:***@')
      // A bare `secret@` (no colon) may be a password too.
      .replace(/\/\/[^:@/]+@/, '//***@')
      .replace(/([?&]sentinelPassword=)[^&#]*/g, '$1***')
  );
}
