/**
 * The market-data simulator: one HTTP server carrying a provider's WebSocket protocol (any adapter's
 * server half) and the JSON control API. A seeded `Market` produces the trades; a timer emits them at
 * `rate` per second, or tests call `emit(n)` for exact, deterministic batches. Faults (see `faults.ts`)
 * are applied on demand, by the control API or by a schedule.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { pino } from 'pino';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { SimServerProtocol } from '../../feeds/adapter.js';
import type { Trade } from '../../feeds/trade.js';
import type { Logger } from '../log.js';
import { sendJson } from '../http/respond.js';
import { handleControlRequest, notFound, type SimControl } from './control-routes.js';
import { defaultFaultCount, MAX_FAULT_COUNT, type FaultName } from './faults.js';
import { FaultState } from './fault-state.js';
import { Market } from './market.js';
import { BatchFrames, ClientConnection, WILDCARD } from './sim-connection.js';
import { referencePrices } from './universe.js';
import type { SimStats, SimSymbolStats } from './sim-stats.js';
import { validateSimulatorOptions, type SimulatorInput, type SimulatorOptions } from './simulator-options.js';

export type { SimStats } from './sim-stats.js';
export { FaultUnsupportedError } from './fault-state.js';
export type { FaultName } from './faults.js';
export {
  DEFAULT_SIMULATOR_OPTIONS,
  type SimulatorInput,
  type SimulatorOptions,
} from './simulator-options.js';

export interface StatsOptions {
  /** Include every id that counts, per symbol (large for long runs). */
  readonly ids?: boolean;
}

export interface RunningSimulator {
  readonly port: number;
  /** Where a client of `protocol` connects, e.g. `ws://127.0.0.1:PORT/stocks` for Polygon. */
  readonly wsUrl: string;
  /** `http://host:port`, where `/sim/*` control routes live. */
  readonly httpUrl: string;
  stats(options?: StatsOptions): SimStats;
  pause(): void;
  resume(): void;
  /** Generates and sends exactly `count` trades now, whether or not the market is paused. */
  emit(count: number): void;
  /**
   * Fault injection: terminates every client socket, or only those whose ids (as in `stats()`) are
   * given; returns how many it terminated.
   */
  dropConnections(ids?: readonly number[]): number;
  /**
   * Applies one fault (see `faults.ts` for what `count` means to each) and returns how many
   * connections, frames or trades it touched. Throws `FaultUnsupportedError` for a correction or
   * cancel on a protocol that sends none.
   */
  fault(name: FaultName, count?: number): number;
  /** Idempotent: stops the timers, terminates sockets and closes the server. */
  close(): Promise<void>;
}

/** Trades are generated and fanned out in slices of this many, bounding memory for large `emit`s. */
const GENERATE_CHUNK = 10_000;

/** Starts a simulator and resolves once it listens. */
export async function startSimulator(input: SimulatorInput): Promise<RunningSimulator> {
  const options = validateSimulatorOptions(input);
  const sim = new Simulator(options);
  await sim.listen();
  return sim;
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

class Simulator implements RunningSimulator, SimControl {
  private readonly market: Market;
  private readonly log: Logger;
  private readonly protocol: SimServerProtocol;
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly connections = new Map<number, ClientConnection>();
  private readonly faults: FaultState;
  /** Reused buffer for each generated slice of trades. */
  private readonly batch: Trade[] = [];
  private readonly frames: BatchFrames;
  private nextConnectionId = 0;
  private slowConsumerDrops = 0;
  /** Most connections open at once, and most authenticated with one key at once (before any limit acted). */
  private maxOpenConnections = 0;
  private maxConnectionsPerKey = 0;
  /** Per symbol: trades generated while no open, authenticated connection was subscribed to it. */
  private readonly undelivered = new Map<string, { trades: number; volume: number }>();
  private undeliveredTotal = 0;
  private paused: boolean;
  private timer: NodeJS.Timeout | undefined;
  private readonly faultTimers: NodeJS.Timeout[] = [];
  private lastTickAt = 0;
  private carry = 0;
  private closing: Promise<void> | undefined;
  private boundPort = 0;

  constructor(private readonly options: SimulatorOptions) {
    // A protocol with per-instance memory (Coinbase's last_match) gets a fresh half per simulator.
    this.protocol = options.protocol.server.createServer?.() ?? options.protocol.server;
    const profile = this.protocol.market;
    this.market = new Market({
      symbols: options.symbols,
      seed: options.seed,
      skew: options.skew,
      ...(profile ? { profile, startPrices: referencePrices(profile) } : {}),
    });
    this.log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'sim' });
    this.faults = new FaultState(this.protocol, this.market, this.log);
    this.paused = options.paused;
    this.frames = new BatchFrames(this.protocol, options.maxTradesPerFrame);
    // Pings are answered by hand, so the `silent` fault can leave them unanswered.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024, autoPong: false });
    this.server = createServer((req, res) => {
      this.onRequest(req, res);
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.onUpgrade(req, socket, head);
    });
  }

  get port(): number {
    return this.boundPort;
  }

  get httpUrl(): string {
    return `http://${hostForUrl(this.options.host)}:${this.boundPort}`;
  }

  get wsUrl(): string {
    // The protocol's canonical path is the path of the provider's production URL (`/stocks`, `/ws`, `/`).
    const path = new URL(this.options.protocol.defaultUrl).pathname;
    return `ws://${hostForUrl(this.options.host)}:${this.boundPort}${path}`;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address();
    this.boundPort = typeof address === 'object' && address !== null ? address.port : this.options.port;
    this.server.on('error', (err) => {
      this.log.error({ err }, 'simulator server error');
    });
    if (!this.paused) this.startTimer();
    for (const { fault, count, everyMs } of this.options.faults) {
      const timer = setInterval(() => {
        this.applyScheduled(fault, count);
      }, everyMs);
      timer.unref();
      this.faultTimers.push(timer);
    }
    this.log.info(
      { url: this.wsUrl, protocol: this.options.protocol.name, symbols: this.options.symbols.length },
      'simulator listening',
    );
  }

  stats(options: StatsOptions = {}): SimStats {
    const symbols: Record<string, SimSymbolStats> = {};
    this.options.symbols.forEach((symbol, index) => {
      const totals = this.market.totalsOf(index);
      const duplicatesSent = this.faults.duplicatesOf(symbol);
      const lost = this.undelivered.get(symbol);
      const undelivered = lost?.trades ?? 0;
      const undeliveredVolume = lost?.volume ?? 0;
      symbols[symbol] = options.ids
        ? { ...totals, duplicatesSent, undelivered, undeliveredVolume, ids: this.market.liveIds(index) }
        : { ...totals, duplicatesSent, undelivered, undeliveredVolume };
    });
    return {
      running: !this.paused && this.closing === undefined,
      totals: {
        generated: this.market.totalTrades,
        trades: this.market.totalCounted,
        volume: this.market.totalVolumeTraded,
        undelivered: this.undeliveredTotal,
      },
      symbols,
      connections: [...this.connections.values()].map((conn) => conn.snapshot()),
      slowConsumerDrops: this.slowConsumerDrops,
      maxOpenConnections: this.maxOpenConnections,
      maxConnectionsPerKey: this.maxConnectionsPerKey,
      faults: this.faults.snapshot(),
    };
  }

  pause(): void {
    this.paused = true;
    this.stopTimer();
  }

  resume(): void {
    this.paused = false;
    if (this.closing === undefined) this.startTimer();
  }

  emit(count: number): void {
    if (!Number.isSafeInteger(count) || count < 0)
      throw new RangeError(`emit count must be an integer >= 0, got ${count}`);
    if (this.closing !== undefined) return;
    const batch = this.batch;
    for (let left = count; left > 0; left -= GENERATE_CHUNK) {
      batch.length = 0;
      this.market.generate(Math.min(left, GENERATE_CHUNK), Date.now(), batch);
      this.fanOut(this.faults.withDuplicates(batch));
    }
    batch.length = 0;
    this.frames.reset(batch);
  }

  dropConnections(ids?: readonly number[]): number {
    const doomed = [...this.connections.values()].filter((conn) => ids?.includes(conn.id) ?? true);
    for (const conn of doomed) {
      conn.ws.terminate();
      this.connections.delete(conn.id);
    }
    if (doomed.length > 0) this.log.warn({ count: doomed.length, ids }, 'dropped connections');
    return doomed.length;
  }

  fault(name: FaultName, count = defaultFaultCount(name)): number {
    if (!Number.isSafeInteger(count) || count < 0 || count > MAX_FAULT_COUNT) {
      throw new RangeError(`fault count must be an integer from 0 to ${MAX_FAULT_COUNT}, got ${count}`);
    }
    if (this.closing !== undefined) return 0;
    const open = [...this.connections.values()];
    switch (name) {
      case 'drop': {
        const dropped = this.dropConnections();
        this.faults.counted('dropped', dropped);
        return dropped;
      }
      case 'silent':
        return this.faults.silence(open);
      case 'duplicate':
        return this.faults.duplicateNext(count);
      case 'malformed':
        return this.faults.sendMalformed(open, count, this.options.symbols[0] ?? '');
      case 'connection-limit':
        return this.faults.connectionLimit(open, count);
      case 'correction':
      case 'cancel':
        return this.faults.amend(open, name, count);
    }
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private applyScheduled(fault: FaultName, count: number): void {
    try {
      const applied = this.fault(fault, count);
      if (applied > 0) this.log.info({ fault, count, applied }, 'scheduled fault applied');
      else this.log.debug({ fault, count }, 'scheduled fault touched nothing');
    } catch (err: unknown) {
      this.log.warn({ err, fault }, 'scheduled fault failed');
    }
  }

  private async shutdown(): Promise<void> {
    this.stopTimer();
    for (const timer of this.faultTimers) clearInterval(timer);
    // Every step runs even if an earlier one fails; the server must not be left listening.
    try {
      this.dropConnections();
    } catch (err: unknown) {
      this.log.error({ err }, 'terminating connections failed');
    }
    await new Promise<void>((resolve) => {
      this.wss.close(() => {
        resolve();
      });
    });
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
    this.log.info('simulator closed');
  }

  private fanOut(batch: readonly Trade[]): void {
    this.protocol.observe?.(batch);
    this.countUndelivered(batch);
    const frames = this.frames;
    frames.reset(batch);
    for (const conn of this.connections.values()) {
      if (conn.deliver(frames, this.options.maxBufferedBytes) !== 'slow-consumer') continue;
      this.slowConsumerDrops++;
      this.connections.delete(conn.id);
      conn.ws.terminate();
      this.log.warn({ connection: conn.id, userAgent: conn.userAgent }, 'slow consumer dropped');
    }
  }

  /**
   * Counts the trades of `batch` that no connection will receive: what a client lost while it was not
   * connected (a relay failing over), so tests can compare it with what the client says it missed.
   */
  private countUndelivered(batch: readonly Trade[]): void {
    const receiving: ClientConnection[] = [];
    for (const conn of this.connections.values()) {
      if (!conn.receiving) continue;
      if (conn.wants(WILDCARD)) return;
      receiving.push(conn);
    }
    for (const trade of batch) {
      let heard = false;
      for (const conn of receiving) {
        if (conn.wants(trade.symbol)) {
          heard = true;
          break;
        }
      }
      if (heard) continue;
      const lost = this.undelivered.get(trade.symbol);
      if (lost === undefined) this.undelivered.set(trade.symbol, { trades: 1, volume: trade.size });
      else {
        lost.trades++;
        lost.volume += trade.size;
      }
      this.undeliveredTotal++;
    }
  }

  private startTimer(): void {
    if (this.timer !== undefined || this.options.rate <= 0) return;
    this.lastTickAt = performance.now();
    this.carry = 0;
    this.timer = setInterval(() => {
      this.tick();
    }, this.options.tickMs);
    // The server keeps the process alive; the timer alone must not.
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = performance.now();
    const elapsedMs = now - this.lastTickAt;
    this.lastTickAt = now;
    const rate = this.options.rate;
    // After a long event-loop stall, emit at most one second's worth rather than a burst of everything owed.
    const due = Math.min(this.carry + (rate * elapsedMs) / 1000, Math.max(rate, 1));
    const count = Math.floor(due);
    this.carry = due - count;
    if (count > 0) this.emit(count);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    req.resume(); // drain any body so keep-alive connections stay usable
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    if (url.pathname.startsWith('/sim/') && handleControlRequest(req, res, url, this)) return;
    if (this.protocol.accepts(url)) {
      sendJson(res, 426, {
        error: { code: 'upgrade_required', message: `connect with WebSocket to ${this.wsUrl}` },
      });
      return;
    }
    notFound(res, url);
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (err) => {
      this.log.debug({ err }, 'upgrade socket error');
    });
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'sim.invalid'}`);
    let refusal = '';
    if (this.closing !== undefined) refusal = '503 Service Unavailable';
    else if (!this.protocol.accepts(url)) refusal = '404 Not Found';
    // Providers without an in-band "connection limit" say so by refusing the upgrade.
    else if (this.protocol.refuseForConnectionLimit === undefined && this.faults.takeRefusal()) {
      refusal = '429 Too Many Requests';
    }
    if (refusal !== '') {
      socket.end(`HTTP/1.1 ${refusal}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.onConnection(ws, req, url);
    });
  }

  private onConnection(ws: WebSocket, req: IncomingMessage, url: URL): void {
    const userAgent = req.headers['user-agent'] ?? '';
    const conn = new ClientConnection(
      ++this.nextConnectionId,
      ws,
      url,
      userAgent,
      this.options.key,
      this.protocol,
      (authenticated, key) => {
        let sameKey = 0;
        for (const other of this.connections.values())
          if (other.open && other.authenticated && other.key === key) sameKey++;
        this.maxConnectionsPerKey = Math.max(this.maxConnectionsPerKey, sameKey);
        this.faults.enforcePerKeyLimit(authenticated, key, this.options.connectionsPerKey, this.connections);
      },
    );
    this.connections.set(conn.id, conn);
    this.maxOpenConnections = Math.max(this.maxOpenConnections, this.connections.size);
    const protocol = this.protocol;
    ws.on('message', (data, isBinary) => {
      if (isBinary || conn.silenced) return;
      try {
        protocol.onMessage(conn, rawToString(data));
      } catch (err: unknown) {
        this.log.error({ err, connection: conn.id }, 'protocol failed on a client frame');
      }
    });
    ws.on('ping', (data) => {
      conn.pong(data);
    });
    ws.on('close', () => {
      this.connections.delete(conn.id);
    });
    ws.on('error', (err) => {
      this.log.debug({ err, connection: conn.id }, 'client socket error');
    });
    this.log.debug({ connection: conn.id, userAgent }, 'client connected');
    // Providers with an in-band "connection limit" (checked at the upgrade for the others) say it here.
    if (protocol.refuseForConnectionLimit !== undefined && this.faults.takeRefusal()) {
      this.faults.refuse(conn);
      return;
    }
    protocol.onOpen(conn);
  }
}

/** ws hands over a Buffer with the default `binaryType`; the other shapes are handled for safety. */
function rawToString(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString('utf8');
}
