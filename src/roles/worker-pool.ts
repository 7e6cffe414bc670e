/**
 * The workers of `tickring up`, scaled to a count. Worker `wI` always has the I-th HTTP port, so
 * addresses stay predictable as the pool grows and shrinks. Growing starts the lowest free indexes
 * and waits until each new worker is on the ring; shrinking drains the highest ones: each is marked
 * draining in Redis (the same script as `tickring drain`), hands every symbol over through planned
 * hand-overs and exits on its own, and is not restarted. One change runs at a time.
 */
import { readRingRecord } from '../cluster/membership.js';
import { drainMemberAhead } from '../cluster/placement-admin.js';
import type { Logger } from '../log.js';
import type { RedisClient } from '../redis/client.js';
import type { ClusterKeys } from '../redis/keys.js';
import type { Supervisor, WorkerSpec } from './supervisor.js';

export interface WorkerPoolOptions {
  /** The process spec of worker `w<index>` (index from 1). */
  readonly spec: (index: number) => WorkerSpec;
  /** How long a new worker may take to appear on the ring. Default 60 s. */
  readonly joinTimeoutMs?: number;
  /** How long a drained worker may take to hand over and exit before it is sent SIGTERM. Default 60 s. */
  readonly drainTimeoutMs?: number;
  /** SIGKILL after SIGTERM past this. Default 3 s. */
  readonly stopGraceMs?: number;
}

const POLL_MS = 200;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class WorkerPool {
  private readonly indexes = new Set<number>();
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly supervisor: Supervisor,
    private readonly redis: RedisClient,
    private readonly keys: ClusterKeys,
    private readonly log: Logger,
    private readonly options: WorkerPoolOptions,
  ) {}

  /** Workers running (or starting), as `w<index>` ids in index order. */
  get ids(): string[] {
    return [...this.indexes].sort((a, b) => a - b).map((index) => this.options.spec(index).id);
  }

  get size(): number {
    return this.indexes.size;
  }

  /** Grows or shrinks the pool to `count` workers; resolves once done (after earlier changes). */
  scaleTo(count: number): Promise<void> {
    const next = this.queue.then(() => this.apply(count));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Stops accepting changes (the supervisor stops the processes). */
  close(): void {
    this.closed = true;
  }

  private async apply(count: number): Promise<void> {
    if (this.closed || count === this.indexes.size) return;
    const from = this.indexes.size;
    if (count > from) {
      const started: string[] = [];
      for (let index = 1; this.indexes.size < count; index++) {
        if (this.indexes.has(index)) continue;
        const spec = this.options.spec(index);
        this.indexes.add(index);
        this.supervisor.start(spec);
        started.push(spec.id);
      }
      this.log.info({ from, to: count, started }, 'scaling up');
      await this.waitOnRing(started);
    } else {
      const retiring = [...this.indexes].sort((a, b) => b - a).slice(0, from - count);
      for (const index of retiring) this.indexes.delete(index);
      const ids = retiring.map((index) => this.options.spec(index).id);
      this.log.info({ from, to: count, draining: ids }, 'scaling down: draining');
      await Promise.all(ids.map((id) => this.drain(id)));
    }
    this.log.info({ workers: this.ids }, 'scaled');
  }

  private async waitOnRing(ids: readonly string[]): Promise<void> {
    const deadline = Date.now() + (this.options.joinTimeoutMs ?? 60_000);
    const pending = new Set(ids);
    while (pending.size > 0 && !this.closed) {
      try {
        const record = await readRingRecord(this.redis, this.keys);
        for (const member of record.members) if (member.draining !== true) pending.delete(member.id);
      } catch (err) {
        this.log.debug({ err }, 'ring read failed while waiting for new workers');
      }
      if (pending.size === 0) return;
      if (Date.now() > deadline) {
        // The supervisor keeps (re)starting them; report and let the next change proceed.
        this.log.warn({ waitingFor: [...pending] }, 'new workers are not on the ring yet');
        return;
      }
      await sleep(POLL_MS);
    }
  }

  private async drain(id: string): Promise<void> {
    const exited = this.supervisor.retire(id);
    try {
      await drainMemberAhead(this.redis, this.keys, id);
    } catch (err) {
      // Not (or no longer) a member, or Redis refused: a SIGTERM makes it leave the ring gracefully.
      this.log.warn({ err, workerId: id }, 'drain refused; stopping the worker instead');
      await this.supervisor.stop(id, this.options.stopGraceMs ?? 3_000);
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.options.drainTimeoutMs ?? 60_000);
    });
    const late = await Promise.race([exited.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) {
      this.log.warn({ workerId: id }, 'drained worker did not exit in time; stopping it');
      await this.supervisor.stop(id, this.options.stopGraceMs ?? 3_000);
    }
  }
}
