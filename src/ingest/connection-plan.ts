/**
 * Where a feed client puts symbols when the provider caps the streams one connection may carry
 * (Binance: 1,024). Pure functions over how many symbols each connection carries, so the rules are
 * tested without sockets:
 *
 * - a symbol, once placed, stays on its connection for as long as it is wanted: moving it means a
 *   second subscription and an overlap (see `SymbolMove`), never a gap;
 * - new symbols fill the fullest connections that have room first, so the emptiest ones tend to
 *   empty out as symbols leave, and are closed without moving anything;
 * - only when more connections are open than the symbols need are the emptiest ones drained into the
 *   others: the fewest symbols move.
 *
 * Also here, as it follows from the placement: how long subscribe frames take to leave.
 */

/** One connection's load: its id and how many symbols it carries. */
export interface Load {
  readonly id: number;
  readonly size: number;
}

export interface Placement {
  /** Per existing connection id, the new symbols it takes. */
  readonly placed: Map<number, string[]>;
  /** Symbols for new connections, at most `limit` each. */
  readonly fresh: string[][];
}

/** By size, fullest first; the older (lower id) first among equals, for a stable order. */
function fullestFirst(a: Load, b: Load): number {
  return b.size - a.size || a.id - b.id;
}

/** Places `symbols` on the connections of `loads` that have room, fullest first, then on new ones. */
export function placeSymbols(symbols: readonly string[], loads: readonly Load[], limit: number): Placement {
  const placed = new Map<number, string[]>();
  let next = 0;
  for (const load of [...loads].sort(fullestFirst)) {
    const room = Math.min(limit - load.size, symbols.length - next);
    if (room <= 0) continue;
    placed.set(load.id, symbols.slice(next, next + room));
    next += room;
  }
  const fresh: string[][] = [];
  for (; next < symbols.length; next += limit) fresh.push(symbols.slice(next, next + limit));
  return { placed, fresh };
}

/** How many connections `symbols` symbols need: at least one, so the client always holds a connection. */
export function connectionsNeeded(symbols: number, limit: number): number {
  return Math.max(1, Math.ceil(symbols / limit));
}

/**
 * The connections to drain when more are open than the symbols need: all but the fullest
 * `connectionsNeeded`. Their symbols fit in the others' room by construction, and draining the
 * emptiest moves the fewest symbols.
 */
export function connectionsToDrain(loads: readonly Load[], limit: number): number[] {
  const total = loads.reduce((sum, load) => sum + load.size, 0);
  const needed = connectionsNeeded(total, limit);
  if (loads.length <= needed) return [];
  return [...loads]
    .sort(fullestFirst)
    .slice(needed)
    .map((load) => load.id);
}

/** The time between two client frames on one connection at the provider's frame rate (ms). */
export function frameIntervalMs(framesPerSecond: number): number {
  return Math.ceil(1000 / framesPerSecond);
}

/**
 * The longest the subscribe frames for `symbols` new symbols take to leave (ms). Each connection
 * sends its own at the provider's frame rate, in parallel with the others, and carries at most
 * `limit` symbols, so the busiest sends the frames of at most `min(symbols, limit)`: Binance's 2,500
 * symbols over three connections take 6 frames, not 13. Never shorter than the truth: a connection
 * sends its first frame at once and one per interval after, so `k` frames are out after `k - 1`
 * intervals, and the placement never puts more than one connection's frames' worth on one.
 * Frames already queued on a connection (unsubscribes sent first) come on top.
 */
export function subscribePacingMs(
  symbols: number,
  limit: number,
  {
    symbolsPerFrame,
    framesPerSecond,
  }: { readonly symbolsPerFrame: number; readonly framesPerSecond: number },
): number {
  return Math.ceil(Math.min(symbols, limit) / symbolsPerFrame) * frameIntervalMs(framesPerSecond);
}
