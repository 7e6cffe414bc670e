/**
 * A TCP proxy the test controls, between workers and Redis (or a feed): it can move every connection
 * to another upstream (a failover behind a stable address, as a Sentinel-aware proxy or a floating IP
 * does), cut every connection at once, and hold new ones before connecting them.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export class TcpProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<[Socket, Socket]>();
  port = 0;
  /** Holds each new connection this long before connecting it upstream (a slow server's accept). */
  connectDelayMs = 0;
  /**
   * Delivers the client's bytes to the upstream this much later, in order, once `undelayedChunks`
   * chunks of the connection have passed straight: a server slow to act on what a client asks while
   * the connection is up (a provider busy answering subscribe frames, with the handshake and the
   * login before them through).
   */
  requestDelayMs = 0;
  undelayedChunks = 0;

  constructor(public upstreamPort: number) {}

  async start(): Promise<void> {
    const server = createServer((client) => {
      if (this.connectDelayMs <= 0) {
        this.join(client);
        return;
      }
      // Held: a client that gives up meanwhile just goes (the error is the client's to report).
      client.on('error', () => client.destroy());
      client.pause();
      const timer = setTimeout(() => this.join(client), this.connectDelayMs);
      client.once('close', () => clearTimeout(timer));
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
  }

  private join(client: Socket): void {
    if (client.destroyed) return;
    const upstream = connect(this.upstreamPort, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    if (this.requestDelayMs > 0) this.delayRequests(client, upstream);
    else client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  }

  private delayRequests(client: Socket, upstream: Socket): void {
    const delayMs = this.requestDelayMs;
    let passed = 0;
    client.on('data', (chunk: Buffer) => {
      if (passed++ < this.undelayedChunks) upstream.write(chunk);
      else setTimeout(() => upstream.destroyed || upstream.write(chunk), delayMs);
    });
  }

  /** Closes every proxied connection; new ones go to `upstreamPort`. */
  cutAll(): number {
    const n = this.pairs.size;
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    return n;
  }

  /** Stops accepting and cuts every connection; does not wait for clients to notice. */
  close(): Promise<void> {
    this.server?.close();
    this.cutAll();
    return Promise.resolve();
  }
}
