/**
 * Drops trades already seen, by the provider's de-duplication key, within a bounded window: the
 * newest `capacity` keys are remembered, older ones forgotten first. Memory is fixed whatever the feed
 * sends.
 *
 * Two ways in, one window each (a window should be fed one way only):
 * - `admit(key)`: the key as text (`FeedAdapter.dedupKey`), kept in a Set;
 * - `admitTrade(trade, fields)`: the same identity compared field by field (symbol, id, and the
 *   exchange and kind where the adapter's `dedupFields` lists them), in a chained hash table over
 *   typed arrays. It builds no key string per trade, and keeps a numeric id (decimal digits, as
 *   Polygon and Binance send) as a number, other ids and the symbol and exchange by reference to
 *   strings the trade already holds: it allocates nothing, and the window holds no per-trade string
 *   the garbage collector would have to carry into the old generation. Equal fields are checked
 *   exactly, so a hash collision never drops a trade. Several times cheaper per trade than building
 *   and hashing the key text.
 * `has(key)` and `hasTrade(identity, fields)` ask the same of either window without admitting.
 */
import type { DedupFields, TradeIdentity } from '../../feeds/adapter.js';
import type { TradeKind } from '../../feeds/trade.js';

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 16777619;
/** Separates fields in the hash, as `|` does in the key text. */
const SEPARATOR = 0x7c;

/** Digits of the largest id kept as a number: below 2^53, so the number spells the text back exactly. */
const MAX_NUMERIC_ID_DIGITS = 15;

/** Set by `hashId`: the id as a number when it is canonical decimal digits, else -1. */
let numericId = -1;

/** Hashes `id` into `hash` and sets `numericId`, in one pass over its characters. */
function hashId(hash: number, id: string): number {
  let h = hash;
  let value = 0;
  let numeric =
    id.length > 0 && id.length <= MAX_NUMERIC_ID_DIGITS && (id.length === 1 || id.charCodeAt(0) !== 0x30);
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    h = Math.imul(h ^ c, FNV_PRIME);
    if (numeric) {
      if (c >= 0x30 && c <= 0x39) value = value * 10 + (c - 0x30);
      else numeric = false;
    }
  }
  numericId = numeric ? value : -1;
  return Math.imul(h ^ SEPARATOR, FNV_PRIME);
}

function hashText(hash: number, text: string): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
  return Math.imul(h ^ SEPARATOR, FNV_PRIME);
}

/** The field-by-field window's storage: a ring of entries chained into buckets. */
class FieldTable {
  /** First entry of each bucket, -1 for none. */
  readonly heads: Int32Array;
  /** Next entry in the same bucket, -1 at the end. */
  readonly next: Int32Array;
  readonly hashes: Int32Array;
  readonly symbols: (string | undefined)[];
  readonly exchanges: string[];
  /** The id where it is not a plain decimal number; `undefined` where `numericIds` holds it. */
  readonly ids: (string | undefined)[];
  readonly numericIds: Float64Array;
  readonly kinds: TradeKind[];
  readonly mask: number;
  /** Ring position of the next entry (the oldest once the ring is full). */
  slot = 0;
  /**
   * The identity `find` looked for last, as an entry stores it: `insertFound` stores it from here, so
   * neither hashes twice nor allocates a record to pass it on.
   */
  private foundHash = 0;
  private foundSymbol = '';
  private foundExchange = '';
  private foundId: string | undefined = undefined;
  private foundNumericId = -1;
  private foundKind: TradeKind = 'trade';

  constructor(readonly capacity: number) {
    let buckets = 1;
    while (buckets < capacity) buckets *= 2;
    this.heads = new Int32Array(buckets).fill(-1);
    this.mask = buckets - 1;
    this.next = new Int32Array(capacity).fill(-1);
    this.hashes = new Int32Array(capacity);
    this.symbols = new Array<string | undefined>(capacity).fill(undefined);
    this.exchanges = new Array<string>(capacity).fill('');
    this.ids = new Array<string | undefined>(capacity).fill(undefined);
    this.numericIds = new Float64Array(capacity);
    this.kinds = new Array<TradeKind>(capacity).fill('trade');
  }

  /** The entry holding `identity` (the fields `fields` lists), or -1 when the window has none. */
  find(identity: TradeIdentity, fields: DedupFields): number {
    const { symbol, id } = identity;
    const exchange = fields.exchange ? identity.exchange : '';
    const kind: TradeKind = fields.kind ? identity.kind : 'trade';
    let hash = hashId(hashText(FNV_OFFSET, symbol), id);
    const number = numericId;
    const text = number < 0 ? id : undefined;
    if (fields.exchange) hash = hashText(hash, exchange);
    if (fields.kind) hash = hashText(hash, kind);
    hash ^= hash >>> 15;
    this.foundHash = hash;
    this.foundSymbol = symbol;
    this.foundExchange = exchange;
    this.foundId = text;
    this.foundNumericId = number;
    this.foundKind = kind;
    for (let e = this.heads[hash & this.mask] as number; e !== -1; e = this.next[e] as number) {
      if (
        this.hashes[e] === hash &&
        this.ids[e] === text &&
        (text !== undefined || this.numericIds[e] === number) &&
        this.symbols[e] === symbol &&
        this.exchanges[e] === exchange &&
        this.kinds[e] === kind
      )
        return e;
    }
    return -1;
  }

  /** Stores the identity `find` just did not find as the newest entry, evicting the oldest. */
  insertFound(): void {
    const slot = this.slot;
    if (this.symbols[slot] !== undefined) this.unlink(slot);
    const hash = this.foundHash;
    const bucket = hash & this.mask;
    this.symbols[slot] = this.foundSymbol;
    this.exchanges[slot] = this.foundExchange;
    this.ids[slot] = this.foundId;
    this.numericIds[slot] = this.foundNumericId;
    this.kinds[slot] = this.foundKind;
    this.hashes[slot] = hash;
    this.next[slot] = this.heads[bucket] as number;
    this.heads[bucket] = slot;
    this.slot = slot + 1 === this.capacity ? 0 : slot + 1;
  }

  /** Unlinks the entry at `slot` from its bucket's chain. */
  private unlink(slot: number): void {
    const bucket = (this.hashes[slot] as number) & this.mask;
    let previous = -1;
    for (let e = this.heads[bucket] as number; e !== -1; previous = e, e = this.next[e] as number) {
      if (e !== slot) continue;
      if (previous === -1) this.heads[bucket] = this.next[e] as number;
      else this.next[previous] = this.next[e] as number;
      return;
    }
  }
}

export class DedupWindow {
  private readonly seen = new Set<string>();
  private readonly order: (string | undefined)[];
  private next = 0;
  private table: FieldTable | undefined;
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

  /**
   * As `admit(adapter.dedupKey(trade))`, for an adapter with `dedupFields`: true the first time a
   * trade with these fields is offered within the window, false for a duplicate.
   */
  admitTrade(trade: TradeIdentity, fields: DedupFields): boolean {
    const table = (this.table ??= new FieldTable(this.capacity));
    if (table.find(trade, fields) !== -1) {
      this.dropped++;
      return false;
    }
    table.insertFound();
    return true;
  }

  /** As `has(adapter.dedupKey(trade))`, for the window `admitTrade` feeds: without admitting. */
  hasTrade(identity: TradeIdentity, fields: DedupFields): boolean {
    return this.table !== undefined && this.table.find(identity, fields) !== -1;
  }

  get size(): number {
    if (this.table === undefined) return this.seen.size;
    let held = 0;
    for (const symbol of this.table.symbols) if (symbol !== undefined) held++;
    return held + this.seen.size;
  }
}
