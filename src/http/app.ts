/**
 * The HTTP API every worker serves. `buildApp` returns a server that is not listening yet, so tests
 * call it in-process on port 0 and the role file calls `listen`.
 *
 * Any worker answers for any symbol: the owner from memory; another worker forwards to the owner,
 * which checks it owns that one symbol at an epoch at least the caller's (never the whole ring's
 * agreement), retries once after re-reading the ring, and finally answers from the Redis checkpoint
 * marked `stale: true` with its age.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { isValidSymbol, SYMBOL_RULE } from '../../feeds/symbol.js';
import { parseCheckpoint, SymbolAggregate } from '../aggregate/index.js';
import type { Logger } from '../log.js';
import type { WorkerMetrics } from '../metrics.js';
import type { ClusterView, SymbolSummary } from './cluster-view.js';
import { ApiError, sendError, sendJson } from './respond.js';
import { Router, type RouteContext } from './router.js';

export const FORWARDED_HEADER = 'x-tickring-forwarded';
export const MIN_EPOCH_HEADER = 'x-tickring-min-epoch';

export interface AppOptions {
  /** How long a forwarded request may take (ms). Default 1000. */
  readonly forwardTimeoutMs: number;
}

export const DEFAULT_APP_OPTIONS: AppOptions = { forwardTimeoutMs: 1_000 };

export interface AppDeps {
  readonly view: ClusterView;
  readonly metrics: WorkerMetrics;
  readonly logger: Logger;
}

function symbolParam(ctx: RouteContext): string {
  const symbol = ctx.params['symbol'] ?? '';
  if (!isValidSymbol(symbol)) {
    throw new ApiError(
      400,
      'bad_request',
      `malformed symbol ${JSON.stringify(symbol.slice(0, 40))}: a symbol is ${SYMBOL_RULE}`,
    );
  }
  return symbol;
}

export function buildApp(deps: AppDeps, options: Partial<AppOptions> = {}): Server {
  const { view, metrics, logger } = deps;
  const opts = { ...DEFAULT_APP_OPTIONS, ...options };
  const router = new Router();

  router.on('GET', '/healthz', ({ res }) => sendJson(res, 200, { status: 'ok', workerId: view.workerId }));

  router.on('GET', '/readyz', ({ res }) => {
    const readiness = view.readiness();
    sendJson(res, readiness.ready ? 200 : 503, { ready: readiness.ready, reasons: readiness.reasons });
  });

  router.on('GET', '/metrics', async ({ res }) => {
    const body = await metrics.registry.metrics();
    res.writeHead(200, { 'content-type': metrics.registry.contentType });
    res.end(body);
  });

  router.on('GET', '/v1/cluster', ({ res }) => {
    const assignment = view.assignment();
    const members =
      assignment?.record.members.map((member) => ({
        id: member.id,
        address: member.address,
        weight: member.weight,
        symbols: assignment.symbolCount(member.id),
      })) ?? [];
    sendJson(res, 200, {
      epoch: view.epoch(),
      answeredBy: view.workerId,
      symbols: assignment?.size ?? 0,
      members,
      pins: assignment?.record.pins ?? {},
    });
  });

  router.on('GET', '/v1/symbols', async ({ res, query, req }) => {
    if (query.get('scope') === 'local' || req.headers[FORWARDED_HEADER]) {
      sendJson(res, 200, view.localSummaries());
      return;
    }
    sendJson(res, 200, await gatherSummaries());
  });

  router.on('GET', '/v1/symbols/{symbol}', async (ctx) => {
    const symbol = symbolParam(ctx);
    const forwarded = ctx.req.headers[FORWARDED_HEADER] !== undefined;
    const minEpoch = Number(ctx.req.headers[MIN_EPOCH_HEADER] ?? 0) || 0;
    if (forwarded) {
      // The caller believes we own it: answer only if we do, at an epoch at least theirs.
      const snapshot = view.ownsAt(symbol, minEpoch) ? view.localSnapshot(symbol) : undefined;
      if (!snapshot)
        throw new ApiError(409, 'not_owner', `${view.workerId} does not own ${symbol} at epoch ${minEpoch}`);
      sendJson(ctx.res, 200, answer(symbol, view.workerId, snapshot));
      return;
    }
    sendJson(ctx.res, 200, await lookup(symbol));
  });

  function answer(symbol: string, owner: string, snapshot: object): object {
    return {
      ...snapshot,
      symbol,
      owner,
      epoch: view.epoch(),
      answeredBy: view.workerId,
      stale: false,
      ageMs: 0,
    };
  }

  async function lookup(symbol: string): Promise<object> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (attempt > 0) await view.refreshRing();
      const assignment = view.assignment();
      const owner = assignment?.ownerOf(symbol);
      if (!assignment || owner === undefined) break;
      if (owner === view.workerId) {
        const snapshot = view.localSnapshot(symbol);
        if (snapshot) return answer(symbol, owner, snapshot);
        continue;
      }
      const address = assignment.record.members.find((m) => m.id === owner)?.address;
      if (!address) continue;
      const forwarded = await forward(
        `${address}/v1/symbols/${encodeURIComponent(symbol)}`,
        assignment.epoch,
      );
      if (forwarded) return forwarded;
    }
    return fromCheckpoint(symbol);
  }

  async function forward(url: string, epoch: number): Promise<object | undefined> {
    try {
      const response = await fetch(url, {
        headers: { [FORWARDED_HEADER]: view.workerId, [MIN_EPOCH_HEADER]: String(epoch) },
        signal: AbortSignal.timeout(opts.forwardTimeoutMs),
      });
      if (response.status !== 200) {
        await response.body?.cancel();
        return undefined;
      }
      const body = (await response.json()) as Record<string, unknown>;
      return { ...body, answeredBy: view.workerId, forwardedTo: body['answeredBy'] };
    } catch (err) {
      logger.debug({ err, url }, 'forward failed');
      return undefined;
    }
  }

  async function fromCheckpoint(symbol: string): Promise<object> {
    const assignment = view.assignment();
    const inUniverse = assignment?.ownerOf(symbol) !== undefined;
    let record;
    try {
      record = await view.readCheckpoint(symbol);
    } catch (err) {
      logger.warn({ err, symbol }, 'checkpoint unreadable');
      throw new ApiError(
        503,
        'unavailable',
        `no worker answered for ${symbol} and its checkpoint is unreadable`,
      );
    }
    if (!record) {
      if (!inUniverse)
        throw new ApiError(404, 'not_found', `unknown symbol ${symbol}: not in the symbol universe`);
      throw new ApiError(
        503,
        'unavailable',
        `${symbol} has no live owner and no checkpoint yet; retry shortly`,
      );
    }
    const snapshot = SymbolAggregate.fromCheckpoint(parseCheckpoint(record.aggregate)).snapshot();
    return {
      ...snapshot,
      symbol,
      owner: assignment?.ownerOf(symbol) ?? null,
      epoch: view.epoch(),
      answeredBy: view.workerId,
      stale: true,
      ageMs: Math.max(0, Date.now() - record.writtenAt),
    };
  }

  async function gatherSummaries(): Promise<SymbolSummary[]> {
    const assignment = view.assignment();
    if (!assignment) return [];
    const byMember = await Promise.all(
      assignment.record.members.map(async (member) => {
        if (member.id === view.workerId) return view.localSummaries();
        try {
          const response = await fetch(`${member.address}/v1/symbols?scope=local`, {
            signal: AbortSignal.timeout(opts.forwardTimeoutMs),
          });
          if (response.ok) return (await response.json()) as SymbolSummary[];
          await response.body?.cancel();
        } catch (err) {
          logger.debug({ err, member: member.id }, 'member did not answer for its symbols');
        }
        return [];
      }),
    );
    const trades = new Map<string, number>();
    for (const list of byMember) for (const summary of list) trades.set(summary.symbol, summary.trades);
    return [...assignment.symbols()].sort().map((symbol) => ({
      symbol,
      owner: assignment.ownerOf(symbol) ?? null,
      trades: trades.get(symbol) ?? 0,
    }));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    let route = 'unmatched';
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const match = router.match(req.method ?? 'GET', url.pathname);
      if (match === 'method')
        throw new ApiError(
          405,
          'method_not_allowed',
          `${req.method ?? ''} is not allowed on ${url.pathname}`,
        );
      if (!match) throw new ApiError(404, 'not_found', `no route ${url.pathname}`);
      route = match.route;
      await match.handler({ req, res, params: match.params, query: url.searchParams });
    } catch (err) {
      if (err instanceof ApiError) sendError(res, err);
      else {
        logger.error({ err, url: req.url }, 'request failed');
        if (!res.headersSent)
          sendError(res, new ApiError(500, 'internal', 'internal error; see the worker log'));
      }
    } finally {
      metrics.httpSeconds.observe(
        { route, status: String(res.statusCode) },
        (performance.now() - started) / 1000,
      );
    }
  }

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  return server;
}
