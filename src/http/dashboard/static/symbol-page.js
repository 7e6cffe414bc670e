// @ts-check
/**
 * One symbol: its live price over the API's event stream (`/v1/stream`), its session figures and
 * its bars (candles and volume), refreshed while the page is open.
 */
import { getJson, HttpError, parseJson } from './api.js';
import { drawCandles } from './chart.js';
import { byId, h, replace } from './dom.js';
import { axisTime, clock, compact, DASH, duration, percent, price } from './format.js';

/** @typedef {import('./types.js').BarsAnswer} BarsAnswer */
/** @typedef {import('./types.js').Market} Market */
/** @typedef {import('./types.js').MarketRow} MarketRow */
/** @typedef {import('./types.js').SymbolAnswer} SymbolAnswer */
/** @typedef {import('./colors.js').OwnerColors} OwnerColors */

const BAR_LIMIT = 60;

export class SymbolPage {
  /** @param {OwnerColors} colors */
  constructor(colors) {
    this.colors = colors;
    this.section = byId('symbol-page', HTMLElement);
    this.title = byId('symbol-title', HTMLElement);
    this.price = byId('symbol-price', HTMLElement);
    this.meta = byId('symbol-meta', HTMLElement);
    this.chart = byId('chart', SVGSVGElement);
    this.chartTitle = byId('chart-title', HTMLElement);
    this.note = byId('chart-note', HTMLElement);
    this.stats = byId('symbol-stats', HTMLElement);
    const bars = byId('bars', HTMLTableElement).tBodies[0];
    if (!bars) throw new Error('the bars table has no body');
    this.barsBody = bars;
    /** @type {string | undefined} */
    this.symbol = undefined;
    this.interval = '1m';
    /** @type {EventSource | undefined} */
    this.stream = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    this.lastBarsAt = 0;
    /** @type {MarketRow | undefined} the symbol's market row, for its standby */
    this.row = undefined;
    /** @type {SymbolAnswer | undefined} */
    this.answer = undefined;
    /** The epoch the standby was last asked at: asked again when the epoch moves. */
    this.standbyEpoch = -1;
    for (const radio of this.section.querySelectorAll('input[name="interval"]')) {
      radio.addEventListener('change', () => {
        if (!(radio instanceof HTMLInputElement) || !radio.checked) return;
        this.interval = radio.value;
        void this.refreshBars();
      });
    }
  }

  /** @param {string} symbol */
  open(symbol) {
    this.close();
    this.symbol = symbol;
    this.section.hidden = false;
    this.title.textContent = symbol;
    document.title = `${symbol} · tickring`;
    this.price.textContent = '';
    this.meta.textContent = 'Loading…';
    replace(this.stats, []);
    this.row = undefined;
    this.answer = undefined;
    this.standbyEpoch = -1;
    void this.refreshAnswer();
    void this.refreshBars();
    this.follow(symbol);
  }

  close() {
    this.stream?.close();
    this.stream = undefined;
    clearTimeout(this.timer);
    this.symbol = undefined;
    this.section.hidden = true;
  }

  /** @param {string} symbol */
  follow(symbol) {
    // EventSource reconnects by itself (the stream says `retry: 2000`), also after a worker restart.
    const stream = new EventSource(`/v1/stream?symbols=${encodeURIComponent(symbol)}`);
    stream.addEventListener('update', (event) => {
      if (!(event instanceof MessageEvent) || typeof event.data !== 'string') return;
      const answer = /** @type {SymbolAnswer} */ (parseJson(event.data));
      if (answer.symbol === this.symbol) this.showAnswer(answer);
    });
    this.stream = stream;
  }

  async refreshAnswer() {
    const symbol = this.symbol;
    if (!symbol) return;
    try {
      const answer = /** @type {SymbolAnswer} */ (await getJson(`/v1/symbols/${encodeURIComponent(symbol)}`));
      if (symbol === this.symbol) this.showAnswer(answer);
    } catch (err) {
      if (symbol !== this.symbol) return;
      this.meta.textContent =
        err instanceof HttpError && err.status === 404
          ? `${symbol} is not in the symbol universe.`
          : `Unavailable: ${String(err instanceof Error ? err.message : err)}`;
    }
  }

  /** The symbol's standby, from its market row: named only where the standby says it follows it. */
  async refreshStandby() {
    const symbol = this.symbol;
    if (!symbol) return;
    try {
      const market = /** @type {Market} */ (
        await getJson(`/v1/market?prefix=${encodeURIComponent(symbol)}&limit=1&points=1`)
      );
      if (symbol !== this.symbol) return;
      this.row = market.symbols.find((row) => row.symbol === symbol);
      if (this.answer) this.showAnswer(this.answer);
    } catch {
      // The standby is a detail: the page stands without it.
    }
  }

  /** @param {SymbolAnswer} answer */
  showAnswer(answer) {
    this.answer = answer;
    if (answer.epoch !== this.standbyEpoch) {
      this.standbyEpoch = answer.epoch;
      void this.refreshStandby();
    }
    const standby = this.row?.standby;
    const last = answer.last?.price ?? null;
    const change = last !== null && answer.open !== null ? last - answer.open : null;
    const pct = change !== null && answer.open ? (change / answer.open) * 100 : null;
    replace(this.price, [
      h('span', { class: 'big' }, [price(last)]),
      h('span', { class: `change ${change === null || change === 0 ? '' : change > 0 ? 'up' : 'down'}` }, [
        change === null ? '' : `${change >= 0 ? '+' : '−'}${price(Math.abs(change), last)} (${percent(pct)})`,
      ]),
    ]);
    const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
    swatch.style.setProperty('--swatch', this.colors.of(answer.owner));
    replace(this.meta, [
      'Owned by ',
      h('span', { class: 'owner' }, [swatch, answer.owner ?? DASH]),
      ` at epoch ${answer.epoch}`,
      standby
        ? h('span', { class: 'standby' }, [
            ` · standby ${standby}${this.row?.standbyState === 'loading' ? ' (warming)' : ''}`,
          ])
        : null,
      answer.stale
        ? h('span', { class: 'badge warn' }, [`stale: checkpoint ${duration(answer.ageMs)} old`])
        : null,
      answer.last ? ` · last trade ${clock(answer.last.time)}` : ' · no trade yet',
    ]);
    /** @type {[string, string][]} */
    const figures = [
      ['Open', price(answer.open)],
      ['High', price(answer.high)],
      ['Low', price(answer.low)],
      ['Last', price(last)],
      ['VWAP', price(answer.vwap)],
      ['Volume', compact(answer.volume)],
      ['Trades', answer.trades.toLocaleString('en-US')],
    ];
    replace(
      this.stats,
      figures.map(([term, value]) => h('div', {}, [h('dt', {}, [term]), h('dd', {}, [value])])),
    );
  }

  async refreshBars() {
    const symbol = this.symbol;
    if (!symbol) return;
    clearTimeout(this.timer);
    const interval = this.interval;
    try {
      const answer = /** @type {BarsAnswer} */ (
        await getJson(
          `/v1/symbols/${encodeURIComponent(symbol)}/bars?interval=${interval}&limit=${BAR_LIMIT}`,
        )
      );
      if (symbol !== this.symbol || interval !== this.interval) return;
      this.chartTitle.textContent = `${interval} bars`;
      drawCandles(this.chart, answer.bars, interval, symbol);
      this.note.textContent = answer.stale
        ? `Stale: no owner answered; bars from Redis, ${duration(answer.ageMs)} old.`
        : `${answer.bars.length} bars · from ${answer.forwardedTo ?? answer.answeredBy}'s memory and history · updated ${clock(Date.now())}`;
      this.note.classList.toggle('warn-text', answer.stale);
      this.lastBarsAt = Date.now();
      this.drawTable(answer, interval);
    } catch (err) {
      if (symbol !== this.symbol) return;
      this.note.textContent = `Bars unavailable (${err instanceof Error ? err.message : String(err)}); retrying.`;
      this.note.classList.add('warn-text');
    }
    if (symbol === this.symbol) {
      this.timer = setTimeout(() => void this.refreshBars(), interval === '1s' ? 1_500 : 4_000);
    }
  }

  /**
   * @param {BarsAnswer} answer
   * @param {string} interval
   */
  drawTable(answer, interval) {
    const seconds = interval.endsWith('s');
    replace(
      this.barsBody,
      answer.bars
        .slice(-12)
        .reverse()
        .map((bar) =>
          h('tr', { class: bar.complete ? '' : 'open-bar' }, [
            h('th', { scope: 'row' }, [
              axisTime(Date.parse(bar.start), seconds),
              bar.complete ? '' : ' (open)',
            ]),
            h('td', { class: 'num' }, [price(bar.open)]),
            h('td', { class: 'num' }, [price(bar.high)]),
            h('td', { class: 'num' }, [price(bar.low)]),
            h('td', { class: 'num' }, [price(bar.close)]),
            h('td', { class: 'num' }, [compact(bar.volume)]),
            h('td', { class: 'num' }, [String(bar.trades)]),
          ]),
        ),
    );
  }
}
