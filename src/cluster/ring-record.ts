/**
 * The ring record: the one value in Redis every worker builds its ring from. Membership scripts
 * rewrite it atomically with the epoch; readers validate it, since Redis content is not trusted.
 */
import { TickringError } from '../errors.js';

export interface RingMember {
  readonly id: string;
  /** Integer weight: fractional weights make the ring depend on member order. */
  readonly weight: number;
  /** Base URL of the member's HTTP API, e.g. `http://127.0.0.1:8080`. */
  readonly address: string;
  /**
   * Being drained (`tickring drain`): off the ring, so it owns nothing, but still listed so that the
   * new owners wait for its final checkpoints and requests can still reach it. Absent: not draining.
   */
  readonly draining?: boolean;
}

export interface RingRecord {
  readonly epoch: number;
  /** Sorted by id. */
  readonly members: readonly RingMember[];
  /** symbol → member id; a pin overrides the ring. */
  readonly pins: Readonly<Record<string, string>>;
  /** Virtual nodes per unit of weight. */
  readonly vnodes: number;
  /** Redis time (ms) of the change. */
  readonly changedAt: number;
  readonly reason: string;
  /**
   * The epoch at which the symbol universe last changed (set-symbols): a reader holding the
   * universe of that epoch need not read it again. Absent in records of earlier versions.
   */
  readonly universe?: number;
}

export const EMPTY_RING: RingRecord = Object.freeze({
  epoch: 0,
  members: [],
  pins: {},
  vnodes: 0,
  changedAt: 0,
  reason: 'none',
});

/**
 * The record as it would stand once `member` joined with nothing else changed (as it is when the
 * member is listed already): what a worker about to join expects to own. `vnodes` stands in for an
 * empty ring's, which the first member sets.
 */
export function withMember(record: RingRecord, member: RingMember, vnodes: number): RingRecord {
  if (record.members.some((m) => m.id === member.id)) return record;
  const members = [...record.members, member].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { ...record, members, vnodes: record.vnodes > 0 ? record.vnodes : vnodes };
}

/** `record` as a drain of `id` rewrites it: the member stays, marked draining, and owns nothing. */
export function withDraining(record: RingRecord, id: string): RingRecord {
  const members = record.members.map((m) => (m.id === id ? { ...m, draining: true } : m));
  return { ...record, members };
}

function corrupt(detail: string): TickringError {
  return new TickringError('TICKRING_ERR_CORRUPT_STATE', `ring record: ${detail}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseMember(value: unknown): RingMember {
  if (!isObject(value)) throw corrupt('a member is not an object');
  const { id, weight, address, draining } = value;
  if (typeof id !== 'string' || id === '') throw corrupt('a member has no id');
  if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 1) {
    throw corrupt(`member ${id} has weight ${String(weight)}`);
  }
  const member = { id, weight, address: typeof address === 'string' ? address : '' };
  return draining === true ? { ...member, draining: true } : member;
}

/** The members that own symbols: on the ring and not draining. */
export function activeMembers(record: RingRecord): RingMember[] {
  return record.members.filter((member) => member.draining !== true);
}

/** Parses the JSON stored under the ring key; `null` (no key yet) is the empty ring. */
export function parseRingRecord(raw: string | null): RingRecord {
  if (raw === null) return EMPTY_RING;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw corrupt('not JSON');
  }
  if (!isObject(value)) throw corrupt('not an object');
  const { epoch, members, pins, vnodes, changedAt, reason, universe } = value;
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 0) throw corrupt('bad epoch');
  if (typeof vnodes !== 'number' || !Number.isInteger(vnodes) || vnodes < 1) throw corrupt('bad vnodes');
  // Lua's cjson writes an empty list as `{}`.
  const memberList = Array.isArray(members) ? members.map(parseMember) : isObject(members) ? [] : null;
  if (memberList === null) throw corrupt('members is not a list');
  const pinMap: Record<string, string> = {};
  if (isObject(pins)) {
    for (const [symbol, id] of Object.entries(pins)) if (typeof id === 'string') pinMap[symbol] = id;
  }
  return {
    epoch,
    members: memberList.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    pins: pinMap,
    vnodes,
    changedAt: typeof changedAt === 'number' ? changedAt : 0,
    reason: typeof reason === 'string' ? reason : '',
    // Anything else than an epoch up to this one is not trusted: the universe is read instead.
    ...(typeof universe === 'number' && Number.isSafeInteger(universe) && universe >= 0 && universe <= epoch
      ? { universe }
      : {}),
  };
}
