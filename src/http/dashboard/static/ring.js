// @ts-check
/**
 * The ring drawn in SVG: each worker's arcs on an outer band, each symbol a dot where it hashes,
 * coloured by its owner; pinned symbols are drawn as outlined diamonds. When the epoch changes the
 * old arcs fade out as the new ones fade in, dots change colour in place, and the symbols that moved
 * pulse, so a join, leave or crash reads at a glance.
 */
import { h, replace, restartAnimation, s } from './dom.js';
import { compact } from './format.js';

/** @typedef {import('./types.js').Ring} Ring */
/** @typedef {import('./colors.js').OwnerColors} OwnerColors */

/** The outer band: every arc of the hash ring, as the virtual nodes cut it. */
const BAND_RADIUS = 190;
const BAND_WIDTH = 10;
/** The inner band: each worker's share of the circle in one piece, to compare at a glance. */
const SHARE_RADIUS = 171;
const SHARE_WIDTH = 16;
const DOT_RADIUS = 148;
/** Beyond this many symbols the dots would be noise; the arcs still tell the story. */
const MAX_DOTS = 3_000;
const FADE_MS = 900;

/**
 * @param {number} fraction
 * @param {number} radius
 * @returns {[number, number]}
 */
function point(fraction, radius) {
  const angle = fraction * 2 * Math.PI - Math.PI / 2;
  return [Math.cos(angle) * radius, Math.sin(angle) * radius];
}

/**
 * @param {number} start
 * @param {number} end
 * @param {number} radius
 */
function arcPath(start, end, radius) {
  const [x1, y1] = point(start, radius);
  const [x2, y2] = point(end, radius);
  const large = end - start > 0.5 ? 1 : 0;
  return `M${x1.toFixed(2)} ${y1.toFixed(2)}A${radius} ${radius} 0 ${large} 1 ${x2.toFixed(2)} ${y2.toFixed(2)}`;
}

export class RingView {
  /**
   * @param {SVGSVGElement} svg
   * @param {HTMLUListElement} legend
   * @param {HTMLElement} change where the latest change is announced
   * @param {OwnerColors} colors
   */
  constructor(svg, legend, change, colors) {
    this.svg = svg;
    this.legend = legend;
    this.change = change;
    this.colors = colors;
    this.reducedMotion = window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    const desc = svg.querySelector('desc');
    if (!desc) throw new Error('the ring has no desc');
    this.desc = desc;
    this.track = s('g', {}, [
      s('circle', { r: BAND_RADIUS, class: 'ring-track', 'stroke-width': BAND_WIDTH + 4 }),
      s('circle', { r: SHARE_RADIUS, class: 'ring-track', 'stroke-width': SHARE_WIDTH + 4 }),
    ]);
    this.arcLayer = s('g', { class: 'ring-arcs' });
    this.dotLayer = s('g', { class: 'ring-dots' });
    this.centre = s('g', { class: 'ring-centre' });
    svg.append(this.track, this.arcLayer, this.dotLayer, this.centre);
    /** @type {Map<string, SVGElement>} */
    this.dots = new Map();
    /** @type {Ring | undefined} */
    this.ring = undefined;
  }

  /** @param {Ring} ring */
  update(ring) {
    const previous = this.ring;
    if (previous && previous.epoch === ring.epoch) return;
    this.ring = ring;
    this.colors.assign(ring.members.map((m) => m.id));
    this.drawArcs(ring, previous !== undefined);
    const moved = this.drawDots(ring, previous);
    this.drawCentre(ring, moved, previous);
    this.drawLegend(ring);
    const summary = ring.members
      .map((m) => {
        const count = ring.symbols.filter((x) => x.owner === m.id).length;
        return `${m.id}${m.draining ? ' (draining)' : ''} ${(m.share * 100).toFixed(1)}% of the ring, ${count} symbols`;
      })
      .join('; ');
    const pinned = ring.symbols.filter((x) => x.pinned).length;
    this.desc.textContent =
      `The ring at epoch ${ring.epoch}: ${summary || 'no active workers'}.` +
      (pinned > 0 ? ` ${pinned} pinned symbol${pinned === 1 ? '' : 's'}.` : '');
    this.svg.dataset['epoch'] = String(ring.epoch);
  }

  /**
   * @param {Ring} ring
   * @param {boolean} animate
   */
  drawArcs(ring, animate) {
    const group = s('g', { class: animate && !this.reducedMotion ? 'arc-set entering' : 'arc-set' });
    for (const member of ring.members) {
      if (member.draining) continue;
      const color = this.colors.of(member.id);
      const path = member.arcs.map(([a, b]) => arcPath(a, b, BAND_RADIUS)).join('');
      if (path === '') continue;
      group.append(
        s(
          'path',
          { d: path, stroke: color, 'stroke-width': BAND_WIDTH, class: 'arc', 'data-owner': member.id },
          [s('title', {}, [`${member.id}: ${(member.share * 100).toFixed(1)}% of the ring`])],
        ),
      );
    }
    let at = 0;
    for (const member of ring.members) {
      if (member.draining || member.share <= 0) continue;
      const end = Math.min(1, at + member.share);
      // A hair of space between pieces; a lone worker gets the whole circle as two halves.
      const gap = member.share < 0.999 ? 0.003 : 0;
      const d =
        member.share >= 0.999
          ? arcPath(0, 0.5, SHARE_RADIUS) + arcPath(0.5, 1, SHARE_RADIUS)
          : arcPath(at + gap, end - gap, SHARE_RADIUS);
      group.append(
        s('path', { d, stroke: this.colors.of(member.id), 'stroke-width': SHARE_WIDTH, class: 'arc share' }, [
          s('title', {}, [`${member.id}: ${(member.share * 100).toFixed(1)}% of the ring`]),
        ]),
      );
      at = end;
    }
    const old = [...this.arcLayer.children];
    this.arcLayer.append(group);
    if (!animate || this.reducedMotion) {
      for (const node of old) node.remove();
      return;
    }
    for (const node of old) node.classList.add('leaving');
    // Force a style pass so the entering set starts transparent, then fade it in.
    void group.getBoundingClientRect();
    group.classList.remove('entering');
    setTimeout(() => {
      for (const node of old) node.remove();
    }, FADE_MS);
  }

  /**
   * @param {Ring} ring
   * @param {Ring | undefined} previous
   * @returns {number} symbols whose owner changed
   */
  drawDots(ring, previous) {
    const before = new Map((previous?.symbols ?? []).map((x) => [x.symbol, x.owner]));
    const shown = ring.symbols.slice(0, MAX_DOTS);
    const keep = new Set(shown.map((x) => x.symbol));
    for (const [symbol, dot] of this.dots) {
      if (!keep.has(symbol)) {
        dot.remove();
        this.dots.delete(symbol);
      }
    }
    let moved = 0;
    shown.forEach((x, i) => {
      if (x.position === null) return;
      const color = this.colors.of(x.owner);
      // Three lanes, so symbols hashing close together stay apart.
      const radius = DOT_RADIUS - (i % 3) * 9;
      const [cx, cy] = point(x.position, radius);
      let dot = this.dots.get(x.symbol);
      const shape = x.pinned ? 'pin' : 'dot';
      if (dot && dot.dataset['shape'] !== shape) {
        dot.remove();
        dot = undefined;
      }
      if (!dot) {
        dot = x.pinned
          ? s('polygon', {
              // A diamond drawn by its corners: no transform to fight the pulse animation's origin.
              points: [
                [cx, cy - 6],
                [cx + 6, cy],
                [cx, cy + 6],
                [cx - 6, cy],
              ]
                .map(([x, y]) => `${(x ?? 0).toFixed(2)},${(y ?? 0).toFixed(2)}`)
                .join(' '),
            })
          : s('circle', { cx: cx.toFixed(2), cy: cy.toFixed(2), r: 3.4 });
        dot.dataset['shape'] = shape;
        dot.dataset['symbol'] = x.symbol;
        dot.append(s('title'));
        this.dotLayer.append(dot);
        this.dots.set(x.symbol, dot);
      }
      dot.setAttribute('class', x.pinned ? 'sym pinned' : 'sym');
      dot.setAttribute('fill', color);
      dot.dataset['owner'] = x.owner;
      const title = dot.querySelector('title');
      if (title) title.textContent = `${x.symbol} → ${x.owner}${x.pinned ? ' (pinned)' : ''}`;
      const was = before.get(x.symbol);
      if (previous && was !== undefined && was !== x.owner) {
        moved++;
        if (!this.reducedMotion) restartAnimation(dot, 'moved');
      }
    });
    return moved;
  }

  /**
   * @param {Ring} ring
   * @param {number} moved
   * @param {Ring | undefined} previous
   */
  drawCentre(ring, moved, previous) {
    const active = ring.members.filter((m) => !m.draining).length;
    replace(this.centre, [
      s('text', { class: 'centre-label', y: -26 }, ['epoch']),
      s('text', { class: 'centre-epoch', y: 14 }, [String(ring.epoch)]),
      s('text', { class: 'centre-sub', y: 40 }, [
        `${active} worker${active === 1 ? '' : 's'} · ${compact(ring.symbols.length)} symbols`,
      ]),
    ]);
    if (!previous) return;
    const before = new Set(previous.members.map((m) => m.id));
    const after = new Set(ring.members.map((m) => m.id));
    const joined = [...after].filter((id) => !before.has(id));
    const left = [...before].filter((id) => !after.has(id));
    const parts = [];
    if (joined.length > 0) parts.push(`${joined.join(', ')} joined`);
    if (left.length > 0) parts.push(`${left.join(', ')} left`);
    // The record's reason tells a crash (`reaped w2`) from a clean leave (`leave w2`).
    const what =
      parts.length === 0 ? ring.reason || 'placement changed' : `${parts.join('; ')} (${ring.reason})`;
    this.change.textContent = `Epoch ${ring.epoch}: ${what} — ${moved} symbol${moved === 1 ? '' : 's'} moved`;
    if (!this.reducedMotion) restartAnimation(this.change, 'flash');
  }

  /** @param {Ring} ring */
  drawLegend(ring) {
    /** @type {Map<string, number>} */
    const counts = new Map();
    for (const x of ring.symbols) counts.set(x.owner, (counts.get(x.owner) ?? 0) + 1);
    const pinned = ring.symbols.filter((x) => x.pinned).length;
    replace(this.legend, [
      ...ring.members.map((m) => {
        const swatch = h('span', { class: 'swatch', 'aria-hidden': 'true' });
        swatch.style.setProperty('--swatch', this.colors.of(m.id));
        return h('li', { 'data-owner': m.id }, [
          swatch,
          h('span', { class: 'legend-id' }, [m.id]),
          h('span', { class: 'muted' }, [
            m.draining ? 'draining' : `${(m.share * 100).toFixed(1)}% · ${counts.get(m.id) ?? 0} symbols`,
          ]),
        ]);
      }),
      pinned > 0
        ? h('li', { class: 'legend-pin' }, [
            h('span', { class: 'swatch pin', 'aria-hidden': 'true' }),
            h('span', {}, [`${pinned} pinned`]),
          ])
        : null,
    ]);
  }
}
