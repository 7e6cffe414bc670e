/**
 * Handle or proxy, per symbol (ringpop's model without its whole-ring agreement): a worker answers
 * for the symbols it owns from memory; for any other it forwards the request to the owner named by
 * its ring, saying which epoch it routed at. The owner answers only if it owns that one symbol at an
 * epoch at least the caller's, else 409. On any failure the caller re-reads the ring and tries once
 * more, then answers from Redis (the checkpoint, the bar history) marked `stale: true` with its age.
 * A forwarded request is never forwarded again, so two workers with different views cannot loop.
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../log.js';
import type { ClusterView } from './cluster-view.js';
import { ApiError } from './respond.js';

export const FORWARDED_HEADER = 'x-tickring-forwarded';
export const MIN_EPOCH_HEADER = 'x-tickring-min-epoch';

/** Who answered, at which epoch, and how old the data is: part of every symbol answer. */
export interface Provenance {
  readonly symbol: string;
  /** The owner at `epoch`; `null` when no member owns the symbol. */
  readonly owner: string | null;
  readonly epoch: number;
  /** The worker the client asked. */
  readonly answeredBy: string;
  /** Set when `answeredBy` forwarded the request: the owner that answered from memory. */
  readonly forwardedTo?: string;
  /** True when no owner answered and the data comes from the last checkpoint in Redis. */
  readonly stale: boolean;
  /** How old the data is (ms): 0 from an owner's memory, else the checkpoint's age. */
  readonly ageMs: number;
}

export interface OwnerRoutingOptions {
  /** How long a forwarded request may take (ms). */
  readonly forwardTimeoutMs: number;
}

export class OwnerRouting {
  constructor(
    private readonly view: ClusterView,
    private readonly logger: Logger,
    private readonly options: OwnerRoutingOptions,
  ) {}

  /** The provenance of an answer from this worker's own memory. */
  live(symbol: string): Provenance {
    const view = this.view;
    return {
      symbol,
      owner: view.workerId,
      epoch: view.epoch(),
      answeredBy: view.workerId,
      stale: false,
      ageMs: 0,
    };
  }

  /** The provenance of an answer from Redis, written at `writtenAt` (ms). */
  stale(symbol: string, writtenAt: number): Provenance {
    const view = this.view;
    return {
      symbol,
      owner: view.assignment()?.ownerOf(symbol) ?? null,
      epoch: view.epoch(),
      answeredBy: view.workerId,
      stale: true,
      ageMs: Math.max(0, Date.now() - writtenAt),
    };
  }

  /**
   * For a request another worker forwarded: true when this worker owns `symbol` at the caller's
   * epoch and should answer; throws 409 `not_owner` when it does not; false for a client's request.
   */
  acceptForwarded(req: IncomingMessage, symbol: string): boolean {
    if (req.headers[FORWARDED_HEADER] === undefined) return false;
    const minEpoch = Number(req.headers[MIN_EPOCH_HEADER] ?? 0) || 0;
    if (!this.view.ownsAt(symbol, minEpoch)) {
      throw new ApiError(
        409,
        'not_owner',
        `${this.view.workerId} does not own ${symbol} at epoch ${minEpoch} or later`,
      );
    }
    return true;
  }

  /** 404 for a symbol outside the universe, after one re-read of the ring (it may have just been added). */
  async requireKnown(symbol: string): Promise<void> {
    if (this.view.assignment()?.ownerOf(symbol) !== undefined) return;
    await this.view.refreshRing();
    if (this.view.assignment()?.ownerOf(symbol) === undefined)
      throw new ApiError(404, 'not_found', `unknown symbol ${symbol}: not in the symbol universe`, 'symbol');
  }

  /**
   * Answers a query on `symbol`: `local` when this worker owns it (undefined: not live here yet),
   * else the owner's answer to `path` (path and query string), else `fallback` from Redis.
   */
  async route<T extends object>(
    symbol: string,
    path: string,
    local: () => Promise<T | undefined> | T | undefined,
    fallback: () => Promise<T>,
  ): Promise<T> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (attempt > 0) await this.view.refreshRing();
      const assignment = this.view.assignment();
      const owner = assignment?.ownerOf(symbol);
      if (!assignment || owner === undefined) break;
      if (owner === this.view.workerId) {
        const answer = await local();
        if (answer) return answer;
        continue;
      }
      const address = assignment.record.members.find((m) => m.id === owner)?.address;
      if (!address) continue;
      const forwarded = await this.forward<T>(`${address}${path}`, assignment.epoch);
      if (forwarded) return forwarded;
    }
    return fallback();
  }

  private async forward<T extends object>(url: string, epoch: number): Promise<T | undefined> {
    try {
      const response = await fetch(url, {
        headers: { [FORWARDED_HEADER]: this.view.workerId, [MIN_EPOCH_HEADER]: String(epoch) },
        signal: AbortSignal.timeout(this.options.forwardTimeoutMs),
      });
      if (response.status !== 200) {
        await response.body?.cancel();
        return undefined;
      }
      const body = (await response.json()) as Record<string, unknown>;
      return { ...body, answeredBy: this.view.workerId, forwardedTo: body['answeredBy'] } as T;
    } catch (err) {
      this.logger.debug({ err, url }, 'forward failed');
      return undefined;
    }
  }

  /** POSTs JSON to another member (internal calls); undefined on any failure. */
  async post(url: string, body: unknown): Promise<unknown> {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [FORWARDED_HEADER]: this.view.workerId },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.forwardTimeoutMs),
      });
      if (response.ok) return await response.json();
      await response.body?.cancel();
    } catch (err) {
      this.logger.debug({ err, url }, 'internal call failed');
    }
    return undefined;
  }
}
