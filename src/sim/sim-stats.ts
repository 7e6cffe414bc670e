/**
 * What the simulator reports about itself: the truth that scenario tests compare workers' aggregates
 * against. Served as JSON by `GET /sim/stats`, so every field is plain data.
 */
export interface SimSymbolStats {
  /** Trades generated for the symbol, whether or not anyone was subscribed. */
  readonly trades: number;
  /** Sum of the sizes of those trades. */
  readonly volume: number;
  /** Id of the symbol's last trade (ids count up from `'1'`); `''` before the first. */
  readonly lastId: string;
}

export interface SimConnectionStats {
  readonly id: number;
  /** The client's `user-agent` header; workers send `tickring/<version> worker/<workerId>`. */
  readonly userAgent: string;
  readonly authenticated: boolean;
  readonly subscriptions: string[];
  readonly tradesSent: number;
}

export interface SimStats {
  /** True unless paused or closed (with `rate` 0 nothing is emitted even then, except on demand). */
  readonly running: boolean;
  readonly totals: { readonly trades: number; readonly volume: number };
  readonly symbols: Record<string, SimSymbolStats>;
  /** Open connections only. */
  readonly connections: SimConnectionStats[];
  /** Connections terminated because their send buffer passed the limit. */
  readonly slowConsumerDrops: number;
}
