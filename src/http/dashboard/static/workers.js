// @ts-check
/**
 * The workers table: one row per ring member, with its own report or "unreachable", and the active
 * relay, which is no ring member, as a last row of its own.
 */
import { h, replace } from './dom.js';
import { clock, DASH, duration, rate } from './format.js';

/** @typedef {import('./types.js').Workers} Workers */
/** @typedef {import('./types.js').Ring} Ring */
/** @typedef {import('./types.js').Relay} Relay */
/** @typedef {import('./types.js').WorkerReport} WorkerReport */
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
  replace(body, [
    ...workers.workers.map((worker) => {
      const report = worker.report;
      const state = report ? report.state : 'unreachable';
      const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
      swatch.style.setProperty('--swatch', colors.of(worker.id));
      const role = report && report.role !== 'worker' ? h('span', { class: 'tag' }, [report.role]) : null;
      const standby =
        report && report.standby.symbols > 0
          ? h('span', { class: 'tag', title: 'Also follows symbols as a standby' }, ['standby'])
          : null;
      const lag = report?.ingestLag;
      const share = shares.get(worker.id);
      const leaseAge = report?.leaseAgeMs ?? null;
      return h('tr', { 'data-worker': worker.id, 'data-state': state }, [
        h('th', { scope: 'row' }, [
          h('span', { class: 'worker-id' }, [swatch, worker.id, role, standby]),
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
        standbyCell(report),
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
        h('td', {}, [
          report ? report.feed : DASH,
          report ? h('span', { class: 'muted sub-line' }, [report.feedName]) : null,
        ]),
      ]);
    }),
    workers.relay ? relayRow(workers.relay) : null,
  ]);
}

/**
 * Symbols followed as a standby, the warming ones, and promotions; a dash without standbys.
 * @param {WorkerReport | null} report
 */
function standbyCell(report) {
  const standby = report?.standby;
  if (!standby || (standby.symbols === 0 && standby.promotions === 0))
    return h('td', { class: 'num', 'data-col': 'standby' }, [DASH]);
  // Warming and promotions on a second line, as the lag's maximum: the table must fit a laptop.
  const notes = [
    standby.warming > 0 ? `${standby.warming} warming` : '',
    standby.promotions > 0 ? `${standby.promotions} promoted` : '',
  ].filter(Boolean);
  return h('td', { class: 'num', 'data-col': 'standby' }, [
    String(standby.symbols),
    notes.length > 0 ? h('span', { class: 'muted sub-line' }, [notes.join(' · ')]) : null,
  ]);
}

/** When this page first saw each relay's fencing token: the record says who, not since when. */
/** @type {Map<string, string>} */
const relaySeen = new Map();

/**
 * The active relay: who holds the feed's lease, what it relays, and who reads through it.
 * @param {Relay} relay
 */
function relayRow(relay) {
  const key = `${relay.holder}|${relay.token}`;
  if (!relaySeen.has(key)) relaySeen.set(key, new Date().toISOString());
  const used = relay.usedBy.length > 0 ? `used by ${relay.usedBy.join(', ')}` : 'no worker reads through it';
  return h('tr', { 'data-relay': relay.holder, 'data-state': 'relay' }, [
    h('th', { scope: 'row' }, [
      h('span', { class: 'worker-id' }, [relay.holder || DASH, h('span', { class: 'tag' }, ['relay'])]),
      h('span', { class: 'address muted' }, [relay.address]),
    ]),
    h('td', {}, [h('span', { class: 'badge good' }, ['active'])]),
    h('td', { colspan: '6', class: 'wraps' }, [
      `relays ${relay.feed} · fencing token ${relay.token} · `,
      h('span', { class: relay.usedBy.length > 0 ? '' : 'warn-text' }, [used]),
      h('span', { class: 'muted sub-line' }, [`seen since ${clock(relaySeen.get(key) ?? '')}`]),
    ]),
    h('td', {}, [relay.feed]),
  ]);
}
