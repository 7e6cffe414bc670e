/**
 * What the chaos harness knows of the cluster, from outside only: the ring record in Redis (polled,
 * each new epoch stamped with when the harness first saw it) and the workers' HTTP APIs (is a symbol
 * live at its owner, at an epoch at least this one?). Redis may be down: a failed read keeps the last
 * record and tries again.
 */
import { Redis } from 'ioredis';
import { readRingRecord } from '../../src/cluster/membership.js';
import { Assignment } from '../../src/cluster/ring.js';
import { EMPTY_RING, type RingRecord } from '../../src/cluster/ring-record.js';
import type { ClusterKeys } from '../../src/redis/keys.js';
import { json, sleep } from '../support/processes.js';

/** Most symbols in one `POST /v1/internal/snapshots`. */
const SNAPSHOT_BATCH = 1_000;

export interface OwnerAnswer {
  readonly trades: number;
  readonly volume: number;
}

interface SnapshotReply {
  changed: { data: { symbol: string; trades: number; volume: number } }[];
  notOwned: string[];
}

export class ClusterProbe {
  latest: RingRecord = EMPTY_RING;
  /** Reads that failed (Redis down or restarting). */
  failedReads = 0;
  private readonly redis: Redis;
  private timer: NodeJS.Timeout | undefined;
  private reading = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    url: string,
    private readonly keys: ClusterKeys,
    readonly symbols: readonly string[],
    private readonly pollMs = 10,
  ) {
    // Fail fast while Redis is down rather than queue reads behind a reconnect.
    this.redis = new Redis(url, {
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => 50,
    });
    this.redis.on('error', () => undefined);
  }

  start(): this {
    this.timer = setInterval(() => void this.read(), this.pollMs);
    return this;
  }

  private async read(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      const record = await readRingRecord(this.redis, this.keys);
      if (record.epoch !== this.latest.epoch || record.changedAt !== this.latest.changedAt) {
        this.latest = record;
        for (const wake of this.waiters) wake();
      }
    } catch {
      this.failedReads++;
    } finally {
      this.reading = false;
    }
  }

  /** Resolves with the first record (the latest included) that passes `test`; undefined on timeout. */
  nextRing(test: (record: RingRecord) => boolean, timeoutMs: number): Promise<RingRecord | undefined> {
    if (test(this.latest)) return Promise.resolve(this.latest);
    return new Promise((resolve) => {
      const done = (record: RingRecord | undefined): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(record);
      };
      const check = (): void => {
        if (test(this.latest)) done(this.latest);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.waiters.add(check);
    });
  }

  assignment(record: RingRecord = this.latest): Assignment {
    return new Assignment(record, this.symbols);
  }

  /** Symbols whose owner differs between the two records. */
  moved(before: RingRecord, after: RingRecord): string[] {
    const a = this.assignment(before);
    const b = this.assignment(after);
    return this.symbols.filter((s) => a.ownerOf(s) !== b.ownerOf(s));
  }

  /**
   * Asks the current owners (by the latest record) of `symbols` whether each is live at `minEpoch`
   * or later; returns the answers of those that are. A symbol still loading, owned by a stopped or
   * dead worker, or moved on since, is missing and asked again next time.
   */
  async liveAt(symbols: readonly string[], minEpoch: number): Promise<Map<string, OwnerAnswer>> {
    const record = this.latest;
    const assignment = this.assignment(record);
    const byOwner = new Map<string, string[]>();
    for (const symbol of symbols) {
      const owner = assignment.ownerOf(symbol);
      const address = record.members.find((m) => m.id === owner)?.address;
      if (address === undefined) continue;
      const list = byOwner.get(address) ?? [];
      list.push(symbol);
      byOwner.set(address, list);
    }
    const answers = new Map<string, OwnerAnswer>();
    const calls: Promise<void>[] = [];
    for (const [address, list] of byOwner)
      for (let i = 0; i < list.length; i += SNAPSHOT_BATCH) {
        const batch = list.slice(i, i + SNAPSHOT_BATCH);
        calls.push(
          json<SnapshotReply>(`${address}/v1/internal/snapshots`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ symbols: batch, known: {}, minEpoch }),
            signal: AbortSignal.timeout(2_000),
          })
            .then((reply) => {
              for (const { data } of reply.changed)
                answers.set(data.symbol, { trades: data.trades, volume: data.volume });
            })
            .catch(() => undefined),
        );
      }
    await Promise.all(calls);
    return answers;
  }

  /**
   * Polls until every symbol of `symbols` is live at its current owner at `minEpoch` or later;
   * resolves with `Date.now()` then, or undefined after `timeoutMs`.
   */
  async allLive(
    symbols: readonly string[],
    minEpoch: number,
    timeoutMs: number,
    intervalMs = 20,
  ): Promise<number | undefined> {
    const deadline = Date.now() + timeoutMs;
    let pending = [...symbols];
    while (pending.length > 0) {
      const live = await this.liveAt(pending, minEpoch);
      pending = pending.filter((s) => !live.has(s));
      if (pending.length === 0) break;
      if (Date.now() > deadline) return undefined;
      await sleep(intervalMs);
    }
    return Date.now();
  }

  /**
   * Of `symbols`, those whose standby on `record`'s ring holds a live (warm) shadow now, by asking
   * each standby (`POST /v1/internal/market`, the dashboard's call). A standby that does not answer
   * within half a second counts as holding none.
   */
  async warmStandbys(record: RingRecord, symbols: readonly string[]): Promise<Set<string>> {
    const assignment = this.assignment(record);
    const byStandby = new Map<string, string[]>();
    for (const symbol of symbols) {
      const standby = assignment.standbyOf(symbol);
      const address = record.members.find((m) => m.id === standby)?.address;
      if (address === undefined) continue;
      byStandby.set(address, [...(byStandby.get(address) ?? []), symbol]);
    }
    const warm = new Set<string>();
    await Promise.all(
      [...byStandby].map(([address, list]) =>
        json<{ following: Record<string, 'loading' | 'live'> }>(`${address}/v1/internal/market`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          // The call returns market rows too; asking for none of them keeps it to the standbys.
          body: JSON.stringify({ symbols: [], standbys: list, intervalMs: 60_000, points: 1 }),
          signal: AbortSignal.timeout(500),
        })
          .then(({ following }) => {
            for (const [symbol, state] of Object.entries(following)) if (state === 'live') warm.add(symbol);
          })
          .catch(() => undefined),
      ),
    );
    return warm;
  }

  close(): void {
    clearInterval(this.timer);
    this.redis.disconnect();
  }
}
