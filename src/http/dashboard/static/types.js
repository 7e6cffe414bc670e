// @ts-check
/**
 * The shapes of the API answers the dashboard reads (see /openapi.json), for the type checker.
 *
 * @typedef {{ epoch: number, answeredBy: string, symbols: number,
 *   members: { id: string, address: string, weight: number, draining: boolean, symbols: number }[],
 *   pins: Record<string, string> }} Cluster
 *
 * @typedef {{ id: string, weight: number, draining: boolean, share: number, arcs: [number, number][] }} RingMember
 * @typedef {{ symbol: string, position: number | null, owner: string, pinned: boolean }} RingSymbol
 * @typedef {{ answeredBy: string, epoch: number, vnodes: number, changedAt: number, reason: string,
 *   members: RingMember[], symbols: RingSymbol[] }} Ring
 *
 * @typedef {{ id: string, role: string, state: string, epoch: number, ringEpoch: number, symbols: number,
 *   loading: number, trades: number, tradesPerSec: number,
 *   ingestLag: { p50Ms: number | null, maxMs: number | null }, leaseAgeMs: number | null,
 *   leaseValid: boolean, feed: string, feedName: string, replicas: number,
 *   standby: { symbols: number, warming: number, promotions: number },
 *   handover: { timeouts: number, fallbacks: number }, startedAt: string }} WorkerReport
 * @typedef {{ id: string, address: string, weight: number, draining: boolean, symbols: number,
 *   reachable: boolean, report: WorkerReport | null }} WorkerRow
 * @typedef {{ holder: string, token: number, address: string, feed: string, usedBy: string[] }} Relay
 * @typedef {{ epoch: number, answeredBy: string, relay: Relay | null, workers: WorkerRow[] }} Workers
 *
 * @typedef {{ id: string, ms: number, gained: number, lost: number, gainedSymbols: string[],
 *   lostSymbols: string[] }} WorkerRebalance
 * @typedef {{ epoch: number, at: string, ms: number, reason: string | null, moved: number,
 *   workers: WorkerRebalance[] }} Rebalance
 * @typedef {{ epoch: number, answeredBy: string, rebalances: Rebalance[] }} Rebalances
 *
 * @typedef {{ symbol: string, owner: string | null, pinned: boolean, answered: boolean,
 *   last: number | null, lastTime: string | null, open: number | null, high: number | null,
 *   low: number | null, change: number | null, changePct: number | null, volume: number | null,
 *   vwap: number | null, trades: number | null, spark: (number | null)[], standby: string | null,
 *   standbyState: 'loading' | 'live' | null }} MarketRow
 * @typedef {{ epoch: number, answeredBy: string, interval: string, symbols: MarketRow[],
 *   nextCursor: string | null }} Market
 *
 * @typedef {{ start: string, open: number | null, high: number | null, low: number | null,
 *   close: number | null, volume: number, vwap: number | null, trades: number, amended: boolean,
 *   complete: boolean }} Bar
 * @typedef {{ symbol: string, owner: string | null, epoch: number, answeredBy: string, stale: boolean,
 *   forwardedTo?: string, ageMs: number, interval: string, bars: Bar[] }} BarsAnswer
 * @typedef {{ symbol: string, owner: string | null, epoch: number, answeredBy: string, stale: boolean,
 *   ageMs: number, trades: number, volume: number, vwap: number | null, open: number | null,
 *   high: number | null, low: number | null, close: number | null,
 *   last: { price: number, size: number, time: string } | null }} SymbolAnswer
 */
export {};
