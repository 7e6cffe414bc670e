/**
 * Hands out one shared string per distinct piece of frame text (symbols), found by hashing the
 * characters where they lie in the frame: a symbol seen before costs no new string, and the string
 * handed out keeps its hash cached by V8, so the worker's per-symbol Map lookups and the aggregate's
 * `symbol !==` check are cheap. A string is validated once, when first seen; text that fails the
 * check is never stored. The table grows up to `maxEntries`; past that, new text is still returned
 * (sliced from the frame) but not remembered, so memory stays bounded whatever the feed sends.
 */
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 16777619;

export class StringInterner {
  private slots: (string | undefined)[];
  private hashes: Int32Array;
  private mask: number;
  private count = 0;

  constructor(
    private readonly accept: (text: string) => boolean,
    private readonly maxEntries = 1 << 18,
    initialBits = 12,
  ) {
    this.slots = new Array<string | undefined>(1 << initialBits).fill(undefined);
    this.hashes = new Int32Array(1 << initialBits);
    this.mask = (1 << initialBits) - 1;
  }

  get size(): number {
    return this.count;
  }

  /**
   * The string this table hands out for `text` (held from now on, when `accept` takes it and there
   * is room): lets a map keyed by symbols from elsewhere (the ring) hold the very strings the
   * decoder hands out, so a lookup matches them on identity, without reading the characters of a
   * key that is cold in the cache.
   */
  canonical(text: string): string {
    return this.get(text, 0, text.length) ?? text;
  }

  /** The string equal to `text.slice(start, end)`, or `undefined` when `accept` refuses it. */
  get(text: string, start: number, end: number): string | undefined {
    let hash = FNV_OFFSET;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ text.charCodeAt(i), FNV_PRIME);
    const length = end - start;
    const slots = this.slots;
    let slot = hash & this.mask;
    for (;;) {
      const held = slots[slot];
      if (held === undefined) break;
      if (this.hashes[slot] === hash && held.length === length && sameText(held, text, start)) return held;
      slot = (slot + 1) & this.mask;
    }
    const fresh = text.slice(start, end);
    if (!this.accept(fresh)) return undefined;
    if (this.count < this.maxEntries) {
      slots[slot] = fresh;
      this.hashes[slot] = hash;
      // Kept at most half full, so probes stay short.
      if (++this.count * 2 > slots.length) this.grow();
    }
    return fresh;
  }

  private grow(): void {
    const old = this.slots;
    const oldHashes = this.hashes;
    const size = old.length * 2;
    this.slots = new Array<string | undefined>(size).fill(undefined);
    this.hashes = new Int32Array(size);
    this.mask = size - 1;
    for (let i = 0; i < old.length; i++) {
      const held = old[i];
      if (held === undefined) continue;
      const hash = oldHashes[i] as number;
      let slot = hash & this.mask;
      while (this.slots[slot] !== undefined) slot = (slot + 1) & this.mask;
      this.slots[slot] = held;
      this.hashes[slot] = hash;
    }
  }
}

function sameText(held: string, text: string, start: number): boolean {
  for (let i = 0; i < held.length; i++) if (held.charCodeAt(i) !== text.charCodeAt(start + i)) return false;
  return true;
}
