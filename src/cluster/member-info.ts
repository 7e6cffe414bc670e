/**
 * What a member publishes of itself beside its lease (the `members` hash): where its HTTP API is,
 * its weight, and its lease and heartbeat periods, which let others tell how long ago its lease was
 * renewed (`tickring status`) and whether it stopped renewing (`Membership.silentMembers`).
 */
export interface MemberInfo {
  readonly address: string;
  readonly weight: number;
  readonly leaseMs: number | undefined;
  /** Absent from members of earlier versions: a third of the lease bounds it then. */
  readonly heartbeatMs: number | undefined;
}

export function encodeMemberInfo(info: MemberInfo): string {
  return JSON.stringify(info);
}

/** Reads a member's info; missing or malformed fields take their defaults (never throws). */
export function parseMemberInfo(raw: string | null | undefined): MemberInfo {
  let value: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(raw ?? '{}');
    if (typeof parsed === 'object' && parsed !== null) value = parsed as Record<string, unknown>;
  } catch {
    // Malformed: every field takes its default.
  }
  const positive = (field: string): number | undefined => {
    const n = value[field];
    return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined;
  };
  return {
    address: typeof value['address'] === 'string' ? value['address'] : '',
    weight: positive('weight') ?? 1,
    leaseMs: positive('leaseMs'),
    heartbeatMs: positive('heartbeatMs'),
  };
}
