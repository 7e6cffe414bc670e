/**
 * Admin writes to the symbol universe, behind the bearer token (`admin-auth.ts`). Authentication
 * comes first, so a caller without the token learns nothing about what a valid request looks like.
 * Each change bumps the epoch; every worker then recomputes its share as for a membership change.
 */
import { isValidSymbol, SYMBOL_RULE } from '../../feeds/symbol.js';
import type { Logger } from '../log.js';
import type { AdminAuth } from './admin-auth.js';
import { readJsonBody } from './body.js';
import type { ClusterView, UniverseChange } from './cluster-view.js';
import { checkQuery, symbolParam } from './params.js';
import { ApiError, badParam, sendJson } from './respond.js';
import type { Router } from './router.js';

/** Symbols one request may add. */
export const MAX_SYMBOLS_PER_WRITE = 1_000;

export interface AdminRouteDeps {
  readonly view: ClusterView;
  readonly auth: AdminAuth;
  readonly logger: Logger;
  /** Body size limit (bytes). */
  readonly bodyLimit: number;
}

function parseSymbols(body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw badParam('body', 'body must be a JSON object such as {"symbols":["AAPL","MSFT"]}');
  const extra = Object.keys(body).find((key) => key !== 'symbols');
  if (extra !== undefined)
    throw badParam(extra, `unknown field ${JSON.stringify(extra.slice(0, 40))}: the body takes symbols`);
  const { symbols } = body as { symbols?: unknown };
  if (!Array.isArray(symbols) || symbols.length === 0 || symbols.length > MAX_SYMBOLS_PER_WRITE) {
    throw badParam('symbols', `symbols must be an array of 1 to ${MAX_SYMBOLS_PER_WRITE} symbols`);
  }
  const list: string[] = [];
  (symbols as unknown[]).forEach((symbol, i) => {
    if (typeof symbol !== 'string' || !isValidSymbol(symbol)) {
      const shown = JSON.stringify(typeof symbol === 'string' ? symbol.slice(0, 40) : symbol);
      throw badParam(`symbols[${i}]`, `symbols[${i}] is ${shown.slice(0, 60)}: a symbol is ${SYMBOL_RULE}`);
    }
    list.push(symbol);
  });
  return [...new Set(list)];
}

export function registerAdminRoutes(router: Router, deps: AdminRouteDeps): void {
  const { view, auth, logger, bodyLimit } = deps;

  async function write(what: string, change: () => Promise<UniverseChange>): Promise<UniverseChange> {
    try {
      return await change();
    } catch (err) {
      logger.warn({ err }, `admin ${what} failed`);
      throw new ApiError(
        503,
        'unavailable',
        `could not ${what}: Redis did not accept the change; retry shortly`,
      );
    }
  }

  router.on('POST', '/v1/symbols', async ({ req, res, query }) => {
    auth.check(req);
    checkQuery(query, []);
    const symbols = parseSymbols(await readJsonBody(req, bodyLimit));
    const { epoch, changed } = await write('add symbols', () => view.addSymbols(symbols));
    logger.info({ given: symbols.length, added: changed, epoch }, 'admin: symbols added');
    sendJson(res, 200, { added: changed, unchanged: symbols.length - changed, epoch });
  });

  router.on('DELETE', '/v1/symbols/{symbol}', async ({ req, res, params, query }) => {
    auth.check(req);
    checkQuery(query, []);
    const symbol = symbolParam(params);
    const { epoch, changed } = await write('remove the symbol', () => view.removeSymbols([symbol]));
    if (changed === 0)
      throw new ApiError(404, 'not_found', `unknown symbol ${symbol}: not in the symbol universe`, 'symbol');
    logger.info({ symbol, epoch }, 'admin: symbol removed');
    sendJson(res, 200, { removed: changed, epoch });
  });
}
