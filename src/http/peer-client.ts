/**
 * HTTP calls from one worker to another (forwarded queries, internal snapshot batches) over
 * keep-alive connections: a forwarded query then costs one request on an open socket instead of
 * `fetch`'s heavier machinery per call. Idle sockets close before the peer's own keep-alive timeout
 * (5 s) would, so a request is not sent on a socket the peer is closing; a failed call is the
 * caller's to retry (owner routing re-reads the ring and tries once more).
 */
import { Agent, request, type IncomingHttpHeaders } from 'node:http';

export interface PeerResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface PeerRequest {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly timeoutMs: number;
}

/** Largest answer read from a peer; a symbol list page of internal snapshots stays well below. */
const MAX_PEER_BODY = 64 * 1024 * 1024;

export class PeerClient {
  // noDelay: a request written in two segments (headers, then the end) must not wait for the
  // peer's delayed ACK (Nagle), which costs up to 40 ms per forwarded query.
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64, timeout: 4_000, noDelay: true });

  call(url: string, options: PeerRequest): Promise<PeerResponse> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { ...options.headers };
      if (options.body !== undefined) headers['content-length'] = Buffer.byteLength(options.body);
      // A deadline for the whole call, as `fetch` with `AbortSignal.timeout` had.
      const deadline = setTimeout(
        () => req.destroy(new Error(`peer timed out after ${options.timeoutMs} ms`)),
        options.timeoutMs,
      );
      const req = request(url, { method: options.method ?? 'GET', agent: this.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_PEER_BODY) req.destroy(new Error(`peer answer over ${MAX_PEER_BODY} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          clearTimeout(deadline);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks),
          });
        });
        res.on('error', (err) => {
          clearTimeout(deadline);
          reject(err);
        });
      });
      req.on('error', (err) => {
        clearTimeout(deadline);
        reject(err);
      });
      req.end(options.body);
    });
  }

  /** Closes idle connections (the server is closing). */
  close(): void {
    this.agent.destroy();
  }
}
