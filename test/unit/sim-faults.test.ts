import { describe, expect, it } from 'vitest';
import type { RejectReason } from '../../feeds/adapter.js';
import { FEEDS } from '../../feeds/index.js';
import { MALFORMED_KINDS, malformedFrame, parseFaultSchedule } from '../../src/sim/faults.js';
import { DEFAULT_MARKET_PROFILE } from '../../src/sim/market.js';
import { generateSymbols } from '../../src/sim/universe.js';

describe('parseFaultSchedule', () => {
  it('reads name[:count]@period with ms, s or m', () => {
    expect(parseFaultSchedule('drop@30s, duplicate:5@2000, malformed:3@250ms,connection-limit:2@1m')).toEqual(
      [
        { fault: 'drop', count: 1, everyMs: 30_000 },
        { fault: 'duplicate', count: 5, everyMs: 2_000 },
        { fault: 'malformed', count: 3, everyMs: 250 },
        { fault: 'connection-limit', count: 2, everyMs: 60_000 },
      ],
    );
    expect(parseFaultSchedule('')).toEqual([]);
  });

  it('reports every bad entry at once', () => {
    expect(() => parseFaultSchedule('meltdown@1s,drop@10,silent')).toThrow(
      /"meltdown@1s" is not name\[:count\]@period.*"drop@10": the period must be at least 100 ms.*"silent" is not/,
    );
  });
});

describe('malformedFrame', () => {
  for (const adapter of Object.values(FEEDS)) {
    it(`gives ${adapter.name} frames its decoder refuses exactly once each, by the named reason`, () => {
      const profile = adapter.server.market ?? DEFAULT_MARKET_PROFILE;
      const symbol = generateSymbols(1, profile)[0] ?? '';
      const session = adapter.createSession({ key: 'k', secret: 's' });
      for (let n = 0; n < MALFORMED_KINDS.length * 2; n++) {
        const made = malformedFrame(n, { symbol }, profile);
        const frames = 'text' in made ? [made.text] : adapter.server.encode([made.trade]);
        expect(frames).toHaveLength(1);
        const rejects: RejectReason[] = [];
        let trades = 0;
        session.decode(frames[0] ?? '', {
          trade: () => trades++,
          event: () => undefined,
          reject: (reason) => rejects.push(reason),
        });
        expect(trades).toBe(0);
        expect(rejects).toEqual([MALFORMED_KINDS[n % MALFORMED_KINDS.length]]);
      }
    });
  }
});
