/**
 * The new owner's side of a planned hand-over, told to the old owner through Redis: "at epoch E I
 * am subscribed to this symbol (the provider confirmed it), and the first trade I buffered is F".
 * The old owner keeps applying the symbol until its own stream has passed F, so every trade is in at
 * least one of the two aggregates; the new owner then skips what the old one applied.
 *
 * Signals are advisory, never fenced: a stale one (older epoch) is ignored, and a missing one only
 * makes the old owner wait for its hand-over timeout.
 *
 * A worker about to join, or about to gain a draining peer's symbols, writes its signals ahead of
 * the epoch that moves them, signed (`by`) and in a hash of their own (`handoverAhead`): its
 * subscriptions are confirmed and buffering already, so the old owner can hand a quiet symbol over
 * at its first look at that epoch instead of waiting for the new owner to act on it too (see
 * `announces`).
 */
import type { RedisClient as Redis } from '../redis/client.js';
import type { ClusterKeys } from '../redis/keys.js';
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
  /**
   * Set on a signal written ahead of its epoch, which the writer guessed (the ring it saw, plus
   * one): the member that expects to own the symbol there, and the process it ran as
   * (`MemberInfo.instance`). Only that member, still the same process, counts as announced by it;
   * another new owner, or the member restarted (its buffers gone with the old process), does not.
   */
  readonly by?: AheadOf;
}

/** Who wrote a signal ahead of its epoch. */
export interface AheadOf {
  readonly id: string;
  readonly instance: string;
}

/**
 * Whether `signal` tells the old owner acting on `epoch` that `newOwner` is subscribed and
 * buffering. A signal of that epoch or later counts; one written ahead of it only when its writer is
 * `newOwner` and still runs as the process the ring knows (`instanceOf`, from the members' info).
 */
export function announces(
  signal: HandoverSignal | undefined,
  epoch: number,
  newOwner: string,
  instanceOf: (id: string) => string | undefined,
): signal is HandoverSignal {
  if (signal === undefined || signal.epoch < epoch) return false;
  const { by } = signal;
  return by === undefined || (by.id === newOwner && by.instance === instanceOf(newOwner));
}

/**
 * `{"epoch":E,"first":position or null,"confirmedForMs":ms}`. JSON because the first trade's
 * identity fields may hold any text; the earlier `epoch|seq|timeMs|key` form is still read
 * (`decodeLegacy`), though workers of that version read this one as unreadable (their hand-overs end
 * at the timeout): upgrade a cluster's workers together.
 */
export function encodeHandoverSignal(signal: HandoverSignal): string {
  const { epoch, first, confirmedForMs, by } = signal;
  return JSON.stringify({
    epoch,
    first: first ?? null,
    ...(confirmedForMs === undefined ? {} : { confirmedForMs: Math.floor(confirmedForMs) }),
    ...(by === undefined ? {} : { by: { id: by.id, instance: by.instance } }),
  });
}

/**
 * `by` as read: absent, or both fields text. Anything else makes the whole signal unreadable, not
 * one without a writer: that would count for any new owner.
 */
function readAheadOf(by: unknown): AheadOf | undefined | null {
  if (by === undefined) return undefined;
  if (typeof by !== 'object' || by === null) return null;
  const { id, instance } = by as Record<string, unknown>;
  return typeof id === 'string' && typeof instance === 'string' ? { id, instance } : null;
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
  const { epoch, first, confirmedForMs, by } = value as Record<string, unknown>;
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch)) return undefined;
  const aheadOf = readAheadOf(by);
  if (aheadOf === null) return undefined;
  const writer = aheadOf === undefined ? {} : { by: aheadOf };
  // A malformed age only costs speed: the old owner then watches the quiet window itself.
  const age =
    typeof confirmedForMs === 'number' && Number.isFinite(confirmedForMs) && confirmedForMs > 0
      ? { confirmedForMs }
      : {};
  if (first === null) return { epoch, first: undefined, ...age, ...writer };
  const position = parseStreamPosition(first);
  return position === undefined ? undefined : { epoch, first: position, ...age, ...writer };
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

export class HandoverSignals {
  /** Redis commands issued, for the cost figures. */
  commands = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keys: ClusterKeys,
  ) {}

  /** Announces, for each symbol, that this worker owns it at `epoch` and what it buffered first. */
  async announce(epoch: number, entries: ReadonlyMap<string, Omit<HandoverSignal, 'epoch'>>): Promise<void> {
    await this.write(this.keys.handover, epoch, entries);
  }

  /** Announces `entries` ahead of `epoch`, the one this worker (`by`) expects to gain them at. */
  async announceAhead(
    epoch: number,
    entries: ReadonlyMap<string, Omit<HandoverSignal, 'epoch'>>,
    by: AheadOf,
  ): Promise<void> {
    const signed = new Map([...entries].map(([symbol, signal]) => [symbol, { ...signal, by }]));
    await this.write(this.keys.handoverAhead, epoch, signed);
  }

  /**
   * Takes back the signals written ahead for `symbols`: their buffers started over, or were dropped,
   * and the first trades named are no longer there.
   */
  async withdrawAhead(symbols: readonly string[]): Promise<void> {
    if (symbols.length === 0) return;
    this.commands++;
    await this.redis.hdel(this.keys.handoverAhead, ...symbols);
  }

  private async write(
    key: string,
    epoch: number,
    entries: ReadonlyMap<string, Omit<HandoverSignal, 'epoch'>>,
  ): Promise<void> {
    if (entries.size === 0) return;
    const args: string[] = [];
    for (const [symbol, signal] of entries) args.push(symbol, encodeHandoverSignal({ ...signal, epoch }));
    this.commands++;
    await this.redis.hset(key, ...args);
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

  /** The signals for `symbols`, in order; `undefined` where none (or unreadable). */
  read(symbols: readonly string[]): Promise<(HandoverSignal | undefined)[]> {
    return this.readFrom(this.keys.handover, symbols);
  }

  /** The signals written ahead for `symbols` (see `announceAhead`), in order; unsigned ones read as none. */
  async readAhead(symbols: readonly string[]): Promise<(HandoverSignal | undefined)[]> {
    const signals = await this.readFrom(this.keys.handoverAhead, symbols);
    return signals.map((signal) => (signal?.by === undefined ? undefined : signal));
  }

  private async readFrom(key: string, symbols: readonly string[]): Promise<(HandoverSignal | undefined)[]> {
    if (symbols.length === 0) return [];
    this.commands++;
    const raws = await this.redis.hmget(key, ...symbols);
    return raws.map((raw) => (raw === null ? undefined : decodeHandoverSignal(raw)));
  }
}
