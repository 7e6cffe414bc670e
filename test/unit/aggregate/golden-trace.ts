/**
 * A seeded stream of trades, cancels, corrections, restores and bar takes through `SymbolAggregate`,
 * and a digest of everything the aggregate shows after each step: its checkpoint's JSON text,
 * snapshot, completed bars and listed bars. `golden-trace.test.ts` holds the digests against those
 * recorded at `b7fef19`, when the session and bars were `Ohlcv` objects, so a change of layout that
 * alters any checkpoint byte or reported number fails it.
 *
 * The stream crosses sessions, puts trades out of order (ties on ms and ns included) and late beyond
 * every series' cap, cancels trades that are and are not there, mixes sale conditions, completes bars
 * with `advanceTo`, and now and then replaces the aggregate with one restored from its checkpoint.
 */
import { createHash } from 'node:crypto';
import { makeTrade, type Trade, type TradeKind } from '../../../feeds/trade.js';
import { parseCheckpoint } from '../../../src/aggregate/checkpoint.js';
import { conditionRulesFor } from '../../../src/aggregate/conditions.js';
import { unpackCheckpoint } from '../../../src/aggregate/packed-checkpoint.js';
import { SymbolAggregate } from '../../../src/aggregate/symbol-aggregate.js';
import { mulberry32 } from './reference.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2024, 2, 4, 23, 50);
const CONDITIONS: readonly (readonly string[])[] = [
  [],
  [],
  [],
  ['37'],
  ['12'],
  ['10'],
  ['15'],
  ['14', '41'],
  ['999'],
];
const KINDS: readonly TradeKind[] = [
  'trade',
  'trade',
  'trade',
  'trade',
  'trade',
  'trade',
  'correction',
  'cancel',
];
const OPTIONS = {
  conditionRules: conditionRulesFor('polygon'),
  barIntervalsMs: [1_000, 60_000, 300_000],
  barCap: 3,
};

/** Digests of the aggregate's outputs after every `every`-th of `steps` steps (hex, 16 chars). */
export function goldenTrace(seed: number, steps: number, every: number): string[] {
  const random = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  let agg = new SymbolAggregate('SIM', OPTIONS);
  let clock = T0;
  const recent: Trade[] = [];
  const hash = createHash('sha256');
  const out: string[] = [];
  for (let step = 1; step <= steps; step++) {
    const r = random();
    if (r < 0.01) {
      agg = SymbolAggregate.fromCheckpoint(
        parseCheckpoint(unpackCheckpoint(agg.checkpointPacked().bytes)),
        OPTIONS,
      );
    } else if (r < 0.03) {
      agg.advanceTo(clock + Math.floor(random() * 400_000) - 100_000);
    } else if (r < 0.06) {
      hash.update(JSON.stringify(agg.takeCompletedBars()));
    } else {
      // Mostly forward in small steps; sometimes back a little (late) or far (beyond the caps).
      const jump = random();
      if (jump < 0.8) clock += Math.floor(random() * 700);
      else if (jump < 0.83) clock += Math.floor(random() * 400_000);
      const late = random();
      const timeMs =
        late < 0.85
          ? clock
          : late < 0.95
            ? clock - Math.floor(random() * 5_000)
            : clock - Math.floor(random() * DAY * 1.5);
      const kind = pick(KINDS);
      const old = recent.length > 0 && kind === 'cancel' && random() < 0.7 ? pick(recent) : undefined;
      const trade =
        old !== undefined
          ? makeTrade({ ...old, kind: 'cancel' })
          : makeTrade({
              symbol: random() < 0.002 ? 'OTHER' : 'SIM',
              // Cent prices with a float's rounding, and now and then an invalid one.
              price: random() < 0.002 ? NaN : Math.round(10_000 + random() * 500) / 100,
              size: random() < 0.05 ? Math.round(random() * 1e6) / 1e4 : Math.floor(random() * 500) + 1,
              timeMs,
              timeNanos: random() < 0.5 ? 0 : Math.floor(random() * 3) * 333_333,
              id: String(step),
              exchange: String(Math.floor(random() * 20)),
              conditions: pick(CONDITIONS),
              kind,
            });
      agg.apply(trade);
      if (trade.kind !== 'cancel') {
        recent.push(trade);
        if (recent.length > 50) recent.shift();
      }
    }
    if (step % every === 0) {
      // Twice, as when a second form of the checkpoint's text was hashed beside it (the same text).
      hash.update(JSON.stringify(agg.toCheckpoint()));
      hash.update(JSON.stringify(agg.toCheckpoint()));
      hash.update(JSON.stringify(agg.snapshot()));
      for (const ms of OPTIONS.barIntervalsMs) hash.update(JSON.stringify(agg.listBars(ms)));
      out.push(hash.copy().digest('hex').slice(0, 16));
    }
  }
  return out;
}
