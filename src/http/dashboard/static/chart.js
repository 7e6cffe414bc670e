// @ts-check
/** A candlestick chart with volume underneath, in SVG, sized by its viewBox. */
import { replace, s } from './dom.js';
import { axisTime, compact, price } from './format.js';

/** @typedef {import('./types.js').Bar} Bar */

const WIDTH = 900;
const HEIGHT = 380;
const LEFT = 8;
const RIGHT = 74;
const TOP = 12;
const PRICE_BOTTOM = 262;
const VOLUME_TOP = 282;
const VOLUME_BOTTOM = 344;

/**
 * "Nice" tick values covering [lo, hi].
 * @param {number} lo
 * @param {number} hi
 * @param {number} count
 */
export function ticks(lo, hi, count) {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  const values = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    values.push(Number(v.toFixed(10)));
  return values;
}

/**
 * Draws `bars` (oldest first) into `svg`; returns a one-sentence description for its `desc`.
 * @param {SVGSVGElement} svg
 * @param {Bar[]} bars
 * @param {string} interval
 * @param {string} symbol
 */
export function drawCandles(svg, bars, interval, symbol) {
  const desc = svg.querySelector('desc') ?? s('desc');
  const priced = bars.filter((b) => b.open !== null && b.high !== null && b.low !== null && b.close !== null);
  if (priced.length === 0) {
    desc.textContent = `No ${interval} bars of ${symbol} yet.`;
    replace(svg, [desc, s('text', { x: WIDTH / 2, y: HEIGHT / 2, class: 'chart-empty' }, ['No bars yet'])]);
    return desc.textContent;
  }
  const lows = priced.map((b) => /** @type {number} */ (b.low));
  const highs = priced.map((b) => /** @type {number} */ (b.high));
  let lo = Math.min(...lows);
  let hi = Math.max(...highs);
  const pad = (hi - lo) * 0.06 || Math.abs(hi) * 0.001 || 1;
  lo -= pad;
  hi += pad;
  const maxVolume = Math.max(1, ...bars.map((b) => b.volume));
  const plotWidth = WIDTH - LEFT - RIGHT;
  const slot = plotWidth / Math.max(bars.length, 20);
  const body = Math.max(1.5, slot * 0.62);
  const y = (/** @type {number} */ v) => TOP + ((hi - v) / (hi - lo)) * (PRICE_BOTTOM - TOP);
  const vy = (/** @type {number} */ v) => VOLUME_BOTTOM - (v / maxVolume) * (VOLUME_BOTTOM - VOLUME_TOP);
  const x = (/** @type {number} */ i) => LEFT + plotWidth - (bars.length - i - 0.5) * slot;
  const seconds = interval.endsWith('s');

  const grid = s('g', { class: 'grid' });
  for (const value of ticks(lo, hi, 5)) {
    const gy = y(value);
    grid.append(
      s('line', { x1: LEFT, x2: WIDTH - RIGHT, y1: gy, y2: gy }),
      s('text', { x: WIDTH - RIGHT + 8, y: gy + 4, class: 'axis' }, [price(value)]),
    );
  }
  grid.append(
    s('line', { x1: LEFT, x2: WIDTH - RIGHT, y1: VOLUME_BOTTOM, y2: VOLUME_BOTTOM }),
    s('text', { x: WIDTH - RIGHT + 8, y: VOLUME_TOP + 8, class: 'axis' }, [compact(maxVolume)]),
    s('text', { x: WIDTH - RIGHT + 8, y: VOLUME_BOTTOM, class: 'axis' }, ['vol']),
  );
  const labelEvery = Math.max(1, Math.ceil(bars.length / 8));
  const times = s('g', { class: 'times' });
  const candles = s('g', { class: 'candles' });
  const volumes = s('g', { class: 'volumes' });
  bars.forEach((bar, i) => {
    const cx = x(i);
    const start = Date.parse(bar.start);
    if ((bars.length - 1 - i) % labelEvery === 0) {
      times.append(s('text', { x: cx, y: HEIGHT - 12, class: 'axis time' }, [axisTime(start, seconds)]));
    }
    const up = bar.close !== null && bar.open !== null && bar.close >= bar.open;
    const tone = up ? 'up' : 'down';
    volumes.append(
      s('rect', {
        x: cx - body / 2,
        y: vy(bar.volume),
        width: body,
        height: Math.max(0, VOLUME_BOTTOM - vy(bar.volume)),
        class: `vol ${tone}`,
      }),
    );
    if (bar.open === null || bar.high === null || bar.low === null || bar.close === null) return;
    const top = y(Math.max(bar.open, bar.close));
    const bottom = y(Math.min(bar.open, bar.close));
    candles.append(
      s('g', { class: `candle ${tone}${bar.complete ? '' : ' open-bar'}`, 'data-start': bar.start }, [
        s('title', {}, [
          `${axisTime(start, true)} O ${price(bar.open)} H ${price(bar.high)} L ${price(bar.low)} C ${price(bar.close)} · ${compact(bar.volume)} vol · ${bar.trades} trades${bar.complete ? '' : ' (open)'}`,
        ]),
        s('line', { x1: cx, x2: cx, y1: y(bar.high), y2: y(bar.low), class: 'wick' }),
        s('rect', {
          x: cx - body / 2,
          y: top,
          width: body,
          height: Math.max(1, bottom - top),
          class: 'body',
        }),
      ]),
    );
  });
  const last = priced[priced.length - 1];
  const lastClose = /** @type {number} */ (last?.close);
  const ly = y(lastClose);
  const lastLine = s('g', { class: 'last-line' }, [
    s('line', { x1: LEFT, x2: WIDTH - RIGHT, y1: ly, y2: ly }),
    s('rect', { x: WIDTH - RIGHT + 2, y: ly - 10, width: RIGHT - 4, height: 20, rx: 3 }),
    s('text', { x: WIDTH - RIGHT + 8, y: ly + 4 }, [price(lastClose)]),
  ]);
  const first = priced[0];
  desc.textContent =
    `${symbol}: ${bars.length} ${interval} bars from ${axisTime(Date.parse(bars[0]?.start ?? ''), seconds)} to ` +
    `${axisTime(Date.parse(bars[bars.length - 1]?.start ?? ''), seconds)}, ` +
    `from ${price(first?.open)} to ${price(lastClose)}, low ${price(Math.min(...lows))}, high ${price(Math.max(...highs))}.`;
  replace(svg, [desc, grid, volumes, candles, lastLine, times]);
  return desc.textContent;
}
