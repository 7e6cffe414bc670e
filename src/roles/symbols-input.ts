/**
 * `--symbols` and `--symbols-file`: a list given inline, read from a file (comma or newline
 * separated, `#` comments), or for the simulator a count of generated symbols.
 */
import { readFileSync } from 'node:fs';
import { isValidSymbol, SYMBOL_RULE } from '../../feeds/symbol.js';
import { ConfigError } from '../config/option-spec.js';
import { splitList } from '../config/options.js';

export function readSymbolsFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`--symbols-file: cannot read ${path}: ${(err as Error).message}`]);
  }
  const symbols = splitList(text.replace(/#.*$/gm, ''));
  const bad = symbols.filter((symbol) => !isValidSymbol(symbol));
  if (bad.length > 0) {
    throw new ConfigError([
      `--symbols-file ${path}: invalid symbols ${bad.slice(0, 5).join(', ')}; a symbol is ${SYMBOL_RULE}`,
    ]);
  }
  return symbols;
}

/** Inline list plus file contents, without duplicates, in first-seen order. */
export function collectSymbols(inline: readonly string[], file: string | undefined): string[] {
  const all = [...inline, ...(file ? readSymbolsFile(file) : [])];
  return [...new Set(all)];
}
