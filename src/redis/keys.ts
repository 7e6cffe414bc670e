/**
 * Every Redis key and channel name tickring uses, built in this one place from the key prefix and the
 * cluster name. All of a cluster's keys share one hash tag, `{prefix:cluster}`, so every Lua script's
 * keys live in one slot and the same scripts run on Redis Cluster.
 */
export interface ClusterKeys {
  /** ZSET member id → lease deadline (Redis time, ms). */
  readonly leases: string;
  /** HASH member id → member JSON (address, weight). */
  readonly members: string;
  /** STRING: the ring record JSON (epoch, sorted members, weights, vnodes, pins). */
  readonly ring: string;
  /** HASH symbol → pinned member id. */
  readonly pins: string;
  /** ZSET member id → when it asked to join (Redis time, ms): holds a lease, not on the ring yet. */
  readonly joining: string;
  /** SET of member ids being drained: on the ring, owning nothing, about to leave. */
  readonly draining: string;
  /** SET: the symbol universe. */
  readonly symbols: string;
  /** HASH symbol → the epoch that last claimed or wrote the symbol's checkpoint (the fence). */
  readonly checkpointEpochs: string;
  /** HASH symbol → checkpoint JSON. */
  readonly checkpoints: string;
  /** HASH symbol → the worker that claimed it last (`lua/claim-4.lua`). */
  readonly holders: string;
  /**
   * HASH member id → how many periodic checkpoint passes it completed: a standby trusts an
   * unchanged checkpoint only after two more (see `worker/settled-checkpoints.ts`).
   */
  readonly checkpointPasses: string;
  /**
   * The prefix of each new owner's HASH symbol → its hand-over signal: the epoch it owns the symbol
   * at, and the first trade it buffered (see `handoverKey` and `cluster/handover-signals.ts`).
   */
  readonly handover: string;
  /**
   * HASH symbol → the latest epoch at which a standby stands in for the symbol's previous owner
   * (it left without handing over): the new owner waits for that standby's final checkpoint.
   */
  readonly standIns: string;
  /** Pub/sub channel: a new epoch is published here (a wake-up call, not a log). */
  readonly events: string;
  /**
   * Pub/sub channel: a worker about to join publishes its id and weight here, so the others build
   * the ring with it added before the epoch comes (see `Membership.noticeJoin`).
   */
  readonly joinNotices: string;
  /**
   * Pub/sub channel: a member about to be drained is named here, and the others answer once they
   * have subscribed to what they gain (see `noticeDrain` and `leave-notice.ts`).
   */
  readonly leaveNotices: string;
  /** Prefix of the completed-bar ZSETs, one per symbol and interval; see `barKey`. */
  readonly bars: string;
  /** STRING: the active relay's record JSON (holder, token, address, feed), read by workers behind it. */
  readonly relay: string;
  /**
   * HASH: `desired` worker count (`tickring scale`), and what the `tickring up` process watching it
   * `applied` and when it last looked (`seenAt`, Redis time, ms).
   */
  readonly scale: string;
}

export function clusterKeys(prefix: string, cluster: string): ClusterKeys {
  const tag = `{${prefix}:${cluster}}`;
  return Object.freeze({
    leases: `${tag}:leases`,
    members: `${tag}:members`,
    ring: `${tag}:ring`,
    pins: `${tag}:pins`,
    joining: `${tag}:joining`,
    draining: `${tag}:draining`,
    symbols: `${tag}:symbols`,
    checkpointEpochs: `${tag}:checkpoint-epochs`,
    checkpoints: `${tag}:checkpoints`,
    holders: `${tag}:holders`,
    checkpointPasses: `${tag}:checkpoint-passes`,
    handover: `${tag}:handover`,
    standIns: `${tag}:stand-ins`,
    events: `${tag}:events`,
    joinNotices: `${tag}:join-notices`,
    leaveNotices: `${tag}:leave-notices`,
    bars: `${tag}:bars`,
    relay: `${tag}:relay`,
    scale: `${tag}:scale`,
  });
}

/** ZSET of one symbol's completed bars of one interval, scored by bar start (Unix ms). */
export function barKey(keys: ClusterKeys, symbol: string, intervalMs: number): string {
  return `${keys.bars}:${intervalMs}:${symbol}`;
}

/** HASH symbol → the hand-over signals of new owner `workerId` (expires once it stops announcing). */
export function handoverKey(keys: ClusterKeys, workerId: string): string {
  return `${keys.handover}:${workerId}`;
}

/** The keys of one relay group: the relays sharing one feed and API key. */
export interface RelayKeys {
  /** HASH: the fenced lease (holder, until, renewed, token, address, feed). */
  readonly lease: string;
  /** SET: the symbols subscribed upstream, so a relay taking over subscribes them at once. */
  readonly symbols: string;
}

/** `keyFingerprint` identifies the API key without revealing it (a short hash). */
export function relayKeys(keys: ClusterKeys, feed: string, keyFingerprint: string): RelayKeys {
  return Object.freeze({
    lease: `${keys.relay}:${feed}:${keyFingerprint}:lease`,
    symbols: `${keys.relay}:${feed}:${keyFingerprint}:symbols`,
  });
}

/** The keys the membership scripts take, in the order `ring-lib.lua` expects them. */
export function ringScriptKeys(keys: ClusterKeys): string[] {
  return [keys.leases, keys.members, keys.ring, keys.pins, keys.events, keys.joining, keys.draining];
}

/**
 * Every key of a cluster but the per-symbol bar keys (`barKey`) and the per-owner hand-over signals
 * (`handoverKey`, which expire by themselves), for the tests that wipe one. (There
 * is no `tickring reset`: every key of a cluster, bars included, starts with its hash tag.)
 */
export function allKeys(keys: ClusterKeys): string[] {
  return [
    keys.leases,
    keys.members,
    keys.ring,
    keys.pins,
    keys.joining,
    keys.draining,
    keys.symbols,
    keys.checkpointEpochs,
    keys.checkpoints,
    keys.holders,
    keys.checkpointPasses,
    keys.standIns,
    keys.relay,
    keys.scale,
  ];
}
