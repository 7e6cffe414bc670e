/**
 * The fenced lease that makes exactly one relay of a group (same feed, same API key) the active one.
 * A standby tries to acquire it every `renewMs`; the holder renews it as often. Every change of holder
 * raises a fencing token, which the relay announces to its workers.
 *
 * Self-fencing, as workers do it (see `cluster/membership.ts`): a renewal sent at local monotonic
 * time T extends the lease to (Redis time when it ran) + leaseMs, which is no earlier than T + leaseMs,
 * so the lease is surely ours until T + leaseMs less a margin for clock-rate drift. When that moment
 * passes without a newer successful renewal, the holder gives up on its own (`lost`), before any
 * standby can acquire the lease, so the relay can close its upstream connection before the next one
 * opens.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { RedisClient as Redis } from '../redis/client.js';
import type { Logger } from '../log.js';
import type { ClusterKeys, RelayKeys } from '../redis/keys.js';

export interface RelayLeaseOptions {
  readonly id: string;
  /** The worker-facing URL published for discovery. */
  readonly address: string;
  /** The upstream feed's name, published with the address. */
  readonly feed: string;
  /** Lease length (ms). Default 3000: a dead relay is replaced in about this long. */
  readonly leaseMs: number;
  /** Renewal and acquisition period (ms); at most a third of the lease. Default 1000. */
  readonly renewMs: number;
}

export const DEFAULT_RELAY_LEASE_OPTIONS = { leaseMs: 3_000, renewMs: 1_000 } as const;

/** Share of the lease kept back for clock-rate drift between this process and Redis. */
const DRIFT_MARGIN = 0.1;

export interface Acquired {
  readonly token: number;
  /** Unix ms (Redis time) when the previous holder last held the lease; 0 when there was none. */
  readonly previousHeldAt: number;
}

export interface RelayLeaseEvents {
  acquired: [Acquired];
  /** The lease can no longer be trusted: close the upstream connection now. */
  lost: [string];
}

export type RelayLeaseStatus = 'standby' | 'active' | 'closed';

export class RelayLease extends EventEmitter<RelayLeaseEvents> {
  status: RelayLeaseStatus = 'standby';
  token = 0;
  private validUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private fenceTimer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private readonly options: RelayLeaseOptions;

  constructor(
    private readonly redis: Redis,
    private readonly clusterKeys: ClusterKeys,
    private readonly keys: RelayKeys,
    options: Pick<RelayLeaseOptions, 'id' | 'address' | 'feed'> & Partial<RelayLeaseOptions>,
    private readonly log: Logger,
  ) {
    super();
    this.options = { ...DEFAULT_RELAY_LEASE_OPTIONS, ...options };
    if (this.options.renewMs * 3 > this.options.leaseMs) {
      throw new Error(`relay lease: renewMs ${this.options.renewMs} must be at most a third of the lease`);
    }
  }

  /** True while this relay holds the lease by its own monotonic clock; asked once per upstream frame. */
  get valid(): boolean {
    return this.status === 'active' && performance.now() < this.validUntil;
  }

  get leaseMs(): number {
    return this.options.leaseMs;
  }

  start(): void {
    if (this.timer !== undefined || this.status === 'closed') return;
    this.timer = setInterval(() => void this.tick(), this.options.renewMs);
    void this.tick();
  }

  private call(op: 'acquire' | 'renew' | 'release'): Promise<number[]> {
    return this.redis.tickringRelayLease(
      this.keys.lease,
      this.clusterKeys.relay,
      op,
      this.options.id,
      this.options.leaseMs,
      this.options.address,
      this.options.feed,
    );
  }

  private async tick(): Promise<void> {
    if (this.inFlight || this.status === 'closed') return;
    this.inFlight = true;
    const sentAt = performance.now();
    try {
      if (this.status === 'active') {
        const [code = -1] = await this.call('renew');
        // The status may have changed while the call was in flight.
        if (this.currentStatus() !== 'active') return;
        if (code === 1) this.extend(sentAt);
        else this.lose('the lease was taken over or had lapsed');
      } else {
        const [code = 0, token = 0, , previousHeldAt = 0] = await this.call('acquire');
        if (code !== 1 || this.currentStatus() !== 'standby') return;
        this.status = 'active';
        this.token = token;
        this.extend(sentAt);
        this.log.info({ token, previousHeldAt }, 'relay lease acquired: this relay is active');
        this.emit('acquired', { token, previousHeldAt });
      }
    } catch (err) {
      // The fence timer decides when an unreachable Redis means the lease is gone.
      this.log.warn({ err: { message: (err as Error).message } }, 'relay lease call failed');
    } finally {
      this.inFlight = false;
    }
  }

  private currentStatus(): RelayLeaseStatus {
    return this.status;
  }

  private extend(sentAt: number): void {
    this.validUntil = sentAt + this.options.leaseMs * (1 - DRIFT_MARGIN);
    this.armFence();
  }

  private armFence(): void {
    clearTimeout(this.fenceTimer);
    // Timers may fire a little early by the monotonic clock: re-arm until the moment has surely passed.
    this.fenceTimer = setTimeout(
      () => {
        if (this.status !== 'active') return;
        if (performance.now() >= this.validUntil) this.lose('no renewal within the lease');
        else this.armFence();
      },
      Math.max(1, Math.ceil(this.validUntil - performance.now())),
    );
  }

  private lose(reason: string): void {
    if (this.status !== 'active') return;
    this.status = 'standby';
    this.validUntil = 0;
    clearTimeout(this.fenceTimer);
    this.log.warn({ reason, token: this.token }, 'relay lease lost: this relay steps down');
    this.emit('lost', reason);
  }

  /**
   * Stops renewing. `release`: give the lease up at once so a standby takes over without waiting for
   * it to lapse; call it only after the upstream connection is closed.
   */
  async close(release: boolean): Promise<void> {
    const wasActive = this.status === 'active';
    this.status = 'closed';
    clearInterval(this.timer);
    clearTimeout(this.fenceTimer);
    this.timer = undefined;
    if (release && wasActive) {
      try {
        await this.call('release');
      } catch (err) {
        this.log.warn({ err: { message: (err as Error).message } }, 'relay lease release failed');
      }
    }
  }
}

/** The active relay as published in Redis, for workers to find it. */
export interface ActiveRelay {
  readonly holder: string;
  readonly token: number;
  readonly address: string;
  readonly feed: string;
}

export async function readActiveRelay(redis: Redis, keys: ClusterKeys): Promise<ActiveRelay | undefined> {
  const text = await redis.get(keys.relay);
  if (text === null) return undefined;
  try {
    const parsed = JSON.parse(text) as Partial<ActiveRelay>;
    if (typeof parsed.address !== 'string' || typeof parsed.feed !== 'string') return undefined;
    return {
      holder: typeof parsed.holder === 'string' ? parsed.holder : '',
      token: typeof parsed.token === 'number' ? parsed.token : 0,
      address: parsed.address,
      feed: parsed.feed,
    };
  } catch {
    return undefined;
  }
}
