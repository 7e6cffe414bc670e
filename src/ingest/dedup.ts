/**
 * Drops trades already seen, by the provider's de-duplication key, within a bounded window: the
 * newest `capacity` keys are remembered, older ones forgotten first. Memory is fixed whatever the feed
 * sends.
 */
export class DedupWindow {
  private readonly seen = new Set<string>();
  private readonly order: (string | undefined)[];
  private next = 0;
  dropped = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
    this.order = new Array<string | undefined>(capacity);
  }

  /** Returns true the first time a key is offered within the window, false for a duplicate. */
  admit(key: string): boolean {
    if (this.seen.has(key)) {
      this.dropped++;
      return false;
    }
    const evicted = this.order[this.next];
    if (evicted !== undefined) this.seen.delete(evicted);
    this.order[this.next] = key;
    this.next = (this.next + 1) % this.capacity;
    this.seen.add(key);
    return true;
  }

  /** Whether `key` is in the window, without admitting it. */
  has(key: string): boolean {
    return this.seen.has(key);
  }

  get size(): number {
    return this.seen.size;
  }
}
