import { describe, expect, it } from 'vitest';
import { NO_CONDITIONS, type Trade } from '../../feeds/trade.js';
import { SymbolMove } from '../../src/ingest/symbol-move.js';

function trade(seq: number): Trade {
  return {
    symbol: 'BTCUSDT',
    price: 1,
    size: 1,
    timeMs: 1_700_000_000_000 + seq,
    timeNanos: 0,
    id: String(seq),
    seq,
    exchange: '',
    conditions: NO_CONDITIONS,
    kind: 'trade',
    amendsId: '',
  };
}

const seqOf = (t: Trade): number | null => t.seq;
const seqs = (trades: readonly Trade[]): number[] => trades.map((t) => t.seq ?? -1);

describe('SymbolMove', () => {
  it("buffers copies of the new stream's trades, equal to them, not the decoder's objects", () => {
    const move = new SymbolMove('BTCUSDT', 'old', 'new', seqOf, 0);
    const ahead = [trade(12), trade(13)];
    for (const t of ahead) expect(move.offer(false, t, 1)).toEqual([]);
    const out = move.offer(true, trade(11), 2);
    expect(out).toEqual([trade(11), ...ahead]);
    out.slice(1).forEach((kept, i) => expect(kept).not.toBe(ahead[i]));
  });

  it('hands on the old stream until the new one overlaps it, then the new one, each trade once', () => {
    const move = new SymbolMove('BTCUSDT', 'old', 'new', seqOf, 0);
    const out: number[] = [];
    out.push(...seqs(move.offer(true, trade(10), 1)));
    // The new connection is ahead: 12 and 13 wait for the old stream to reach 11.
    out.push(...seqs(move.offer(false, trade(12), 2)));
    out.push(...seqs(move.offer(false, trade(13), 3)));
    expect(move.switched).toBe(false);
    out.push(...seqs(move.offer(true, trade(11), 4)));
    expect(move.switched).toBe(true);
    out.push(...seqs(move.offer(true, trade(12), 5))); // the old stream's copy: dropped
    out.push(...seqs(move.offer(false, trade(14), 6)));
    expect(out).toEqual([10, 11, 12, 13, 14]);
  });

  it('switches when the old stream catches up with trades the new one already buffered', () => {
    const move = new SymbolMove('BTCUSDT', 'old', 'new', seqOf, 0);
    const out: number[] = [];
    out.push(...seqs(move.offer(false, trade(5), 1)));
    out.push(...seqs(move.offer(false, trade(6), 1)));
    out.push(...seqs(move.offer(true, trade(5), 2)));
    expect(move.switched).toBe(true);
    out.push(...seqs(move.offer(true, trade(6), 3)));
    out.push(...seqs(move.offer(false, trade(7), 4)));
    expect(out).toEqual([5, 6, 7]);
  });

  it('switches when the new stream begins behind the old one, without handing the overlap on twice', () => {
    const move = new SymbolMove('BTCUSDT', 'old', 'new', seqOf, 0);
    const out: number[] = [];
    // The new connection lags: the old stream is at 13 when the new one's first trade, 11, arrives.
    for (const seq of [10, 11, 12, 13]) out.push(...seqs(move.offer(true, trade(seq), 1)));
    out.push(...seqs(move.offer(false, trade(11), 2)));
    expect(move.switched).toBe(true);
    // Copies of 12 and 13 are still to come on the new stream: the move must not end yet.
    expect(move.settled).toBe(false);
    for (const seq of [12, 13, 14]) out.push(...seqs(move.offer(false, trade(seq), 3)));
    expect(move.settled).toBe(true);
    out.push(...seqs(move.offer(true, trade(14), 4))); // the old stream's copy: dropped
    expect(out).toEqual([10, 11, 12, 13, 14]);
  });

  it('forced (quiet or gone old stream): hands on what the new one buffered past the old one', () => {
    const move = new SymbolMove('BTCUSDT', 'old', 'new', seqOf, 100);
    move.offer(true, trade(3), 150);
    expect(move.quietForMs(1_150)).toBe(1_000);
    move.offer(false, trade(6), 200);
    expect(seqs(move.force())).toEqual([6]);
    expect(move.force()).toEqual([]);
  });

  it('forgets what the new connection buffered before it dropped', () => {
    const move = new SymbolMove('BTCUSDT', 'old', 'new', seqOf, 0);
    move.offer(false, trade(8), 1);
    move.restartBuffer();
    expect(seqs(move.offer(true, trade(8), 2))).toEqual([8]);
    expect(move.switched).toBe(false);
  });
});
