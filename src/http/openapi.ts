/**
 * The OpenAPI 3.1 description of every route, served at `/openapi.json`. Written by hand, next to
 * the code it describes; the contract test (`test/integration/http-contract.test.ts`) calls every
 * route and validates each answer against these schemas, and checks that the router and this
 * document list the same routes, so the two cannot drift apart silently.
 */
import { VERSION } from '../version.js';
import {
  err,
  errorResponse,
  json,
  ok,
  param,
  parameters,
  ref,
  responses,
  schemas,
  type Schema,
} from './openapi-components.js';
import { dashboardParameters, dashboardPaths, dashboardSchemas } from './openapi-dashboard.js';

const bearer = [{ adminToken: [] }];

const paths: Record<string, Schema> = {
  '/healthz': {
    get: { summary: 'The process is alive', responses: { '200': ok('Alive', ref('Health')) } },
  },
  '/readyz': {
    get: {
      summary: 'Ready for traffic: member of the ring, feed connected, caught up with the ring',
      responses: {
        '200': ok('Ready', ref('Readiness')),
        '503': ok('Not ready; `reasons` say why', ref('Readiness')),
      },
    },
  },
  '/metrics': {
    get: {
      summary: 'Prometheus metrics',
      responses: {
        '200': {
          description: 'Prometheus text format',
          content: { 'text/plain': { schema: { type: 'string' } } },
        },
      },
    },
  },
  '/openapi.json': {
    get: { summary: 'This document', responses: { '200': ok('OpenAPI 3.1', { type: 'object' }) } },
  },
  '/v1/cluster': {
    get: {
      summary: 'The ring: epoch, members and how many symbols each owns',
      responses: { '200': ok('The ring', ref('Cluster')) },
    },
  },
  '/v1/symbols': {
    get: {
      summary: 'The symbol universe, sorted, filtered and paged',
      parameters: [param('prefix'), param('owner'), param('listLimit'), param('cursor')],
      responses: {
        '200': ok('One page', ref('SymbolList')),
        '400': err('BadRequest'),
        '503': err('NotReady'),
      },
    },
    post: {
      summary: 'Add symbols to the universe (admin)',
      security: bearer,
      requestBody: { required: true, content: json(ref('AddSymbols')) },
      responses: {
        '200': ok('Added; the epoch changed if any was new', ref('SymbolsAdded')),
        '400': err('BadRequest'),
        '401': err('Unauthorized'),
        '403': err('Forbidden'),
        '413': err('PayloadTooLarge'),
        '415': err('UnsupportedMediaType'),
        '503': err('NotReady'),
      },
    },
  },
  '/v1/symbols/{symbol}': {
    get: {
      summary: "One symbol's session aggregate, answered by any worker",
      parameters: [param('symbol')],
      responses: {
        '200': ok('From the owner, or stale from the checkpoint', ref('SymbolAnswer')),
        '400': err('BadRequest'),
        '404': err('NotFound'),
        '409': err('NotOwner'),
        '503': err('NotReady'),
      },
    },
    delete: {
      summary: 'Remove a symbol from the universe, with its bar history (admin)',
      security: bearer,
      parameters: [param('symbol')],
      responses: {
        '200': ok('Removed', ref('SymbolRemoved')),
        '400': err('BadRequest'),
        '401': err('Unauthorized'),
        '403': err('Forbidden'),
        '404': err('NotFound'),
        '503': err('NotReady'),
      },
    },
  },
  '/v1/pins/{symbol}': {
    put: {
      summary: 'Pin a symbol to an active worker: it owns the symbol while it is active (admin)',
      security: bearer,
      parameters: [param('symbol')],
      requestBody: { required: true, content: json(ref('PinRequest')) },
      responses: {
        '200': ok('Pinned; the epoch changed unless the pin was already there', ref('Pinned')),
        '400': err('BadRequest'),
        '401': err('Unauthorized'),
        '403': err('Forbidden'),
        '404': err('NotFound'),
        '409': err('NotMember'),
        '413': err('PayloadTooLarge'),
        '415': err('UnsupportedMediaType'),
        '503': err('NotReady'),
      },
    },
    delete: {
      summary: 'Remove the pin of a symbol; the ring places it again (admin)',
      security: bearer,
      parameters: [param('symbol')],
      responses: {
        '200': ok('Unpinned; the epoch changed', ref('Unpinned')),
        '400': err('BadRequest'),
        '401': err('Unauthorized'),
        '403': err('Forbidden'),
        '404': err('NotPinned'),
        '503': err('NotReady'),
      },
    },
  },
  '/v1/members/{id}/drain': {
    post: {
      summary:
        'Drain a worker: the ring is rewritten without it, it hands its symbols over and leaves (admin)',
      security: bearer,
      parameters: [param('memberId')],
      responses: {
        '202': ok('The drain is recorded; hand-overs and the leave follow', ref('DrainStarted')),
        '400': err('BadRequest'),
        '401': err('Unauthorized'),
        '403': err('Forbidden'),
        '404': err('UnknownMember'),
        '409': err('LastMember'),
        '503': err('NotReady'),
      },
    },
  },
  '/v1/symbols/{symbol}/bars': {
    get: {
      summary: 'Bars of one interval: the newest `limit` whose start is in [from, to], oldest first',
      parameters: [param('symbol'), param('interval'), param('barsLimit'), param('from'), param('to')],
      responses: {
        '200': ok("The owner's memory over the history in Redis, or stale from Redis", ref('BarsAnswer')),
        '400': err('BadRequest'),
        '404': err('NotFound'),
        '409': err('NotOwner'),
        '503': err('NotReady'),
      },
    },
  },
  '/v1/stream': {
    get: {
      summary:
        'Server-Sent Events: an `update` event per changed symbol, at most one per symbol per flush (250 ms)',
      description:
        'Each event is `event: update`, `data:` a SymbolAnswer. The first flush sends the latest answer of every ' +
        'followed symbol. A client that reads too slowly is disconnected (EventSource reconnects by itself).',
      parameters: [param('streamSymbols')],
      responses: {
        '200': {
          description: 'The event stream',
          content: {
            'text/event-stream': { schema: { type: 'string' }, 'x-event-data': ref('SymbolAnswer') },
          },
        },
        '400': err('BadRequest'),
        '404': err('NotFound'),
        '503': err('NotReady'),
      },
    },
  },
  '/v1/internal/snapshots': {
    post: {
      summary: 'Internal: the answers of the given symbols this worker owns that changed since `known`',
      requestBody: { required: true, content: json(ref('SnapshotRequest')) },
      responses: {
        '200': ok('Changed answers', ref('SnapshotBatch')),
        '400': err('BadRequest'),
        '413': err('PayloadTooLarge'),
        '415': err('UnsupportedMediaType'),
      },
    },
  },
  '/v1/internal/summaries': {
    post: {
      summary: "Internal: the listing's trade count and last price of the given symbols this worker owns",
      requestBody: { required: true, content: json(ref('SummaryRequest')) },
      responses: {
        '200': ok('Lines of the symbols owned', ref('SummaryBatch')),
        '400': err('BadRequest'),
        '413': err('PayloadTooLarge'),
        '415': err('UnsupportedMediaType'),
      },
    },
  },
};

Object.assign(paths, dashboardPaths);

/** Every path answers these too. */
const COMMON_ERRORS = {
  '405': errorResponse('Method not allowed on this path'),
  '500': errorResponse('A bug'),
};

for (const item of Object.values(paths)) {
  for (const operation of Object.values(item) as { responses: Record<string, Schema> }[]) {
    operation.responses = { ...operation.responses, ...COMMON_ERRORS };
  }
}

export const OPENAPI_DOCUMENT: Schema = Object.freeze({
  openapi: '3.1.0',
  info: {
    title: 'tickring worker API',
    version: VERSION,
    description:
      'Per-symbol aggregates of live trade feeds. Every worker answers every route: the owner of a symbol from ' +
      'memory, others by forwarding to it, and failing both from Redis marked `stale: true`. Errors are ' +
      '`{ "error": { "code", "message", "param"? } }` with stable codes.',
    license: { name: 'MIT', identifier: 'MIT' },
  },
  paths,
  components: {
    schemas: { ...schemas, ...dashboardSchemas },
    parameters: { ...parameters, ...dashboardParameters },
    responses,
    securitySchemes: {
      adminToken: { type: 'http', scheme: 'bearer', description: '--admin-token / TICKRING_ADMIN_TOKEN' },
    },
  },
});
