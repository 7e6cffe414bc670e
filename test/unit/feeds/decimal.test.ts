import { describe, expect, it } from 'vitest';
import { formatFixed, formatShortest, parseDecimal } from '../../../feeds/decimal.js';
import { prng } from './support.js';

describe('parseDecimal', () => {
  it('converts plain decimal text', () => {
    expect(parseDecimal('0.00100000')).toBe(0.001);
    expect(parseDecimal('100')).toBe(100);
    expect(parseDecimal('400.23')).toBe(400.23);
    expect(parseDecimal('0')).toBe(0);
    expect(parseDecimal('999999999999.99')).toBe(999999999999.99);
    expect(parseDecimal('0.000000000000000001')).toBe(1e-18);
  });

  it('refuses anything but unsigned digits with an optional fraction', () => {
    for (const text of [
      '',
      '.5',
      '5.',
      '-1',
      '+1',
      '1e3',
      '1E-3',
      ' 1',
      '1 ',
      'NaN',
      'Infinity',
      '0x1F',
      '0b1',
      '1_000',
      '1,5',
      '١٢',
      '1234567890123456', // 16 integer digits
      '0.0000000000000000001', // 19 fraction digits
    ]) {
      expect(parseDecimal(text), text).toBeUndefined();
    }
    for (const value of [1, null, undefined, {}, ['1'], true]) expect(parseDecimal(value)).toBeUndefined();
  });

  it('refuses values at or above MAX_ABS_VALUE (1e12)', () => {
    expect(parseDecimal('1000000000000')).toBeUndefined();
    expect(parseDecimal('123456789012345')).toBeUndefined();
  });

  it('keeps every 8-decimal value with up to 15 significant digits exactly (Binance)', () => {
    const random = prng(7);
    for (let n = 0; n < 2000; n++) {
      const units = String(Math.floor(random() * 1e7));
      const fraction = String(Math.floor(random() * 1e8)).padStart(8, '0');
      const text = `${units}.${fraction}`;
      expect(formatFixed(parseDecimal(text)!, 8)).toBe(text);
    }
  });
});

describe('formatShortest', () => {
  it('spells out small values instead of using exponent form', () => {
    expect(formatShortest(1e-7)).toBe('0.0000001');
    expect(formatShortest(1.2345e-7)).toBe('0.00000012345');
    expect(formatShortest(0.000001)).toBe('0.000001');
    expect(formatShortest(400.23)).toBe('400.23');
    expect(formatShortest(5.23512)).toBe('5.23512');
    expect(formatShortest(123)).toBe('123');
  });

  it('round-trips through parseDecimal for values of up to 10 significant digits', () => {
    const random = prng(11);
    for (let n = 0; n < 2000; n++) {
      const mantissa = 1 + Math.floor(random() * 9_999_999_999);
      const exponent = -8 - Math.floor(random() * 2) + Math.floor(random() * 3);
      const value = Number(`${mantissa}e${exponent}`);
      expect(parseDecimal(formatShortest(value))).toBe(value);
    }
  });
});

describe('formatFixed', () => {
  it('gives Binance 8-decimal text', () => {
    expect(formatFixed(0.001, 8)).toBe('0.00100000');
    expect(formatFixed(100, 8)).toBe('100.00000000');
  });
});
