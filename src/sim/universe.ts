/**
 * The simulator's symbol universe: real, well-known US tickers first (so a small universe looks like a
 * market a person recognises, and the Zipf-busiest symbols are the ones that really are busiest), then
 * synthetic symbols numbered by position (`SYM00101`, ...) for universes of thousands.
 */
import type { SimMarketProfile } from '../../feeds/adapter.js';
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

/**
 * Base currencies of the crypto universe, roughly by market capitalisation (the Zipf rank), with a
 * round US-dollar price of the right order of magnitude to start the simulated walk from (for looks
 * only; nothing depends on it).
 */
// prettier-ignore
const CRYPTO_BASES: readonly (readonly [string, number])[] = [
  ['BTC', 65_000], ['ETH', 3_500], ['SOL', 150], ['XRP', 0.6], ['BNB', 580], ['DOGE', 0.15],
  ['ADA', 0.45], ['TRX', 0.12], ['AVAX', 35], ['LINK', 15], ['DOT', 7], ['TON', 6], ['LTC', 80],
  ['BCH', 450], ['NEAR', 6], ['UNI', 9], ['ICP', 11], ['APT', 9], ['XLM', 0.11], ['ETC', 27],
  ['FIL', 5], ['HBAR', 0.08], ['ATOM', 8], ['ARB', 1], ['OP', 2], ['INJ', 25], ['IMX', 2],
  ['VET', 0.03], ['AAVE', 100], ['GRT', 0.25], ['ALGO', 0.18], ['SAND', 0.45], ['MANA', 0.4],
  ['AXS', 7], ['EGLD', 35], ['XTZ', 0.9], ['EOS', 0.7], ['MKR', 2_500], ['CRV', 0.4], ['STX', 2],
];

export const REAL_CRYPTO_BASES: readonly string[] = Object.freeze(CRYPTO_BASES.map(([base]) => base));

/** Start prices of the real pairs of a crypto profile, by symbol; empty for stocks. */
export function referencePrices(profile?: SimMarketProfile): ReadonlyMap<string, number> {
  const pair = profile?.assetClass === 'crypto' ? profile.pairSymbol : undefined;
  return new Map(pair ? CRYPTO_BASES.map(([base, price]) => [pair(base), price]) : []);
}

/**
 * The first `count` symbols of the universe; the same count always gives the same list. Stocks (the
 * default): real tickers, then `SYM00101`... Crypto: the profile's pair of each real base currency
 * (`BTCUSDT`, `BTC-USD`), then of synthetic bases `SYM00041`...
 */
export function generateSymbols(count: number, profile?: SimMarketProfile): string[] {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new TickringError('TICKRING_ERR_CONFIG', `symbol count must be an integer >= 0, got ${count}`);
  }
  const pair = profile?.assetClass === 'crypto' ? profile.pairSymbol : undefined;
  const real = pair ? REAL_CRYPTO_BASES : REAL_TICKERS;
  const bases = real.slice(0, count);
  // Synthetic names carry their 1-based position, so SYM00101 is the 101st symbol whatever the count.
  for (let i = bases.length; i < count; i++) bases.push(`SYM${String(i + 1).padStart(5, '0')}`);
  return pair ? bases.map(pair) : bases;
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
