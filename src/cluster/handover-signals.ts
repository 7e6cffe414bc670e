/**
 * The new owner's side of a planned hand-over, told to the old owner through Redis: "at epoch E I
 * am subscribed to this symbol (the provider confirmed it), and the first trade I buffered is F".
 * The old owner keeps applying the symbol until its own stream has passed F, so every trade is in at
 * least one of the two aggregates; the new owner then skips what the old one applied.
 *
 * Signals are advisory, never fenced: a stale one (older epoch) is ignored, and a missing one only
 * makes the old owner wait for its hand-over timeout.
 *
 * Each new owner writes its own hash (`handoverKey`), and an old owner reads the one of the new
 * owner it hands over to. In one hash per cluster, a later epoch's owner of the same symbol
 * overwrote the signal of the owner the old one was handing over to at an earlier epoch, and the
 * old owner took the later owner's stream for its new owner's: where the later owner had subscribed
 * first, the old owner stopped before the trades its real new owner had not received yet.
 */
import type { RedisClient as Redis } from '../redis/client.js';
import { handoverKey, type ClusterKeys } from '../redis/keys.js';
import { parseStreamPosition, type StreamPosition } from '../ingest/stream-position.js';

export interface HandoverSignal {
  readonly epoch: number;
  /**
   * First trade the new owner buffered (with its `identity` where the feed de-duplicates field by
   * field); `undefined` while it has buffered none.
   */
  readonly first: StreamPosition | undefined;
  /**
   * How long the provider had confirmed the new owner's subscription when it wrote this (ms);
   * absent from signals of earlier versions, which counts as 0. A symbol quiet in the old owner's
   * stream can be handed over once the subscription has been confirmed for the quiet window, not
   * only after the old owner watched it that long (see `Worker.handOver`).
   */
  readonly confirmedForMs?: number;
}

/**
 * `{"epoch":E,"first":position or null,"confirmedForMs":ms}`. JSON because the first trade's
 * identity fields may hold any text; the earlier `epoch|seq|timeMs|key` form is still read
 * (`decodeLegacy`), though workers of that version read this one as unreadable (their hand-overs end
 * at the timeout): upgrade a cluster's workers together.
 */
export function encodeHandoverSignal(signal: HandoverSignal): string {
  const { epoch, first, confirmedForMs } = signal;
  return JSON.stringify({
    epoch,
    first: first ?? null,
    ...(confirmedForMs === undefined ? {} : { confirmedForMs: Math.floor(confirmedForMs) }),
  });
}

export function decodeHandoverSignal(raw: string): HandoverSignal | undefined {
  if (!raw.startsWith('{')) return decodeLegacy(raw);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { epoch, first, confirmedForMs } = value as Record<string, unknown>;
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch)) return undefined;
  // A malformed age only costs speed: the old owner then watches the quiet window itself.
  const age =
    typeof confirmedForMs === 'number' && Number.isFinite(confirmedForMs) && confirmedForMs > 0
      ? { confirmedForMs }
      : {};
  if (first === null) return { epoch, first: undefined, ...age };
  const position = parseStreamPosition(first);
  return position === undefined ? undefined : { epoch, first: position, ...age };
}

/** `epoch|seq|timeMs|key`, as written before signals carried identities; the key may contain `|`. */
function decodeLegacy(raw: string): HandoverSignal | undefined {
  const parts = raw.split('|');
  if (parts.length < 4) return undefined;
  const epoch = Number(parts[0]);
  if (!Number.isSafeInteger(epoch)) return undefined;
  if (parts[2] === '') return { epoch, first: undefined };
  const timeMs = Number(parts[2]);
  const seq = parts[1] === '' ? null : Number(parts[1]);
  if (!Number.isFinite(timeMs) || (seq !== null && !Number.isFinite(seq))) return undefined;
  return { epoch, first: { key: parts.slice(3).join('|'), seq, timeMs, atTime: 1 } };
}

/**
 * How long a new owner's signals outlive its last announcement (ms). A hand-over reads them for
 * seconds at most; the expiry removes the hashes of workers that are gone.
 */
const SIGNALS_TTL_MS = 10 * 60_000;

export class HandoverSignals {
  /** Redis commands issued, for the cost figures. */
  commands = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keys: ClusterKeys,
    private readonly workerId: string,
  ) {}

  /** Announces, for each symbol, that this worker owns it at `epoch` and what it buffered first. */
  async announce(epoch: number, entries: ReadonlyMap<string, Omit<HandoverSignal, 'epoch'>>): Promise<void> {
    if (entries.size === 0) return;
    const args: string[] = [];
    for (const [symbol, signal] of entries) args.push(symbol, encodeHandoverSignal({ ...signal, epoch }));
    const key = handoverKey(this.keys, this.workerId);
    this.commands += 2;
    await Promise.all([this.redis.hset(key, ...args), this.redis.pexpire(key, SIGNALS_TTL_MS)]);
  }

  /**
   * Tells the new owners that this worker stands in, at `epoch`, for the previous owner of each
   * symbol (see `Standbys.standInsAt`), so they wait for its final checkpoint.
   */
  async announceStandIns(epoch: number, symbols: readonly string[]): Promise<void> {
    if (symbols.length === 0) return;
    this.commands++;
    await this.redis.hset(this.keys.standIns, ...symbols.flatMap((symbol) => [symbol, String(epoch)]));
  }

  /**
   * The symbols of `symbols` that a standby stands in for at `epoch` (or the symbol's own,
   * `sinceOf`), or later.
   */
  async standingIn(
    epoch: number,
    symbols: readonly string[],
    sinceOf: (symbol: string) => number = () => epoch,
  ): Promise<Set<string>> {
    if (symbols.length === 0) return new Set();
    this.commands++;
    const epochs = await this.redis.hmget(this.keys.standIns, ...symbols);
    return new Set(symbols.filter((symbol, i) => Number(epochs[i] ?? 0) >= sinceOf(symbol)));
  }

  /**
   * The signals for `symbols`, in order, each as written by its new owner (`newOwnerOf`);
   * `undefined` where none (or unreadable, or no new owner).
   */
  async read(
    symbols: readonly string[],
    newOwnerOf: (symbol: string) => string | undefined,
  ): Promise<(HandoverSignal | undefined)[]> {
    const byOwner = new Map<string, number[]>();
    symbols.forEach((symbol, i) => {
      const owner = newOwnerOf(symbol);
      if (owner === undefined) return;
      const at = byOwner.get(owner);
      if (at === undefined) byOwner.set(owner, [i]);
      else at.push(i);
    });
    const signals: (HandoverSignal | undefined)[] = symbols.map(() => undefined);
    this.commands += byOwner.size;
    await Promise.all(
      [...byOwner].map(async ([owner, at]) => {
        const raws = await this.redis.hmget(
          handoverKey(this.keys, owner),
          ...at.map((i) => symbols[i] ?? ''),
        );
        raws.forEach((raw, j) => {
          if (raw !== null) signals[at[j] ?? 0] = decodeHandoverSignal(raw);
        });
      }),
    );
    return signals;
  }
}
