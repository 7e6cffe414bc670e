/**
 * The simulator's symbol universe: real, well-known US tickers first (so a small universe looks like a
 * market a person recognises, and the Zipf-busiest symbols are the ones that really are busiest), then
 * synthetic symbols numbered by position (`SYM00101`, ...) for universes of thousands.
 */
import { isValidSymbol, SYMBOL_RULE } from '../../feeds/symbol.js';
import { TickringError } from '../errors.js';

/** Roughly by market capitalisation and trading activity; order matters: it is the Zipf rank. */
// prettier-ignore
export const REAL_TICKERS: readonly string[] = Object.freeze([
  'AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'META', 'BRK.B', 'TSLA', 'AVGO', 'JPM',
  'SPY', 'QQQ', 'LLY', 'V', 'UNH', 'XOM', 'MA', 'COST', 'HD', 'PG',
  'JNJ', 'WMT', 'NFLX', 'ABBV', 'BAC', 'CRM', 'ORCL', 'CVX', 'KO', 'MRK',
  'AMD', 'PEP', 'ADBE', 'TMO', 'LIN', 'CSCO', 'ACN', 'MCD', 'ABT', 'WFC',
  'DIS', 'INTU', 'IBM', 'QCOM', 'GE', 'CAT', 'TXN', 'VZ', 'AMGN', 'PFE',
  'DHR', 'NOW', 'PM', 'ISRG', 'UBER', 'NEE', 'SPGI', 'GS', 'RTX', 'AMAT',
  'CMCSA', 'UNP', 'T', 'HON', 'LOW', 'BKNG', 'PGR', 'MS', 'BLK', 'COP',
  'ELV', 'SYK', 'AXP', 'TJX', 'SCHW', 'C', 'BA', 'MDT', 'PLD', 'LMT',
  'VRTX', 'DE', 'MU', 'ADP', 'BMY', 'GILD', 'SBUX', 'CB', 'LRCX', 'MMC',
  'ADI', 'PANW', 'INTC', 'MDLZ', 'NKE', 'CI', 'SO', 'TMUS', 'PYPL', 'PLTR',
]);

/** The first `count` symbols of the universe; the same count always gives the same list. */
export function generateSymbols(count: number): string[] {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new TickringError('TICKRING_ERR_CONFIG', `symbol count must be an integer >= 0, got ${count}`);
  }
  const symbols = REAL_TICKERS.slice(0, count);
  // Synthetic names carry their 1-based position, so SYM00101 is the 101st symbol whatever the count.
  for (let i = symbols.length; i < count; i++) symbols.push(`SYM${String(i + 1).padStart(5, '0')}`);
  return symbols;
}

/**
 * Parses a symbol list as written in a flag or a file: separated by commas, whitespace or newlines;
 * lines starting with `#` are comments. Duplicates are dropped (first wins); an invalid symbol throws.
 */
export function parseSymbolList(text: string): string[] {
  const seen = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    if (line.trimStart().startsWith('#')) continue;
    for (const token of line.split(/[,\s]+/)) {
      if (token === '') continue;
      if (!isValidSymbol(token)) {
        throw new TickringError(
          'TICKRING_ERR_CONFIG',
          `invalid symbol "${token.slice(0, 40)}": ${SYMBOL_RULE}`,
        );
      }
      seen.add(token);
    }
  }
  return [...seen];
}
