/**
 * What the simulator reports about itself: the truth that scenario tests compare workers' aggregates
 * against. Served as JSON by `GET /sim/stats`, so every field is plain data.
 *
 * The truth per symbol is what a client that saw every frame, dropped the malformed ones, counted
 * each duplicate once and applied every cancel and correction would hold: `trades` and `volume`.
 */
export interface SimSymbolStats {
  /** Trades that count: generated ones and correction replacements, less the cancelled ones. */
  readonly trades: number;
  /** Sum of the sizes of the trades that count (exact: sizes are kept in integer units). */
  readonly volume: number;
  /** The last id handed out; ids run from `'1'` and each is used once. `''` before the first. */
  readonly lastId: string;
  /** Price and size of the last trade generated (what Coinbase replays as `last_match`); 0 before it. */
  readonly lastPrice: number;
  readonly lastSize: number;
  /** Ids cancelled outright or replaced by a correction: every other id up to `lastId` counts. */
  readonly cancelledIds: readonly string[];
  readonly cancels: number;
  readonly corrections: number;
  /** Trades sent a second time by the `duplicate` fault (not part of `trades` or `volume`). */
  readonly duplicatesSent: number;
  /** Trades generated while no connection was subscribed to the symbol (nobody could hear them). */
  readonly undelivered: number;
  /** Sum of the sizes of those trades. */
  readonly undeliveredVolume: number;
  /** Every id that counts, in order; only with `GET /sim/stats?ids=1` (or `stats({ ids: true })`). */
  readonly ids?: readonly string[];
}

export interface SimConnectionStats {
  readonly id: number;
  /** The client's `user-agent` header; workers send `tickring/<version> worker/<workerId>`. */
  readonly userAgent: string;
  readonly authenticated: boolean;
  readonly subscriptions: string[];
  /** Trades sent to this connection, each duplicate and amendment included. */
  readonly tradesSent: number;
  /** Malformed frames sent to this connection by the `malformed` fault. */
  readonly malformedSent: number;
  /** True once the `silent` fault muted it: nothing is sent, pings go unanswered. */
  readonly silenced: boolean;
}

/** How often each fault was applied since start. */
export interface SimFaultStats {
  /** Connections terminated by `drop`. */
  readonly dropped: number;
  /** Connections muted by `silent`. */
  readonly silenced: number;
  /** Trades sent twice by `duplicate`. */
  readonly duplicates: number;
  /** Malformed frames sent by `malformed` (over all connections). */
  readonly malformed: number;
  /** Connections told "connection limit", by the fault or by the per-key limit. */
  readonly connectionLimits: number;
  /** Connection attempts still to be refused for the connection limit. */
  readonly refusalsPending: number;
  readonly cancels: number;
  readonly corrections: number;
}

export interface SimStats {
  /** True unless paused or closed (with `rate` 0 nothing is emitted even then, except on demand). */
  readonly running: boolean;
  readonly totals: {
    /** Trades the market generated (amendments not included). */
    readonly generated: number;
    /** Trades that count over all symbols, after cancels. */
    readonly trades: number;
    readonly volume: number;
    /** Trades generated while no connection was subscribed to their symbol, over all symbols. */
    readonly undelivered: number;
  };
  readonly symbols: Record<string, SimSymbolStats>;
  /** Open connections only. */
  readonly connections: SimConnectionStats[];
  /** Connections terminated because their send buffer passed the limit. */
  readonly slowConsumerDrops: number;
  /** Most connections open at once since start. */
  readonly maxOpenConnections: number;
  /**
   * Most connections authenticated with one key at once since start, counted as each authenticates
   * (before the per-key limit evicts or refuses one): 1 means the key was never used twice at once.
   */
  readonly maxConnectionsPerKey: number;
  readonly faults: SimFaultStats;
}
