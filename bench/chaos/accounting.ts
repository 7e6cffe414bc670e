/**
 * The end-of-run comparison: every symbol's trade count and volume as the cluster holds them against
 * what the simulator sent. Pure: the harness gathers the numbers, this adds them up.
 *
 * Per symbol: expected = sent - forgotten (what the last Redis restart erased: Redis is the only
 * copy of checkpoints, and the chaos Redis keeps nothing on disk, so a restart starts every aggregate
 * again from zero by design), lost = max(0, expected - aggregated), duplicated = max(0, aggregated -
 * expected). Volumes are compared as exact decimals (fixed units of `volumeDecimals` places).
 * Each symbol's error is attributed to the worst kind of event that touched it since the last Redis
 * restart: a Redis restart, then a SIGKILL, then a SIGSTOP, then a planned change, else none.
 */

export const ATTRIBUTION_CLASSES = ['redis-restart', 'kill', 'stop', 'planned', 'none'] as const;
export type AttributionClass = (typeof ATTRIBUTION_CLASSES)[number];

export interface Totals {
  readonly trades: number;
  readonly volume: number;
}

export interface AccountInput {
  readonly symbols: readonly string[];
  /** What the simulator sent (after cancels and corrections), per symbol. */
  readonly sent: ReadonlyMap<string, Totals>;
  /** What the cluster answered, per symbol; a missing symbol went unanswered. */
  readonly aggregated: ReadonlyMap<string, Totals>;
  /** Sent before the last Redis restart, per symbol (erased by it). */
  readonly forgotten: ReadonlyMap<string, Totals>;
  /** Kinds of event that touched each symbol since the last Redis restart. */
  readonly touched: ReadonlyMap<string, ReadonlySet<AttributionClass>>;
  /** Planned hand-overs of each symbol since the last Redis restart. */
  readonly handovers: ReadonlyMap<string, number>;
  readonly volumeDecimals: number;
}

export interface ClassAccount {
  symbols: number;
  symbolsWithLoss: number;
  symbolsWithDuplicates: number;
  lost: number;
  duplicated: number;
}

export interface Account {
  readonly symbols: number;
  readonly sent: number;
  readonly forgotten: number;
  /** sent - forgotten, over answered symbols. */
  readonly expected: number;
  readonly aggregated: number;
  readonly lost: number;
  readonly duplicated: number;
  /** Decimal strings. */
  readonly volumeExpected: string;
  readonly volumeAggregated: string;
  readonly volumeLost: string;
  readonly volumeDuplicated: string;
  readonly symbolsWithLoss: number;
  readonly symbolsWithDuplicates: number;
  /** Symbols whose trade count matched but whose volume did not. */
  readonly volumeOnlyMismatches: number;
  readonly unanswered: readonly string[];
  readonly byClass: Readonly<Record<AttributionClass, ClassAccount>>;
  /** The symbols with the largest errors (for the reader to look at). */
  readonly worst: readonly { symbol: string; expected: number; aggregated: number; touched: string }[];
}

/** Fixed-point units of a decimal (`12.5`, 2 places → 1250n). */
export function toUnits(value: number, decimals: number): bigint {
  const text = value.toFixed(decimals);
  const negative = text.startsWith('-');
  const digits = text.replace('-', '').replace('.', '');
  return negative ? -BigInt(digits) : BigInt(digits);
}

export function fromUnits(units: bigint, decimals: number): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(decimals + 1, '0');
  const whole = decimals === 0 ? digits : digits.slice(0, -decimals);
  const fraction = decimals === 0 ? '' : `.${digits.slice(-decimals)}`.replace(/\.?0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction}`;
}

export function worstClass(touched: ReadonlySet<AttributionClass> | undefined): AttributionClass {
  for (const kind of ATTRIBUTION_CLASSES) if (touched?.has(kind)) return kind;
  return 'none';
}

export function account(input: AccountInput): Account {
  const d = input.volumeDecimals;
  const byClass = Object.fromEntries(
    ATTRIBUTION_CLASSES.map((c) => [
      c,
      { symbols: 0, symbolsWithLoss: 0, symbolsWithDuplicates: 0, lost: 0, duplicated: 0 },
    ]),
  ) as Record<AttributionClass, ClassAccount>;
  let sent = 0;
  let forgotten = 0;
  let expected = 0;
  let aggregated = 0;
  let lost = 0;
  let duplicated = 0;
  let volumeExpected = 0n;
  let volumeAggregated = 0n;
  let volumeLost = 0n;
  let volumeDuplicated = 0n;
  let symbolsWithLoss = 0;
  let symbolsWithDuplicates = 0;
  let volumeOnlyMismatches = 0;
  const unanswered: string[] = [];
  const errors: { symbol: string; expected: number; aggregated: number; touched: string; error: number }[] =
    [];
  for (const symbol of input.symbols) {
    const truth = input.sent.get(symbol) ?? { trades: 0, volume: 0 };
    const erased = input.forgotten.get(symbol) ?? { trades: 0, volume: 0 };
    sent += truth.trades;
    forgotten += erased.trades;
    const held = input.aggregated.get(symbol);
    if (!held) {
      unanswered.push(symbol);
      continue;
    }
    const want = truth.trades - erased.trades;
    const wantVolume = toUnits(truth.volume, d) - toUnits(erased.volume, d);
    const heldVolume = toUnits(held.volume, d);
    expected += want;
    aggregated += held.trades;
    volumeExpected += wantVolume;
    volumeAggregated += heldVolume;
    const symbolLost = Math.max(0, want - held.trades);
    const symbolDuplicated = Math.max(0, held.trades - want);
    lost += symbolLost;
    duplicated += symbolDuplicated;
    if (wantVolume > heldVolume) volumeLost += wantVolume - heldVolume;
    else volumeDuplicated += heldVolume - wantVolume;
    if (symbolLost > 0) symbolsWithLoss++;
    if (symbolDuplicated > 0) symbolsWithDuplicates++;
    if (symbolLost === 0 && symbolDuplicated === 0 && wantVolume !== heldVolume) volumeOnlyMismatches++;
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
        aggregated: held.trades,
        touched: [...(touched ?? [])].join('+') || 'none',
        error: symbolLost + symbolDuplicated,
      });
  }
  errors.sort((a, b) => b.error - a.error);
  return {
    symbols: input.symbols.length,
    sent,
    forgotten,
    expected,
    aggregated,
    lost,
    duplicated,
    volumeExpected: fromUnits(volumeExpected, d),
    volumeAggregated: fromUnits(volumeAggregated, d),
    volumeLost: fromUnits(volumeLost, d),
    volumeDuplicated: fromUnits(volumeDuplicated, d),
    symbolsWithLoss,
    symbolsWithDuplicates,
    volumeOnlyMismatches,
    unanswered,
    byClass,
    worst: errors.slice(0, 5).map(({ error: _error, ...rest }) => rest),
  };
}

/**
 * The bound a provider without trade ids (Finnhub) is held to: each planned hand-over of a symbol may
 * count twice, or miss, the trades its two owners saw while they acted on the new epoch apart, a
 * window of `windowMs`. Bound = sum over symbols of hand-overs x the symbol's trade rate x window.
 * `rates` are each symbol's trades per second over the run.
 */
export function overlapBound(
  handovers: ReadonlyMap<string, number>,
  rates: ReadonlyMap<string, number>,
  windowMs: number,
): number {
  let bound = 0;
  for (const [symbol, count] of handovers) bound += count * (rates.get(symbol) ?? 0) * (windowMs / 1000);
  return bound;
}
