// @ts-check
/** The workers table: one row per ring member, with its own report or "unreachable". */
import { h, replace } from './dom.js';
import { DASH, duration, rate } from './format.js';

/** @typedef {import('./types.js').Workers} Workers */
/** @typedef {import('./types.js').Ring} Ring */
/** @typedef {import('./colors.js').OwnerColors} OwnerColors */

/** States that need attention, and those that are fine. */
const STATE_TONE = /** @type {Record<string, string>} */ ({
  ready: 'good',
  joining: 'info',
  starting: 'info',
  draining: 'warn',
  fenced: 'bad',
  closed: 'bad',
  unreachable: 'bad',
});

/**
 * @param {HTMLTableSectionElement} body
 * @param {Workers} workers
 * @param {Ring | undefined} ring
 * @param {OwnerColors} colors
 */
export function renderWorkers(body, workers, ring, colors) {
  colors.assign(workers.workers.map((w) => w.id));
  const shares = new Map((ring?.members ?? []).map((m) => [m.id, m.share]));
  replace(
    body,
    workers.workers.map((worker) => {
      const report = worker.report;
      const state = report ? report.state : 'unreachable';
      const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
      swatch.style.setProperty('--swatch', colors.of(worker.id));
      const role = report && report.role !== 'worker' ? h('span', { class: 'tag' }, [report.role]) : null;
      const lag = report?.ingestLag;
      const share = shares.get(worker.id);
      const leaseAge = report?.leaseAgeMs ?? null;
      return h('tr', { 'data-worker': worker.id, 'data-state': state }, [
        h('th', { scope: 'row' }, [
          h('span', { class: 'worker-id' }, [swatch, worker.id, role]),
          h('span', { class: 'address muted' }, [worker.address]),
        ]),
        h('td', {}, [
          h('span', { class: `badge ${STATE_TONE[state] ?? 'info'}` }, [state]),
          report && !report.leaseValid && state !== 'unreachable'
            ? h('span', { class: 'muted' }, [' no lease'])
            : null,
        ]),
        h('td', { class: 'num' }, [
          String(report ? report.symbols : worker.symbols),
          report && report.loading > 0
            ? h('span', { class: 'muted' }, [` (${report.loading} loading)`])
            : null,
        ]),
        h('td', { class: 'num' }, [
          share === undefined || worker.draining ? DASH : `${(share * 100).toFixed(1)}%`,
        ]),
        h('td', { class: 'num' }, [report ? rate(report.tradesPerSec) : DASH]),
        h('td', { class: 'num' }, [
          lag && lag.p50Ms !== null ? duration(lag.p50Ms) : DASH,
          lag && lag.maxMs !== null
            ? h('span', { class: 'muted sub-line' }, [`max ${duration(lag.maxMs)}`])
            : null,
        ]),
        h('td', { class: `num ${leaseAge !== null && leaseAge > 2_000 ? 'warn-text' : ''}` }, [
          duration(leaseAge),
        ]),
        h('td', {}, [report ? report.feed : DASH]),
      ]);
    }),
  );
}
