/**
 * Measures each symbol's trade rate from a running cluster: reads every symbol's trade count through
 * one worker's `GET /v1/symbols` (which gathers all owners' counts), twice, `sampleMs` apart.
 */
interface SymbolsPage {
  readonly symbols: readonly { symbol: string; trades: number }[];
  readonly nextCursor: string | null;
}

async function tradeCounts(address: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let cursor: string | null = null;
  do {
    const url = new URL('/v1/symbols', address);
    url.searchParams.set('limit', '1000');
    if (cursor !== null) url.searchParams.set('cursor', cursor);
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`${url.href} answered ${response.status}`);
    const page = (await response.json()) as SymbolsPage;
    for (const { symbol, trades } of page.symbols) counts.set(symbol, trades);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return counts;
}

/** Trades per second per symbol over `sampleMs`; a symbol that moved between reads may read low. */
export async function sampleTradeRates(address: string, sampleMs: number): Promise<Map<string, number>> {
  const before = await tradeCounts(address);
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, sampleMs));
  const after = await tradeCounts(address);
  const seconds = (performance.now() - started) / 1000;
  const rates = new Map<string, number>();
  for (const [symbol, trades] of after)
    rates.set(symbol, Math.max(0, trades - (before.get(symbol) ?? 0)) / seconds);
  return rates;
}
