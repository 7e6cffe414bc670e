/**
 * The HTTP API every worker serves. `buildApp` returns a server that is not listening yet, so tests
 * call it in-process on port 0 and the role file calls `listen`.
 *
 * Any worker answers for any symbol (see `owner-routing.ts`): the owner from memory, another worker
 * by forwarding to the owner, and failing both, Redis marked `stale: true`. Routes live by concept:
 * symbol reads in `symbol-routes.ts`, admin writes in `admin-routes.ts`, the event stream in
 * `stream-hub.ts`; the operational routes are here. `openapi.ts` describes every one of them.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.js';
import type { WorkerMetrics } from '../metrics.js';
import { AdminAuth } from './admin-auth.js';
import { registerAdminRoutes } from './admin-routes.js';
import { DEFAULT_BODY_LIMIT } from './body.js';
import type { ClusterView } from './cluster-view.js';
import { registerDashboardRoutes } from './dashboard-routes.js';
import { OPENAPI_DOCUMENT } from './openapi.js';
import { OwnerRouting } from './owner-routing.js';
import { checkQuery, parseSymbolList } from './params.js';
import { ApiError, sendError, sendJson } from './respond.js';
import { Router } from './router.js';
import { createLimitedServer, type ServerLimits } from './server-limits.js';
import { Snapshots } from './snapshots.js';
import { registerStaticRoutes } from './static-files.js';
import { StreamHub, type StreamOptions } from './stream-hub.js';
import { registerSymbolRoutes } from './symbol-routes.js';

export { FORWARDED_HEADER, MIN_EPOCH_HEADER } from './owner-routing.js';

export interface AppOptions {
  /** How long a forwarded request may take (ms). Default 1000. */
  readonly forwardTimeoutMs: number;
  /** Bearer token for admin writes; unset turns them off. Default unset. */
  readonly adminToken: string | undefined;
  /** Largest request body accepted (bytes). Default 64 KiB. */
  readonly bodyLimit: number;
  readonly stream: Partial<StreamOptions>;
  /** Timeouts and caps against slow and flooding clients; see `server-limits.ts`. */
  readonly limits: Partial<ServerLimits>;
}

export const DEFAULT_APP_OPTIONS: AppOptions = Object.freeze({
  forwardTimeoutMs: 1_000,
  adminToken: undefined,
  bodyLimit: DEFAULT_BODY_LIMIT,
  stream: {},
  limits: {},
});

export interface AppDeps {
  readonly view: ClusterView;
  readonly metrics: WorkerMetrics;
  readonly logger: Logger;
}

/** The server, with its route table (for the OpenAPI contract test) and its stream hub. */
export interface AppServer extends Server {
  readonly routes: readonly [method: string, template: string][];
  readonly streams: StreamHub;
}

export function buildApp(deps: AppDeps, options: Partial<AppOptions> = {}): AppServer {
  const { view, metrics, logger } = deps;
  const opts: AppOptions = { ...DEFAULT_APP_OPTIONS, ...options };
  const router = new Router();
  const routing = new OwnerRouting(view, logger, { forwardTimeoutMs: opts.forwardTimeoutMs });
  const snapshots = new Snapshots(view, routing);
  const streams = new StreamHub(
    (symbols, known) => snapshots.collect(symbols, known),
    { clients: metrics.streamClients, dropped: metrics.streamDropped, events: metrics.streamEvents },
    opts.stream,
  );

  /** Symbol routes need the ring: before the worker knows it (or once it is closing), 503. */
  function requireServing(): void {
    if (view.isServing?.() === true) return;
    const readiness = view.readiness();
    if (readiness.serving) return;
    const why = readiness.reasons.length > 0 ? readiness.reasons.join('; ') : 'the ring is not read yet';
    throw new ApiError(503, 'not_ready', `${view.workerId} cannot answer yet: ${why}`, undefined, {
      'retry-after': '1',
    });
  }

  router.on('GET', '/healthz', ({ res, query }) => {
    checkQuery(query, []);
    sendJson(res, 200, { status: 'ok', workerId: view.workerId });
  });

  router.on('GET', '/readyz', ({ res, query }) => {
    checkQuery(query, []);
    const readiness = view.readiness();
    sendJson(res, readiness.ready ? 200 : 503, {
      ready: readiness.ready,
      reasons: readiness.reasons,
      workerId: view.workerId,
      epoch: view.epoch(),
    });
  });

  router.on('GET', '/metrics', async ({ res, query }) => {
    checkQuery(query, []);
    const body = await metrics.registry.metrics();
    res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
    res.end(body);
  });

  router.on('GET', '/openapi.json', ({ res, query }) => {
    checkQuery(query, []);
    sendJson(res, 200, OPENAPI_DOCUMENT, { 'cache-control': 'public, max-age=300' });
  });

  router.on('GET', '/v1/cluster', ({ res, query }) => {
    checkQuery(query, []);
    const assignment = view.assignment();
    const members =
      assignment?.record.members.map((member) => ({
        id: member.id,
        address: member.address,
        weight: member.weight,
        draining: member.draining === true,
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

  registerSymbolRoutes(router, { view, routing, snapshots, logger, requireServing });
  registerDashboardRoutes(router, {
    view,
    routing,
    logger,
    requireServing,
    timeoutMs: opts.forwardTimeoutMs,
  });
  registerStaticRoutes(router);
  registerAdminRoutes(router, {
    view,
    auth: new AdminAuth(opts.adminToken),
    logger,
    bodyLimit: opts.bodyLimit,
  });

  router.on('GET', '/v1/stream', async ({ req, res, query }) => {
    checkQuery(query, ['symbols']);
    const symbols = parseSymbolList(query, 'symbols', streams.options.maxSymbols);
    requireServing();
    const unknown = () => symbols.filter((symbol) => view.assignment()?.ownerOf(symbol) === undefined);
    if (unknown().length > 0) await view.refreshRing();
    const missing = unknown();
    if (missing.length > 0) {
      throw new ApiError(
        404,
        'not_found',
        `not in the symbol universe: ${missing.slice(0, 10).join(', ')}`,
        'symbols',
      );
    }
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' });
      res.end();
      return;
    }
    streams.open(res, symbols);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    let route = 'unmatched';
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const match = router.match(req.method ?? 'GET', url.pathname);
      if (!match) throw new ApiError(404, 'not_found', `no route ${url.pathname.slice(0, 200)}`);
      if ('allowed' in match) {
        throw new ApiError(
          405,
          'method_not_allowed',
          `${req.method ?? ''} is not allowed on ${url.pathname.slice(0, 200)}; use ${match.allowed.join(' or ')}`,
          undefined,
          { allow: match.allowed.join(', ') },
        );
      }
      route = match.route;
      await match.handler({ req, res, params: match.params, query: url.searchParams });
    } catch (err) {
      if (err instanceof ApiError) {
        if (!res.headersSent) sendError(res, err);
      } else {
        logger.error({ err, method: req.method, route }, 'request failed');
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

  const server = createLimitedServer(opts.limits, (req, res) => {
    void handle(req, res);
  });
  server.on('close', () => {
    streams.close();
    routing.close();
  });
  return Object.assign(server, { routes: router.list(), streams });
}
