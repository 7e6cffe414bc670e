// @ts-check
/** The rebalance timeline: one entry per epoch, newest first, with its duration and what moved. */
import { h, replace } from './dom.js';
import { clock, duration } from './format.js';

/** @typedef {import('./types.js').Rebalances} Rebalances */
/** @typedef {import('./colors.js').OwnerColors} OwnerColors */

const SHOWN = 12;

/**
 * @param {HTMLOListElement} list
 * @param {Rebalances} answer
 * @param {OwnerColors} colors
 */
export function renderTimeline(list, answer, colors) {
  // Keep open what the reader opened.
  const open = new Set(
    [...list.querySelectorAll('details[open]')].map((d) => d.closest('li')?.dataset['epoch'] ?? ''),
  );
  const entries = answer.rebalances.slice(0, SHOWN);
  if (entries.length === 0) {
    replace(list, [h('li', { class: 'muted empty' }, ['No rebalance seen yet by the running workers.'])]);
    return;
  }
  const slowest = Math.max(1, ...entries.map((e) => e.ms));
  replace(
    list,
    entries.map((entry) => {
      const bar = h('span', { class: 'duration-bar', 'aria-hidden': 'true' });
      bar.style.setProperty('--fill', `${Math.max(2, (entry.ms / slowest) * 100).toFixed(1)}%`);
      const moves = entry.workers.filter((w) => w.gained > 0 || w.lost > 0);
      const details = h('details', { open: open.has(String(entry.epoch)) }, [
        h('summary', {}, [`${entry.moved} symbol${entry.moved === 1 ? '' : 's'} moved`]),
        h(
          'ul',
          { class: 'moves' },
          moves.map((w) => {
            const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
            swatch.style.setProperty('--swatch', colors.of(w.id));
            return h('li', {}, [
              swatch,
              h('strong', {}, [w.id]),
              ` +${w.gained} −${w.lost} in ${duration(w.ms)}`,
              w.gainedSymbols.length > 0
                ? h('span', { class: 'symbols' }, [`gained ${listed(w.gainedSymbols, w.gained)}`])
                : null,
              w.lostSymbols.length > 0
                ? h('span', { class: 'symbols' }, [`lost ${listed(w.lostSymbols, w.lost)}`])
                : null,
            ]);
          }),
        ),
      ]);
      return h('li', { 'data-epoch': String(entry.epoch) }, [
        h('div', { class: 'tl-head' }, [
          h('span', { class: 'tl-epoch' }, [`Epoch ${entry.epoch}`]),
          h('span', { class: 'tl-reason' }, [entry.reason ?? 'ring changed']),
          h('time', { datetime: entry.at, class: 'muted' }, [clock(entry.at)]),
        ]),
        h('div', { class: 'tl-duration' }, [bar, h('span', {}, [duration(entry.ms)])]),
        moves.length > 0 ? details : h('p', { class: 'muted tl-none' }, ['nothing moved']),
      ]);
    }),
  );
}

/**
 * @param {string[]} symbols
 * @param {number} total
 */
function listed(symbols, total) {
  const more = total - symbols.length;
  return symbols.join(', ') + (more > 0 ? ` and ${more} more` : '');
}
