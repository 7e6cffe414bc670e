/**
 * What the market needs to cancel and correct trades it already sent: the most recent trades (a
 * fixed ring, so memory stays bounded whatever the rate) to pick from, and per symbol the ids that no
 * longer count, which the simulator reports as truth.
 */
import type { Trade } from '../../feeds/trade.js';
import type { Prng } from './prng.js';

/** Trades remembered for amendment; older ones can no longer be cancelled or corrected. */
export const AMENDABLE_TRADES = 4_096;

export interface SymbolAmendments {
  readonly cancelledIds: readonly string[];
  readonly cancels: number;
  readonly corrections: number;
}

const NONE: SymbolAmendments = Object.freeze({ cancelledIds: Object.freeze([]), cancels: 0, corrections: 0 });

interface MutableAmendments {
  cancelledIds: string[];
  cancels: number;
  corrections: number;
}

export class AmendmentLog {
  private readonly recent: (Trade | undefined)[] = new Array<Trade | undefined>(AMENDABLE_TRADES);
  private readonly indices = new Int32Array(AMENDABLE_TRADES);
  private next = 0;
  private readonly bySymbol = new Map<number, MutableAmendments>();

  /** Remembers a freshly generated trade of symbol `index` as a candidate for amendment. */
  remember(index: number, trade: Trade): void {
    this.recent[this.next] = trade;
    this.indices[this.next] = index;
    this.next = (this.next + 1) % AMENDABLE_TRADES;
  }

  /** Removes and returns one remembered trade chosen by `rng`, or `undefined` when none is left. */
  take(rng: Prng): { index: number; trade: Trade } | undefined {
    const start = rng.int(0, AMENDABLE_TRADES - 1);
    for (let probe = 0; probe < AMENDABLE_TRADES; probe++) {
      const slot = (start + probe) % AMENDABLE_TRADES;
      const trade = this.recent[slot];
      if (trade === undefined) continue;
      this.recent[slot] = undefined;
      return { index: this.indices[slot] ?? 0, trade };
    }
    return undefined;
  }

  recordCancel(index: number, id: string): void {
    const entry = this.entry(index);
    entry.cancelledIds.push(id);
    entry.cancels++;
  }

  recordCorrection(index: number, id: string): void {
    const entry = this.entry(index);
    entry.cancelledIds.push(id);
    entry.corrections++;
  }

  of(index: number): SymbolAmendments {
    const entry = this.bySymbol.get(index);
    return entry === undefined ? NONE : { ...entry, cancelledIds: [...entry.cancelledIds] };
  }

  private entry(index: number): MutableAmendments {
    let entry = this.bySymbol.get(index);
    if (entry === undefined) {
      entry = { cancelledIds: [], cancels: 0, corrections: 0 };
      this.bySymbol.set(index, entry);
    }
    return entry;
  }
}
