/**
 * Handle or proxy, per symbol (ringpop's model without its whole-ring agreement): a worker answers
 * for the symbols it owns from memory; for any other it forwards the request to the owner named by
 * its ring, saying which epoch it routed at. The owner answers only if it owns that one symbol at an
 * epoch at least the caller's, else 409. On any failure the caller re-reads the ring and tries once
 * more, then answers from Redis (the checkpoint, the bar history) marked `stale: true` with its age.
 * A forwarded request is never forwarded again, so two workers with different views cannot loop.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { ClusterView } from './cluster-view.js';
import { PeerClient } from './peer-client.js';
import { ApiError, RawJson, sendJson } from './respond.js';

export const FORWARDED_HEADER = 'x-tickring-forwarded';
export const MIN_EPOCH_HEADER = 'x-tickring-min-epoch';
/**
 * Sent with a forwarded query: "answer as if I had answered", so the owner writes the final body
 * (`answeredBy` the caller, `forwardedTo` itself) and the caller passes the bytes through without
 * parsing and re-serializing them. The owner says it did with `ANSWERED_FOR_HEADER`; an owner that
 * does not know the header answers as before and the caller rewrites the answer itself.
 */
export const ANSWER_FOR_HEADER = 'x-tickring-answer-for';
export const ANSWERED_FOR_HEADER = 'x-tickring-answered-for';

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
  private readonly peers = new PeerClient();
  /**
   * Forwarded queries on their way, by epoch and path: a query that arrives while the same one is
   * being forwarded shares its answer instead of sending another (request collapsing, as caching
   * proxies do). The shared answer was read by the owner after the query arrived or at most one
   * round trip before, and nothing is kept once it is sent.
   */
  private readonly forwarding = new Map<string, Promise<object | undefined>>();

  constructor(
    private readonly view: ClusterView,
    private readonly logger: Logger,
    private readonly options: OwnerRoutingOptions,
  ) {}

  /** Closes idle connections to other workers. */
  close(): void {
    this.peers.close();
  }

  /**
   * Sends an owner's answer to a forwarded request: in its final form when the caller asked for it
   * (`ANSWER_FOR_HEADER`), else as the owner's own answer.
   */
  sendForwarded(req: IncomingMessage, res: ServerResponse, answer: object): void {
    const caller = req.headers[ANSWER_FOR_HEADER];
    if (typeof caller !== 'string' || caller === '') {
      sendJson(res, 200, answer);
      return;
    }
    sendJson(
      res,
      200,
      { ...answer, answeredBy: caller, forwardedTo: this.view.workerId },
      { [ANSWERED_FOR_HEADER]: caller },
    );
  }

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
  ): Promise<T | RawJson> {
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

  private forward<T extends object>(url: string, epoch: number): Promise<T | RawJson | undefined> {
    const key = `${epoch} ${url}`;
    let pending = this.forwarding.get(key);
    if (pending === undefined) {
      pending = this.forwardOnce<T>(url, epoch).finally(() => this.forwarding.delete(key));
      this.forwarding.set(key, pending);
    }
    return pending as Promise<T | RawJson | undefined>;
  }

  private async forwardOnce<T extends object>(url: string, epoch: number): Promise<T | RawJson | undefined> {
    const self = this.view.workerId;
    try {
      const response = await this.peers.call(url, {
        headers: { [FORWARDED_HEADER]: self, [MIN_EPOCH_HEADER]: String(epoch), [ANSWER_FOR_HEADER]: self },
        timeoutMs: this.options.forwardTimeoutMs,
      });
      if (response.status !== 200) return undefined;
      // The owner wrote the final answer: pass its bytes through.
      if (response.headers[ANSWERED_FOR_HEADER] === self) return new RawJson(response.body);
      const body = JSON.parse(response.body.toString('utf8')) as Record<string, unknown>;
      return { ...body, answeredBy: self, forwardedTo: body['answeredBy'] } as T;
    } catch (err) {
      this.logger.debug({ err, url }, 'forward failed');
      return undefined;
    }
  }

  /** POSTs JSON to another member (internal calls); undefined on any failure. */
  async post(url: string, body: unknown): Promise<unknown> {
    try {
      const response = await this.peers.call(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [FORWARDED_HEADER]: this.view.workerId },
        body: JSON.stringify(body),
        timeoutMs: this.options.forwardTimeoutMs,
      });
      if (response.status >= 200 && response.status < 300)
        return JSON.parse(response.body.toString('utf8')) as unknown;
    } catch (err) {
      this.logger.debug({ err, url }, 'internal call failed');
    }
    return undefined;
  }
}
