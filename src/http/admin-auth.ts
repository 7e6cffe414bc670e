/**
 * The bearer token guarding admin writes. Without a configured token the admin routes are off (403,
 * saying how to turn them on). The presented token is compared with the configured one in constant
 * time over their SHA-256 digests, so neither the content nor the length of the secret leaks through
 * timing. The token itself is kept only as its digest and never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ApiError } from './respond.js';

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export class AdminAuth {
  private readonly expected: Buffer | null;

  constructor(token: string | undefined) {
    this.expected = token === undefined || token === '' ? null : digest(token);
  }

  get enabled(): boolean {
    return this.expected !== null;
  }

  /** Throws the 403 or 401 to answer unless `req` carries the configured token. */
  check(req: IncomingMessage): void {
    if (this.expected === null) {
      throw new ApiError(
        403,
        'forbidden',
        'admin writes are off on this worker: start it with --admin-token or TICKRING_ADMIN_TOKEN to turn them on',
      );
    }
    const header = req.headers.authorization ?? '';
    const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header);
    if (!match) {
      throw new ApiError(
        401,
        'unauthorized',
        'send the admin token as "Authorization: Bearer <token>"',
        undefined,
        {
          'www-authenticate': 'Bearer realm="tickring"',
        },
      );
    }
    if (!timingSafeEqual(digest(match[1] ?? ''), this.expected)) {
      throw new ApiError(401, 'unauthorized', 'the admin token is not valid', undefined, {
        'www-authenticate': 'Bearer realm="tickring", error="invalid_token"',
      });
    }
  }
}
