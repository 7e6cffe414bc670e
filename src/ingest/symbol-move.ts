/**
 * One symbol moving from one connection of a feed client to another, make before break: the new
 * connection subscribes while the old one still carries the symbol, and the client hands on one
 * stream throughout, so nothing downstream (de-duplication, gap counting, hand-over positions) sees
 * the move. The provider numbers each symbol's trades one by one (Binance `t`), which makes the switch
 * exact:
 *
 * - the old stream is handed on as it arrives; the new one is buffered;
 * - once the new stream's first buffered trade is at most one past the old stream's last, the two
 *   overlap: the buffered trades past that point are handed on, the new stream from then on (less
 *   what the old one handed on already, when the new one began behind it), and the old one is
 *   dropped (the client then unsubscribes it there);
 * - a quiet symbol never overlaps: once the new connection has confirmed the subscription and the old
 *   stream has said nothing for a while (or its connection is down), the client switches anyway
 *   (`force`); whatever was lost by then shows as a gap in the trade numbers, counted downstream.
 *
 * Trades without a number (none on Binance) follow the old stream until the switch and the new one
 * after it. Only providers that number trades move symbols (see `FeedClient`).
 */
import { copyTrade, type Trade } from '../../feeds/trade.js';

/** Most trades of the new stream buffered before the old one overlaps it; the oldest go first. */
const MAX_BUFFERED = 10_000;

export class SymbolMove<C> {
  /** Whether the new connection's stream is the one handed on. */
  switched = false;
  private readonly buffer: Trade[] = [];
  /** Number of the last trade handed on from the old stream since the move began. */
  private lastFromSeq: number | undefined;
  /** When the old stream last delivered a trade of the symbol, or the move began (monotonic ms). */
  private lastFromAt: number;
  /** Number of the newest trade of the new stream since the switch (handed on or not). */
  private lastToSeq: number | undefined;
  private forced = false;

  constructor(
    readonly symbol: string,
    readonly from: C,
    readonly to: C,
    private readonly seqOf: (trade: Trade) => number | null,
    now: number,
  ) {
    this.lastFromAt = now;
  }

  /** A trade of the symbol from the old or the new connection; returns what to hand on, in order. */
  offer(fromOld: boolean, trade: Trade, now: number): Trade[] {
    if (this.switched) {
      if (fromOld) return [];
      this.sawNew(trade);
      return this.handedOn(trade) ? [] : [trade];
    }
    if (fromOld) {
      this.lastFromAt = now;
      const seq = this.seqOf(trade);
      if (seq !== null && (this.lastFromSeq === undefined || seq > this.lastFromSeq)) this.lastFromSeq = seq;
      return this.overlaps() ? [trade, ...this.switchOver()] : [trade];
    }
    // A copy, as `OwnedSymbols` buffers: a decoder's `Trade` kept across collections makes V8
    // allocate all of that decoder's trades in the old generation from then on.
    this.buffer.push(copyTrade(trade));
    // The old stream still carries what is dropped here.
    if (this.buffer.length > MAX_BUFFERED) this.buffer.shift();
    return this.overlaps() ? this.switchOver() : [];
  }

  /**
   * Whether the old stream already handed this trade on: the new stream began behind the old one
   * (its connection lagged), so the trades up to the old stream's last came on both.
   */
  private handedOn(trade: Trade): boolean {
    const seq = this.seqOf(trade);
    return seq !== null && this.lastFromSeq !== undefined && seq <= this.lastFromSeq;
  }

  private sawNew(trade: Trade): void {
    const seq = this.seqOf(trade);
    if (seq !== null && (this.lastToSeq === undefined || seq > this.lastToSeq)) this.lastToSeq = seq;
  }

  /**
   * Whether the move may end (the client then reads the symbol from the new connection without
   * asking this move): switched, and the new stream has reached the old one's last trade, so no
   * copy of a trade already handed on is still to come; or switched by `force`, when the old stream
   * was quiet or gone.
   */
  get settled(): boolean {
    if (!this.switched) return false;
    if (this.forced || this.lastFromSeq === undefined) return true;
    return this.lastToSeq !== undefined && this.lastToSeq >= this.lastFromSeq;
  }

  /** How long the old stream has said nothing about this symbol (ms). */
  quietForMs(now: number): number {
    return now - this.lastFromAt;
  }

  /** The new connection dropped: what it buffered no longer joins up with what it will send next. */
  restartBuffer(): void {
    if (!this.switched) this.buffer.length = 0;
  }

  /** Switches without an overlap (the old stream is quiet or gone); returns the buffered trades to hand on. */
  force(): Trade[] {
    if (this.switched) return [];
    this.forced = true;
    return this.switchOver();
  }

  private overlaps(): boolean {
    if (this.lastFromSeq === undefined) return false;
    for (const trade of this.buffer) {
      const seq = this.seqOf(trade);
      if (seq !== null) return seq <= this.lastFromSeq + 1;
    }
    return false;
  }

  /** The buffered trades the old stream has not handed on (past its last number), then the switch. */
  private switchOver(): Trade[] {
    this.switched = true;
    const last = this.lastFromSeq;
    const out: Trade[] = [];
    for (const trade of this.buffer) {
      this.sawNew(trade);
      const seq = this.seqOf(trade);
      if (seq !== null && (last === undefined || seq > last)) out.push(trade);
    }
    this.buffer.length = 0;
    return out;
  }
}
