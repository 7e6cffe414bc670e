/**
 * Admin writes to the symbol universe and to placement (pins, drain), behind the bearer token
 * (`admin-auth.ts`). Authentication comes first, so a caller without the token learns nothing about
 * what a valid request looks like. Each change bumps the epoch; every worker then recomputes its
 * share as for a membership change.
 */
import { isValidSymbol, SYMBOL_RULE } from '../../feeds/symbol.js';
import { WORKER_ID_PATTERN } from '../config/options.js';
import { TickringError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AdminAuth } from './admin-auth.js';
import { readJsonBody } from './body.js';
import type { ClusterView, PlacementChange, PlacementWrites, UniverseChange } from './cluster-view.js';
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

/** The pin body: `{ "worker": "<id>" }` and nothing else. */
function parseWorker(body: unknown): string {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw badParam('body', 'body must be a JSON object such as {"worker":"w1"}');
  const extra = Object.keys(body).find((key) => key !== 'worker');
  if (extra !== undefined)
    throw badParam(extra, `unknown field ${JSON.stringify(extra.slice(0, 40))}: the body takes worker`);
  const { worker } = body as { worker?: unknown };
  if (typeof worker !== 'string' || !WORKER_ID_PATTERN.test(worker)) {
    const shown = JSON.stringify(typeof worker === 'string' ? worker.slice(0, 40) : (worker ?? null));
    throw badParam('worker', `worker is ${shown.slice(0, 60)}: a worker id is 1 to 64 of A-Z a-z 0-9 _ . -`);
  }
  return worker;
}

function memberParam(params: Readonly<Record<string, string>>): string {
  const id = params['id'] ?? '';
  if (!WORKER_ID_PATTERN.test(id)) {
    throw badParam(
      'id',
      `malformed worker id ${JSON.stringify(id.slice(0, 40))}: 1 to 64 of A-Z a-z 0-9 _ . -`,
    );
  }
  return id;
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

  function placement(): PlacementWrites {
    if (view.placement) return view.placement;
    throw new ApiError(503, 'unavailable', `${view.workerId} cannot change placement; ask another worker`);
  }

  /**
   * Runs a placement change, turning the script's refusals into answers. Which refusal a
   * `TICKRING_ERR_CONFIG` stands for depends on the script: pin refuses only an unknown symbol with
   * it (the symbol's form is checked before), drain only the last active member.
   */
  async function place(
    what: string,
    refusals: Partial<Record<'TICKRING_ERR_NOT_MEMBER' | 'TICKRING_ERR_CONFIG', ApiError>>,
    change: () => Promise<PlacementChange>,
  ): Promise<PlacementChange> {
    try {
      return await change();
    } catch (err) {
      if (err instanceof TickringError) {
        const refusal = refusals[err.code as keyof typeof refusals];
        if (refusal) throw refusal;
      }
      logger.warn({ err }, `admin ${what} failed`);
      throw new ApiError(
        503,
        'unavailable',
        `could not ${what}: Redis did not accept the change; retry shortly`,
      );
    }
  }

  router.on('PUT', '/v1/pins/{symbol}', async ({ req, res, params, query }) => {
    auth.check(req);
    checkQuery(query, []);
    const symbol = symbolParam(params);
    const worker = parseWorker(await readJsonBody(req, bodyLimit));
    const writes = placement();
    const { epoch, changed } = await place(
      'pin the symbol',
      {
        TICKRING_ERR_NOT_MEMBER: new ApiError(
          409,
          'not_member',
          `${worker} is not an active member of the ring (absent, joining or draining); see GET /v1/cluster`,
          'worker',
        ),
        TICKRING_ERR_CONFIG: new ApiError(
          404,
          'not_found',
          `unknown symbol ${symbol}: not in the symbol universe; add it first with POST /v1/symbols`,
          'symbol',
        ),
      },
      () => writes.pin(symbol, worker),
    );
    logger.info({ symbol, worker, changed, epoch }, 'admin: symbol pinned');
    sendJson(res, 200, { symbol, worker, changed, epoch });
  });

  router.on('DELETE', '/v1/pins/{symbol}', async ({ req, res, params, query }) => {
    auth.check(req);
    checkQuery(query, []);
    const symbol = symbolParam(params);
    const writes = placement();
    const { epoch, changed } = await place('unpin the symbol', {}, () => writes.unpin(symbol));
    if (!changed) throw new ApiError(404, 'not_pinned', `${symbol} is not pinned`, 'symbol');
    logger.info({ symbol, epoch }, 'admin: symbol unpinned');
    sendJson(res, 200, { symbol, unpinned: true, epoch });
  });

  router.on('POST', '/v1/members/{id}/drain', async ({ req, res, params, query }) => {
    auth.check(req);
    checkQuery(query, []);
    const id = memberParam(params);
    const writes = placement();
    const { epoch, changed } = await place(
      'drain the worker',
      {
        TICKRING_ERR_NOT_MEMBER: new ApiError(
          404,
          'not_member',
          `${id} holds no live lease in the ring; see GET /v1/cluster`,
          'id',
        ),
        TICKRING_ERR_CONFIG: new ApiError(
          409,
          'last_member',
          `${id} is the only active worker, nobody could take its symbols; start another worker first`,
          'id',
        ),
      },
      () => writes.drain(id),
    );
    logger.info({ worker: id, changed, epoch }, 'admin: drain started');
    // 202: the drain is recorded; the hand-overs and the worker's leave follow asynchronously.
    sendJson(res, 202, { worker: id, draining: true, changed, epoch });
  });
}
