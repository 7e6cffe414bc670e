// @ts-check
/**
 * The dashboard: wires the views to the API of the worker that served the page. The overview polls
 * the cluster, ring, workers, rebalances and market JSON routes, and follows the visible symbols'
 * prices over the event stream (`/v1/stream`) between market refreshes; a symbol's page follows
 * that symbol's stream. Any failure keeps the last data on screen, says how old it is, and retries
 * with backoff, so the page rides out the worker restarting.
 */
import { Freshness, getJson, parseJson, poll } from './api.js';
import { OwnerColors } from './colors.js';
import { byId } from './dom.js';
import { clock, compact, duration, rate } from './format.js';
import { MarketTable } from './market.js';
import { RingView } from './ring.js';
import { SymbolPage } from './symbol-page.js';
import { renderTimeline } from './timeline.js';
import { renderWorkers } from './workers.js';

/** @typedef {import('./types.js').Cluster} Cluster */
/** @typedef {import('./types.js').Ring} Ring */
/** @typedef {import('./types.js').Workers} Workers */
/** @typedef {import('./types.js').Rebalances} Rebalances */
/** @typedef {import('./types.js').Market} Market */
/** @typedef {import('./types.js').MarketRow} MarketRow */
/** @typedef {import('./types.js').SymbolAnswer} SymbolAnswer */

/** Data older than this is called stale on screen (ms). */
const STALE_AFTER_MS = 4_000;
/** Symbols followed live over the stream at most (the API's per-client limit). */
const STREAMED = 100;
const MARKET_PAGES = 10;

const colors = new OwnerColors();
const freshness = new Freshness();
const ringView = new RingView(
  byId('ring', SVGSVGElement),
  byId('ring-legend', HTMLUListElement),
  byId('ring-change', HTMLElement),
  colors,
);
const market = new MarketTable(
  byId('market', HTMLTableElement),
  byId('market-search', HTMLInputElement),
  byId('market-owner', HTMLSelectElement),
  byId('market-count', HTMLElement),
  colors,
);
const symbolPage = new SymbolPage(colors);
const overview = byId('overview', HTMLElement);
const workersBody = byId('workers', HTMLTableElement).tBodies[0];
const timeline = byId('timeline', HTMLOListElement);
const connection = byId('connection', HTMLElement);
const banner = byId('stale-banner', HTMLElement);
const facts = {
  epoch: byId('fact-epoch', HTMLElement),
  workers: byId('fact-workers', HTMLElement),
  symbols: byId('fact-symbols', HTMLElement),
  rate: byId('fact-rate', HTMLElement),
  answered: byId('fact-answered', HTMLElement),
};

/** @type {Ring | undefined} */
let ring;
/** @type {Workers | undefined} */
let workers;
let rebalancesEpoch = -1;

async function refreshCluster() {
  const cluster = /** @type {Cluster} */ (await getJson('/v1/cluster'));
  facts.epoch.textContent = String(cluster.epoch);
  facts.symbols.textContent = compact(cluster.symbols);
  facts.answered.textContent = cluster.answeredBy;
  if (!ring || ring.epoch !== cluster.epoch) {
    ring = /** @type {Ring} */ (await getJson('/v1/ring'));
    ringView.update(ring);
  }
  workers = /** @type {Workers} */ (await getJson('/v1/workers'));
  if (workersBody) renderWorkers(workersBody, workers, ring, colors);
  const active = workers.workers.filter((w) => !w.draining).length;
  facts.workers.textContent = String(active);
  facts.rate.textContent = rate(workers.workers.reduce((sum, w) => sum + (w.report?.tradesPerSec ?? 0), 0));
  if (cluster.epoch !== rebalancesEpoch) rebalances.now();
}

async function refreshRebalances() {
  const answer = /** @type {Rebalances} */ (await getJson('/v1/rebalances?limit=20'));
  // Members log an epoch once they are done with it: ask again until the newest one is there.
  if (answer.rebalances.some((entry) => entry.epoch === answer.epoch)) rebalancesEpoch = answer.epoch;
  renderTimeline(timeline, answer, colors);
}

async function refreshMarket() {
  if (overview.hidden) return;
  /** @type {MarketRow[]} */
  const rows = [];
  let cursor = null;
  let interval = '1m';
  for (let page = 0; page < MARKET_PAGES; page++) {
    const query = `/v1/market?limit=1000&points=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const answer = /** @type {Market} */ (await getJson(query, 8_000));
    rows.push(...answer.symbols);
    interval = answer.interval;
    cursor = answer.nextCursor;
    if (!cursor) break;
  }
  market.setRows(rows, interval);
}

const clusterPoll = poll(refreshCluster, { periodMs: 1_000, maxMs: 5_000, freshness });
const rebalances = poll(refreshRebalances, { periodMs: 5_000, maxMs: 10_000, freshness: new Freshness() });
const marketFreshness = new Freshness();
const marketPoll = poll(refreshMarket, { periodMs: 3_000, maxMs: 10_000, freshness: marketFreshness });

/* Live prices of the visible rows over the event stream. */
/** @type {EventSource | undefined} */
let stream;
let streamed = '';
/** @type {ReturnType<typeof setTimeout> | undefined} */
let streamTimer;
market.onVisibleChange = (/** @type {string[]} */ symbols) => {
  clearTimeout(streamTimer);
  // Debounced: typing in the search box must not open a stream per keystroke.
  streamTimer = setTimeout(() => followVisible(symbols.slice(0, STREAMED)), 800);
};

/** @param {string[]} symbols */
function followVisible(symbols) {
  // The set matters, not its order: re-sorting the table must not reopen the stream.
  const key = [...symbols].sort().join(',');
  if (key === streamed && stream && stream.readyState !== EventSource.CLOSED) return;
  stream?.close();
  stream = undefined;
  streamed = key;
  if (symbols.length === 0 || overview.hidden) return;
  stream = new EventSource(`/v1/stream?symbols=${symbols.map(encodeURIComponent).join(',')}`);
  stream.addEventListener('update', (event) => {
    if (!(event instanceof MessageEvent) || typeof event.data !== 'string') return;
    market.applyUpdate(/** @type {SymbolAnswer} */ (parseJson(event.data)));
  });
  stream.addEventListener('error', () => {
    // A 404 (a symbol removed) closes it for good: the next market refresh picks a new set.
    if (stream?.readyState === EventSource.CLOSED) streamed = '';
  });
}

/* Honest about staleness: say how old the data is once answers stop. */
function showFreshness() {
  const age = freshness.age();
  if (freshness.lastOkAt === 0) {
    connection.dataset['state'] = freshness.failures > 0 ? 'down' : 'connecting';
    connection.textContent = freshness.failures > 0 ? 'No answer from this worker; retrying…' : 'Connecting…';
    banner.hidden = freshness.failures === 0;
    banner.textContent = `This worker does not answer (${freshness.lastError}). Retrying…`;
  } else if (age > STALE_AFTER_MS) {
    connection.dataset['state'] = 'stale';
    connection.textContent = `Reconnecting · data ${duration(age)} old`;
    banner.hidden = false;
    banner.textContent =
      `No answer from this worker for ${duration(age)}${freshness.lastError ? ` (${freshness.lastError})` : ''}. ` +
      `Everything shown is as of ${clock(freshness.lastOkAt)} and may be out of date; retrying.`;
  } else {
    connection.dataset['state'] = 'live';
    connection.textContent = `Live · ${clock(freshness.lastOkAt)}`;
    banner.hidden = true;
  }
  document.body.classList.toggle('is-stale', !banner.hidden);
  const marketAge = marketFreshness.age();
  document.body.classList.toggle(
    'market-stale',
    marketFreshness.lastOkAt > 0 && marketAge > 3 * STALE_AFTER_MS,
  );
}
setInterval(showFreshness, 500);
showFreshness();

/* Routing: `#/` is the overview, `#/symbol/XYZ` a symbol's page. */
function route() {
  const match = /^#\/symbol\/(.+)$/.exec(location.hash);
  const symbol = match?.[1] ? decodeURIComponent(match[1]) : undefined;
  if (symbol) {
    overview.hidden = true;
    stream?.close();
    stream = undefined;
    streamed = '';
    symbolPage.open(symbol);
    byId('symbol-title', HTMLElement).setAttribute('tabindex', '-1');
    byId('symbol-title', HTMLElement).focus();
  } else {
    const wasHidden = overview.hidden;
    symbolPage.close();
    overview.hidden = false;
    document.title = 'tickring dashboard';
    if (wasHidden) {
      marketPoll.now();
      followVisible(market.visible.slice(0, STREAMED));
    }
  }
}
window.addEventListener('hashchange', route);
route();
window.addEventListener('pagehide', () => {
  clusterPoll.stop();
  marketPoll.stop();
  rebalances.stop();
  stream?.close();
});
