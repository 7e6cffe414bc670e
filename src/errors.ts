/**
 * Every error tickring raises on purpose has a stable code; `docs/errors.md` lists each with what to
 * do, and a test keeps the two in sync.
 */
export const ERROR_CODES = {
  TICKRING_ERR_CONFIG: 'The configuration is invalid.',
  TICKRING_ERR_REDIS_UNAVAILABLE: 'Redis could not be reached.',
  TICKRING_ERR_NO_REDIS_SERVER: 'No Redis URL was given and no redis-server binary was found.',
  TICKRING_ERR_LEASE_LOST: "The worker's lease expired or was taken away.",
  TICKRING_ERR_STALE_EPOCH: 'A write was refused because a newer epoch is on record.',
  TICKRING_ERR_NOT_MEMBER: 'The worker is not a member of the ring.',
  TICKRING_ERR_CORRUPT_STATE: 'A value under tickring keys in Redis is not in the expected form.',
  TICKRING_ERR_FEED_AUTH: 'The feed refused the credentials.',
  TICKRING_ERR_UNKNOWN_SCRIPT_CODE: 'A Lua script answered with a code tickring does not know.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class TickringError extends Error {
  override readonly name = 'TickringError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
