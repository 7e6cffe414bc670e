/**
 * Which parts of an aggregate a trade may update, from its sale conditions. The US equity SIPs publish,
 * per condition, whether a print updates the consolidated volume, high/low and last (open/close); an
 * odd lot counts in volume but must not set the high, the low or the last price. The table itself is
 * data (`condition-rules.json`, with its sources); this module turns it into bit masks once, so the
 * per-trade check is a few Map reads and no allocation.
 */
import { TickringError } from '../errors.js';
import defaults from './condition-rules.json' with { type: 'json' };

export interface ConditionEligibility {
  /** Counts in volume, notional (so VWAP) and the trade count. */
  readonly volume: boolean;
  readonly highLow: boolean;
  /** May set the open (first trade) and close (latest trade) of a session or bar. */
  readonly openClose: boolean;
  /** May become the symbol's last trade. */
  readonly last: boolean;
}

/** Per code, the fields to change from the default row (or from the unknown-condition rule). */
export type ConditionOverrides = Readonly<Record<string, Partial<ConditionEligibility>>>;

export const UPDATES_VOLUME = 1;
export const UPDATES_HIGH_LOW = 2;
export const UPDATES_OPEN_CLOSE = 4;
export const UPDATES_LAST = 8;
export const UPDATES_ALL = 15;
/** An unknown condition may be a real trade, so it counts in volume, but its price is not trusted. */
export const UPDATES_UNKNOWN = UPDATES_VOLUME;

const FIELDS = ['volume', 'highLow', 'openClose', 'last'] as const;
const BITS = [UPDATES_VOLUME, UPDATES_HIGH_LOW, UPDATES_OPEN_CLOSE, UPDATES_LAST] as const;

export function toMask(rule: ConditionEligibility): number {
  let mask = 0;
  FIELDS.forEach((field, i) => {
    if (rule[field]) mask |= BITS[i] ?? 0;
  });
  return mask;
}

export function fromMask(mask: number): ConditionEligibility {
  return {
    volume: (mask & UPDATES_VOLUME) !== 0,
    highLow: (mask & UPDATES_HIGH_LOW) !== 0,
    openClose: (mask & UPDATES_OPEN_CLOSE) !== 0,
    last: (mask & UPDATES_LAST) !== 0,
  };
}

export class ConditionRules {
  /**
   * The frozen conditions array `mask` answered last, and its answer. Decoders share one frozen array
   * per combination of codes (`polygon-scan.ts`), so trade after trade asks about the same array; a
   * frozen one cannot have changed since.
   */
  private lastConditions: readonly string[] | undefined = undefined;
  private lastMask = UPDATES_ALL;

  /**
   * @param provider the feed whose codes these are (for messages and snapshots)
   * @param table code → mask; `null` ignores conditions altogether (crypto venues have none)
   */
  constructor(
    readonly provider: string,
    private readonly table: ReadonlyMap<string, number> | null,
  ) {}

  /**
   * What a trade with these conditions updates, as `UPDATES_*` bits. The per-trade path: an indexed
   * loop, since `for...of` over a frozen array allocates an iterator and its results per trade.
   */
  mask(conditions: readonly string[]): number {
    if (conditions === this.lastConditions) return this.lastMask;
    const table = this.table;
    if (table === null || conditions.length === 0) return UPDATES_ALL;
    let mask = UPDATES_ALL;
    for (let i = 0; i < conditions.length; i++) mask &= table.get(conditions[i] as string) ?? UPDATES_UNKNOWN;
    if (Object.isFrozen(conditions)) {
      this.lastConditions = conditions;
      this.lastMask = mask;
    }
    return mask;
  }

  eligibility(conditions: readonly string[]): ConditionEligibility {
    return fromMask(this.mask(conditions));
  }

  /** The effective table, for documentation and the HTTP API; `null` when conditions are ignored. */
  describe(): Record<string, ConditionEligibility> | null {
    if (this.table === null) return null;
    const out: Record<string, ConditionEligibility> = {};
    for (const [code, mask] of this.table) out[code] = fromMask(mask);
    return out;
  }
}

type RuleTable = ReadonlyMap<string, number>;

/** Reads the bundled JSON once, checking it as strictly as any other input. */
function loadDefaults(): { tables: Map<string, RuleTable>; providers: Map<string, string | null> } {
  const rules = new Map<string, number>();
  for (const [name, rule] of Object.entries(defaults.rules)) rules.set(name, toMask(rule));
  const tables = new Map<string, RuleTable>();
  for (const [tableName, rows] of Object.entries(defaults.tables)) {
    const table = new Map<string, number>();
    for (const [code, row] of Object.entries(rows)) {
      const mask = rules.get(row.rule);
      if (mask === undefined)
        throw new Error(`condition-rules.json: ${tableName}.${code} names unknown rule`);
      table.set(code, mask);
    }
    tables.set(tableName, table);
  }
  const providers = new Map<string, string | null>();
  for (const [provider, tableName] of Object.entries(defaults.providers)) {
    if (tableName !== null && !tables.has(tableName)) {
      throw new Error(`condition-rules.json: provider ${provider} names unknown table ${tableName}`);
    }
    providers.set(provider, tableName);
  }
  return { tables, providers };
}

const DEFAULTS = loadDefaults();
const EMPTY_TABLE: RuleTable = new Map();
const cache = new Map<string, ConditionRules>();

/** Providers with a condition table, and those (crypto) whose trades update everything. */
export const CONDITION_PROVIDERS: readonly string[] = [...DEFAULTS.providers.keys()];

/** The bundled table for a provider: `null` for one that ignores conditions, empty for an unknown one. */
function defaultTable(provider: string): RuleTable | null {
  const tableName = DEFAULTS.providers.get(provider);
  if (tableName === undefined) return EMPTY_TABLE;
  if (tableName === null) return null;
  return DEFAULTS.tables.get(tableName) ?? EMPTY_TABLE;
}

function checkOverrides(provider: string, overrides: ConditionOverrides): void {
  for (const [code, row] of Object.entries(overrides)) {
    if (typeof row !== 'object' || Array.isArray(row)) {
      throw new TickringError(
        'TICKRING_ERR_CONFIG',
        `conditionOverrides.${provider}["${code}"] must be an object of booleans`,
      );
    }
    for (const [field, value] of Object.entries(row)) {
      if (!(FIELDS as readonly string[]).includes(field) || typeof value !== 'boolean') {
        throw new TickringError(
          'TICKRING_ERR_CONFIG',
          `conditionOverrides.${provider}["${code}"].${field} must be one of ${FIELDS.join(', ')} with a boolean value`,
        );
      }
    }
  }
}

/**
 * The rules for one provider: the bundled table with `overrides` merged over it row by row. Rules
 * without overrides are shared (one instance per provider). An unknown provider gets an empty table:
 * trades without conditions update everything, any condition is treated as unknown. Overrides for a
 * provider that ignores conditions (crypto) give it a table made of the overrides alone.
 */
export function conditionRulesFor(provider: string, overrides?: ConditionOverrides): ConditionRules {
  const hasOverrides = overrides !== undefined && Object.keys(overrides).length > 0;
  if (!hasOverrides) {
    let rules = cache.get(provider);
    if (rules === undefined) {
      rules = new ConditionRules(provider, defaultTable(provider));
      cache.set(provider, rules);
    }
    return rules;
  }
  checkOverrides(provider, overrides);
  const table = new Map(defaultTable(provider) ?? EMPTY_TABLE);
  for (const [code, row] of Object.entries(overrides)) {
    const base = fromMask(table.get(code) ?? UPDATES_UNKNOWN);
    table.set(code, toMask({ ...base, ...row }));
  }
  return new ConditionRules(provider, table);
}
