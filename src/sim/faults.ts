/**
 * The simulator's faults: what each one does, the frames the `malformed` fault sends, and the
 * `--faults` schedule (`name[:count]@period`, e.g. `drop@30s,duplicate:5@2s`).
 *
 * | fault              | effect                                                                      | count        |
 * | ------------------ | --------------------------------------------------------------------------- | ------------ |
 * | `drop`             | terminates every client socket                                              | ignored      |
 * | `silent`           | mutes every open socket: no frames, no pongs, the socket stays open         | ignored      |
 * | `duplicate`        | the next `count` trades are each sent twice, back to back (same frame where the protocol batches) | default 1 |
 * | `malformed`        | sends `count` frames the client must refuse to every authenticated client   | default 1    |
 * | `connection-limit` | tells every open client "connection limit" as the provider does and closes it, then refuses the next `count` attempts | default 0 |
 * | `correction`       | corrects `count` recent trades (providers that send corrections: Alpaca)   | default 1    |
 * | `cancel`           | cancels `count` recent trades (the same providers)                         | default 1    |
 */
import type { SimMarketProfile } from '../../feeds/adapter.js';
import type { Trade } from '../../feeds/trade.js';
import { TickringError } from '../errors.js';

export const FAULT_NAMES = [
  'drop',
  'silent',
  'duplicate',
  'malformed',
  'connection-limit',
  'correction',
  'cancel',
] as const;

export type FaultName = (typeof FAULT_NAMES)[number];

export function isFaultName(name: string): name is FaultName {
  return (FAULT_NAMES as readonly string[]).includes(name);
}

/** Most a fault may be applied at once (frames, trades or refusals). */
export const MAX_FAULT_COUNT = 100_000;

export function defaultFaultCount(fault: FaultName): number {
  return fault === 'connection-limit' ? 0 : 1;
}

/** The kinds of malformed frame, sent in this order, round robin. Each is refused exactly once. */
export const MALFORMED_KINDS = ['invalid-json', 'bad-price', 'bad-size', 'bad-time'] as const;

/**
 * The `n`-th malformed frame's content: either raw text that is not JSON, or a trade the protocol's
 * own encoder turns into a well-formed frame with one invalid field. Built from `base`, a trade of a
 * symbol the client subscribed to, with an id no real trade uses.
 */
export function malformedFrame(
  n: number,
  base: Pick<Trade, 'symbol'>,
  profile: SimMarketProfile,
): { text: string } | { trade: Trade } {
  const kind = MALFORMED_KINDS[n % MALFORMED_KINDS.length] ?? 'invalid-json';
  if (kind === 'invalid-json') return { text: `{"malformed":${n},"cut":` };
  const trade: Trade = {
    symbol: base.symbol,
    price: 10,
    size: 1,
    timeMs: Date.now(),
    timeNanos: 0,
    id: '0',
    seq: 0,
    exchange: profile.exchanges[0] ?? '',
    conditions: [],
    kind: 'trade',
    amendsId: '',
  };
  if (kind === 'bad-price') return { trade: { ...trade, price: -1 } };
  // NaN becomes `null` in JSON and `"NaN"` in decimal text: either way not a size.
  if (kind === 'bad-size') return { trade: { ...trade, size: Number.NaN } };
  return { trade: { ...trade, timeMs: 0 } };
}

export interface FaultSchedule {
  readonly fault: FaultName;
  readonly count: number;
  readonly everyMs: number;
}

const SCHEDULE_ENTRY = /^([a-z-]+)(?::(\d{1,6}))?@(\d{1,9})(ms|s|m)?$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000 };

/**
 * Parses `--faults`: comma-separated `name[:count]@period`, the period in ms or with `ms`, `s` or `m`
 * (`drop@30s,malformed:3@1000`). Every problem is reported at once.
 */
export function parseFaultSchedule(text: string): FaultSchedule[] {
  const schedule: FaultSchedule[] = [];
  const problems: string[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const match = SCHEDULE_ENTRY.exec(entry);
    const [, name = '', count, period = '0', unit = 'ms'] = match ?? [];
    if (!match || !isFaultName(name)) {
      problems.push(
        `"${entry.slice(0, 40)}" is not name[:count]@period with a name among ${FAULT_NAMES.join(', ')}`,
      );
      continue;
    }
    const everyMs = Number(period) * (UNIT_MS[unit] ?? 1);
    const times = count === undefined ? defaultFaultCount(name) : Number(count);
    if (everyMs < 100) problems.push(`"${entry}": the period must be at least 100 ms`);
    else if (times > MAX_FAULT_COUNT)
      problems.push(`"${entry}": the count must be at most ${MAX_FAULT_COUNT}`);
    else schedule.push({ fault: name, count: times, everyMs });
  }
  if (problems.length > 0) {
    throw new TickringError('TICKRING_ERR_CONFIG', `invalid --faults: ${problems.join('; ')}`);
  }
  return schedule;
}
