/**
 * The comparison of the cluster's aggregates with what the simulator sent. Pure: the harness
 * gathers the numbers, this adds them up.
 *
 * A run is cut into segments at each Redis restart (the harness pauses the simulator, lets the
 * workers drain, and reads every symbol both before Redis is killed and once the cluster has
 * recovered), so each loss is counted in the segment where it happened. Per symbol and segment:
 * expected = sent now - sent at the segment's start, held = aggregated now - aggregated at the
 * segment's start (0 after a Redis restart: the chaos Redis keeps nothing on disk, so a restart
 * starts every aggregate again from zero by design), lost = max(0, expected - held), duplicated =
 * max(0, held - expected). Volumes are compared as exact decimals (integers of `volumeDecimals`
 * places). Each symbol's error in a segment is attributed to the worst kind of event that touched the
 * symbol in it: a Redis restart, then a failure of both its owner and its standby at once (with
 * `--replicas 2`), then a SIGKILL, then a SIGSTOP, then a planned change, else none.
 */

export const ATTRIBUTION_CLASSES = [
  'redis-restart',
  'every-copy-down',
  'kill',
  'stop',
  'planned',
  'none',
] as const;
export type AttributionClass = (typeof ATTRIBUTION_CLASSES)[number];

export interface Totals {
  readonly trades: number;
  readonly volume: number;
}

export interface SegmentInput {
  readonly symbols: readonly string[];
  /** What the simulator has sent (after cancels and corrections), per symbol, now and at the start. */
  readonly sent: ReadonlyMap<string, Totals>;
  readonly sentBefore: ReadonlyMap<string, Totals>;
  /** What the cluster holds now, per symbol (missing: unanswered), and held at the segment's start. */
  readonly held: ReadonlyMap<string, Totals>;
  readonly heldBefore: ReadonlyMap<string, Totals>;
  /** Kinds of event that touched each symbol in the segment. */
  readonly touched: ReadonlyMap<string, ReadonlySet<AttributionClass>>;
  readonly volumeDecimals: number;
  /**
   * For the segment of a Redis restart (`heldBefore` empty): what the cluster held when Redis was
   * killed. A symbol holding more than the segment sent kept that state across the restart (its
   * owner was never fenced, or reloaded it), so it is compared from there instead of from zero.
   */
  readonly heldAtKill?: ReadonlyMap<string, Totals>;
}

export interface ClassAccount {
  symbols: number;
  symbolsWithLoss: number;
  symbolsWithDuplicates: number;
  lost: number;
  duplicated: number;
}

export interface SymbolError {
  readonly symbol: string;
  readonly expected: number;
  readonly held: number;
  readonly touched: string;
}

export interface Account {
  readonly segments: number;
  readonly expected: number;
  readonly aggregated: number;
  readonly lost: number;
  readonly duplicated: number;
  /** Volumes in integer units of `volumeDecimals` places (see `fromUnits`). */
  readonly volumeDecimals: number;
  readonly volumeExpected: bigint;
  readonly volumeAggregated: bigint;
  readonly volumeLost: bigint;
  readonly volumeDuplicated: bigint;
  /** Distinct symbols with a loss (or duplicates) in any segment. */
  readonly symbolsWithLoss: readonly string[];
  readonly symbolsWithDuplicates: readonly string[];
  /** Symbol-segments whose trade count matched but whose volume did not. */
  readonly volumeOnlyMismatches: number;
  /** Symbols whose aggregate survived a Redis restart (see `SegmentInput.heldAtKill`). */
  readonly carriedAcrossRestart: number;
  /** Symbols no owner answered for at some segment's end (left out from then on). */
  readonly unanswered: readonly string[];
  /** Counted once per symbol and segment. */
  readonly byClass: Readonly<Record<AttributionClass, ClassAccount>>;
  /** Every symbol's error in each segment, largest first. */
  readonly worst: readonly SymbolError[];
}

/** Fixed-point units of a decimal (`12.5`, 2 places → 1250n). */
export function toUnits(value: number, decimals: number): bigint {
  const text = value.toFixed(decimals);
  const negative = text.startsWith('-');
  const digits = text.replace('-', '').replace('.', '');
  return negative ? -BigInt(digits) : BigInt(digits);
}

/** The decimal string of fixed-point units, without trailing zeros. */
export function fromUnits(units: bigint, decimals: number): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(decimals + 1, '0');
  if (decimals === 0) return `${negative ? '-' : ''}${digits}`;
  const fraction = digits.slice(-decimals).replace(/0+$/, '');
  return `${negative ? '-' : ''}${digits.slice(0, -decimals)}${fraction ? `.${fraction}` : ''}`;
}

export function worstClass(touched: ReadonlySet<AttributionClass> | undefined): AttributionClass {
  for (const kind of ATTRIBUTION_CLASSES) if (touched?.has(kind)) return kind;
  return 'none';
}

function emptyClasses(): Record<AttributionClass, ClassAccount> {
  return Object.fromEntries(
    ATTRIBUTION_CLASSES.map((c) => [
      c,
      { symbols: 0, symbolsWithLoss: 0, symbolsWithDuplicates: 0, lost: 0, duplicated: 0 },
    ]),
  ) as Record<AttributionClass, ClassAccount>;
}

const ZERO: Totals = { trades: 0, volume: 0 };

export function accountSegment(input: SegmentInput): Account {
  const d = input.volumeDecimals;
  const byClass = emptyClasses();
  let expected = 0;
  let aggregated = 0;
  let lost = 0;
  let duplicated = 0;
  let volumeExpected = 0n;
  let volumeAggregated = 0n;
  let volumeLost = 0n;
  let volumeDuplicated = 0n;
  let volumeOnlyMismatches = 0;
  let carriedAcrossRestart = 0;
  const symbolsWithLoss: string[] = [];
  const symbolsWithDuplicates: string[] = [];
  const unanswered: string[] = [];
  const errors: (SymbolError & { error: number })[] = [];
  for (const symbol of input.symbols) {
    const now = input.held.get(symbol);
    if (!now) {
      unanswered.push(symbol);
      continue;
    }
    const sent = input.sent.get(symbol) ?? ZERO;
    const sentBefore = input.sentBefore.get(symbol) ?? ZERO;
    const want = sent.trades - sentBefore.trades;
    let before = input.heldBefore.get(symbol) ?? ZERO;
    const atKill = input.heldAtKill?.get(symbol);
    if (atKill && atKill.trades > 0 && now.trades - before.trades > want) {
      before = atKill;
      carriedAcrossRestart++;
    }
    const got = now.trades - before.trades;
    const wantVolume = toUnits(sent.volume, d) - toUnits(sentBefore.volume, d);
    const gotVolume = toUnits(now.volume, d) - toUnits(before.volume, d);
    expected += want;
    aggregated += got;
    volumeExpected += wantVolume;
    volumeAggregated += gotVolume;
    const symbolLost = Math.max(0, want - got);
    const symbolDuplicated = Math.max(0, got - want);
    lost += symbolLost;
    duplicated += symbolDuplicated;
    if (wantVolume > gotVolume) volumeLost += wantVolume - gotVolume;
    else volumeDuplicated += gotVolume - wantVolume;
    if (symbolLost > 0) symbolsWithLoss.push(symbol);
    if (symbolDuplicated > 0) symbolsWithDuplicates.push(symbol);
    if (symbolLost === 0 && symbolDuplicated === 0 && wantVolume !== gotVolume) volumeOnlyMismatches++;
    const touched = input.touched.get(symbol);
    const cls = byClass[worstClass(touched)];
    cls.symbols++;
    cls.lost += symbolLost;
    cls.duplicated += symbolDuplicated;
    if (symbolLost > 0) cls.symbolsWithLoss++;
    if (symbolDuplicated > 0) cls.symbolsWithDuplicates++;
    if (symbolLost + symbolDuplicated > 0)
      errors.push({
        symbol,
        expected: want,
        held: got,
        touched: [...(touched ?? [])].sort().join('+') || 'none',
        error: symbolLost + symbolDuplicated,
      });
  }
  errors.sort((a, b) => b.error - a.error);
  return {
    segments: 1,
    expected,
    aggregated,
    lost,
    duplicated,
    volumeDecimals: d,
    volumeExpected,
    volumeAggregated,
    volumeLost,
    volumeDuplicated,
    symbolsWithLoss,
    symbolsWithDuplicates,
    volumeOnlyMismatches,
    carriedAcrossRestart,
    unanswered,
    byClass,
    worst: errors.map(({ error: _error, ...rest }) => rest),
  };
}

/** The segments of one run added up. */
export function mergeAccounts(accounts: readonly Account[]): Account {
  const byClass = emptyClasses();
  for (const a of accounts)
    for (const c of ATTRIBUTION_CLASSES) {
      const into = byClass[c];
      const from = a.byClass[c];
      into.symbols += from.symbols;
      into.symbolsWithLoss += from.symbolsWithLoss;
      into.symbolsWithDuplicates += from.symbolsWithDuplicates;
      into.lost += from.lost;
      into.duplicated += from.duplicated;
    }
  const sum = (f: (a: Account) => number): number => accounts.reduce((s, a) => s + f(a), 0);
  const big = (f: (a: Account) => bigint): bigint => accounts.reduce((s, a) => s + f(a), 0n);
  const union = (f: (a: Account) => readonly string[]): string[] => [
    ...new Set(accounts.flatMap((a) => f(a))),
  ];
  const error = (e: SymbolError): number => Math.abs(e.expected - e.held);
  return {
    segments: sum((a) => a.segments),
    expected: sum((a) => a.expected),
    aggregated: sum((a) => a.aggregated),
    lost: sum((a) => a.lost),
    duplicated: sum((a) => a.duplicated),
    volumeDecimals: accounts[0]?.volumeDecimals ?? 0,
    volumeExpected: big((a) => a.volumeExpected),
    volumeAggregated: big((a) => a.volumeAggregated),
    volumeLost: big((a) => a.volumeLost),
    volumeDuplicated: big((a) => a.volumeDuplicated),
    symbolsWithLoss: union((a) => a.symbolsWithLoss),
    symbolsWithDuplicates: union((a) => a.symbolsWithDuplicates),
    volumeOnlyMismatches: sum((a) => a.volumeOnlyMismatches),
    carriedAcrossRestart: sum((a) => a.carriedAcrossRestart),
    unanswered: union((a) => a.unanswered),
    byClass,
    worst: accounts.flatMap((a) => a.worst).sort((x, y) => error(y) - error(x)),
  };
}

/** A planned hand-over as the bound below needs it. */
export interface PlannedMove {
  readonly moved: readonly string[];
}

/**
 * The error a provider without trade ids (Finnhub) is allowed per planned hand-over. Without ids the
 * new owner cannot tell which buffered trades its predecessor already applied, so it replays them
 * all: a symbol's trades that arrived while its two owners acted on the new epoch apart are counted
 * twice (the new owner subscribed first) or by no one (the old owner let go first). That gap is
 * `windowMs` (learning of the epoch: a pub/sub hop, or a poll) plus the subscription pacing: the
 * provider takes `framesPerSecond` frames of one symbol each, so the last of k symbols gained in one
 * change is subscribed k / framesPerSecond seconds later. Bound = sum over planned changes and the
 * symbols they moved of the symbol's trade rate x (windowMs + moved / framesPerSecond). `rates` are
 * trades per second per symbol over the run; the bound is on the expected count, not a hard limit.
 */
export function handoverErrorBound(
  moves: readonly PlannedMove[],
  rates: ReadonlyMap<string, number>,
  windowMs: number,
  framesPerSecond: number,
): number {
  let bound = 0;
  for (const { moved } of moves) {
    const seconds = windowMs / 1000 + moved.length / framesPerSecond;
    for (const symbol of moved) bound += (rates.get(symbol) ?? 0) * seconds;
  }
  return bound;
}
