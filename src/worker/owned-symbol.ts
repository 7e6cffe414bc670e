/**
 * One symbol a worker owns: its aggregate, and where it stands in a hand-over (see `OwnedSymbols`).
 *
 * A symbol that goes live from a checkpoint with nothing buffered to replay may keep the checkpoint
 * and restore its aggregate when first needed (`deferRestore`): a trade, a query, a checkpoint or a
 * hand-over reads `aggregate`, which restores it then; `summary` answers from the checkpoint without
 * it. Restoring (unpacking, checking and rebuilding the kept bars) was about half of a joining
 * worker's CPU while its symbols went live, and a quiet symbol can go live without it: at 8,000
 * symbols and 8 workers, a join went live about 130 ms sooner at the median (`bench/README.md`).
 */
import type { Trade, TradeRecord } from '../../feeds/trade.js';
import { SymbolAggregate, type AggregateOptions, type AggregateSummary } from '../aggregate/index.js';
import { START_OF_STREAM, type StreamPosition } from '../ingest/stream-position.js';

export type OwnedSymbolState = 'loading' | 'live' | 'leaving';

/** An aggregate still held as its checkpoint, restored when first needed. */
export interface DeferredAggregate {
  /** Restores it; `null` where the checkpoint turned out unusable. */
  readonly restore: () => SymbolAggregate | null;
  /**
   * What the listing shows, read from the checkpoint without restoring it (`undefined`: not
   * readable so, and `summary()` restores).
   */
  readonly summary: AggregateSummary | undefined;
}

/**
 * A symbol live from a previous owner's checkpoint whose last trade was not in this worker's buffer
 * (see `OwnedSymbols.goLive`). The two owners read the symbol on different connections, and this
 * one's can run behind: a trade the previous owner applied just before it stopped may still be on
 * its way here. Should it arrive, every trade applied here since going live came before it in the
 * same stream, so the previous owner had applied those too.
 */
export interface LateFinalWatch {
  /** De-duplication key of the previous owner's last trade. */
  readonly key: string;
  readonly from: StreamPosition;
  /** The checkpoint the symbol went live from, restored again should that trade arrive. */
  readonly loaded: DeferredAggregate;
  /** Until when (`performance.now()`) the trade is looked for (`Infinity` while it is awaited loading). */
  readonly until: number;
  /** Trades applied since going live. */
  applied: number;
}

export class OwnedSymbol {
  state: OwnedSymbolState = 'loading';
  buffer: Trade[] = [];
  /**
   * Where the aggregate stood when it went live (the previous owner's position, or the start of the
   * stream): `position` until a trade is applied.
   */
  resumedFrom: StreamPosition = START_OF_STREAM;
  /**
   * Last trade applied since it went live, kept rather than its key: `position` builds the key
   * when a checkpoint or hand-over asks for it, not once per trade. It is `lastCopy`, not the
   * decoder's `Trade`: a kept `Trade` outlives young-generation collections once a worker owns
   * thousands of symbols, and V8 then allocates every `Trade` in the old generation (allocation-site
   * pretenuring), where each one costs a full collection instead of nothing.
   */
  lastApplied: Trade | undefined = undefined;
  /** The storage `lastApplied` points to once a trade was applied, overwritten by every trade. */
  lastCopy: TradeRecord | undefined = undefined;
  timeMs = 0;
  atTime = 0;
  /** Trades applied since the symbol was acquired; tells a quiet symbol from an active one. */
  applied = 0;
  /** `applied` when `sampleQuiet` last ran (-1: not since the symbol was acquired). */
  appliedAtSample = -1;
  /** `applied` when `sampleQuiet` ran the time before (-1: not since the symbol was acquired). */
  appliedAtEarlierSample = -1;
  /**
   * Loading, after the checkpoint arrived: the position the previous owner reached is still ahead
   * in this worker's stream; everything up to it is skipped when it arrives.
   */
  awaiting: StreamPosition | undefined = undefined;
  /** Live: trades with a sequence number up to this were the previous owner's (-1: none). */
  floorSeq = -1;
  /**
   * Live: the previous owner's last trade, looked for in case it arrives here late. Loading, while
   * `awaiting` it: kept for when the wait gives up.
   */
  lateFinal: LateFinalWatch | undefined = undefined;

  private current: SymbolAggregate;
  private restoring: DeferredAggregate | undefined = undefined;
  /** `markDirty` was asked for while the restore was deferred: the restored aggregate gets it. */
  private dirtyOnRestore = false;

  constructor(symbol: string, aggregateOptions: Partial<AggregateOptions>) {
    this.current = new SymbolAggregate(symbol, aggregateOptions);
  }

  /** The aggregate, restored first if its restore was deferred. */
  get aggregate(): SymbolAggregate {
    if (this.restoring !== undefined) this.restoreDeferred();
    return this.current;
  }

  set aggregate(aggregate: SymbolAggregate) {
    this.restoring = undefined;
    this.dirtyOnRestore = false;
    this.current = aggregate;
  }

  /** The aggregate is restored from `deferred` when first read; until then it is the checkpoint's. */
  deferRestore(deferred: DeferredAggregate): void {
    this.restoring = deferred;
    this.dirtyOnRestore = false;
  }

  /** What the listing shows; read from a deferred checkpoint where it can be, without restoring it. */
  summary(): AggregateSummary {
    return this.restoring?.summary ?? this.aggregate.summary();
  }

  get restorePending(): boolean {
    return this.restoring !== undefined;
  }

  /** Marks the aggregate for the next checkpoint, without restoring one that is deferred. */
  markDirty(): void {
    if (this.restoring !== undefined) this.dirtyOnRestore = true;
    else this.current.markDirty();
  }

  /**
   * Restores a deferred aggregate now (nothing to do otherwise). A checkpoint that turned out
   * unusable leaves the empty aggregate the symbol was acquired with.
   */
  restoreDeferred(): void {
    const deferred = this.restoring;
    this.restoring = undefined;
    if (deferred === undefined) return;
    this.current = deferred.restore() ?? this.current;
    if (this.dirtyOnRestore) this.current.markDirty();
    this.dirtyOnRestore = false;
  }
}
