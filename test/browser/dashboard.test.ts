/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against worker
 * processes and the simulator: it shows every worker and the owner the ring gives to sampled
 * symbols, follows a join and a crash, renders a symbol's bars, rides out its own worker restarting,
 * is usable from the keyboard with labelled controls and readable contrast, and never asks anything
 * of another origin. Workers run with `--replicas 2`, so the page shows each one as a standby too. Screenshots go to test-artifacts/.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Page } from 'playwright-core';
import { polygon } from '../../feeds/polygon.js';
import { readRingRecord } from '../../src/cluster/membership.js';
import { Assignment } from '../../src/cluster/ring.js';
import { addSymbols } from '../../src/cluster/universe.js';
import { freePort } from '../../src/roles/embedded-redis.js';
import { startSimulator, type RunningSimulator } from '../../src/sim/simulator.js';
import { generateSymbols } from '../../src/sim/universe.js';
import { ARTIFACTS, launchBrowser, type Browser } from '../support/browser.js';
import { testCluster, type TestCluster } from '../support/redis.js';
import { eventually, startWorker, stopAll, type WorkerProcess } from '../support/workers.js';

const SYMBOLS = generateSymbols(40);
const SAMPLED = SYMBOLS.filter((_, i) => i % 7 === 0);

describe('the dashboard in a browser', () => {
  let env: TestCluster;
  let sim: RunningSimulator;
  let browser: Browser;
  let page: Page;
  let w1Port: number;
  let w1Url: string;
  const workers: WorkerProcess[] = [];

  function launch(id: string, port = 0): WorkerProcess {
    const worker = startWorker(id, {
      prefix: env.prefix,
      cluster: env.cluster,
      feedUrl: sim.wsUrl,
      extraArgs: ['--http-port', String(port), '--replicas', '2'],
    });
    workers.push(worker);
    return worker;
  }

  /** The ring as Redis holds it, once every listed member is in it and acts on its epoch. */
  async function settled(ids: readonly string[]): Promise<Assignment> {
    return eventually(
      `ring of ${ids.join(',')}`,
      async () => {
        const record = await readRingRecord(env.redis, env.keys);
        const members = record.members.map((m) => m.id).join(',');
        if (members !== [...ids].sort().join(',')) throw new Error(`members are ${members}`);
        for (const member of record.members) {
          const ready = await fetch(`${member.address}/readyz`, { signal: AbortSignal.timeout(2_000) });
          const body = (await ready.json()) as { epoch: number };
          if (ready.status !== 200 || body.epoch !== record.epoch)
            throw new Error(`${member.id} not ready at ${record.epoch}`);
        }
        return new Assignment(record, SYMBOLS);
      },
      30_000,
      200,
    );
  }

  /** What the page shows: worker rows, ring epoch, and the owner of each sampled symbol. */
  async function shown(): Promise<{
    workers: { id: string; state: string }[];
    ringEpoch: string | undefined;
    tableOwners: Record<string, string>;
    ringOwners: Record<string, string>;
    connection: string | undefined;
  }> {
    return page.evaluate((sampled) => {
      const rows = [...document.querySelectorAll<HTMLElement>('#workers tbody tr')];
      const tableOwners: Record<string, string> = {};
      const ringOwners: Record<string, string> = {};
      for (const symbol of sampled) {
        const row = document.querySelector(`#market tr[data-symbol="${symbol}"] .owner`);
        tableOwners[symbol] = row?.textContent.trim() ?? '';
        const dot = document.querySelector<SVGElement>(`#ring [data-symbol="${symbol}"]`);
        ringOwners[symbol] = dot?.dataset['owner'] ?? '';
      }
      return {
        workers: rows.map((row) => ({ id: row.dataset['worker'] ?? '', state: row.dataset['state'] ?? '' })),
        ringEpoch: document.querySelector<SVGElement>('#ring')?.dataset['epoch'],
        tableOwners,
        ringOwners,
        connection: document.getElementById('connection')?.dataset['state'],
      };
    }, SAMPLED);
  }

  /** Waits until the page shows exactly `ids` as ready workers and the ring's owners of the samples. */
  async function pageShows(ids: readonly string[], assignment: Assignment): Promise<void> {
    const expected = Object.fromEntries(SAMPLED.map((s) => [s, assignment.ownerOf(s) ?? '']));
    await eventually(
      `the page to show ${ids.join(',')} at epoch ${assignment.epoch}`,
      async () => {
        const now = await shown();
        const states = now.workers.map((w) => `${w.id}:${w.state}`).join(',');
        if (states !== ids.map((id) => `${id}:ready`).join(',')) throw new Error(`workers shown: ${states}`);
        if (now.ringEpoch !== String(assignment.epoch)) throw new Error(`ring at ${now.ringEpoch}`);
        expect(now.ringOwners).toEqual(expected);
        expect(now.tableOwners).toEqual(expected);
        return true;
      },
      30_000,
      250,
    );
  }

  beforeAll(async () => {
    env = await testCluster('dash');
    sim = await startSimulator({ protocol: polygon, symbols: SYMBOLS, rate: 200, seed: 9 });
    await addSymbols(env.redis, env.keys, SYMBOLS);
    w1Port = await freePort();
    w1Url = `http://127.0.0.1:${w1Port}`;
    launch('w1', w1Port);
    launch('w2');
    browser = await launchBrowser();
    page = browser.page;
  }, 60_000);

  afterAll(async () => {
    // Inside the promise: `browser` is unset when it could not start, and the workers and keys
    // must go all the same.
    await Promise.resolve()
      .then(() => browser.close())
      .catch(() => undefined);
    await stopAll(workers);
    await sim.close();
    await env.cleanup();
  });

  it('loads against a running cluster and shows every worker and the right owners', async () => {
    const assignment = await settled(['w1', 'w2']);
    const response = await page.goto(`${w1Url}/`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");
    await pageShows(['w1', 'w2'], assignment);
    await eventually('connection live', async () =>
      (await shown()).connection === 'live' ? true : undefined,
    );
    // The market fills in: every symbol listed with a price once trades flow.
    await eventually(
      'prices in the table',
      () =>
        page.evaluate(() => {
          const priced = [...document.querySelectorAll('#market tbody tr td:nth-child(2)')].filter((td) =>
            /\d/.test(td.textContent),
          ).length;
          return priced >= 20 ? priced : undefined;
        }),
      30_000,
      250,
    );
    expect(await page.locator('#market tbody tr').count()).toBe(SYMBOLS.length);
    // With --replicas 2 each worker follows the other's symbols as a standby, and the page says so:
    // a count in the standby column, a standby tag, and each sampled symbol's standby in the table.
    const expectedStandbys = Object.fromEntries(
      SAMPLED.map((s) => [s, `standby ${assignment.standbyOf(s) ?? '?'}`]),
    );
    await eventually(
      'standbys shown',
      async () => {
        const now = await page.evaluate((sampled) => {
          const rows = [...document.querySelectorAll('#workers tbody tr[data-worker]')];
          const standbyOf: Record<string, string> = {};
          for (const symbol of sampled) {
            const text = document.querySelector(`#market tr[data-symbol="${symbol}"] .standby`)?.textContent;
            standbyOf[symbol] = (text ?? '').replace(' (warming)', '');
          }
          return {
            counts: rows.map((row) =>
              Number.parseInt(row.querySelector('td[data-col="standby"]')?.textContent ?? ''),
            ),
            tagged: rows.filter((row) =>
              [...row.querySelectorAll('.tag')].some((t) => t.textContent === 'standby'),
            ).length,
            standbyOf,
          };
        }, SAMPLED);
        if (now.counts.length !== 2 || !now.counts.every((n) => n > 0) || now.tagged !== 2)
          throw new Error(`standby column ${now.counts.join(',')}, tagged ${now.tagged}`);
        expect(now.standbyOf).toEqual(expectedStandbys);
        return true;
      },
      30_000,
      250,
    );
    // A relay record in Redis (as `tickring relay` publishes it) shows as its own row, labelled relay.
    // Removed whatever happens here: the later tests expect the workers alone.
    onTestFinished(() => env.redis.del(env.keys.relay).then(() => undefined));
    await env.redis.set(
      env.keys.relay,
      JSON.stringify({ holder: 'relay-a', token: 4, address: 'ws://127.0.0.1:9/relay', feed: 'polygon' }),
    );
    await eventually(
      'the relay row',
      async () => {
        const row = page.locator('#workers tbody tr[data-relay="relay-a"]');
        if ((await row.count()) === 0) return undefined;
        const text = await row.innerText();
        expect(text).toContain('relay');
        expect(text).toContain('fencing token 4');
        expect(text).toContain('no worker reads through it');
        return true;
      },
      20_000,
      250,
    );
    await browser.screenshot('dashboard-overview.png');
    // A laptop screen: nothing wider than the window, the ring and workers above the fold.
    await page.setViewportSize({ width: 1280, height: 720 });
    const fit = await page.evaluate(() => ({
      overflow: document.documentElement.scrollWidth - window.innerWidth,
      ringBottom: document.getElementById('ring')?.getBoundingClientRect().bottom ?? Infinity,
      workersBottom: document.getElementById('workers')?.getBoundingClientRect().bottom ?? Infinity,
      workersOverflow: (() => {
        const scroller = document.getElementById('workers')?.parentElement;
        return scroller ? scroller.scrollWidth - scroller.clientWidth : 0;
      })(),
      // Room the table keeps for longer values than these (a lag of seconds, standbys warming): its
      // narrowest layout against the width it has. Its nowrap headers alone once left 2 px, and a CI
      // run overflowed by 9.
      workersSlack: (() => {
        const table = document.getElementById('workers');
        if (!table?.parentElement) return 0;
        table.style.width = 'min-content';
        const narrowest = table.getBoundingClientRect().width;
        table.style.width = '';
        return table.parentElement.clientWidth - narrowest;
      })(),
    }));
    const measured = JSON.stringify(fit);
    expect(fit.overflow, measured).toBeLessThanOrEqual(0);
    expect(fit.workersOverflow, measured).toBeLessThanOrEqual(0);
    expect(fit.workersSlack, measured).toBeGreaterThanOrEqual(40);
    expect(fit.ringBottom, measured).toBeLessThanOrEqual(720);
    expect(fit.workersBottom, measured).toBeLessThanOrEqual(720);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-laptop.png`, timeout: 20_000 });
    await page.setViewportSize({ width: 1366, height: 900 });
    await env.redis.del(env.keys.relay);
    await eventually(
      'the relay row gone',
      async () => ((await page.locator('#workers tbody tr[data-relay]').count()) === 0 ? true : undefined),
      20_000,
      250,
    );
  }, 90_000);

  it('is labelled, keyboard-usable and readable', async () => {
    const problems = await page.evaluate(() => {
      const found: string[] = [];
      const nameOf = (el: Element): string => {
        const labelledBy = el.getAttribute('aria-labelledby');
        if (labelledBy)
          return labelledBy
            .split(' ')
            .map((id) => document.getElementById(id)?.textContent ?? '')
            .join(' ')
            .trim();
        const aria = el.getAttribute('aria-label');
        if (aria) return aria.trim();
        if (el.id) {
          const label = document.querySelector(`label[for="${el.id}"]`);
          if (label) return label.textContent.trim();
        }
        return el instanceof HTMLElement ? el.innerText.trim() : '';
      };
      if (!document.documentElement.lang) found.push('html has no lang');
      for (const el of document.querySelectorAll('input, select, button, a[href], textarea')) {
        if (nameOf(el) === '') found.push(`unlabelled ${el.outerHTML.slice(0, 80)}`);
      }
      for (const svg of document.querySelectorAll('svg[role="img"]')) {
        if (nameOf(svg) === '') found.push(`svg without a name ${svg.id}`);
      }
      for (const img of document.querySelectorAll('img')) {
        if (!img.hasAttribute('alt')) found.push(`img without alt ${img.src}`);
      }
      for (const table of document.querySelectorAll('table')) {
        if (!table.querySelector('caption')) found.push(`table ${table.id} has no caption`);
        for (const th of table.querySelectorAll('thead th'))
          if (th.getAttribute('scope') !== 'col') found.push(`table ${table.id}: header without scope`);
        for (const row of table.querySelectorAll('tbody tr'))
          if (!row.querySelector('th[scope="row"]') && !row.classList.contains('empty'))
            found.push(`table ${table.id}: row without a row header`);
      }
      // Contrast: WCAG relative luminance of text against the nearest opaque background.
      const rgb = (color: string): number[] => (color.match(/[\d.]+/g) ?? []).map(Number);
      const luminance = ([r = 0, g = 0, b = 0]: number[]): number => {
        const channel = (v: number): number => {
          const c = v / 255;
          return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
        };
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
      };
      const background = (el: Element | null): number[] => {
        for (let node = el; node; node = node.parentElement) {
          const parts = rgb(getComputedStyle(node).backgroundColor);
          if (parts.length === 3 || (parts.length === 4 && (parts[3] ?? 0) === 1)) return parts;
        }
        return [13, 17, 23];
      };
      const texts = document.querySelectorAll(
        'h2, th, td, dt, dd, a, label, .muted, .badge, .tl-reason, .connection, .legend li span, .ring-key',
      );
      for (const el of texts) {
        if (!(el instanceof HTMLElement) || el.offsetParent === null || el.innerText.trim() === '') continue;
        const fg = luminance(rgb(getComputedStyle(el).color));
        const bg = luminance(background(el));
        const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
        if (ratio < 4.5) found.push(`contrast ${ratio.toFixed(2)} on ${el.tagName}.${el.className}`);
      }
      return [...new Set(found)];
    });
    expect(problems).toEqual([]);

    // Keyboard: Tab reaches the controls with a visible focus ring; Enter sorts; Enter opens a symbol.
    await page.locator('body').focus();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.className)).toBe('skip-link');
    const ring = await page.evaluate(
      () => getComputedStyle(document.activeElement ?? document.body).outlineStyle,
    );
    expect(ring).not.toBe('none');
    await page.locator('#market-search').focus();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab'); // owner select, then the first sort button (Symbol)
    await page.keyboard.press('Tab'); // the Last column's sort button
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Last');
    expect(
      await page.evaluate(() => getComputedStyle(document.activeElement ?? document.body).outlineStyle),
    ).not.toBe('none');
    await page.keyboard.press('Enter');
    expect(await page.locator('th[data-key="last"]').getAttribute('aria-sort')).toBe('descending');
    await page.keyboard.press('Enter');
    expect(await page.locator('th[data-key="last"]').getAttribute('aria-sort')).toBe('ascending');
    await page.locator('#market-search').fill(SYMBOLS[3] ?? '');
    await eventually('search narrows the table', async () =>
      (await page.locator('#market tbody tr').count()) === 1 ? true : undefined,
    );
    await page.locator('#market tbody tr a').first().focus();
    await page.keyboard.press('Enter');
    await eventually('the symbol page to open', () =>
      page.evaluate(() => (location.hash.startsWith('#/symbol/') ? true : undefined)),
    );
    // The hash changes at once; the route handler, which moves focus, runs on `hashchange`, later.
    await eventually('focus on the symbol title', () =>
      page.evaluate(() => (document.activeElement?.id === 'symbol-title' ? true : undefined)),
    );
    await page.goto(`${w1Url}/#/`);
    await page.locator('#market-search').fill('');
  }, 60_000);

  it('updates when a worker joins', async () => {
    launch('w3');
    const assignment = await settled(['w1', 'w2', 'w3']);
    await pageShows(['w1', 'w2', 'w3'], assignment);
    await eventually(
      'the join in the timeline',
      async () => {
        const text = await page.locator('#timeline').innerText();
        return text.includes(`Epoch ${assignment.epoch}`) && text.includes('w3') ? true : undefined;
      },
      20_000,
      250,
    );
    expect(await page.locator('#ring-change').innerText()).toMatch(/w3 joined/);
    await browser.screenshot('dashboard-join.png');
  }, 90_000);

  it('updates when a worker is killed', async () => {
    const w2 = workers.find((w) => w.id === 'w2');
    w2?.child.kill('SIGKILL');
    await w2?.exited;
    // Until its lease lapses the ring still lists it: the page says it does not answer.
    const assignment = await settled(['w1', 'w3']);
    await pageShows(['w1', 'w3'], assignment);
    expect(await page.locator('#ring-change').innerText()).toMatch(/w2 left/);
    await browser.screenshot('dashboard-kill.png');
  }, 90_000);

  it('renders a symbol page with its bars', async () => {
    const busiest = await eventually('a symbol with trades', async () => {
      const response = await fetch(`${w1Url}/v1/market?limit=100`);
      const body = (await response.json()) as { symbols: { symbol: string; trades: number | null }[] };
      const best = [...body.symbols].sort((a, b) => (b.trades ?? 0) - (a.trades ?? 0))[0];
      return best && (best.trades ?? 0) > 0 ? best.symbol : undefined;
    });
    await page.goto(`${w1Url}/#/symbol/${busiest}`);
    await eventually(
      'candles on the chart',
      async () => ((await page.locator('#chart .candle').count()) > 0 ? true : undefined),
      20_000,
      250,
    );
    expect(await page.locator('#symbol-title').innerText()).toBe(busiest);
    // Its standby (the workers run with --replicas 2) is named next to its owner.
    const standby = new Assignment(await readRingRecord(env.redis, env.keys), SYMBOLS).standbyOf(busiest);
    await eventually(
      'the standby on the symbol page',
      async () =>
        (await page.locator('#symbol-meta').innerText()).includes(`standby ${standby ?? '?'}`)
          ? true
          : undefined,
      20_000,
      250,
    );
    expect(await page.locator('#bars tbody tr').count()).toBeGreaterThan(0);
    expect(await page.locator('#chart desc').textContent()).toContain(`${busiest}:`);
    // 1 s bars too, from the interval switch.
    await page.locator('label[for="interval-1s"]').click();
    await eventually(
      'second bars',
      async () => ((await page.locator('#chart-title').innerText()) === '1s bars' ? true : undefined),
      20_000,
      250,
    );
    await eventually(
      'several second bars',
      async () => ((await page.locator('#chart .candle').count()) > 1 ? true : undefined),
      20_000,
      250,
    );
    await browser.screenshot('dashboard-symbol.png');
  }, 60_000);

  it('says its data is stale while its worker restarts, then goes live again', async () => {
    await page.goto(`${w1Url}/`);
    await eventually('connection live', async () =>
      (await shown()).connection === 'live' ? true : undefined,
    );
    const w1 = workers.find((w) => w.id === 'w1');
    w1?.child.kill('SIGTERM');
    await w1?.exited;
    await eventually(
      'the stale banner',
      async () => ((await page.locator('#stale-banner').isVisible()) ? true : undefined),
      20_000,
      250,
    );
    expect(await page.locator('#stale-banner').innerText()).toMatch(/No answer from this worker/);
    expect((await shown()).connection).toBe('stale');
    await browser.screenshot('dashboard-stale.png');
    launch('w1', w1Port);
    const assignment = await settled(['w1', 'w3']);
    await pageShows(['w1', 'w3'], assignment);
    await eventually('connection live again', async () =>
      (await shown()).connection === 'live' && !(await page.locator('#stale-banner').isVisible())
        ? true
        : undefined,
    );
  }, 90_000);

  it('asked nothing of any other origin, and ran without errors or CSP violations', () => {
    expect(browser.requests.length).toBeGreaterThan(20);
    const foreign = browser.requests.filter((url) => !url.startsWith('http://127.0.0.1:'));
    expect(foreign).toEqual([]);
    // Refused connections while w1 restarted are expected console noise; nothing else is.
    const errors = browser.errors.filter((e) => !/ERR_CONNECTION_REFUSED|Failed to load resource/.test(e));
    expect(errors).toEqual([]);
    expect(browser.errors.filter((e) => /Content Security Policy/i.test(e))).toEqual([]);
  });
});
