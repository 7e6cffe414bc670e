/**
 * The read routes on symbols: the paged listing, one symbol's aggregate, its bars, and the internal
 * batch calls owners answer for the listing (summaries) and the stream (snapshots). Each symbol
 * answer comes from the owner's memory (directly or forwarded) or, when no owner answers, from Redis
 * marked `stale: true`.
 */
import { isValidSymbol } from '../../feeds/symbol.js';
import { parseCheckpoint, SymbolAggregate, type AggregateSnapshot, type Bar } from '../aggregate/index.js';
import type { Assignment } from '../cluster/ring.js';
import type { Logger } from '../log.js';
import { checkpointBars, needsHistory, selectBars, toApiBar, type ApiBar } from './bars-query.js';
import { readJsonBody } from './body.js';
import type { BarRange, ClusterView } from './cluster-view.js';
import type { OwnerRouting, Provenance } from './owner-routing.js';
import {
  checkQuery,
  encodeCursor,
  formatInterval,
  parseCursor,
  parseInterval,
  parseLimit,
  parseOwner,
  parsePrefix,
  parseTimeRange,
  symbolParam,
} from './params.js';
import { ApiError, badParam, RawJson, sendJson } from './respond.js';
import type { Router } from './router.js';
import { SNAPSHOT_BATCH_MAX, type Snapshots, type SymbolAnswer } from './snapshots.js';

export const LIST_LIMIT = { min: 1, max: 1_000, fallback: 100 } as const;
export const BARS_LIMIT = { min: 1, max: 1_000, fallback: 100 } as const;

export interface SymbolSummary {
  readonly symbol: string;
  readonly owner: string | null;
  /** Trades this session; `null` when the owner did not answer. */
  readonly trades: number | null;
  readonly lastPrice: number | null;
}

export interface BarsAnswer extends Provenance {
  readonly interval: string;
  readonly bars: ApiBar[];
}

export interface SymbolRouteDeps {
  readonly view: ClusterView;
  readonly routing: OwnerRouting;
  readonly snapshots: Snapshots;
  readonly logger: Logger;
  /** Throws 503 `not_ready` unless the worker can answer symbol queries. */
  readonly requireServing: () => void;
}

/** Serialized answers kept at most; past it the cache starts over (memory stays bounded). */
const MAX_CACHED_ANSWERS = 20_000;

/** The universe sorted once per epoch: pages are cut from it by binary search. */
const sortedUniverse = new WeakMap<Assignment, string[]>();

function sortedSymbols(assignment: Assignment): string[] {
  let sorted = sortedUniverse.get(assignment);
  if (!sorted) {
    sorted = [...assignment.symbols()].sort();
    sortedUniverse.set(assignment, sorted);
  }
  return sorted;
}

/** Index of the first symbol above `after` (or at least `from`), by binary search. */
function firstIndex(sorted: readonly string[], after: string | null, from: string | null): number {
  const search = (below: (symbol: string) => boolean): number => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (below(sorted[mid] ?? '')) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const afterCursor = after === null ? 0 : search((symbol) => symbol <= after);
  const atPrefix = from === null ? 0 : search((symbol) => symbol < from);
  return Math.max(afterCursor, atPrefix);
}

export interface PageFilter {
  readonly prefix: string | null;
  readonly owner: string | null;
  readonly limit: number;
  readonly cursor: string | null;
}

export function parsePageFilter(
  query: URLSearchParams,
  limits: { min: number; max: number; fallback: number },
): PageFilter {
  return {
    prefix: parsePrefix(query),
    owner: parseOwner(query),
    limit: parseLimit(query, limits),
    cursor: parseCursor(query),
  };
}

/** One page of the sorted universe: symbols after the cursor matching prefix and owner. */
export function pageOfSymbols(
  assignment: Assignment | undefined,
  { prefix, owner, limit, cursor }: PageFilter,
): { page: string[]; more: boolean } {
  const sorted = assignment ? sortedSymbols(assignment) : [];
  const page: string[] = [];
  let more = false;
  for (let i = firstIndex(sorted, cursor, prefix); i < sorted.length; i++) {
    const symbol = sorted[i] ?? '';
    if (prefix !== null && !symbol.startsWith(prefix)) {
      if (symbol > prefix) break; // sorted: no later symbol starts with it either
      continue;
    }
    if (owner !== null && assignment?.ownerOf(symbol) !== owner) continue;
    if (page.length === limit) {
      more = true;
      break;
    }
    page.push(symbol);
  }
  return { page, more };
}

export function registerSymbolRoutes(router: Router, deps: SymbolRouteDeps): void {
  const { view, routing, snapshots, logger, requireServing } = deps;
  /**
   * Owned symbols' answers as sent, by the view's version token: a symbol queried more often than
   * it trades is serialized once per change instead of once per request.
   */
  const answers = new Map<string, { version: string; body: RawJson }>();

  function cachedLocalAnswer(symbol: string): RawJson | SymbolAnswer | undefined {
    const version = view.localVersion?.(symbol);
    if (version === undefined) return localAnswer(symbol);
    const cached = answers.get(symbol);
    if (cached?.version === version) return cached.body;
    const answer = localAnswer(symbol);
    if (!answer) return undefined;
    const body = new RawJson(Buffer.from(JSON.stringify(answer)));
    if (answers.size >= MAX_CACHED_ANSWERS) answers.clear();
    answers.set(symbol, { version, body });
    return body;
  }

  router.on('GET', '/v1/symbols', async ({ res, query }) => {
    checkQuery(query, ['prefix', 'owner', 'limit', 'cursor']);
    const filter = parsePageFilter(query, LIST_LIMIT);
    requireServing();
    const assignment = view.assignment();
    const { page, more } = pageOfSymbols(assignment, filter);
    const lines = await snapshots.summaries(page);
    const symbols: SymbolSummary[] = page.map((symbol) => {
      const line = lines.get(symbol);
      return {
        symbol,
        owner: assignment?.ownerOf(symbol) ?? null,
        trades: line?.trades ?? null,
        lastPrice: line?.lastPrice ?? null,
      };
    });
    const last = page[page.length - 1];
    sendJson(res, 200, {
      epoch: view.epoch(),
      answeredBy: view.workerId,
      symbols,
      nextCursor: more && last !== undefined ? encodeCursor(last) : null,
    });
  });

  router.on('GET', '/v1/symbols/{symbol}', async ({ req, res, params, query }) => {
    checkQuery(query, []);
    const symbol = symbolParam(params);
    if (routing.acceptForwarded(req, symbol)) {
      const local = localAnswer(symbol);
      if (!local) throw new ApiError(409, 'not_owner', `${view.workerId} has not loaded ${symbol} yet`);
      routing.sendForwarded(req, res, local);
      return;
    }
    requireServing();
    await routing.requireKnown(symbol);
    const answer = await routing.route<object>(
      symbol,
      `/v1/symbols/${encodeURIComponent(symbol)}`,
      () => cachedLocalAnswer(symbol),
      () => answerFromCheckpoint(symbol),
    );
    sendJson(res, 200, answer);
  });

  router.on('GET', '/v1/symbols/{symbol}/bars', async ({ req, res, params, query }) => {
    checkQuery(query, ['interval', 'limit', 'from', 'to']);
    const symbol = symbolParam(params);
    const intervalMs = parseInterval(query, view.barIntervalsMs());
    const limit = parseLimit(query, BARS_LIMIT);
    const range: BarRange = { ...parseTimeRange(query), limit };
    if (routing.acceptForwarded(req, symbol)) {
      const local = await localBars(symbol, intervalMs, range);
      if (!local) throw new ApiError(409, 'not_owner', `${view.workerId} has not loaded ${symbol} yet`);
      routing.sendForwarded(req, res, local);
      return;
    }
    requireServing();
    await routing.requireKnown(symbol);
    const answer = await routing.route<object>(
      symbol,
      `/v1/symbols/${encodeURIComponent(symbol)}/bars?${query.toString()}`,
      () => localBars(symbol, intervalMs, range),
      () => barsFromRedis(symbol, intervalMs, range),
    );
    sendJson(res, 200, answer);
  });

  router.on('POST', '/v1/internal/snapshots', async ({ req, res, query }) => {
    checkQuery(query, []);
    const body = await readJsonBody(req);
    const { symbols, known, minEpoch } = parseBatchRequest(body);
    sendJson(res, 200, snapshots.local(symbols, known, minEpoch));
  });

  router.on('POST', '/v1/internal/summaries', async ({ req, res, query }) => {
    checkQuery(query, []);
    const { symbols, minEpoch } = parseBatchRequest(await readJsonBody(req));
    sendJson(res, 200, snapshots.localSummaries(symbols, minEpoch));
  });

  function localAnswer(symbol: string): SymbolAnswer | undefined {
    const local = view.localSnapshot(symbol);
    return local ? { ...local.snapshot, ...routing.live(symbol) } : undefined;
  }

  async function localBars(
    symbol: string,
    intervalMs: number,
    range: BarRange,
  ): Promise<BarsAnswer | undefined> {
    const recent = view.localBars(symbol, intervalMs);
    if (!recent) return undefined;
    let history: readonly Bar[] = [];
    if (needsHistory(recent, range)) {
      try {
        history = await view.readBarHistory(symbol, intervalMs, range);
      } catch (err) {
        logger.warn({ err, symbol }, 'bar history unreadable');
        throw new ApiError(503, 'unavailable', `the bar history of ${symbol} is unreadable; retry shortly`);
      }
    }
    return {
      ...routing.live(symbol),
      interval: formatInterval(intervalMs),
      bars: selectBars(history, recent, range).map(toApiBar),
    };
  }

  async function answerFromCheckpoint(symbol: string): Promise<SymbolAnswer> {
    const record = await readCheckpoint(symbol);
    if (!record) {
      throw new ApiError(
        503,
        'unavailable',
        `${symbol} has no live owner and no checkpoint yet; retry shortly`,
        undefined,
        {
          'retry-after': '1',
        },
      );
    }
    let snapshot: AggregateSnapshot;
    try {
      // Read once and dropped: a record of its own, not one of the shared slab's.
      snapshot = SymbolAggregate.fromCheckpoint(parseCheckpoint(record.aggregate), {}, 'own').snapshot();
    } catch (err) {
      logger.warn({ err, symbol }, 'checkpoint corrupt');
      throw new ApiError(
        503,
        'unavailable',
        `no worker answered for ${symbol} and its checkpoint is unreadable`,
      );
    }
    return { ...snapshot, ...routing.stale(symbol, record.writtenAt) };
  }

  async function barsFromRedis(symbol: string, intervalMs: number, range: BarRange): Promise<BarsAnswer> {
    const [record, history] = await Promise.all([
      readCheckpoint(symbol),
      view.readBarHistory(symbol, intervalMs, range).catch((err: unknown) => {
        logger.warn({ err, symbol }, 'bar history unreadable');
        throw new ApiError(
          503,
          'unavailable',
          `no worker answered for ${symbol} and its bar history is unreadable`,
        );
      }),
    ]);
    let recent: Bar[] = [];
    if (record) {
      try {
        recent = checkpointBars(record.aggregate, intervalMs);
      } catch (err) {
        logger.warn({ err, symbol }, 'checkpoint corrupt; answering from the bar history alone');
      }
    }
    const newest = history[history.length - 1];
    const writtenAt = record?.writtenAt ?? (newest ? newest.start + intervalMs : undefined);
    if (writtenAt === undefined) {
      throw new ApiError(
        503,
        'unavailable',
        `${symbol} has no live owner and no stored bars yet; retry shortly`,
        undefined,
        {
          'retry-after': '1',
        },
      );
    }
    return {
      ...routing.stale(symbol, writtenAt),
      interval: formatInterval(intervalMs),
      bars: selectBars(history, recent, range).map(toApiBar),
    };
  }

  async function readCheckpoint(symbol: string): ReturnType<ClusterView['readCheckpoint']> {
    try {
      return await view.readCheckpoint(symbol);
    } catch (err) {
      logger.warn({ err, symbol }, 'checkpoint unreadable');
      throw new ApiError(
        503,
        'unavailable',
        `no worker answered for ${symbol} and its checkpoint is unreadable`,
      );
    }
  }
}

/** The body of an internal batch call (`known` is read by the snapshots route alone). */
function parseBatchRequest(body: unknown): {
  symbols: string[];
  known: Record<string, string>;
  minEpoch: number;
} {
  if (typeof body !== 'object' || body === null) throw badParam('body', 'body must be a JSON object');
  const {
    symbols,
    known = {},
    minEpoch = 0,
  } = body as { symbols?: unknown; known?: unknown; minEpoch?: unknown };
  if (!Array.isArray(symbols) || symbols.length > SNAPSHOT_BATCH_MAX)
    throw badParam('symbols', `symbols must be an array of at most ${SNAPSHOT_BATCH_MAX} symbols`);
  const list: string[] = [];
  for (const symbol of symbols as unknown[]) {
    if (typeof symbol !== 'string' || !isValidSymbol(symbol))
      throw badParam('symbols', 'symbols holds a malformed symbol');
    list.push(symbol);
  }
  if (typeof known !== 'object' || known === null || Array.isArray(known))
    throw badParam('known', 'known must be an object of symbol to version');
  const versions: Record<string, string> = {};
  for (const [symbol, version] of Object.entries(known))
    if (typeof version === 'string') versions[symbol] = version;
  if (typeof minEpoch !== 'number' || !Number.isSafeInteger(minEpoch) || minEpoch < 0)
    throw badParam('minEpoch', 'minEpoch must be a non-negative integer');
  return { symbols: list, known: versions, minEpoch };
}
