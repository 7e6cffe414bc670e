/**
 * Fixed-length records of doubles, many to one shared `Float64Array`, for the state every trade of a
 * symbol updates (its session, the open bar of each series, the last trade). As object fields those
 * doubles are each a separate heap-number box in Node 20's V8, and one trade's state spread over
 * four accumulators, their boxes and the objects around them: about 27 cache misses per trade once a
 * worker owns thousands of symbols. In a slab they are one run of adjacent cache lines, found from
 * the owner's object through the slab, which every trade uses and so stays cached.
 *
 * A record belongs to an owner object and goes back to the slab once the garbage collector found the
 * owner unreachable (a `FinalizationRegistry`), so it is reused only when nothing can read or write
 * it any more: aggregates move between maps (loading, standby, owned) and checkpoint writes, and an
 * explicit free on one path would hand a record to a new symbol while another path still used it.
 * The slab grows by doubling and never shrinks: it holds as many records as were ever alive at once,
 * plus those whose owners died since the last full collection (the registry does not act on
 * scavenges), which is why objects made to be read once and dropped take a record of their own
 * (`RecordPlacement`).
 */

/** Doubles per cache line: record lengths are rounded up to whole lines. */
const LINE_DOUBLES = 8;
const INITIAL_RECORDS = 64;

export class FlatSlab {
  /** Replaced when the slab grows: read it afresh after taking a record, never keep it. */
  data: Float64Array;
  /** Doubles from one record's start to the next: the length rounded up to whole cache lines. */
  readonly stride: number;
  private used = 0;
  private live = 0;
  private readonly free: number[] = [];
  /** Made with the first owner: a slab of one record that dies with it needs none. */
  private reclaim: FinalizationRegistry<number> | undefined = undefined;

  constructor(length: number, initialRecords = INITIAL_RECORDS) {
    this.stride = Math.ceil(length / LINE_DOUBLES) * LINE_DOUBLES;
    this.data = new Float64Array(this.stride * initialRecords);
  }

  /**
   * The index of a zeroed record of `stride` doubles, handed back once `owner` is garbage; without
   * an owner, never handed back (for a slab of one record that dies with its owner).
   */
  take(owner?: object): number {
    let at = this.free.pop();
    if (at === undefined) {
      if (this.used + this.stride > this.data.length) this.grow();
      at = this.used;
      this.used += this.stride;
    } else {
      this.data.fill(0, at, at + this.stride);
    }
    if (owner !== undefined) {
      this.reclaim ??= new FinalizationRegistry<number>((freed) => {
        this.free.push(freed);
        this.live--;
      });
      this.reclaim.register(owner, at);
    }
    this.live++;
    return at;
  }

  /** Records whose owners may still be alive. */
  get liveRecords(): number {
    return this.live;
  }

  /** Records made so far, live or free: the most that were ever alive at once. */
  get madeRecords(): number {
    return this.used / this.stride;
  }

  /** Records the slab has room for without growing. */
  get capacity(): number {
    return this.data.length / this.stride;
  }

  private grow(): void {
    const data = new Float64Array(Math.max(this.data.length * 2, this.stride));
    data.set(this.data);
    this.data = data;
  }
}

/** One slab per record length, shared by every owner in the process (one thread ingests). */
const slabs = new Map<number, FlatSlab>();

export function slabFor(length: number): FlatSlab {
  let slab = slabs.get(length);
  if (slab === undefined) {
    slab = new FlatSlab(length);
    slabs.set(length, slab);
  }
  return slab;
}

/**
 * Where a record lives. `shared`: in the process's slab for its length, for state that lives long
 * and is updated per trade. `own`: in an array of its own that dies with it, for objects built to be
 * read once and dropped (an HTTP answer made from a checkpoint): the shared slab gets a record back
 * only after a full collection (the registry does not act on scavenges), so thousands of those a
 * second would grow it meanwhile.
 */
export type RecordPlacement = 'shared' | 'own';

/**
 * A record and what keeps it: every object that reads or writes the record holds this, so the record
 * goes back to the slab only once all of them are garbage. Holders copy `slab` and `at` into fields
 * of their own, which the per-trade path reads without going through this object.
 */
export class FlatRecord {
  readonly slab: FlatSlab;
  readonly at: number;

  constructor(length: number, placement: RecordPlacement = 'shared') {
    if (placement === 'own') {
      this.slab = new FlatSlab(length, 1);
      this.at = this.slab.take();
    } else {
      this.slab = slabFor(length);
      this.at = this.slab.take(this);
    }
  }
}
