/**
 * The simulator's faults in effect and what they did: muted connections, trades still to duplicate,
 * connection attempts still to refuse, the one-connection-per-key rule, and the counters the stats
 * report. The simulator hands it its connections; it owns no socket itself.
 */
import type { SimServerProtocol } from '../../feeds/adapter.js';
import type { Trade } from '../../feeds/trade.js';
import { TickringError } from '../errors.js';
import type { Logger } from '../log.js';
import { malformedFrame } from './faults.js';
import type { Market } from './market.js';
import { WILDCARD, type ClientConnection } from './sim-connection.js';
import type { SimFaultStats } from './sim-stats.js';

/** A correction or cancel asked of a protocol that sends none. */
export class FaultUnsupportedError extends TickringError {
  constructor(message: string) {
    super('TICKRING_ERR_CONFIG', message);
  }
}

type Counter =
  'dropped' | 'silenced' | 'duplicates' | 'malformed' | 'connectionLimits' | 'cancels' | 'corrections';

/** The close the simulator uses for "connection limit" when the provider defines no in-band reply. */
export const CONNECTION_LIMIT_CLOSE = { code: 1008, reason: 'connection limit exceeded' } as const;

export class FaultState {
  private readonly counts: Record<Counter, number> = {
    dropped: 0,
    silenced: 0,
    duplicates: 0,
    malformed: 0,
    connectionLimits: 0,
    cancels: 0,
    corrections: 0,
  };
  private refusals = 0;
  private duplicatesPending = 0;
  private readonly duplicatesBySymbol = new Map<string, number>();
  private malformedSent = 0;

  constructor(
    private readonly protocol: SimServerProtocol,
    private readonly market: Market,
    private readonly log: Logger,
  ) {}

  counted(counter: Counter, n: number): void {
    this.counts[counter] += n;
  }

  duplicatesOf(symbol: string): number {
    return this.duplicatesBySymbol.get(symbol) ?? 0;
  }

  snapshot(): SimFaultStats {
    return { ...this.counts, refusalsPending: this.refusals };
  }

  /** Mutes every open connection: the socket stays open, nothing is sent, pings go unanswered. */
  silence(connections: readonly ClientConnection[]): number {
    let muted = 0;
    for (const conn of connections) {
      if (conn.silenced || !conn.open) continue;
      conn.silence();
      muted++;
    }
    this.counts.silenced += muted;
    if (muted > 0) this.log.warn({ connections: muted }, 'fault: connections silenced');
    return muted;
  }

  duplicateNext(count: number): number {
    this.duplicatesPending += count;
    return count;
  }

  /** The batch with each of the next pending trades repeated right after itself. */
  withDuplicates(batch: readonly Trade[]): readonly Trade[] {
    if (this.duplicatesPending === 0) return batch;
    const out: Trade[] = [];
    for (const trade of batch) {
      out.push(trade);
      if (this.duplicatesPending === 0) continue;
      out.push(trade);
      this.duplicatesPending--;
      this.counts.duplicates++;
      this.duplicatesBySymbol.set(trade.symbol, (this.duplicatesBySymbol.get(trade.symbol) ?? 0) + 1);
    }
    return out;
  }

  /** Sends `count` malformed frames to every authenticated connection; returns the frames sent. */
  sendMalformed(connections: readonly ClientConnection[], count: number, fallbackSymbol: string): number {
    const profile = this.market.profile;
    let sent = 0;
    for (const conn of connections) {
      const symbol = conn.subscriptions().find((s) => s !== WILDCARD) ?? fallbackSymbol;
      const frames: string[] = [];
      for (let i = 0; i < count; i++) {
        const made = malformedFrame(this.malformedSent + i, { symbol }, profile);
        if ('text' in made) frames.push(made.text);
        else frames.push(...conn.encode([made.trade]));
      }
      sent += conn.sendMalformed(frames);
    }
    this.malformedSent += count;
    this.counts.malformed += sent;
    return sent;
  }

  /** Tells every open connection "connection limit", then refuses the next `refuseNext` attempts. */
  connectionLimit(connections: readonly ClientConnection[], refuseNext: number): number {
    let told = 0;
    for (const conn of connections) {
      if (!conn.open) continue;
      this.refuse(conn);
      told++;
    }
    this.refusals += refuseNext;
    return told;
  }

  /** Consumes one pending refusal; true when this connection attempt must be refused. */
  takeRefusal(): boolean {
    if (this.refusals === 0) return false;
    this.refusals--;
    return true;
  }

  /** Tells one connection it is over the limit, as the provider does, and closes it. */
  refuse(conn: ClientConnection): void {
    this.counts.connectionLimits++;
    this.log.warn({ connection: conn.id, userAgent: conn.userAgent }, 'connection limit: connection refused');
    if (this.protocol.refuseForConnectionLimit) this.protocol.refuseForConnectionLimit(conn);
    else conn.close(CONNECTION_LIMIT_CLOSE.code, CONNECTION_LIMIT_CLOSE.reason);
  }

  /**
   * Applies the provider's one-connection-per-key rule when `conn` authenticates with `key`: the
   * older connections (Polygon) or the new one (Alpaca, Finnhub) are refused.
   */
  enforcePerKeyLimit(
    conn: ClientConnection,
    key: string,
    limit: number,
    connections: ReadonlyMap<number, ClientConnection>,
  ): void {
    const policy = this.protocol.connectionLimitPolicy;
    if (limit === 0 || policy === undefined) return;
    const others = [...connections.values()].filter(
      (other) => other !== conn && other.open && other.authenticated && other.key === key,
    );
    if (others.length < limit) return;
    if (policy === 'refuse-newer') this.refuse(conn);
    else for (const older of others.slice(0, others.length - limit + 1)) this.refuse(older);
  }

  /** Cancels or corrects `count` recent trades and sends the amendments to whoever wants them. */
  amend(connections: readonly ClientConnection[], kind: 'correction' | 'cancel', count: number): number {
    if (this.protocol.amendments !== true) {
      throw new FaultUnsupportedError(`this protocol sends no ${kind}s`);
    }
    const amendments = this.market.amend(kind, count);
    for (const conn of connections) conn.deliverGroups(amendments);
    this.counts[kind === 'cancel' ? 'cancels' : 'corrections'] += amendments.length;
    return amendments.length;
  }
}
