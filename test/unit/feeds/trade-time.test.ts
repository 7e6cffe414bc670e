import { describe, expect, it } from 'vitest';
import { formatRfc3339, isPlausibleTimeMs, parseRfc3339 } from '../../../feeds/trade-time.js';

describe('parseRfc3339', () => {
  it('keeps nanoseconds that a Date would lose', () => {
    expect(parseRfc3339('2021-02-22T15:51:44.208Z')).toEqual({ timeMs: 1614009104208, timeNanos: 0 });
    expect(parseRfc3339('2021-01-27T10:35:34.82840127Z')).toEqual({
      timeMs: 1611743734828,
      timeNanos: 401270,
    });
    expect(parseRfc3339('2021-02-22T15:51:45.335689322Z')).toEqual({
      timeMs: 1614009105335,
      timeNanos: 689322,
    });
    expect(parseRfc3339('2021-02-22T19:15:00Z')).toEqual({ timeMs: 1614021300000, timeNanos: 0 });
    expect(parseRfc3339('2021-02-22T15:51:44.2Z')).toEqual({ timeMs: 1614009104200, timeNanos: 0 });
  });

  it('applies offsets and accepts lower-case separators', () => {
    expect(parseRfc3339('2021-02-22T10:51:44.208-05:00')).toEqual({ timeMs: 1614009104208, timeNanos: 0 });
    expect(parseRfc3339('2021-02-22T17:21:44.208+01:30')).toEqual({ timeMs: 1614009104208, timeNanos: 0 });
    expect(parseRfc3339('2021-02-22t15:51:44.208z')).toEqual({ timeMs: 1614009104208, timeNanos: 0 });
    expect(parseRfc3339('2020-02-29T00:00:00Z')).toEqual({ timeMs: 1582934400000, timeNanos: 0 });
  });

  it('refuses impossible, ambiguous and out-of-range times', () => {
    for (const text of [
      '2021-02-29T00:00:00Z',
      '2021-02-30T00:00:00Z',
      '2021-13-01T00:00:00Z',
      '2021-00-10T00:00:00Z',
      '2021-02-22T24:00:00Z',
      '2021-02-22T23:60:00Z',
      '2016-12-31T23:59:60Z',
      '2021-02-22T15:51:44.1234567890Z',
      '2021-02-22T15:51:44.Z',
      '2021-02-22 15:51:44Z',
      '2021-02-22T15:51:44',
      '2021-02-22T15:51:44+25:00',
      '2021-02-22T15:51:44+0500',
      '0099-01-01T00:00:00Z', // Date.UTC would read this as 1999
      '1989-12-31T23:59:59Z',
      '2200-01-01T00:00:00Z',
      '+02021-02-22T15:51:44Z',
      ' 2021-02-22T15:51:44Z',
      '<msgpack Timestamp(seconds=10,nanoseconds=10)>',
    ]) {
      expect(parseRfc3339(text), text).toBeUndefined();
    }
    for (const value of [1614009104208, null, undefined, {}, ['2021-02-22T15:51:44Z']]) {
      expect(parseRfc3339(value)).toBeUndefined();
    }
  });
});

describe('formatRfc3339', () => {
  it('writes Go RFC3339Nano text as Alpaca sends it', () => {
    expect(formatRfc3339(1614009104208, 0, 'trimmed')).toBe('2021-02-22T15:51:44.208Z');
    expect(formatRfc3339(1611743734828, 401270, 'trimmed')).toBe('2021-01-27T10:35:34.82840127Z');
    expect(formatRfc3339(1614021300000, 0, 'trimmed')).toBe('2021-02-22T19:15:00Z');
    expect(formatRfc3339(1614021300000, 1, 'trimmed')).toBe('2021-02-22T19:15:00.000000001Z');
  });

  it('writes Coinbase microseconds, cutting finer digits', () => {
    expect(formatRfc3339(1415348367028, 459000, 6)).toBe('2014-11-07T08:19:27.028459Z');
    expect(formatRfc3339(1415348367028, 459999, 6)).toBe('2014-11-07T08:19:27.028459Z');
    expect(formatRfc3339(1415348367000, 0, 6)).toBe('2014-11-07T08:19:27.000000Z');
  });
});

describe('isPlausibleTimeMs', () => {
  it('accepts whole milliseconds from 1990 up to 2200', () => {
    expect(isPlausibleTimeMs(631152000000)).toBe(true);
    expect(isPlausibleTimeMs(631151999999)).toBe(false);
    expect(isPlausibleTimeMs(7258118400000)).toBe(false);
    expect(isPlausibleTimeMs(1614009104208.5)).toBe(false);
    expect(isPlausibleTimeMs('1614009104208')).toBe(false);
    expect(isPlausibleTimeMs(1614009104208000)).toBe(false); // microseconds
  });
});
