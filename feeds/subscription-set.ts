/**
 * Turns "here is your whole subscription set" acknowledgements (Alpaca's `subscription`, Coinbase's
 * `subscriptions`) into the incremental `subscribed` / `unsubscribed` events the feed client expects.
 * The ack after an unsubscribe simply no longer lists the symbol, so the session remembers what was
 * confirmed before and what it asked to drop, and reports the difference.
 */
import type { DecodeSink } from './adapter.js';
import { detail } from './rejection.js';
import { isValidSymbol } from './symbol.js';

/** Every symbol at once, as Alpaca's `"*"`. */
export const WILDCARD = '*';

export class SubscriptionSet {
  private confirmed = new Set<string>();
  private dropping = new Set<string>();

  /** Records symbols the client asked to unsubscribe, so the next ack can confirm them. */
  requestRemoval(symbols: readonly string[]): void {
    for (const symbol of symbols) this.dropping.add(symbol);
  }

  /** Records symbols the client asked to subscribe again; a pending removal of them is void. */
  requestAddition(symbols: readonly string[]): void {
    for (const symbol of symbols) this.dropping.delete(symbol);
  }

  /**
   * Applies one ack listing the whole current set: emits `subscribed` with that set (when not empty)
   * and `unsubscribed` with every symbol confirmed earlier or asked to be dropped that it no longer
   * lists. Entries that are not symbols are rejected one by one; the rest still count.
   */
  acknowledge(list: unknown, sink: DecodeSink): void {
    if (!Array.isArray(list)) {
      sink.reject('bad-shape', `subscription list is ${detail(list)}`);
      return;
    }
    const current = new Set<string>();
    for (const entry of list) {
      if (typeof entry === 'string' && (entry === WILDCARD || isValidSymbol(entry))) current.add(entry);
      else sink.reject('bad-symbol', detail(entry));
    }
    const removed: string[] = [];
    for (const symbol of new Set([...this.confirmed, ...this.dropping])) {
      if (!current.has(symbol)) removed.push(symbol);
    }
    this.confirmed = current;
    this.dropping = new Set([...this.dropping].filter((symbol) => current.has(symbol)));
    if (current.size > 0) sink.event({ type: 'subscribed', symbols: [...current] });
    if (removed.length > 0) sink.event({ type: 'unsubscribed', symbols: removed });
  }
}
