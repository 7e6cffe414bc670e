/**
 * Parameter parsing: what each query parameter accepts, and that every rejection is a 400 naming
 * the parameter with the value and the accepted form in its message.
 */
import { describe, expect, it } from 'vitest';
import { AdminAuth } from '../../src/http/admin-auth.js';
import {
  checkQuery,
  encodeCursor,
  formatInterval,
  parseCursor,
  parseInterval,
  parseLimit,
  parseSymbolList,
  parseTime,
  parseTimeRange,
} from '../../src/http/params.js';
import { ApiError } from '../../src/http/respond.js';

const q = (text: string) => new URLSearchParams(text);

function rejection(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
}

describe('query parameters', () => {
  it('parses times as Unix ms or ISO 8601 with a zone, or a date alone as UTC midnight', () => {
    const t = Date.UTC(2024, 5, 10, 14, 30);
    expect(parseTime(q(`from=${t}`), 'from')).toBe(t);
    expect(parseTime(q('from=2024-06-10T14:30:00Z'), 'from')).toBe(t);
    expect(parseTime(q('from=2024-06-10T14:30Z'), 'from')).toBe(t);
    expect(parseTime(q(`from=${encodeURIComponent('2024-06-10T10:30:00-04:00')}`), 'from')).toBe(t);
    expect(parseTime(q('from=2024-06-10T14:30:00.123456789Z'), 'from')).toBe(t + 123);
    expect(parseTime(q('from=2024-06-10'), 'from')).toBe(Date.UTC(2024, 5, 10));
    // `+02:00` sent unencoded reads as a space; it still means +02:00.
    expect(parseTime(q('from=2024-06-10T16:30:00+02:00'), 'from')).toBe(t);
    expect(parseTime(q('from=-1000'), 'from')).toBe(-1000);
    expect(parseTime(q(''), 'from')).toBeNull();
  });

  it('rejects times without a zone, out of range or not times at all, naming the parameter', () => {
    for (const bad of [
      '2024-06-10T14:30:00',
      'yesterday',
      '2024-13-40T00:00:00Z',
      '1e12',
      '',
      '99999999999999999',
    ]) {
      const err = rejection(() => parseTime(q(`to=${encodeURIComponent(bad)}`), 'to'));
      expect(err.status, bad).toBe(400);
      expect(err.param, bad).toBe('to');
      expect(err.message, bad).toContain('ISO 8601');
    }
  });

  it('rejects from after to', () => {
    expect(parseTimeRange(q('from=5&to=5'))).toEqual({ fromMs: 5, toMs: 5 });
    expect(rejection(() => parseTimeRange(q('from=6&to=5'))).param).toBe('from');
  });

  it('accepts limits within the range only', () => {
    const range = { min: 1, max: 1000, fallback: 100 };
    expect(parseLimit(q(''), range)).toBe(100);
    expect(parseLimit(q('limit=1'), range)).toBe(1);
    expect(parseLimit(q('limit=1000'), range)).toBe(1000);
    for (const bad of ['0', '1001', '-1', '1.0', 'ten', '', ' 5', '0x10']) {
      const err = rejection(() => parseLimit(q(`limit=${encodeURIComponent(bad)}`), range));
      expect(err.param, bad).toBe('limit');
      expect(err.message, bad).toContain('from 1 to 1000');
    }
  });

  it('accepts only the configured intervals, by name, defaulting to 1m', () => {
    const configured = [1_000, 60_000, 300_000];
    expect(parseInterval(q(''), configured)).toBe(60_000);
    expect(parseInterval(q('interval=5m'), configured)).toBe(300_000);
    expect(parseInterval(q('interval=1s'), configured)).toBe(1_000);
    expect(parseInterval(q(''), [5_000])).toBe(5_000);
    for (const bad of ['60s', '1000', '1M', '2m', '']) {
      const err = rejection(() => parseInterval(q(`interval=${bad}`), configured));
      expect(err.param, bad).toBe('interval');
      expect(err.message).toContain('1s, 1m, 5m');
    }
    expect([1_000, 60_000, 3_600_000, 1_500, 90_000].map(formatInterval)).toEqual([
      '1s',
      '1m',
      '1h',
      '1500ms',
      '90s',
    ]);
  });

  it('rejects unknown and repeated parameters', () => {
    expect(() => checkQuery(q('limit=1&from=2'), ['limit', 'from'])).not.toThrow();
    expect(rejection(() => checkQuery(q('limt=1'), ['limit'])).param).toBe('limt');
    expect(rejection(() => checkQuery(q('limit=1&limit=1'), ['limit'])).param).toBe('limit');
    expect(rejection(() => checkQuery(q('x=1'), [])).message).toContain('no query parameters');
  });

  it('round-trips cursors and rejects forged ones', () => {
    expect(parseCursor(q(`cursor=${encodeCursor('BRK.B')}`))).toBe('BRK.B');
    for (const bad of ['!!', encodeCursor('lower'), 'a'.repeat(65)]) {
      expect(rejection(() => parseCursor(q(`cursor=${bad}`))).param).toBe('cursor');
    }
  });

  it('parses symbol lists: trimmed, de-duplicated, each valid, bounded', () => {
    expect(parseSymbolList(q('symbols=AAPL, MSFT,AAPL,'), 'symbols', 5)).toEqual(['AAPL', 'MSFT']);
    expect(rejection(() => parseSymbolList(q('symbols=A,B,C'), 'symbols', 2)).message).toContain('at most 2');
    expect(rejection(() => parseSymbolList(q('symbols=A,b'), 'symbols', 5)).message).toContain('"b"');
  });
});

describe('the admin token check', () => {
  const req = (authorization?: string) =>
    ({
      headers: authorization === undefined ? {} : { authorization },
    }) as unknown as import('node:http').IncomingMessage;

  it('is off without a token: 403 for everyone', () => {
    const auth = new AdminAuth(undefined);
    expect(auth.enabled).toBe(false);
    expect(rejection(() => auth.check(req('Bearer anything'))).status).toBe(403);
    expect(new AdminAuth('').enabled).toBe(false);
  });

  it('accepts the exact token only', () => {
    const auth = new AdminAuth('s3cret-token-value');
    expect(() => auth.check(req('Bearer s3cret-token-value'))).not.toThrow();
    expect(() => auth.check(req('bearer s3cret-token-value'))).not.toThrow();
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer s3cret-token-valu',
      'Bearer s3cret-token-value2',
      'Token s3cret-token-value',
    ]) {
      const err = rejection(() => auth.check(req(header)));
      expect(err.status, header).toBe(401);
      expect(err.headers['www-authenticate'], header).toContain('Bearer');
      expect(err.message).not.toContain('s3cret');
    }
  });
});
