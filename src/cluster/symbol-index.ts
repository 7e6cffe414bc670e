/**
 * The symbol universe as an `Assignment` walks it: each symbol once, with a slot number.
 * Consecutive epochs mostly read the same universe (SMEMBERS of an unchanged set lists it in the
 * same order), so the index of the last one is reused when the list matches, instead of building a
 * map of 8,000 entries again; and two assignments sharing an index compare owners slot by slot
 * (`Assignment.movedSince`).
 */

/** The index built last, for the next epoch to reuse. */
let last: SymbolIndex | undefined;

export class SymbolIndex {
  /** The universe's symbols, each once, in the order first listed. */
  readonly symbols: readonly string[];
  /** symbol → its position in `symbols`. */
  readonly slots: ReadonlyMap<string, number>;

  private constructor(list: Iterable<string>) {
    const slots = new Map<string, number>();
    const symbols: string[] = [];
    for (const symbol of list) {
      if (slots.has(symbol)) continue;
      slots.set(symbol, symbols.length);
      symbols.push(symbol);
    }
    this.symbols = symbols;
    this.slots = slots;
  }

  /** The index of `list`: the last one built when `list` names the same symbols in the same order. */
  static of(list: Iterable<string>): SymbolIndex {
    const symbols = Array.isArray(list) ? (list as readonly string[]) : [...list];
    if (last?.sameAs(symbols) !== true) last = new SymbolIndex(symbols);
    return last;
  }

  /** Whether `list` is exactly `symbols` (a list with repeats never is; it gets an index of its own). */
  private sameAs(list: readonly string[]): boolean {
    if (list.length !== this.symbols.length) return false;
    for (let i = 0; i < list.length; i++) if (list[i] !== this.symbols[i]) return false;
    return true;
  }
}
