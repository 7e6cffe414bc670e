/**
 * The OpenAPI description of the dashboard's routes (`dashboard-routes.ts`, `static-files.ts`):
 * merged into the document by `openapi.ts`. Object schemas forbid unknown properties, as elsewhere.
 */
import { err, json, nullable, ok, param, ref, type Schema } from './openapi-components.js';

const integer = { type: 'integer', minimum: 0 } as const;
const number = { type: 'number' } as const;
const strings = { type: 'array', items: { type: 'string' } } as const;

function object(properties: Record<string, Schema>, optional: readonly string[] = []): Schema {
  return {
    type: 'object',
    additionalProperties: false,
    required: Object.keys(properties).filter((key) => !optional.includes(key)),
    properties,
  };
}

const workerReportProperties = {
  id: { type: 'string' },
  role: {
    type: 'string',
    description: '`worker`; one that also follows symbols as a standby says so in `standby`',
  },
  state: {
    type: 'string',
    description: '`starting`, `joining`, `ready`, `fenced`, `draining` or `closed`',
  },
  epoch: { ...integer, description: 'The epoch the worker acts on' },
  ringEpoch: { ...integer, description: 'The newest epoch it has read' },
  symbols: { ...integer, description: 'Symbols it holds' },
  loading: { ...integer, description: 'Symbols gained and still loading their checkpoints' },
  trades: { ...integer, description: 'Trades applied since start' },
  tradesPerSec: { type: 'number', minimum: 0, description: 'Over the last few seconds' },
  ingestLag: object({
    p50Ms: { ...nullable('number'), description: 'Median arrival minus trade time, last few seconds' },
    maxMs: nullable('number'),
  }),
  leaseAgeMs: { ...nullable('integer'), description: 'Since the lease was last renewed' },
  leaseValid: { type: 'boolean' },
  feed: { type: 'string', description: 'Feed connection state, e.g. `ready`, `backoff`' },
  feedName: { type: 'string', description: 'The feed it reads, e.g. `polygon`; `relay` behind a relay' },
  replicas: { type: 'integer', minimum: 1, description: 'Copies kept of each symbol (`--replicas`)' },
  standby: object({
    symbols: { ...integer, description: 'Symbols it follows as a standby (0 with one replica)' },
    warming: { ...integer, description: 'Of those, the ones still loading the owner’s checkpoints' },
    promotions: { ...integer, description: 'Standby shadows that became owned when their owner left' },
  }),
  handover: object({
    timeouts: { ...integer, description: 'Hand-overs that timed out' },
    fallbacks: { ...integer, description: 'Hand-overs that fell back to the checkpoint in Redis' },
  }),
  startedAt: { type: 'string' },
} as const;

const rebalanceEntryProperties = {
  epoch: integer,
  at: { type: 'string', description: 'When the rebalance finished, ISO 8601 UTC' },
  ms: { type: 'number', minimum: 0 },
  gained: integer,
  lost: integer,
  gainedSymbols: { ...strings, description: 'The first 50' },
  lostSymbols: { ...strings, description: 'The first 50' },
  reason: nullable('string'),
} as const;

export const dashboardSchemas: Record<string, Schema> = {
  WorkerReport: object({
    ...workerReportProperties,
    rebalances: { type: 'array', items: object(rebalanceEntryProperties), description: 'Newest last' },
  }),
  Workers: object({
    epoch: integer,
    answeredBy: { type: 'string' },
    relay: {
      description: 'The active relay as published in Redis; null when none is (or Redis did not answer)',
      oneOf: [
        object({
          holder: { type: 'string', description: 'The relay holding the lease' },
          token: { ...integer, description: 'Fencing token: rises whenever another relay takes over' },
          address: { type: 'string', description: 'Its worker-facing URL' },
          feed: { type: 'string', description: 'The upstream provider it relays' },
          usedBy: {
            ...strings,
            description: 'Members reading their trades through a relay (`--feed relay`)',
          },
        }),
        { type: 'null' },
      ],
    },
    workers: {
      type: 'array',
      items: object({
        id: { type: 'string' },
        address: { type: 'string' },
        weight: { type: 'integer', minimum: 1 },
        draining: { type: 'boolean' },
        symbols: { ...integer, description: 'Symbols the ring gives it' },
        reachable: { type: 'boolean', description: 'False when it did not answer for its report' },
        report: { oneOf: [object(workerReportProperties), { type: 'null' }] },
      }),
    },
  }),
  Rebalances: object({
    epoch: integer,
    answeredBy: { type: 'string' },
    rebalances: {
      type: 'array',
      description: 'Newest first',
      items: object({
        epoch: integer,
        at: { type: 'string' },
        ms: { type: 'number', minimum: 0, description: 'The slowest member' },
        reason: nullable('string'),
        moved: { ...integer, description: 'Symbols that changed owner' },
        workers: {
          type: 'array',
          items: object({
            id: { type: 'string' },
            ms: { type: 'number', minimum: 0 },
            gained: integer,
            lost: integer,
            gainedSymbols: strings,
            lostSymbols: strings,
          }),
        },
      }),
    },
  }),
  Ring: object({
    answeredBy: { type: 'string' },
    epoch: integer,
    vnodes: integer,
    changedAt: { type: 'number', description: 'Redis time (ms) of the change' },
    reason: { type: 'string' },
    members: {
      type: 'array',
      items: object({
        id: { type: 'string' },
        weight: { type: 'integer', minimum: 1 },
        draining: { type: 'boolean' },
        share: { type: 'number', minimum: 0, maximum: 1, description: 'Share of the circle' },
        arcs: {
          type: 'array',
          description: '`[start, end]` fractions of the circle in [0, 1]',
          items: { type: 'array', items: number, minItems: 2, maxItems: 2 },
        },
      }),
    },
    symbols: {
      type: 'array',
      items: object({
        symbol: { type: 'string' },
        position: { ...nullable('number'), description: 'Where it hashes, a fraction of the circle' },
        owner: { type: 'string' },
        pinned: { type: 'boolean' },
      }),
    },
  }),
  MarketRow: object({
    symbol: { type: 'string' },
    owner: nullable('string'),
    pinned: { type: 'boolean' },
    answered: { type: 'boolean', description: 'False when the owner did not answer; figures are null' },
    last: nullable('number'),
    lastTime: nullable('string'),
    open: { ...nullable('number'), description: "The session's first price" },
    high: nullable('number'),
    low: nullable('number'),
    change: { ...nullable('number'), description: 'last − open' },
    changePct: nullable('number'),
    volume: nullable('number'),
    vwap: nullable('number'),
    trades: nullable('integer'),
    spark: {
      type: 'array',
      items: nullable('number'),
      description: 'Closes of the newest bars, oldest first',
    },
    standby: {
      ...nullable('string'),
      description: 'The worker following it as a standby (`--replicas 2`), when that worker says it does',
    },
    standbyState: {
      oneOf: [{ type: 'string', enum: ['loading', 'live'] }, { type: 'null' }],
      description: '`loading` while the standby warms, `live` once it could take over',
    },
  }),
  Market: object({
    epoch: integer,
    answeredBy: { type: 'string' },
    interval: { type: 'string' },
    symbols: { type: 'array', items: ref('MarketRow') },
    nextCursor: nullable('string'),
  }),
  MarketRequest: object(
    {
      symbols: strings,
      standbys: { ...strings, description: 'Symbols to say whether this worker follows as a standby' },
      intervalMs: { type: 'integer', minimum: 1 },
      points: { type: 'integer', minimum: 1, maximum: 60 },
      minEpoch: integer,
    },
    ['minEpoch', 'standbys'],
  ),
  MarketBatch: object({
    answeredBy: { type: 'string' },
    epoch: integer,
    rows: { type: 'array', items: ref('MarketRow') },
    notOwned: strings,
    following: {
      type: 'object',
      description: 'Of the asked `standbys`, those it follows, each `loading` or `live`',
      additionalProperties: { type: 'string', enum: ['loading', 'live'] },
    },
  }),
};

export const dashboardParameters: Record<string, Schema> = {
  sparkPoints: {
    name: 'points',
    in: 'query',
    description: 'Bars per sparkline',
    schema: { type: 'integer', minimum: 1, maximum: 60, default: 20 },
  },
  marketLimit: {
    name: 'limit',
    in: 'query',
    description: 'Page size',
    schema: { type: 'integer', minimum: 1, maximum: 1000, default: 200 },
  },
  rebalancesLimit: {
    name: 'limit',
    in: 'query',
    description: 'Epochs listed',
    schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
  },
  dashboardFile: {
    name: 'file',
    in: 'path',
    required: true,
    description: 'A file of the dashboard, e.g. `main.js`',
    schema: { type: 'string' },
  },
};

function file(description: string, types: readonly string[]): Schema {
  return {
    description,
    content: Object.fromEntries(types.map((type) => [type, { schema: { type: 'string' } }])),
  };
}

export const dashboardPaths: Record<string, Schema> = {
  '/': {
    get: {
      summary: 'The dashboard: the ring, the workers, the market, the rebalances',
      responses: {
        '200': file('The page', ['text/html']),
        '304': { description: 'Unchanged since the ETag given' },
      },
    },
  },
  '/dashboard/{file}': {
    get: {
      summary: "The dashboard's scripts, styles and icon",
      parameters: [param('dashboardFile')],
      responses: {
        '200': file('The file', ['text/javascript', 'text/css', 'image/svg+xml', 'text/html']),
        '304': { description: 'Unchanged since the ETag given' },
        '400': err('BadRequest'),
        '404': err('NotFound'),
      },
    },
  },
  '/v1/ring': {
    get: {
      summary: "The ring's geometry: each member's arcs and each symbol's place and owner",
      responses: { '200': ok('The ring at this epoch', ref('Ring')), '503': err('NotReady') },
    },
  },
  '/v1/workers': {
    get: {
      summary: 'Every member with its own report: state, symbols, trades/s, ingest lag, lease age',
      responses: { '200': ok('The members', ref('Workers')), '503': err('NotReady') },
    },
  },
  '/v1/rebalances': {
    get: {
      summary: "The members' recent rebalances merged by epoch, newest first",
      parameters: [param('rebalancesLimit')],
      responses: {
        '200': ok('The timeline', ref('Rebalances')),
        '400': err('BadRequest'),
        '503': err('NotReady'),
      },
    },
  },
  '/v1/market': {
    get: {
      summary: 'A page of the symbol table: last, change, volume, VWAP, trades, owner and a sparkline',
      parameters: [
        param('prefix'),
        param('owner'),
        param('marketLimit'),
        param('cursor'),
        param('interval'),
        param('sparkPoints'),
      ],
      responses: {
        '200': ok('One page', ref('Market')),
        '400': err('BadRequest'),
        '503': err('NotReady'),
      },
    },
  },
  '/v1/internal/worker': {
    get: {
      summary: "Internal: this worker's report and its recent rebalances",
      responses: { '200': ok('The report', ref('WorkerReport')), '503': err('NotReady') },
    },
  },
  '/v1/internal/market': {
    post: {
      summary: 'Internal: table rows of the given symbols this worker owns',
      requestBody: { required: true, content: json(ref('MarketRequest')) },
      responses: {
        '200': ok('Rows', ref('MarketBatch')),
        '400': err('BadRequest'),
        '413': err('PayloadTooLarge'),
        '415': err('UnsupportedMediaType'),
      },
    },
  },
};
