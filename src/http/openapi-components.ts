/**
 * The reusable parts of the OpenAPI document (`openapi.ts`): the schemas of every answer, the
 * parameters and the error responses. Every object schema forbids unknown properties, so the
 * contract test catches a field added to an answer without being documented here.
 */
import { WORKER_ID_PATTERN } from '../config/options.js';
import { API_ERROR_CODES } from './respond.js';

export type Schema = Readonly<Record<string, unknown>>;

export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
export const nullable = (type: string): Schema => ({ type: [type, 'null'] });
export const json = (schema: Schema): Schema => ({ 'application/json': { schema } });

export function ok(description: string, schema: Schema): Schema {
  return { description, content: json(schema) };
}

export const errorResponse = (description: string): Schema => ({ description, content: json(ref('Error')) });
export const err = (name: string): Schema => ({ $ref: `#/components/responses/${name}` });
export const param = (name: string): Schema => ({ $ref: `#/components/parameters/${name}` });

/** What both internal batch calls take: the symbols asked for, and the epoch to answer at or after. */
const BATCH_REQUEST_PROPERTIES = {
  symbols: { type: 'array', maxItems: 1000, items: { type: 'string' } },
  minEpoch: { type: 'integer', minimum: 0 },
};

/** An owner's reply to an internal batch call: its answers under `field`, and what it does not own. */
function batchReply(field: string, item: Schema): Schema {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['answeredBy', 'epoch', field, 'notOwned'],
    properties: {
      answeredBy: { type: 'string' },
      epoch: { type: 'integer', minimum: 0 },
      [field]: { type: 'array', items: item },
      notOwned: { type: 'array', items: { type: 'string' } },
    },
  };
}

const PROVENANCE_PROPERTIES = {
  symbol: { type: 'string' },
  owner: { ...nullable('string'), description: 'The owner at `epoch`; null when no member owns the symbol' },
  epoch: { type: 'integer', minimum: 0, description: 'The ring epoch the answering owner acted on' },
  answeredBy: { type: 'string', description: 'The worker the client asked' },
  forwardedTo: {
    type: 'string',
    description: 'Present when the request was forwarded: the owner that answered',
  },
  stale: { type: 'boolean', description: 'True when no owner answered and the data is the last checkpoint' },
  ageMs: {
    type: 'number',
    minimum: 0,
    description: 'How old the data is: 0 from memory, else the checkpoint age',
  },
} as const;
const PROVENANCE_REQUIRED = ['symbol', 'owner', 'epoch', 'answeredBy', 'stale', 'ageMs'];
/** `WORKER_ID_PATTERN` of `src/config/options.ts`, as JSON Schema text. */
const WORKER_ID_PATTERN_TEXT = WORKER_ID_PATTERN.source;

export const schemas: Record<string, Schema> = {
  Error: {
    type: 'object',
    additionalProperties: false,
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        additionalProperties: false,
        required: ['code', 'message'],
        properties: {
          code: { type: 'string', enum: [...API_ERROR_CODES] },
          message: { type: 'string', description: 'What went wrong and what to do, for a person' },
          param: { type: 'string', description: 'The parameter or body field at fault' },
        },
      },
    },
  },
  LastTrade: {
    type: 'object',
    additionalProperties: false,
    required: ['price', 'size', 'time', 'exchange', 'id'],
    properties: {
      price: { type: 'number' },
      size: { type: 'number' },
      time: { type: 'string', description: 'ISO 8601 with the precision the provider sent' },
      exchange: { type: 'string' },
      id: { type: 'string' },
    },
  },
  SymbolAnswer: {
    type: 'object',
    description: "A symbol's session aggregate and last trade, by trade time",
    additionalProperties: false,
    required: [
      ...PROVENANCE_REQUIRED,
      'sessionStart',
      'trades',
      'volume',
      'vwap',
      'open',
      'high',
      'low',
      'close',
      'last',
      'amended',
      'counters',
      'bars',
    ],
    properties: {
      ...PROVENANCE_PROPERTIES,
      sessionStart: { ...nullable('string'), description: 'Start of the current session, ISO 8601' },
      trades: { type: 'integer', minimum: 0 },
      volume: { type: 'number' },
      vwap: nullable('number'),
      open: nullable('number'),
      high: nullable('number'),
      low: nullable('number'),
      close: nullable('number'),
      last: { oneOf: [ref('LastTrade'), { type: 'null' }] },
      amended: {
        type: 'boolean',
        description: 'A cancel touched this session: open, high, low, close may be off',
      },
      counters: {
        type: 'object',
        additionalProperties: false,
        required: ['lateSession', 'invalid', 'cancels', 'corrections', 'unmatchedCancels'],
        properties: {
          lateSession: { type: 'integer', minimum: 0 },
          invalid: { type: 'integer', minimum: 0 },
          cancels: { type: 'integer', minimum: 0 },
          corrections: { type: 'integer', minimum: 0 },
          unmatchedCancels: { type: 'integer', minimum: 0 },
        },
      },
      bars: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['intervalMs', 'kept', 'lateDropped', 'unmatchedCancels', 'unpublishedDropped'],
          properties: {
            intervalMs: { type: 'integer', minimum: 1 },
            kept: { type: 'integer', minimum: 0 },
            lateDropped: { type: 'integer', minimum: 0 },
            unmatchedCancels: { type: 'integer', minimum: 0 },
            unpublishedDropped: { type: 'integer', minimum: 0 },
          },
        },
      },
    },
  },
  SymbolList: {
    type: 'object',
    additionalProperties: false,
    required: ['epoch', 'answeredBy', 'symbols', 'nextCursor'],
    properties: {
      epoch: { type: 'integer', minimum: 0 },
      answeredBy: { type: 'string' },
      symbols: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['symbol', 'owner', 'trades', 'lastPrice'],
          properties: {
            symbol: { type: 'string' },
            owner: nullable('string'),
            trades: { ...nullable('integer'), description: 'null when the owner did not answer' },
            lastPrice: nullable('number'),
          },
        },
      },
      nextCursor: {
        ...nullable('string'),
        description: 'Pass as `cursor` for the next page; null on the last',
      },
    },
  },
  Bar: {
    type: 'object',
    additionalProperties: false,
    required: ['start', 'open', 'high', 'low', 'close', 'volume', 'vwap', 'trades', 'amended', 'complete'],
    properties: {
      start: { type: 'string', description: 'Start of the interval, ISO 8601 UTC' },
      open: nullable('number'),
      high: nullable('number'),
      low: nullable('number'),
      close: nullable('number'),
      volume: { type: 'number' },
      vwap: nullable('number'),
      trades: { type: 'integer', minimum: 0 },
      amended: { type: 'boolean' },
      complete: { type: 'boolean', description: 'False for the bar still open' },
    },
  },
  BarsAnswer: {
    type: 'object',
    additionalProperties: false,
    required: [...PROVENANCE_REQUIRED, 'interval', 'bars'],
    properties: {
      ...PROVENANCE_PROPERTIES,
      interval: { type: 'string', examples: ['1m'] },
      bars: { type: 'array', items: ref('Bar'), description: 'Oldest first' },
    },
  },
  Cluster: {
    type: 'object',
    additionalProperties: false,
    required: ['epoch', 'answeredBy', 'symbols', 'members', 'pins'],
    properties: {
      epoch: { type: 'integer', minimum: 0 },
      answeredBy: { type: 'string' },
      symbols: { type: 'integer', minimum: 0 },
      members: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['id', 'address', 'weight', 'draining', 'symbols'],
          properties: {
            id: { type: 'string' },
            address: { type: 'string' },
            weight: { type: 'integer', minimum: 1 },
            draining: { type: 'boolean', description: 'Handing its symbols over before it leaves' },
            symbols: { type: 'integer', minimum: 0 },
          },
        },
      },
      pins: { type: 'object', additionalProperties: { type: 'string' } },
    },
  },
  Health: {
    type: 'object',
    additionalProperties: false,
    required: ['status', 'workerId'],
    properties: { status: { const: 'ok' }, workerId: { type: 'string' } },
  },
  Readiness: {
    type: 'object',
    additionalProperties: false,
    required: ['ready', 'reasons', 'workerId', 'epoch'],
    properties: {
      ready: { type: 'boolean' },
      reasons: { type: 'array', items: { type: 'string' } },
      workerId: { type: 'string' },
      epoch: { type: 'integer', minimum: 0 },
    },
  },
  AddSymbols: {
    type: 'object',
    additionalProperties: false,
    required: ['symbols'],
    properties: {
      symbols: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', maxLength: 32 } },
    },
  },
  SymbolsAdded: {
    type: 'object',
    additionalProperties: false,
    required: ['added', 'unchanged', 'epoch'],
    properties: {
      added: { type: 'integer', minimum: 0 },
      unchanged: { type: 'integer', minimum: 0, description: 'Given symbols already in the universe' },
      epoch: { type: 'integer', minimum: 0 },
    },
  },
  SymbolRemoved: {
    type: 'object',
    additionalProperties: false,
    required: ['removed', 'epoch'],
    properties: { removed: { type: 'integer', minimum: 1 }, epoch: { type: 'integer', minimum: 0 } },
  },
  PinRequest: {
    type: 'object',
    additionalProperties: false,
    required: ['worker'],
    properties: { worker: ref('WorkerId') },
  },
  WorkerId: {
    type: 'string',
    pattern: WORKER_ID_PATTERN_TEXT,
    description: 'A worker id as given to --id (see GET /v1/cluster)',
  },
  Pinned: {
    type: 'object',
    additionalProperties: false,
    required: ['symbol', 'worker', 'changed', 'epoch'],
    properties: {
      symbol: { type: 'string' },
      worker: { type: 'string' },
      changed: { type: 'boolean', description: 'False when the symbol was already pinned there' },
      epoch: { type: 'integer', minimum: 0 },
    },
  },
  Unpinned: {
    type: 'object',
    additionalProperties: false,
    required: ['symbol', 'unpinned', 'epoch'],
    properties: {
      symbol: { type: 'string' },
      unpinned: { const: true },
      epoch: { type: 'integer', minimum: 0 },
    },
  },
  DrainStarted: {
    type: 'object',
    additionalProperties: false,
    required: ['worker', 'draining', 'changed', 'epoch'],
    properties: {
      worker: { type: 'string' },
      draining: { const: true },
      changed: { type: 'boolean', description: 'False when the worker was already draining' },
      epoch: { type: 'integer', minimum: 0 },
    },
  },
  SnapshotRequest: {
    type: 'object',
    required: ['symbols'],
    properties: {
      ...BATCH_REQUEST_PROPERTIES,
      known: {
        type: 'object',
        additionalProperties: { type: 'string' },
        description: 'symbol → version held',
      },
    },
  },
  SummaryRequest: { type: 'object', required: ['symbols'], properties: BATCH_REQUEST_PROPERTIES },
  SummaryBatch: batchReply('summaries', {
    type: 'object',
    additionalProperties: false,
    required: ['symbol', 'trades', 'lastPrice'],
    properties: {
      symbol: { type: 'string' },
      trades: { type: 'integer', minimum: 0 },
      lastPrice: { type: ['number', 'null'] },
    },
  }),
  SnapshotBatch: batchReply('changed', {
    type: 'object',
    additionalProperties: false,
    required: ['version', 'data'],
    properties: { version: { type: 'string' }, data: ref('SymbolAnswer') },
  }),
};

const SYMBOL_PATTERN_TEXT = '^[A-Z0-9][A-Z0-9.\\-/:_]{0,31}$';

export const parameters: Record<string, Schema> = {
  symbol: {
    name: 'symbol',
    in: 'path',
    required: true,
    description: 'A symbol of the universe, URL-encoded (e.g. BRK.B, BTC-USD, BTC%2FUSD)',
    schema: { type: 'string', pattern: SYMBOL_PATTERN_TEXT },
  },
  interval: {
    name: 'interval',
    in: 'query',
    description: 'Bar interval, one of those the cluster keeps (default 1s, 1m, 5m); default 1m',
    schema: { type: 'string', pattern: '^[0-9]+(ms|s|m|h)$', default: '1m' },
  },
  barsLimit: {
    name: 'limit',
    in: 'query',
    description: 'The newest this many bars in the range',
    schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
  from: {
    name: 'from',
    in: 'query',
    description: 'Earliest bar start: Unix ms or ISO 8601 with a zone; at most `to`',
    schema: { type: 'string' },
  },
  to: {
    name: 'to',
    in: 'query',
    description: 'Latest bar start: Unix ms or ISO 8601 with a zone',
    schema: { type: 'string' },
  },
  prefix: {
    name: 'prefix',
    in: 'query',
    description: 'Only symbols starting with this',
    schema: { type: 'string', pattern: SYMBOL_PATTERN_TEXT },
  },
  owner: {
    name: 'owner',
    in: 'query',
    description: 'Only symbols this worker owns',
    schema: { type: 'string' },
  },
  listLimit: {
    name: 'limit',
    in: 'query',
    description: 'Page size',
    schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
  cursor: {
    name: 'cursor',
    in: 'query',
    description: '`nextCursor` of the previous page',
    schema: { type: 'string' },
  },
  memberId: {
    name: 'id',
    in: 'path',
    required: true,
    description: 'A worker id (see GET /v1/cluster)',
    schema: ref('WorkerId'),
  },
  streamSymbols: {
    name: 'symbols',
    in: 'query',
    required: true,
    description: 'Comma-separated symbols to follow, at most 100',
    schema: { type: 'string' },
  },
};

export const responses: Record<string, Schema> = {
  BadRequest: errorResponse('A parameter is malformed; `error.param` names it'),
  Unauthorized: errorResponse('Missing or wrong bearer token'),
  Forbidden: errorResponse('Admin writes are off on this worker (no admin token configured)'),
  NotFound: errorResponse('No such route, or the symbol is not in the universe'),
  NotReady: errorResponse('This worker does not know the ring yet, or Redis and the owner are unreachable'),
  PayloadTooLarge: errorResponse('The request body is larger than the limit'),
  UnsupportedMediaType: errorResponse('The request body is not application/json'),
  NotOwner: errorResponse('Internal: the asked worker does not own the symbol at the caller epoch'),
  NotMember: errorResponse(
    '`not_member`: the worker is not an active member of the ring (absent, joining or draining)',
  ),
  UnknownMember: errorResponse('`not_member`: no worker with this id holds a live lease in the ring'),
  LastMember: errorResponse(
    '`last_member`: the worker is the only active one; nobody could take its symbols',
  ),
  NotPinned: errorResponse('`not_pinned`: the symbol has no pin'),
};
