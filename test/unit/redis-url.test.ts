import { describe, expect, it } from 'vitest';
import { parseRedisUrl, redactRedisUrl, redisUrlProblem } from '../../src/redis/url.js';

describe('Redis URL forms', () => {
  it('passes redis:// and rediss:// URLs to ioredis unchanged', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379')).toEqual({
      kind: 'standalone',
      url: 'redis://127.0.0.1:6379',
    });
    expect(parseRedisUrl('rediss://u:p@cache.example.com:6380/2')).toEqual({
      kind: 'standalone',
      url: 'rediss://u:p@cache.example.com:6380/2',
    });
  });

  it('reads Sentinels, the primary name, the database and both sets of credentials', () => {
    expect(
      parseRedisUrl('redis+sentinel://:s%40cret@s1:26380,s2,[::1]:26381/mymaster/3?sentinelPassword=sp'),
    ).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26380 },
        { host: 's2', port: 26379 },
        { host: '::1', port: 26381 },
      ],
      primaryName: 'mymaster',
      db: 3,
      tls: false,
      password: 's@cret',
      sentinelPassword: 'sp',
    });
    expect(parseRedisUrl('rediss+sentinel://app:pw@s1/main')).toMatchObject({
      kind: 'sentinel',
      tls: true,
      username: 'app',
      password: 'pw',
      db: 0,
    });
  });

  it('reads Cluster seed nodes with the default port', () => {
    expect(parseRedisUrl('redis+cluster://n1:7000,n2,10.0.0.3:7002')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 6379 },
        { host: '10.0.0.3', port: 7002 },
      ],
      tls: false,
    });
    expect(parseRedisUrl('rediss+cluster://:pw@n1:7000/')).toMatchObject({ tls: true, password: 'pw' });
  });

  it('names what is wrong with a URL it refuses', () => {
    expect(redisUrlProblem('http://localhost:6379')).toBe('unknown form');
    expect(redisUrlProblem('redis+sentinel://s1:26379')).toMatch(/names its primary/);
    expect(redisUrlProblem('redis+sentinel://s1:26379/m?password=x')).toBe('unknown parameter "password"');
    expect(redisUrlProblem('redis+cluster://n1:7000/1')).toMatch(/no path/);
    expect(redisUrlProblem('redis+cluster://n1:99999')).toMatch(/"n1:99999" is not host\[:port\]/);
    expect(redisUrlProblem('redis+cluster://n1:7000,,n2')).toMatch(/is not host\[:port\]/);
    expect(redisUrlProblem('redis://host 6379')).toBe('it contains white space');
  });

  it('never shows a password', () => {
    expect(redactRedisUrl('redis://user:secret@h:6379')).toBe('redis://user:***@h:6379');
    expect(redactRedisUrl('redis+sentinel://:secret@s1,s2/m?sentinelPassword=x2')).toBe(
      'redis+sentinel://:***@s1,s2/m?sentinelPassword=***',
    );
    expect(redactRedisUrl('redis+cluster://secret@n1:7000')).toBe('redis+cluster://***@n1:7000');
    expect(redactRedisUrl('redis://h:6379')).toBe('redis://h:6379');
  });
});
