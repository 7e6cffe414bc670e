import { describe, expect, it } from 'vitest';
import { ConnectGate } from '../../src/ingest/connect-gate.js';
import { binance } from '../../feeds/binance.js';
import { finnhub } from '../../feeds/finnhub.js';
import {
  connectionsNeeded,
  connectionsToDrain,
  placeSymbols,
  subscribePacingMs,
} from '../../src/ingest/connection-plan.js';

const names = (n: number, prefix = 'S'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('placeSymbols', () => {
  it('fills the fullest connections with room first, then opens new ones of at most the limit', () => {
    const { placed, fresh } = placeSymbols(
      names(7),
      [
        { id: 0, size: 2 },
        { id: 1, size: 8 },
        { id: 2, size: 10 },
      ],
      10,
    );
    expect([...placed]).toEqual([
      [1, ['S0', 'S1']],
      [0, ['S2', 'S3', 'S4', 'S5', 'S6']],
    ]);
    expect(fresh).toEqual([]);
    const many = placeSymbols(names(25), [{ id: 0, size: 8 }], 10);
    expect(many.placed.get(0)).toEqual(['S0', 'S1']);
    expect(many.fresh.map((symbols) => symbols.length)).toEqual([10, 10, 3]);
  });

  it('puts everything on the one connection when the provider has no cap', () => {
    const { placed, fresh } = placeSymbols(names(5_000), [{ id: 0, size: 100 }], Infinity);
    expect(placed.get(0)).toHaveLength(5_000);
    expect(fresh).toEqual([]);
  });
});

describe('connectionsToDrain', () => {
  it('drains the emptiest connections beyond what the symbols need, so the fewest symbols move', () => {
    expect(connectionsNeeded(0, 1_024)).toBe(1);
    expect(connectionsNeeded(2_500, 1_024)).toBe(3);
    expect(connectionsNeeded(10_000, Infinity)).toBe(1);
    const loads = [
      { id: 0, size: 400 },
      { id: 1, size: 300 },
      { id: 2, size: 350 },
    ];
    // 1,050 symbols need 2 connections of 1,024: the 300 of connection 1 move.
    expect(connectionsToDrain(loads, 1_024)).toEqual([1]);
    // 1,050 do not fit 2 connections of 500: nothing to drain.
    expect(connectionsToDrain(loads, 500)).toEqual([]);
    expect(connectionsToDrain([{ id: 0, size: 0 }], 10)).toEqual([]);
  });

  it('leaves the kept connections room for every drained symbol', () => {
    for (let seed = 1; seed < 200; seed++) {
      const sizes = Array.from({ length: 1 + (seed % 6) }, (_, i) => (seed * (i + 7) * 31) % 101);
      const loads = sizes.map((size, id) => ({ id, size }));
      const drained = new Set(connectionsToDrain(loads, 100));
      const kept = loads.filter((load) => !drained.has(load.id));
      const moving = loads.filter((load) => drained.has(load.id)).reduce((n, load) => n + load.size, 0);
      expect(placeSymbols(names(moving), kept, 100).fresh).toEqual([]);
    }
  });
});

describe('ConnectGate', () => {
  it('lets a burst through, then one attempt per 1/perSecond, reserving slots in order', () => {
    let now = 0;
    const gate = new ConnectGate(1, 3, () => now);
    expect([gate.reserve(), gate.reserve(), gate.reserve()]).toEqual([0, 0, 0]);
    expect(gate.reserve()).toBe(1_000);
    expect(gate.reserve()).toBe(2_000);
    now = 10_000; // refilled to the burst, no more
    expect([gate.reserve(), gate.reserve(), gate.reserve(), gate.reserve()]).toEqual([0, 0, 0, 1_000]);
  });
});

describe('subscribePacingMs', () => {
  it('counts the frames of the busiest connection: Binance sends its connections frames in parallel', () => {
    const { limits } = binance;
    // One connection: 200 streams a frame, 4 frames a second.
    expect(subscribePacingMs(1, limits.symbolsPerConnection, limits)).toBe(250);
    expect(subscribePacingMs(1_000, limits.symbolsPerConnection, limits)).toBe(1_250);
    // 2,500 symbols over three connections: the two full ones send 6 frames each, at the same time.
    expect(subscribePacingMs(2_500, limits.symbolsPerConnection, limits)).toBe(1_500);
    expect(subscribePacingMs(50_000, limits.symbolsPerConnection, limits)).toBe(1_500);
    expect(subscribePacingMs(0, limits.symbolsPerConnection, limits)).toBe(0);
  });

  it("is the one connection's time where the provider has no cap", () => {
    // Finnhub: one symbol a frame, 20 frames a second, on one connection.
    expect(subscribePacingMs(100, finnhub.limits.symbolsPerConnection, finnhub.limits)).toBe(5_000);
  });

  it('is never shorter than the frames of any placement take to leave', () => {
    const limits = { symbolsPerFrame: 7, framesPerSecond: 3 };
    const interval = Math.ceil(1000 / limits.framesPerSecond);
    for (let seed = 1; seed < 300; seed++) {
      const limit = 5 + (seed % 40);
      const loads = Array.from({ length: seed % 5 }, (_, id) => ({
        id,
        size: (seed * (id + 3)) % (limit + 1),
      }));
      const symbols = (seed * 37) % 400;
      const { placed, fresh } = placeSymbols(names(symbols), loads, limit);
      const perConnection = [...placed.values(), ...fresh].map((added) => added.length);
      // A connection sends its first frame at once and one per interval after.
      const slowest = Math.max(
        0,
        ...perConnection.map((n) => (Math.ceil(n / limits.symbolsPerFrame) - 1) * interval),
      );
      expect(subscribePacingMs(symbols, limit, limits)).toBeGreaterThanOrEqual(slowest);
    }
  });
});
