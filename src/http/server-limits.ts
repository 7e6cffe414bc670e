/**
 * Limits that keep one worker's HTTP server answering while some clients misbehave: slow senders
 * (slowloris), idle floods, oversized headers and URLs. Bodies are capped where they are read
 * (`body.ts`); SSE clients by the stream hub.
 *
 * Node checks the header and request timeouts only every `connectionsCheckingIntervalMs` (30 s by
 * default), so a slowloris connection could outlive `headersTimeoutMs` by that much; checking every
 * second costs one walk over the connection list per second.
 *
 * Requests Node's parser refuses before any route sees them (headers past the cap, a malformed
 * request line, a request that took too long to arrive) get the API's JSON error shape too.
 */
import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ApiErrorCode } from './respond.js';

export interface ServerLimits {
  /** Longest time to receive a request's headers (ms). Default 10 000. */
  readonly headersTimeoutMs: number;
  /** Longest time to receive a whole request, headers and body (ms). Default 30 000. */
  readonly requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long (ms). Default 5 000. */
  readonly keepAliveTimeoutMs: number;
  /** How often the two timeouts above are enforced (ms). Default 1 000. */
  readonly connectionsCheckingIntervalMs: number;
  /** Largest request line plus headers (bytes); past it the answer is 431. Default 16 KiB. */
  readonly maxHeaderBytes: number;
  /** Open connections at most; past it new ones are closed at once. Default 2 000. */
  readonly maxConnections: number;
  /** Requests served on one keep-alive connection before it is closed (0: no limit). Default 1 000. */
  readonly maxRequestsPerSocket: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  connectionsCheckingIntervalMs: 1_000,
  maxHeaderBytes: 16 * 1024,
  maxConnections: 2_000,
  maxRequestsPerSocket: 1_000,
});

/** An HTTP server with `limits` applied (each unset field takes its default). */
export function createLimitedServer(
  limits: Partial<ServerLimits>,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Server {
  const l: ServerLimits = { ...DEFAULT_SERVER_LIMITS, ...limits };
  const server = createServer(
    {
      maxHeaderSize: l.maxHeaderBytes,
      connectionsCheckingInterval: l.connectionsCheckingIntervalMs,
      headersTimeout: l.headersTimeoutMs,
      requestTimeout: l.requestTimeoutMs,
      keepAliveTimeout: l.keepAliveTimeoutMs,
    },
    handler,
  );
  server.maxConnections = l.maxConnections;
  server.maxRequestsPerSocket = l.maxRequestsPerSocket;
  closeSilentConnections(server, l.headersTimeoutMs);
  server.on('clientError', answerClientError);
  return server;
}

/**
 * Node's header timeout starts with the first byte of a request: a connection that never sends one
 * would hold its slot for ever. Such a connection is closed once the header timeout passes without a
 * request on it; after a request, the keep-alive timeout takes over.
 */
function closeSilentConnections(server: Server, timeoutMs: number): void {
  const served = new WeakSet<Socket>();
  server.on('request', (req: IncomingMessage) => served.add(req.socket));
  server.on('connection', (socket: Socket) => {
    const timer = setTimeout(() => {
      if (!served.has(socket)) socket.destroy();
    }, timeoutMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  });
}

/** How long a connection answered with a client error may stay half-closed before it is destroyed. */
const CLIENT_ERROR_LINGER_MS = 1_000;

/** Status and code for an error Node's HTTP parser or timers raised on a connection. */
function clientErrorAnswer(code: string | undefined): [number, ApiErrorCode, string] {
  if (code === 'HPE_HEADER_OVERFLOW')
    return [431, 'headers_too_large', 'the request line and headers are larger than this server accepts'];
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return [408, 'request_timeout', 'the request did not arrive in time'];
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW')
    return [413, 'payload_too_large', 'the chunk extensions are larger than this server accepts'];
  return [400, 'bad_request', 'the request is not valid HTTP/1.1'];
}

function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // A response already under way on this socket cannot be followed by another one.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent === true) {
    socket.destroy();
    return;
  }
  const [status, code, message] = clientErrorAnswer(err.code);
  // A HEAD request's answer has no body; the parser hands over the bytes it choked on.
  const raw = (err as NodeJS.ErrnoException & { rawPacket?: unknown }).rawPacket;
  const head = Buffer.isBuffer(raw) && raw.subarray(0, 5).toString('latin1') === 'HEAD ';
  const body = head ? '' : JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'content-type: application/json; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      'connection: close\r\n\r\n' +
      body,
  );
  // Ending only half-closes: a client that never reads the answer nor closes its side (a slowloris
  // that keeps dripping) would hold the slot for ever. A well-behaved one has had time to read it.
  const linger = setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS);
  linger.unref();
  socket.once('close', () => clearTimeout(linger));
}
