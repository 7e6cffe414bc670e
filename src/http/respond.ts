/**
 * JSON responses and the API's error shape: `{ "error": { "code", "message", "param"? } }` with a
 * stable, lower-case code, a message a person can act on and, for a rejected parameter, its name.
 */
import type { ServerResponse } from 'node:http';

/** Every error code the API answers with; `openapi.ts` lists the same set. */
export const API_ERROR_CODES = [
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'method_not_allowed',
  'not_owner',
  'not_member',
  'last_member',
  'not_pinned',
  'payload_too_large',
  'headers_too_large',
  'request_timeout',
  'unsupported_media_type',
  'not_ready',
  'unavailable',
  'internal',
] as const;

export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    /** The query parameter, path parameter or body field at fault. */
    readonly param?: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** A 400 naming the parameter at fault. */
export function badParam(param: string, message: string): ApiError {
  return new ApiError(400, 'bad_request', message, param);
}

/** JSON already serialized (an owner's answer passed through as it came): sent as is. */
export class RawJson {
  constructor(readonly bytes: Buffer) {}
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const text = body instanceof RawJson ? body.bytes : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, error: ApiError): void {
  const body =
    error.param === undefined
      ? { code: error.code, message: error.message }
      : { code: error.code, message: error.message, param: error.param };
  sendJson(res, error.status, { error: body }, error.headers);
}
