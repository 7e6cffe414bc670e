import { describe, expect, it } from 'vitest';
import { isValidSymbol } from '../../feeds/symbol.js';
import { generateSymbols, parseSymbolList, REAL_TICKERS } from '../../src/sim/universe.js';

describe('generateSymbols', () => {
  it('starts with well-known real tickers', () => {
    expect(generateSymbols(7)).toEqual(['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'META', 'BRK.B']);
    expect(REAL_TICKERS).toHaveLength(100);
    expect(new Set(REAL_TICKERS).size).toBe(100);
  });

  it('continues with synthetic symbols numbered by position, all valid and unique', () => {
    const symbols = generateSymbols(12_000);
    expect(symbols).toHaveLength(12_000);
    expect(symbols[100]).toBe('SYM00101');
    expect(symbols[11_999]).toBe('SYM12000');
    expect(new Set(symbols).size).toBe(12_000);
    expect(symbols.every(isValidSymbol)).toBe(true);
  });

  it('is deterministic and prefix-stable across counts', () => {
    expect(generateSymbols(300)).toEqual(generateSymbols(300));
    expect(generateSymbols(500).slice(0, 150)).toEqual(generateSymbols(150));
    expect(generateSymbols(0)).toEqual([]);
    expect(() => generateSymbols(-1)).toThrow(/symbol count/);
  });
});

describe('parseSymbolList', () => {
  it('splits on commas, whitespace and newlines, skips comments and drops duplicates', () => {
    expect(parseSymbolList('AAPL,MSFT, NVDA\nBRK.B\r\n\n# a comment\nBTC-USD AAPL')).toEqual([
      'AAPL',
      'MSFT',
      'NVDA',
      'BRK.B',
      'BTC-USD',
    ]);
    expect(parseSymbolList('  \n,, ')).toEqual([]);
  });

  it('throws a config error naming the bad symbol', () => {
    expect(() => parseSymbolList('AAPL,msft,NVDA')).toThrow(/invalid symbol "msft"/);
    expect(() => parseSymbolList('AAPL\n$$$')).toThrow(
      expect.objectContaining({ code: 'TICKRING_ERR_CONFIG', message: expect.stringContaining('"$$$"') }),
    );
  });
});
