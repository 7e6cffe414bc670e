/**
 * The routes the dashboard reads, each a plain JSON answer any client may use:
 * - `GET /v1/ring`: the ring's geometry (arcs per member, each symbol's place and owner);
 * - `GET /v1/workers`: every member with its own report (state, load, lag, lease, standbys), and the
 *   active relay when one is published;
 * - `GET /v1/rebalances`: the members' recent rebalances merged into one timeline by epoch;
 * - `GET /v1/market`: a page of the symbol table with a sparkline of recent bars per symbol.
 * Reports and market rows come from each member's memory through one internal call per member
 * (`GET /v1/internal/worker`, `POST /v1/internal/market`), as the listing does for snapshots.
 */
import { isValidSymbol } from '../../feeds/symbol.js';
import type { Assignment } from '../cluster/ring.js';
import type { Logger } from '../log.js';
import { readJsonBody } from './body.js';
import type { ClusterView } from './cluster-view.js';
import { FORWARDED_HEADER, type OwnerRouting } from './owner-routing.js';
import { checkQuery, encodeCursor, formatInterval, parseInterval, parseLimit } from './params.js';
import { ApiError, badParam, sendJson } from './respond.js';
import { ringGeometry } from './ring-geometry.js';
import type { Router } from './router.js';
import { SNAPSHOT_BATCH_MAX } from './snapshots.js';
import { pageOfSymbols, parsePageFilter } from './symbol-routes.js';
import type { RebalanceEntry, WorkerReport } from './worker-report.js';

export const MARKET_LIMIT = { min: 1, max: 1_000, fallback: 200 } as const;
export const SPARK_POINTS = { min: 1, max: 60, fallback: 20 } as const;
export const REBALANCES_LIMIT = { min: 1, max: 200, fallback: 50 } as const;

/** One row of the symbol table, from the owner's memory. */
export interface MarketRow {
  readonly symbol: string;
  readonly owner: string | null;
  readonly pinned: boolean;
  /** False when the owner did not answer: every figure is then null. */
  readonly answered: boolean;
  readonly last: number | null;
  /** Time of the last trade, ISO 8601 UTC. */
  readonly lastTime: string | null;
  /** The session's first price; `change` is last minus it. */
  readonly open: number | null;
  readonly high: number | null;
  readonly low: number | null;
  readonly change: number | null;
  readonly changePct: number | null;
  readonly volume: number | null;
  readonly vwap: number | null;
  readonly trades: number | null;
  /** Closes of the newest bars of the asked interval, oldest first (the open bar last). */
  readonly spark: readonly (number | null)[];
  /**
   * The worker following the symbol as a standby (`--replicas 2`), only when that worker said it
   * does; null otherwise (one replica, or it did not answer).
   */
  readonly standby: string | null;
  /** How far that standby is: `loading` while warming, `live` once it could take over. */
  readonly standbyState: 'loading' | 'live' | null;
}

/** The active relay, as `GET /v1/workers` lists it. */
export interface RelayRow {
  readonly holder: string;
  readonly token: number;
  readonly address: string;
  readonly feed: string;
  /** Members that read their trades through a relay (`--feed relay`). */
  readonly usedBy: readonly string[];
}

export interface DashboardRouteDeps {
  readonly view: ClusterView;
  readonly routing: OwnerRouting;
  readonly logger: Logger;
  readonly requireServing: () => void;
  /** How long an internal call to another member may take (ms). */
  readonly timeoutMs: number;
}

interface MemberReport {
  readonly id: string;
  readonly address: string;
  readonly weight: number;
  readonly draining: boolean;
  readonly symbols: number;
  readonly report: WorkerReport | null;
}

export function registerDashboardRoutes(router: Router, deps: DashboardRouteDeps): void {
  const { view, routing, logger, requireServing, timeoutMs } = deps;

  router.on('GET', '/v1/ring', ({ res, query }) => {
    checkQuery(query, []);
    requireServing();
    const assignment = view.assignment();
    if (!assignment) throw new ApiError(503, 'not_ready', `${view.workerId} has not read the ring yet`);
    sendJson(res, 200, { answeredBy: view.workerId, ...ringGeometry(assignment) });
  });

  router.on('GET', '/v1/internal/worker', ({ res, query }) => {
    checkQuery(query, []);
    if (!view.report) throw new ApiError(503, 'unavailable', `${view.workerId} keeps no report`);
    sendJson(res, 200, view.report());
  });

  /** Every member of the ring with its report; null for a member that did not answer. */
  async function memberReports(assignment: Assignment): Promise<MemberReport[]> {
    return Promise.all(
      assignment.record.members.map(async (member) => ({
        id: member.id,
        address: member.address,
        weight: member.weight,
        draining: member.draining === true,
        symbols: assignment.symbolCount(member.id),
        report:
          member.id === view.workerId
            ? (view.report?.() ?? null)
            : await fetchReport(`${member.address}/v1/internal/worker`, member.id),
      })),
    );
  }

  async function fetchReport(url: string, id: string): Promise<WorkerReport | null> {
    try {
      const response = await fetch(url, {
        headers: { [FORWARDED_HEADER]: view.workerId },
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!response.ok) {
        await response.body?.cancel();
        return null;
      }
      const body = (await response.json()) as WorkerReport;
      // A restarted address may now be someone else: trust only the member it claims to be.
      return typeof body === 'object' && body.id === id ? body : null;
    } catch (err) {
      logger.debug({ err, url }, 'worker report unavailable');
      return null;
    }
  }

  router.on('GET', '/v1/workers', async ({ res, query }) => {
    checkQuery(query, []);
    requireServing();
    const assignment = view.assignment();
    const [members, relay] = await Promise.all([assignment ? memberReports(assignment) : [], activeRelay()]);
    const usedBy = members.filter((m) => m.report?.feedName === 'relay').map((m) => m.id);
    sendJson(res, 200, {
      epoch: view.epoch(),
      answeredBy: view.workerId,
      relay: relay ? { ...relay, usedBy } : null,
      workers: members.map(({ report, ...member }) => {
        if (!report) return { ...member, reachable: false, report: null };
        // eslint-disable-next-line @typescript-eslint/no-unused-vars -- left out: /v1/rebalances lists them
        const { rebalances, ...rest } = report;
        return { ...member, reachable: true, report: rest };
      }),
    });
  });

  /** The relay record in Redis; a failed read shows as no relay rather than failing the route. */
  async function activeRelay(): Promise<Omit<RelayRow, 'usedBy'> | undefined> {
    try {
      return await view.activeRelay?.();
    } catch (err) {
      logger.debug({ err }, 'active relay unreadable');
      return undefined;
    }
  }

  router.on('GET', '/v1/rebalances', async ({ res, query }) => {
    checkQuery(query, ['limit']);
    const limit = parseLimit(query, REBALANCES_LIMIT);
    requireServing();
    const assignment = view.assignment();
    const members = assignment ? await memberReports(assignment) : [];
    sendJson(res, 200, {
      epoch: view.epoch(),
      answeredBy: view.workerId,
      rebalances: mergeRebalances(members).slice(0, limit),
    });
  });

  router.on('GET', '/v1/market', async ({ res, query }) => {
    checkQuery(query, ['prefix', 'owner', 'limit', 'cursor', 'interval', 'points']);
    const filter = parsePageFilter(query, MARKET_LIMIT);
    const intervalMs = parseInterval(query, view.barIntervalsMs());
    const points = parseLimit(query, SPARK_POINTS, 'points');
    requireServing();
    const assignment = view.assignment();
    const { page, more } = pageOfSymbols(assignment, filter);
    const rows = assignment
      ? await marketRows(assignment, page, intervalMs, points)
      : new Map<string, MarketRow>();
    const last = page[page.length - 1];
    sendJson(res, 200, {
      epoch: view.epoch(),
      answeredBy: view.workerId,
      interval: formatInterval(intervalMs),
      symbols: page.map((symbol) => rows.get(symbol) ?? unanswered(symbol, assignment)),
      nextCursor: more && last !== undefined ? encodeCursor(last) : null,
    });
  });

  router.on('POST', '/v1/internal/market', async ({ req, res, query }) => {
    checkQuery(query, []);
    const { symbols, standbys, intervalMs, points, minEpoch } = parseMarketRequest(
      await readJsonBody(req),
      view,
    );
    const rows: MarketRow[] = [];
    const notOwned: string[] = [];
    for (const symbol of symbols) {
      const row = view.ownsAt(symbol, minEpoch) ? localRow(symbol, intervalMs, points) : undefined;
      if (row) rows.push(row);
      else notOwned.push(symbol);
    }
    sendJson(res, 200, {
      answeredBy: view.workerId,
      epoch: view.epoch(),
      rows,
      notOwned,
      following: following(standbys),
    });
  });

  /** Of `symbols`, those this worker follows as a standby, with how far each is. */
  function following(symbols: readonly string[]): Record<string, 'loading' | 'live'> {
    const states: Record<string, 'loading' | 'live'> = {};
    for (const symbol of symbols) {
      const state = view.standbyState?.(symbol);
      if (state) states[symbol] = state;
    }
    return states;
  }

  function localRow(symbol: string, intervalMs: number, points: number): MarketRow | undefined {
    const local = view.localSnapshot(symbol);
    if (!local) return undefined;
    const { snapshot } = local;
    const last = snapshot.last?.price ?? null;
    const open = snapshot.open;
    const change = last !== null && open !== null ? last - open : null;
    const bars = view.localBars(symbol, intervalMs) ?? [];
    const assignment = view.assignment();
    return {
      symbol,
      owner: view.workerId,
      pinned: assignment?.record.pins[symbol] === view.workerId,
      answered: true,
      last,
      lastTime: snapshot.last?.time ?? null,
      open,
      high: snapshot.high,
      low: snapshot.low,
      change,
      changePct: change !== null && open ? (change / open) * 100 : null,
      volume: snapshot.volume,
      vwap: snapshot.vwap,
      trades: snapshot.trades,
      spark: bars.slice(Math.max(0, bars.length - points)).map((bar) => bar.close),
      standby: null,
      standbyState: null,
    };
  }

  /**
   * The rows of `symbols`, each from its owner, with its standby where the standby worker says it
   * follows the symbol. One call per member: its owned symbols and those it may follow together.
   */
  async function marketRows(
    assignment: Assignment,
    symbols: readonly string[],
    intervalMs: number,
    points: number,
  ): Promise<Map<string, MarketRow>> {
    const rows = new Map<string, MarketRow>();
    const asks = new Map<string, { owned: string[]; standbys: string[] }>();
    const ask = (member: string) => {
      let entry = asks.get(member);
      if (!entry) asks.set(member, (entry = { owned: [], standbys: [] }));
      return entry;
    };
    for (const symbol of symbols) {
      const owner = assignment.ownerOf(symbol);
      if (owner === undefined) continue;
      ask(owner).owned.push(symbol);
      const standby = assignment.standbyOf(symbol);
      if (standby !== undefined && standby !== owner) ask(standby).standbys.push(symbol);
    }
    const standbys = new Map<string, { id: string; state: 'loading' | 'live' }>();
    await Promise.all(
      [...asks].map(async ([member, { owned, standbys: candidates }]) => {
        if (member === view.workerId) {
          for (const symbol of owned) {
            const row = localRow(symbol, intervalMs, points);
            if (row) rows.set(symbol, row);
          }
          for (const [symbol, state] of Object.entries(following(candidates)))
            standbys.set(symbol, { id: member, state });
          return;
        }
        const address = assignment.record.members.find((m) => m.id === member)?.address;
        if (!address) return;
        const reply = (await routing.post(`${address}/v1/internal/market`, {
          symbols: owned,
          standbys: candidates,
          intervalMs,
          points,
          minEpoch: assignment.epoch,
        })) as { rows?: unknown; following?: unknown } | undefined;
        const replied = reply?.rows;
        if (Array.isArray(replied)) {
          const asked = new Set(owned);
          for (const row of replied as MarketRow[]) {
            if (typeof row === 'object' && asked.has(row.symbol)) rows.set(row.symbol, row);
          }
        }
        const followed = reply?.following;
        if (typeof followed === 'object' && followed !== null) {
          for (const symbol of candidates) {
            const state = (followed as Record<string, unknown>)[symbol];
            if (state === 'loading' || state === 'live') standbys.set(symbol, { id: member, state });
          }
        }
      }),
    );
    for (const [symbol, { id, state }] of standbys) {
      const row = rows.get(symbol) ?? unanswered(symbol, assignment);
      rows.set(symbol, { ...row, standby: id, standbyState: state });
    }
    return rows;
  }
}

function unanswered(symbol: string, assignment: Assignment | undefined): MarketRow {
  const owner = assignment?.ownerOf(symbol) ?? null;
  return {
    symbol,
    owner,
    pinned: owner !== null && assignment?.record.pins[symbol] === owner,
    answered: false,
    last: null,
    lastTime: null,
    open: null,
    high: null,
    low: null,
    change: null,
    changePct: null,
    volume: null,
    vwap: null,
    trades: null,
    spark: [],
    standby: null,
    standbyState: null,
  };
}

/** One epoch of the timeline: what each member did, the longest member's time as its duration. */
export interface TimelineEntry {
  readonly epoch: number;
  /** When the last member finished, ISO 8601 UTC. */
  readonly at: string;
  readonly ms: number;
  readonly reason: string | null;
  /** Symbols that changed owner (gains summed over members). */
  readonly moved: number;
  readonly workers: readonly ({ readonly id: string } & Omit<RebalanceEntry, 'epoch' | 'reason' | 'at'>)[];
}

/** Merges the members' logs by epoch, newest first. */
export function mergeRebalances(
  members: readonly { id: string; report: WorkerReport | null }[],
): TimelineEntry[] {
  const byEpoch = new Map<
    number,
    {
      at: string;
      ms: number;
      reason: string | null;
      moved: number;
      workers: TimelineEntry['workers'][number][];
    }
  >();
  for (const { id, report } of members) {
    for (const entry of report?.rebalances ?? []) {
      const merged = byEpoch.get(entry.epoch) ?? { at: entry.at, ms: 0, reason: null, moved: 0, workers: [] };
      merged.at = entry.at > merged.at ? entry.at : merged.at;
      merged.ms = Math.max(merged.ms, entry.ms);
      merged.reason ??= entry.reason;
      merged.moved += entry.gained;
      merged.workers.push({
        id,
        ms: entry.ms,
        gained: entry.gained,
        lost: entry.lost,
        gainedSymbols: entry.gainedSymbols,
        lostSymbols: entry.lostSymbols,
      });
      byEpoch.set(entry.epoch, merged);
    }
  }
  return [...byEpoch]
    .sort((a, b) => b[0] - a[0])
    .map(([epoch, merged]) => ({
      epoch,
      ...merged,
      workers: [...merged.workers].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    }));
}

function parseMarketRequest(
  body: unknown,
  view: ClusterView,
): { symbols: string[]; standbys: string[]; intervalMs: number; points: number; minEpoch: number } {
  if (typeof body !== 'object' || body === null) throw badParam('body', 'body must be a JSON object');
  const { symbols, standbys = [], intervalMs, points, minEpoch = 0 } = body as Record<string, unknown>;
  const list = symbolList(symbols, 'symbols');
  const standbyList = symbolList(standbys, 'standbys');
  if (typeof intervalMs !== 'number' || !view.barIntervalsMs().includes(intervalMs))
    throw badParam('intervalMs', `intervalMs must be one of ${view.barIntervalsMs().join(', ')}`);
  if (
    typeof points !== 'number' ||
    !Number.isInteger(points) ||
    points < SPARK_POINTS.min ||
    points > SPARK_POINTS.max
  )
    throw badParam('points', `points must be an integer from ${SPARK_POINTS.min} to ${SPARK_POINTS.max}`);
  if (typeof minEpoch !== 'number' || !Number.isSafeInteger(minEpoch) || minEpoch < 0)
    throw badParam('minEpoch', 'minEpoch must be a non-negative integer');
  return { symbols: list, standbys: standbyList, intervalMs, points, minEpoch };
}

function symbolList(value: unknown, name: string): string[] {
  if (!Array.isArray(value) || value.length > SNAPSHOT_BATCH_MAX)
    throw badParam(name, `${name} must be an array of at most ${SNAPSHOT_BATCH_MAX} symbols`);
  const list: string[] = [];
  for (const symbol of value as unknown[]) {
    if (typeof symbol !== 'string' || !isValidSymbol(symbol))
      throw badParam(name, `${name} holds a malformed symbol`);
    list.push(symbol);
  }
  return list;
}
