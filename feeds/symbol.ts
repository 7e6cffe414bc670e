/**
 * What a symbol may look like. Providers use upper-case tickers (`AAPL`, `BRK.B`), crypto pairs
 * (`BTCUSDT`, `BTC-USD`) and option or class suffixes; every symbol in the universe matches this,
 * which also keeps symbols safe inside Redis keys, URLs and log lines.
 */
export const SYMBOL_PATTERN = /^[A-Z0-9][A-Z0-9.\-/:_]{0,31}$/;
export const SYMBOL_RULE = '1 to 32 characters: A-Z, 0-9 and . - / : _, starting with a letter or digit';

export function isValidSymbol(symbol: string): boolean {
  return SYMBOL_PATTERN.test(symbol);
}
