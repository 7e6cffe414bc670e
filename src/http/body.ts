/**
 * Request bodies: JSON only, size-limited before anything is parsed. A body past the limit is not
 * read to its end: the answer is 413 and the connection is closed, so a client cannot make the
 * worker buffer an unbounded upload.
 */
import type { IncomingMessage } from 'node:http';
import { ApiError } from './respond.js';

/** Default body limit: ample for 1000 symbols of 32 characters. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;

function tooLarge(limit: number): ApiError {
  return new ApiError(413, 'payload_too_large', `request body is larger than ${limit} bytes`, undefined, {
    connection: 'close',
  });
}

export async function readJsonBody(req: IncomingMessage, limit = DEFAULT_BODY_LIMIT): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new ApiError(
      415,
      'unsupported_media_type',
      `send the body as application/json (got ${JSON.stringify((type ?? '').slice(0, 60) || 'no content type')})`,
    );
  }
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) throw tooLarge(limit);
  const text = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      // Stop reading but keep the socket: the 413 still has to reach the client.
      req.off('data', onData);
      req.pause();
      reject(tooLarge(limit));
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, 'bad_request', 'request body is not valid JSON', 'body');
  }
}
