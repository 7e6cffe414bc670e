// @ts-check
/**
 * One colour per worker id, kept for as long as the page lives: a worker joining or leaving must not
 * repaint everyone else, or the animation would show moves that did not happen. Colours are chosen
 * to stay apart from each other and readable on the dark background (≥ 4.5:1 for text).
 */

const PALETTE = [
  '#58a6ff', // blue
  '#f0883e', // orange
  '#3fb950', // green
  '#db61a2', // pink
  '#d2a8ff', // lavender
  '#e3b341', // yellow
  '#56d4dd', // cyan
  '#ff7b72', // coral
  '#a5d6ff', // pale blue
  '#7ee787', // pale green
];

export class OwnerColors {
  constructor() {
    /** @type {Map<string, string>} */
    this.byId = new Map();
  }

  /**
   * Gives the next palette colour to each id that has none, in sorted order. Colours are never
   * handed to a second id while the palette lasts, so a newcomer never looks like someone else.
   * @param {readonly string[]} ids
   */
  assign(ids) {
    for (const id of [...ids].sort()) {
      if (this.byId.has(id)) continue;
      this.byId.set(id, PALETTE[this.byId.size % PALETTE.length] ?? '#8b949e');
    }
  }

  /** @param {string | null | undefined} id */
  of(id) {
    return (id && this.byId.get(id)) || '#8b949e';
  }
}
