/**
 * Hot-symbol pins. Trade rates are Zipf-skewed, so even a perfectly even ring leaves the busiest worker
 * with 1.6–1.8× the mean trade load at 8 workers: a handful of symbols carry most prints and land
 * where the hash puts them. `planHotPins` computes the pins (`owner = pin ?? ring`) that bring max/mean
 * load per worker down to the best possible, max(target, hottest share × workers), moving as few
 * symbols as it can.
 *
 * It is a pure function of its inputs, so every machine planning from the same rate snapshot and ring
 * record gets the same pins: symbols are ordered by rate then name (code-unit order, never the
 * locale's), workers by id, and loads are summed in that fixed order.
 *
 * The plan, greedy and close to LPT scheduling:
 *   1. A symbol hotter than `target` × one worker's fair share cannot share a worker without pushing it
 *      over the target, so it gets a worker to itself (the one it is on, when that is a largest one).
 *      Between 1× and `target` × fair share it keeps only as much other load as fits under the target.
 *   2. While some worker is over its limit (`target`, or its dedicated symbol's own load), its hottest
 *      symbol that fits on the least-loaded worker moves there (or overfills it, if that still leaves
 *      it below the source, which then sheds mid-hot symbols); hottest first means fewest pins.
 *   3. Hysteresis: the plan starts from the pins in force and acts only when a worker is over its limit
 *      by more than `hysteresis`; a pin is released only when its ring owner stays clearly under the
 *      target. A plan from scratch replaces the current pins only when it is better by more than
 *      `hysteresis`. So small rate noise changes nothing, and pins do not flap.
 *   4. `maxMoves` caps the symbols whose owner changes in one call, `maxPins` the size of the pin set.
 */
import { TickringError } from '../errors.js';
import type { RingMember } from './ring-record.js';

/** Where the ring alone (no pins) places each symbol of the universe: an `Assignment` fits. */
export interface RingPlacement {
  ownerOf(symbol: string): string | undefined;
  symbols(): Iterable<string>;
}

export interface HotPinOptions {
  /** The max/mean load to aim for; 1.25 by default (the target at 8 workers). */
  readonly target: number;
  /** The most pins the plan may hold; 1,024 by default. */
  readonly maxPins: number;
  /** The most symbols whose owner may change in one call; 1,024 by default. */
  readonly maxMoves: number;
  /** The pins in force now (the ring record's `pins`); none by default. */
  readonly currentPins: Readonly<Record<string, string>>;
  /** Margin in max/mean below which the plan leaves things as they are; 0.05 by default. */
  readonly hysteresis: number;
  /**
   * Slack in max/mean a worker may carry over its limit; 0.01 by default. It mostly spares moving the
   * coldest symbols off a dedicated worker, which cost one pin each and carry almost no load.
   */
  readonly tolerance: number;
}

export const DEFAULT_HOT_PIN_OPTIONS: HotPinOptions = Object.freeze({
  target: 1.25,
  maxPins: 1024,
  maxMoves: 1024,
  currentPins: Object.freeze({}),
  hysteresis: 0.05,
  tolerance: 0.01,
});

export interface HotPinPlan {
  /** The whole pin set to hold after this call, sorted by symbol. */
  readonly pins: Readonly<Record<string, string>>;
  /** Pins to add or change relative to `currentPins`, sorted by symbol. */
  readonly pin: readonly (readonly [symbol: string, memberId: string])[];
  /** Current pins to remove, sorted. */
  readonly unpin: readonly string[];
  /** Symbols whose owner changes relative to the placement in force (ring + current pins). */
  readonly movedSymbols: number;
  /** The share of the total trade rate those symbols carry. */
  readonly movedRateShare: number;
  /** Max/mean trade load per worker (per unit of weight) with the ring alone. */
  readonly ringMaxOverMean: number;
  /** ... with the pins in force now. */
  readonly currentMaxOverMean: number;
  /** ... with the planned pins. */
  readonly predictedMaxOverMean: number;
  /** max(target, hottest symbol's load on a largest worker): no placement does better. */
  readonly bestPossible: number;
  /** Symbols that have a worker to themselves, hottest first. */
  readonly dedicated: readonly string[];
  /** `kept`: built on the current pins; `fresh`: a plan from the ring alone replaced them. */
  readonly basis: 'kept' | 'fresh';
  /** A cap (`maxMoves` or `maxPins`) stopped the plan short of its limits. */
  readonly capped: boolean;
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function checkOptions(options: HotPinOptions): void {
  const { target, maxPins, maxMoves, hysteresis, tolerance } = options;
  if (!(Number.isFinite(target) && target >= 1)) throw new RangeError(`target must be >= 1, got ${target}`);
  for (const [name, value] of [
    ['maxPins', maxPins],
    ['maxMoves', maxMoves],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`${name} must be an integer >= 0, got ${value}`);
    }
  }
  for (const [name, value] of [
    ['hysteresis', hysteresis],
    ['tolerance', tolerance],
  ] as const) {
    if (!(Number.isFinite(value) && value >= 0)) throw new RangeError(`${name} must be >= 0, got ${value}`);
  }
}

/** What every candidate plan shares: the universe, rates, capacities and the two reference placements. */
interface Context {
  readonly options: HotPinOptions;
  /** Symbols with a positive rate, hottest first, ties by name. */
  readonly hot: readonly string[];
  readonly rate: ReadonlyMap<string, number>;
  /** All universe symbols, by name. */
  readonly universe: readonly string[];
  readonly ring: ReadonlyMap<string, string>;
  readonly current: ReadonlyMap<string, string>;
  /** Active member ids, sorted. */
  readonly workers: readonly string[];
  /** Fair share of the total rate per worker, by weight. */
  readonly fair: ReadonlyMap<string, number>;
  readonly total: number;
}

/** One candidate placement being planned, with its loads and the counts its caps apply to. */
class Layout {
  readonly owner: Map<string, string>;
  readonly load = new Map<string, number>();
  /** Worker → its dedicated symbol. */
  readonly dedicatedOn = new Map<string, string>();
  readonly dedicated = new Set<string>();
  private readonly movedNow = new Set<string>();
  pinCount = 0;
  moveCount = 0;
  capped = false;

  constructor(
    private readonly ctx: Context,
    start: ReadonlyMap<string, string>,
  ) {
    this.owner = new Map(start);
    for (const id of ctx.workers) this.load.set(id, 0);
    for (const symbol of ctx.universe) {
      const owner = start.get(symbol) ?? '';
      const rate = ctx.rate.get(symbol) ?? 0;
      if (rate > 0) this.load.set(owner, (this.load.get(owner) ?? 0) + rate);
      if (owner !== ctx.ring.get(symbol)) this.pinCount++;
      if (owner !== ctx.current.get(symbol)) this.moveCount++;
    }
  }

  /** Load over fair share: 1 is exactly the mean. */
  ratio(worker: string): number {
    return (this.load.get(worker) ?? 0) / (this.ctx.fair.get(worker) ?? 1);
  }

  maxRatio(): number {
    return Math.max(0, ...this.ctx.workers.map((w) => this.ratio(w)));
  }

  /** The max/mean a worker may carry: the target, or its dedicated symbol's own load. */
  limit(worker: string): number {
    const symbol = this.dedicatedOn.get(worker);
    const own =
      symbol === undefined ? 0 : (this.ctx.rate.get(symbol) ?? 0) / (this.ctx.fair.get(worker) ?? 1);
    return Math.max(this.ctx.options.target, own);
  }

  /** Moves `symbol` to `to` if the caps allow and it has not moved yet in this plan. */
  move(symbol: string, to: string): boolean {
    const from = this.owner.get(symbol) ?? '';
    if (from === to || this.movedNow.has(symbol)) return false;
    const ring = this.ctx.ring.get(symbol);
    const current = this.ctx.current.get(symbol);
    const pins = this.pinCount + (to !== ring ? 1 : 0) - (from !== ring ? 1 : 0);
    const moves = this.moveCount + (to !== current ? 1 : 0) - (from !== current ? 1 : 0);
    const { maxPins, maxMoves } = this.ctx.options;
    if ((pins > maxPins && pins > this.pinCount) || (moves > maxMoves && moves > this.moveCount)) {
      this.capped = true;
      return false;
    }
    const rate = this.ctx.rate.get(symbol) ?? 0;
    this.load.set(from, (this.load.get(from) ?? 0) - rate);
    this.load.set(to, (this.load.get(to) ?? 0) + rate);
    this.owner.set(symbol, to);
    this.movedNow.add(symbol);
    this.pinCount = pins;
    this.moveCount = moves;
    return true;
  }
}

/** Step 1: gives each symbol too hot to share a worker one to itself. */
function dedicate(ctx: Context, layout: Layout): void {
  const { target } = ctx.options;
  for (const symbol of ctx.hot) {
    const free = ctx.workers.filter((w) => !layout.dedicatedOn.has(w));
    // Someone must be left to take the other symbols.
    if (free.length < 2) return;
    const biggest = Math.max(...free.map((w) => ctx.fair.get(w) ?? 0));
    const rate = ctx.rate.get(symbol) ?? 0;
    if (rate <= target * biggest) return; // the rest are colder still
    const candidates = free.filter((w) => ctx.fair.get(w) === biggest);
    const at = layout.owner.get(symbol) ?? '';
    // Staying put costs no move; otherwise the worker with the fewest busy symbols to clear.
    const busy = (w: string): number => ctx.hot.filter((s) => layout.owner.get(s) === w).length;
    const chosen = candidates.includes(at)
      ? at
      : candidates
          .map((w) => [w, busy(w)] as const)
          .sort((a, b) => a[1] - b[1] || byName(a[0], b[0]))[0]?.[0];
    if (chosen === undefined) return;
    if (chosen !== at && !layout.move(symbol, chosen)) return;
    layout.dedicatedOn.set(chosen, symbol);
    layout.dedicated.add(symbol);
  }
}

/** Hysteresis, kept plans only: returns pins whose ring owner stays clearly under the target. */
function releaseIdlePins(ctx: Context, layout: Layout): void {
  const margin = ctx.options.target - ctx.options.hysteresis;
  const pinned = ctx.universe.filter(
    (s) => layout.owner.get(s) !== ctx.ring.get(s) && !layout.dedicated.has(s),
  );
  // Coldest first: they are the least likely to be needed again.
  pinned.sort((a, b) => (ctx.rate.get(a) ?? 0) - (ctx.rate.get(b) ?? 0) || byName(a, b));
  for (const symbol of pinned) {
    const home = ctx.ring.get(symbol) ?? '';
    if (layout.dedicatedOn.has(home)) continue;
    const after = ((layout.load.get(home) ?? 0) + (ctx.rate.get(symbol) ?? 0)) / (ctx.fair.get(home) ?? 1);
    if (after <= margin) layout.move(symbol, home);
  }
}

/** Step 2: moves the hottest fitting symbols off the worker furthest over its limit. */
function spread(ctx: Context, layout: Layout, trigger: number): void {
  const { tolerance } = ctx.options;
  const excess = (w: string): number => layout.ratio(w) - layout.limit(w) - tolerance;
  if (Math.max(...ctx.workers.map(excess)) <= trigger) return;
  const receivers = ctx.workers.filter((w) => !layout.dedicatedOn.has(w));
  const stuck = new Set<string>();
  for (;;) {
    let source: string | undefined;
    for (const w of ctx.workers) {
      if (stuck.has(w) || excess(w) <= 0) continue;
      if (source === undefined || excess(w) > excess(source)) source = w;
    }
    if (source === undefined) return;
    const sourceFair = ctx.fair.get(source) ?? 1;
    const sourceRatio = layout.ratio(source);
    let fallback: { symbol: string; to: string; worst: number } | undefined;
    let moved = false;
    for (const symbol of ctx.hot) {
      if (layout.owner.get(symbol) !== source || layout.dedicated.has(symbol)) continue;
      const rate = ctx.rate.get(symbol) ?? 0;
      let to: string | undefined;
      let toRatio = Infinity;
      for (const w of receivers) {
        if (w === source) continue;
        const r = ((layout.load.get(w) ?? 0) + rate) / (ctx.fair.get(w) ?? 1);
        if (r < toRatio) [to, toRatio] = [w, r];
      }
      if (to === undefined) break;
      // A symbol that fits moves; so does a hot one that overfills the receiver but leaves it below
      // the source's new level: the receiver then sheds a few mid-hot symbols, where waiting for
      // room would instead move the source's whole cold tail, one pin per symbol.
      const after = sourceRatio - rate / sourceFair;
      if (toRatio <= layout.limit(to) + tolerance || (toRatio <= after && after >= layout.limit(source))) {
        if (layout.move(symbol, to)) {
          moved = true;
          break;
        }
        continue;
      }
      // Fits nowhere: remember the move that lowers the pair's maximum the most.
      const worst = Math.max(sourceRatio - rate / sourceFair, toRatio);
      if (worst < sourceRatio && (fallback === undefined || worst < fallback.worst)) {
        fallback = { symbol, to, worst };
      }
    }
    if (!moved && !(fallback !== undefined && layout.move(fallback.symbol, fallback.to))) stuck.add(source);
  }
}

function plan(ctx: Context, start: ReadonlyMap<string, string>, kept: boolean): Layout {
  const layout = new Layout(ctx, start);
  dedicate(ctx, layout);
  if (kept) releaseIdlePins(ctx, layout);
  spread(ctx, layout, kept ? ctx.options.hysteresis : 0);
  return layout;
}

/**
 * Plans the pins for `rates` (trades/s per symbol; symbols absent count as idle) over the active
 * `members`, given where the ring alone places each symbol of the universe.
 */
export function planHotPins(
  rates: ReadonlyMap<string, number>,
  members: readonly RingMember[],
  ring: RingPlacement,
  options: Partial<HotPinOptions> = {},
): HotPinPlan {
  const opts: HotPinOptions = { ...DEFAULT_HOT_PIN_OPTIONS, ...options };
  checkOptions(opts);
  const active = members.filter((m) => m.draining !== true);
  const workers = active.map((m) => m.id).sort(byName);
  const weight = new Map(active.map((m) => [m.id, m.weight]));
  const live = new Set(workers);

  const universe: string[] = [];
  const ringOwner = new Map<string, string>();
  for (const symbol of ring.symbols()) {
    const owner = ring.ownerOf(symbol);
    if (owner === undefined || !live.has(owner) || ringOwner.has(symbol)) continue;
    ringOwner.set(symbol, owner);
    universe.push(symbol);
  }
  universe.sort(byName);
  const rate = new Map<string, number>();
  let total = 0;
  for (const symbol of universe) {
    const r = rates.get(symbol) ?? 0;
    const clean = Number.isFinite(r) && r > 0 ? r : 0;
    rate.set(symbol, clean);
    total += clean;
  }
  const current = new Map(ringOwner);
  for (const symbol of universe) {
    const pinned = opts.currentPins[symbol];
    if (pinned !== undefined && live.has(pinned)) current.set(symbol, pinned);
  }
  const weights = workers.reduce((sum, w) => sum + (weight.get(w) ?? 1), 0);
  const fair = new Map(workers.map((w) => [w, (total * (weight.get(w) ?? 1)) / weights]));
  const hot = universe
    .filter((s) => (rate.get(s) ?? 0) > 0)
    .sort((a, b) => (rate.get(b) ?? 0) - (rate.get(a) ?? 0) || byName(a, b));
  const ctx: Context = { options: opts, hot, rate, universe, ring: ringOwner, current, workers, fair, total };

  const ringLayout = new Layout(ctx, ringOwner);
  const currentLayout = new Layout(ctx, current);
  const biggest = Math.max(0, ...fair.values());
  const hottest = rate.get(hot[0] ?? '') ?? 0;
  const bestPossible = Math.max(opts.target, biggest > 0 ? hottest / biggest : 0);

  let chosen = currentLayout;
  let basis: HotPinPlan['basis'] = 'kept';
  if (total > 0 && workers.length > 1) {
    const keptLayout = plan(ctx, current, true);
    const freshLayout = plan(ctx, ringOwner, false);
    const fits = (l: Layout): boolean => l.pinCount <= opts.maxPins && l.moveCount <= opts.maxMoves;
    const better = keptLayout.maxRatio() - freshLayout.maxRatio() > opts.hysteresis;
    [chosen, basis] =
      fits(freshLayout) && (better || !fits(keptLayout)) ? [freshLayout, 'fresh'] : [keptLayout, 'kept'];
  }

  const pins: Record<string, string> = {};
  const pin: [string, string][] = [];
  let moved = 0;
  let movedRate = 0;
  for (const symbol of universe) {
    const owner = chosen.owner.get(symbol) ?? '';
    if (owner !== ringOwner.get(symbol)) {
      pins[symbol] = owner;
      if (opts.currentPins[symbol] !== owner) pin.push([symbol, owner]);
    }
    if (owner !== current.get(symbol)) {
      moved++;
      movedRate += rate.get(symbol) ?? 0;
    }
  }
  const unpin = Object.keys(opts.currentPins)
    .filter((s) => pins[s] === undefined)
    .sort(byName);
  return {
    pins,
    pin,
    unpin,
    movedSymbols: moved,
    movedRateShare: total > 0 ? movedRate / total : 0,
    ringMaxOverMean: ringLayout.maxRatio(),
    currentMaxOverMean: currentLayout.maxRatio(),
    predictedMaxOverMean: chosen.maxRatio(),
    bestPossible,
    dedicated: ctx.hot.filter((s) => chosen.dedicated.has(s)),
    basis,
    capped: chosen.capped,
  };
}

/**
 * Parses a rate snapshot as an operator writes or exports it: a JSON object of symbol → trades/s,
 * either bare or under `rates` (room for a version and a time beside it). Rates must be finite and
 * not negative; anything else is a clear error rather than a silently skewed plan.
 */
export function parseRatesSnapshot(text: string): Map<string, number> {
  const fail = (detail: string): TickringError =>
    new TickringError('TICKRING_ERR_CONFIG', `rates snapshot: ${detail}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw fail('not JSON');
  }
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(value)) throw fail('not a JSON object');
  const table = isObject(value['rates']) ? value['rates'] : value;
  const rates = new Map<string, number>();
  for (const [symbol, rate] of Object.entries(table)) {
    if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0) {
      throw fail(`${symbol.slice(0, 40)} has rate ${JSON.stringify(rate)}; rates are numbers >= 0`);
    }
    rates.set(symbol, rate);
  }
  return rates;
}
