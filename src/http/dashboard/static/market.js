// @ts-check
/**
 * The symbol table: sortable by any column (buttons in the headers, `aria-sort` tells which),
 * filtered by a search box and an owner. Rows are kept per symbol and updated in place, so a
 * refresh neither flickers nor throws away the keyboard focus.
 */
import { h, replace, restartAnimation, s } from './dom.js';
import { compact, DASH, percent, price } from './format.js';

/** @typedef {import('./types.js').MarketRow} MarketRow */
/** @typedef {import('./types.js').SymbolAnswer} SymbolAnswer */
/** @typedef {import('./colors.js').OwnerColors} OwnerColors */
/** @typedef {'symbol' | 'last' | 'changePct' | 'volume' | 'vwap' | 'trades' | 'owner'} SortKey */

/** Rows drawn at most; the search narrows the rest. */
const MAX_ROWS = 500;

/**
 * @typedef {{ tr: HTMLTableRowElement, link: HTMLAnchorElement, last: HTMLTableCellElement,
 *   change: HTMLTableCellElement, volume: HTMLTableCellElement, vwap: HTMLTableCellElement,
 *   trades: HTMLTableCellElement, owner: HTMLTableCellElement, spark: HTMLTableCellElement,
 *   sparkKey: string, lastShown: string }} RowCells
 */

export class MarketTable {
  /**
   * @param {HTMLTableElement} table
   * @param {HTMLInputElement} search
   * @param {HTMLSelectElement} ownerSelect
   * @param {HTMLElement} count
   * @param {OwnerColors} colors
   */
  constructor(table, search, ownerSelect, count, colors) {
    const body = table.tBodies[0];
    if (!body) throw new Error('the market table has no body');
    this.table = table;
    this.body = body;
    this.search = search;
    this.ownerSelect = ownerSelect;
    this.count = count;
    this.colors = colors;
    /** @type {Map<string, MarketRow>} */
    this.rows = new Map();
    /** @type {Map<string, RowCells>} */
    this.cells = new Map();
    /** @type {Map<string, SymbolAnswer>} stream updates waiting for the next frame */
    this.pending = new Map();
    /** @type {SortKey} */
    this.sortKey = 'symbol';
    this.ascending = true;
    this.interval = '1m';
    /** @type {string[]} the symbols drawn, in order */
    this.visible = [];
    /** @type {(symbols: string[]) => void} */
    this.onVisibleChange = (_symbols) => undefined;
    for (const th of table.querySelectorAll('th[data-key]')) {
      const button = th.querySelector('button');
      const key = /** @type {SortKey} */ (th.getAttribute('data-key'));
      button?.addEventListener('click', () => this.sortBy(key));
    }
    search.addEventListener('input', () => this.render());
    ownerSelect.addEventListener('change', () => this.render());
  }

  /** @param {SortKey} key */
  sortBy(key) {
    if (this.sortKey === key) this.ascending = !this.ascending;
    else {
      this.sortKey = key;
      // Names read A→Z; figures are most interesting largest first.
      this.ascending = key === 'symbol' || key === 'owner';
    }
    for (const th of this.table.querySelectorAll('th[data-key]')) {
      if (th.getAttribute('data-key') === key)
        th.setAttribute('aria-sort', this.ascending ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    }
    this.render();
  }

  /**
   * Replaces every row (a full refresh of the market).
   * @param {MarketRow[]} rows
   * @param {string} interval
   */
  setRows(rows, interval) {
    this.interval = interval;
    this.rows = new Map(rows.map((row) => [row.symbol, row]));
    this.colors.assign(rows.flatMap((row) => (row.owner ? [row.owner] : [])));
    this.updateOwnerOptions();
    this.render();
  }

  /**
   * Applies one streamed symbol update between refreshes.
   * @param {SymbolAnswer} answer
   */
  applyUpdate(answer) {
    this.pending.set(answer.symbol, answer);
    if (this.pending.size === 1) requestAnimationFrame(() => this.flushUpdates());
  }

  /** Applies the updates received since the last frame, once each. */
  flushUpdates() {
    const updates = [...this.pending.values()];
    this.pending.clear();
    for (const answer of updates) this.applyOne(answer);
  }

  /** @param {SymbolAnswer} answer */
  applyOne(answer) {
    const row = this.rows.get(answer.symbol);
    if (!row) return;
    const last = answer.last?.price ?? row.last;
    const open = answer.open ?? row.open;
    const change = last !== null && open !== null ? last - open : null;
    this.rows.set(answer.symbol, {
      ...row,
      answered: true,
      owner: answer.owner ?? row.owner,
      last,
      open,
      change,
      changePct: change !== null && open ? (change / open) * 100 : null,
      volume: answer.volume,
      vwap: answer.vwap,
      trades: answer.trades,
      lastTime: answer.last?.time ?? row.lastTime,
    });
    const cells = this.cells.get(answer.symbol);
    const updated = this.rows.get(answer.symbol);
    if (cells && updated) this.fill(cells, updated);
  }

  updateOwnerOptions() {
    const owners = [...new Set([...this.rows.values()].map((r) => r.owner ?? ''))].filter(Boolean).sort();
    const current = [...this.ownerSelect.options].slice(1).map((o) => o.value);
    if (owners.join() === current.join()) return;
    const selected = this.ownerSelect.value;
    replace(this.ownerSelect, [
      h('option', { value: '' }, ['All workers']),
      ...owners.map((owner) => h('option', { value: owner, selected: owner === selected }, [owner])),
    ]);
  }

  /** The filtered, sorted symbols. */
  selection() {
    const query = this.search.value.trim().toUpperCase();
    const owner = this.ownerSelect.value;
    const rows = [...this.rows.values()].filter(
      (row) => (query === '' || row.symbol.includes(query)) && (owner === '' || row.owner === owner),
    );
    const key = this.sortKey;
    const direction = this.ascending ? 1 : -1;
    rows.sort((a, b) => {
      const x = a[key];
      const y = b[key];
      // Missing figures sort last whatever the direction.
      if (x === null) return y === null ? cmp(a.symbol, b.symbol) : 1;
      if (y === null) return -1;
      const order = typeof x === 'number' && typeof y === 'number' ? x - y : cmp(String(x), String(y));
      return order === 0 ? cmp(a.symbol, b.symbol) : order * direction;
    });
    return rows;
  }

  render() {
    const selected = this.selection();
    const shown = selected.slice(0, MAX_ROWS);
    const focused =
      document.activeElement instanceof HTMLElement
        ? document.activeElement.closest('tr')?.dataset['symbol']
        : undefined;
    const order = shown.map((row) => row.symbol);
    const reorder = order.join() !== this.visible.join();
    if (reorder) {
      const keep = new Set(order);
      for (const [symbol, cells] of this.cells) {
        if (!keep.has(symbol)) {
          cells.tr.remove();
          this.cells.delete(symbol);
        }
      }
    }
    for (const row of shown) {
      let cells = this.cells.get(row.symbol);
      if (!cells) {
        cells = this.createRow(row.symbol);
        this.cells.set(row.symbol, cells);
      }
      this.fill(cells, row);
    }
    if (reorder) {
      const fragment = document.createDocumentFragment();
      for (const symbol of order) {
        const cells = this.cells.get(symbol);
        if (cells) fragment.append(cells.tr);
      }
      this.body.append(fragment);
      if (focused) this.cells.get(focused)?.link.focus({ preventScroll: true });
      this.visible = order;
      this.onVisibleChange(order);
    }
    const total = this.rows.size;
    this.count.textContent =
      selected.length === total
        ? `${total} symbols${shown.length < selected.length ? `, first ${shown.length} shown` : ''}`
        : `${selected.length} of ${total} symbols${shown.length < selected.length ? `, first ${shown.length} shown` : ''}`;
  }

  /**
   * @param {string} symbol
   * @returns {RowCells}
   */
  createRow(symbol) {
    const link = h('a', { href: `#/symbol/${encodeURIComponent(symbol)}` }, [symbol]);
    const td = () => h('td', { class: 'num' });
    /** @type {RowCells} */
    const cells = {
      tr: h('tr', { 'data-symbol': symbol }),
      link,
      last: td(),
      change: td(),
      volume: td(),
      vwap: td(),
      trades: td(),
      owner: h('td'),
      spark: h('td', { class: 'spark-cell' }),
      sparkKey: '',
      lastShown: '',
    };
    cells.tr.append(
      h('th', { scope: 'row' }, [link]),
      cells.last,
      cells.change,
      cells.volume,
      cells.vwap,
      cells.trades,
      cells.owner,
      cells.spark,
    );
    return cells;
  }

  /**
   * @param {RowCells} cells
   * @param {MarketRow} row
   */
  fill(cells, row) {
    cells.tr.classList.toggle('unanswered', !row.answered);
    const last = price(row.last);
    if (cells.lastShown !== '' && last !== cells.lastShown && row.last !== null)
      restartAnimation(cells.last, 'tick');
    cells.lastShown = last;
    setText(cells.last, row.answered ? last : 'no answer');
    setText(cells.change, percent(row.changePct));
    cells.change.className = `num ${tone(row.change)}`;
    setText(cells.volume, compact(row.volume));
    setText(cells.vwap, price(row.vwap));
    setText(cells.trades, row.trades === null ? DASH : row.trades.toLocaleString('en-US'));
    // The colour is part of the key: a worker seen first here may get its colour later.
    const ownerKey = `${row.owner ?? ''}|${row.pinned}|${this.colors.of(row.owner)}|${row.standby ?? ''}|${row.standbyState ?? ''}`;
    if (cells.owner.dataset['key'] !== ownerKey) {
      cells.owner.dataset['key'] = ownerKey;
      const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
      swatch.style.setProperty('--swatch', this.colors.of(row.owner));
      replace(cells.owner, [
        h('span', { class: 'owner' }, [swatch, row.owner ?? DASH]),
        row.pinned ? h('span', { class: 'tag pin-tag', title: 'Pinned to this worker' }, ['pinned']) : null,
        row.standby
          ? h('span', { class: 'muted sub-line standby', title: 'Follows it as a standby (--replicas 2)' }, [
              `standby ${row.standby}${row.standbyState === 'loading' ? ' (warming)' : ''}`,
            ])
          : null,
      ]);
    }
    const sparkKey = row.spark.join();
    if (sparkKey !== cells.sparkKey) {
      cells.sparkKey = sparkKey;
      replace(cells.spark, [sparkline(row.spark, this.interval)]);
    }
  }
}

/**
 * @param {(number | null)[]} values
 * @param {string} interval
 */
export function sparkline(values, interval) {
  /** @type {number[]} */
  const points = [];
  for (const v of values) if (v !== null && Number.isFinite(v)) points.push(v);
  const width = 96;
  const height = 24;
  const first = points[0];
  const last = points[points.length - 1];
  if (first === undefined || last === undefined || points.length < 2) {
    return h('span', { class: 'muted spark-empty' }, [points.length === 1 ? 'one bar' : 'no bars yet']);
  }
  const lo = Math.min(...points);
  const hi = Math.max(...points);
  const span = hi - lo || 1;
  const step = width / (points.length - 1);
  const coords = points
    .map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - ((v - lo) / span) * (height - 4)).toFixed(1)}`)
    .join(' ');
  const direction = last > first ? 'up' : last < first ? 'down' : 'flat';
  const change = ((last - first) / first) * 100;
  return s(
    'svg',
    {
      class: `spark ${direction}`,
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: 'img',
      'aria-label': `${points.length} ${interval} closes, ${price(first)} to ${price(last)} (${percent(change)})`,
    },
    [s('polyline', { points: coords, fill: 'none' })],
  );
}

/** @param {number | null} value */
function tone(value) {
  if (value === null || value === 0) return '';
  return value > 0 ? 'up' : 'down';
}

/**
 * @param {string} a
 * @param {string} b
 */
function cmp(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * @param {HTMLElement} node
 * @param {string} text
 */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}
